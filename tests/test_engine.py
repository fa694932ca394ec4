"""Engine build/search/save/load, atomic saves, and mismatch errors."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import NOISE_PIXELS, traced_peak

from cbir import Engine
from cbir.datasets import load_folder
from cbir.errors import CbirError, EngineError
from cbir.features import make_extractor
from cbir.index import ExactIndex
from cbir.storage import current_version


@pytest.fixture(scope="module")
def train(tiny_collection):
    return load_folder(tiny_collection, split="train", progress=False, cache=False)


@pytest.fixture(scope="module")
def test_split(tiny_collection):
    return load_folder(tiny_collection, split="test", progress=False, cache=False)


def test_build_and_search_finds_the_right_class(train, test_split):
    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    assert len(engine) == 60
    results = engine.search(test_split.images, k=5, names=test_split.ids)
    assert [r.query for r in results] == test_split.ids
    hits = [h for r in results for h in r.hits]
    assert all(h.path and h.path.endswith(h.id) for h in hits)
    agreement = np.mean([h.label == label for r, label in zip(results, test_split.labels) for h in r.hits])
    assert agreement > 0.8


def test_an_indexed_image_finds_itself(train):
    engine = Engine.build(train, make_extractor("hog"), index=ExactIndex(324), progress=False)
    top = engine.search(train.images[7:8], k=1)[0].hits[0]
    assert top.id == train.ids[7] and top.label == train.labels[7] and top.score == pytest.approx(1.0, abs=1e-5)


def test_search_can_leave_an_indexed_image_out_of_its_own_hits(train):
    engine = Engine.build(train, make_extractor("hog"), index=ExactIndex(324), progress=False)
    plain = engine.search(train.images[7:9], k=5)
    left_out = engine.search(train.images[7:9], k=5, exclude=[train.ids[7], None])
    assert [h.id for h in left_out[0].hits] == [h.id for h in plain[0].hits[1:]] + [left_out[0].hits[-1].id]
    assert train.ids[7] not in [h.id for h in left_out[0].hits] and len(left_out[0].hits) == 5
    assert left_out[1].hits == plain[1].hits  # None: nothing left out


def test_images_searched_with_together_rank_what_they_share_first(train):
    """A stripes image and a gradient image together: the images most like both (by the mean of their vectors),
    themselves left out; each alone ranks its own class first."""
    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    stripes, gradient = train.labels.index("stripes"), train.labels.index("gradient")
    pair = [train.images[stripes], train.images[gradient]]
    together = engine.search_together(pair, k=10, exclude=[train.ids[stripes], train.ids[gradient]])
    ids = [hit.id for hit in together.hits]
    assert len(ids) == 10 and train.ids[stripes] not in ids and train.ids[gradient] not in ids
    assert {hit.label for hit in together.hits} == {"stripes", "gradient"}  # both, not blobs
    vectors = engine.embed(pair)
    mean = vectors.mean(0) / np.linalg.norm(vectors.mean(0))
    assert together.hits[0].score == pytest.approx(float(engine.index.vectors_of([ids[0]])[0] @ mean), abs=1e-4)
    alone = engine.search_together(pair[:1], k=3, exclude=[train.ids[stripes]])
    assert [h.id for h in alone.hits] == [h.id for h in engine.search(pair[:1], k=4)[0].hits[1:]]
    with pytest.raises(CbirError, match="k must be at least 1"):
        engine.search_together(pair, k=0)
    with pytest.raises(CbirError, match="look-alikes needs features that describe the picture"):
        engine.search_together(pair, k=3, distinct=True)


def test_images_marked_unlike_push_what_they_show_down_the_ranking(train):
    """Relevance feedback: a stripes and a gradient image together find both classes; with another gradient image
    marked as not wanted, the query moves away from it (`feedback_query`: the liked mean less `UNLIKE_WEIGHT`
    times the unliked mean) and the stripes come first. It is left out like the others."""
    from cbir.engine import UNLIKE_WEIGHT

    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    stripes, gradient = train.labels.index("stripes"), train.labels.index("gradient")
    other = train.labels.index("gradient", gradient + 1)
    pair, unlike = [train.images[stripes], train.images[gradient]], [train.images[other]]
    left_out = [train.ids[i] for i in (stripes, gradient, other)]
    before = engine.search_together(pair, k=10, exclude=left_out)
    after = engine.search_together(pair, k=10, exclude=left_out, unlike=unlike)
    count = lambda found, label: sum(hit.label == label for hit in found.hits)  # noqa: E731
    assert count(before, "gradient") >= 3 and count(after, "gradient") < count(before, "gradient")
    assert count(after, "stripes") == 10 and not {hit.id for hit in after.hits} & set(left_out)
    liked, unliked = engine.embed(pair), engine.embed(unlike)
    query = liked.mean(0) - UNLIKE_WEIGHT * unliked.mean(0)
    query /= np.linalg.norm(query)
    assert after.hits[0].score == pytest.approx(float(engine.index.vectors_of([after.hits[0].id])[0] @ query), abs=1e-4)
    with pytest.raises(CbirError, match="at least one image to search with"):
        engine.search_together([], k=3, unlike=unlike)
    same = lambda found: (  # noqa: E731  (the same search: indexed vectors are float16, and stripes near ties)
        [h.label for h in found.hits] == [h.label for h in after.hits]
        and not {h.id for h in found.hits} & set(left_out)
        and np.allclose([h.score for h in found.hits], [h.score for h in after.hits], atol=3e-4))
    assert same(engine.search_together([], k=10, liked_ids=left_out[:2], unliked_ids=left_out[2:]))  # as indexed
    assert same(engine.search_together(pair[:1], k=10, liked_ids=left_out[1:2], unlike=unlike, exclude=left_out[::2]))


def test_indexing_a_folder_holds_a_few_of_its_images_in_memory_not_a_batch(noise_photos, cbir_home):
    """A batch of 1,024 photos at 256 px is 150 MB: it is described from the pixels on disk, not copied."""
    photos = load_folder(noise_photos, progress=False)
    Engine.build(photos.subset([0, 1]), make_extractor("hog-gch"), progress=False)  # the modules it imports
    with traced_peak() as peak:
        engine = Engine.build(photos, make_extractor("hog-gch"), progress=False)
    assert len(engine) == 80 and peak[0] < NOISE_PIXELS / 4


def test_save_load_round_trip_and_info(train, test_split, tmp_path):
    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    engine.save(tmp_path / "eng")
    loaded = Engine.load(tmp_path / "eng")
    assert loaded.info() == engine.info()
    assert loaded.info()["count"] == 60 and loaded.info()["classes"] == 3
    a = engine.search(test_split.images, k=4)
    b = loaded.search(test_split.images, k=4)
    assert [r.hits for r in a] == [r.hits for r in b]


def test_remove_and_bad_k(train, tmp_path):
    engine = Engine.build(train, make_extractor("gch"), progress=False)
    assert engine.remove(train.ids[:3]) == 3 and len(engine) == 57
    assert train.ids[0] not in engine.metadata
    with pytest.raises(CbirError, match="k must"):
        engine.search(train.images[:1], k=0)


def test_missing_and_mismatched_engines_are_clear_errors(train, tmp_path):
    with pytest.raises(EngineError, match="no engine"):
        Engine.load(tmp_path / "nothing")
    engine = Engine.build(train, make_extractor("hog"), progress=False)
    engine.save(tmp_path / "eng")
    with pytest.raises(EngineError, match="built with features 'hog', not 'gch'"):
        Engine.load(tmp_path / "eng", features="gch")
    config_file = current_version(tmp_path / "eng") / "extractor" / "config.json"
    config = json.loads(config_file.read_text())
    config["config"]["orientations"] = 12
    config["config_hash"] = "tampered"
    config_file.write_text(json.dumps(config))
    with pytest.raises(CbirError, match="hash"):
        Engine.load(tmp_path / "eng")


def test_index_and_extractor_dimensions_must_agree():
    with pytest.raises(EngineError, match="dimension"):
        Engine(make_extractor("gch"), ExactIndex(3))


def test_interrupted_save_leaves_the_previous_engine_loadable(tiny_collection, tmp_path):
    folder = tmp_path / "eng"
    script = textwrap.dedent(f"""
        import os
        from cbir import Engine
        from cbir.datasets import load_folder
        from cbir.features import make_extractor
        from cbir.metadata import Metadata

        data = load_folder({str(tiny_collection)!r}, split="train", progress=False, cache=False)
        Engine.build(data.subset(range(10)), make_extractor("gch"), progress=False).save({str(folder)!r})
        engine = Engine.build(data, make_extractor("gch"), progress=False)
        Metadata.save = lambda self, path: os._exit(17)   # the process dies half-way through the save
        engine.save({str(folder)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 17, proc.stderr
    assert any(p.name.startswith(".tmp-") for p in folder.iterdir())
    assert len(Engine.load(folder)) == 10
    engine = Engine.load(folder)
    engine.save(folder)
    assert sorted(p.name for p in folder.iterdir() if p.name not in ("CURRENT", ".lock")) == \
        [current_version(folder).name]


def test_micro_batching_gives_each_caller_its_own_results(train, test_split):
    from concurrent.futures import ThreadPoolExecutor

    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    queries = list(test_split.images) + list(train.images[:25])
    ks = [1 + i % 7 for i in range(len(queries))]
    expected = [engine.search([q], k=k)[0].hits for q, k in zip(queries, ks)]
    engine.enable_micro_batching(max_batch=8)
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda qk: engine.search([qk[0]], k=qk[1])[0].hits, zip(queries, ks)))
    assert got == expected


def test_micro_batching_passes_errors_to_the_caller(train):
    engine = Engine.build(train, make_extractor("gch"), progress=False)
    engine.enable_micro_batching()
    from cbir.errors import VectorIndexError

    with pytest.raises(VectorIndexError, match="dimension"):
        engine.search_vectors(np.ones((1, 5), np.float32), 3)
    assert len(engine.search(train.images[:2], k=2)) == 2


@pytest.mark.parametrize("batch_describes", [True, False])
def test_requests_waiting_together_are_searched_in_one_batch(train, batch_describes):
    """Described together too when the extractor gains from it (a CNN), else each in its caller's thread."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    engine.extractor.batch_describes = batch_describes
    expected = [engine.search([image], k=3)[0].hits for image in train.images[:6]]
    described, searched, gate = [], [], threading.Event()
    transform, search = engine.extractor.transform, engine.index.search

    def describe(images, **kwargs):
        described.append(len(images))
        return transform(images, **kwargs)

    def search_index(vectors, k):  # the first batch holds the worker until the others are queued
        searched.append(len(vectors))
        if len(searched) == 1:
            gate.wait(30)
        return search(vectors, k)

    engine.extractor.transform, engine.index.search = describe, search_index
    engine.enable_micro_batching()
    waiting = engine._batcher._queue
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(engine.search, [train.images[0]], 3)
        while not searched:
            time.sleep(0.01)
        rest = [pool.submit(engine.search, [image], 3) for image in train.images[1:6]]
        while waiting.qsize() < 5:
            time.sleep(0.01)
        gate.set()
        got = [future.result(timeout=30)[0].hits for future in [first, *rest]]
    assert got == expected and searched == [1, 5]
    assert described == ([1, 5] if batch_describes else [1] * 6)
    engine.stop_micro_batching()
    assert engine._batcher.join(timeout=5)
    assert engine.search(train.images[:2], k=2)[0].hits == expected[0][:2]  # unbatched once stopped


def test_a_filtered_search_returns_k_images_that_pass_and_a_score_cut_off_drops_weak_ones(train, test_split):
    from cbir.filters import Filter

    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    query = [image for image, label in zip(test_split.images, test_split.labels) if label == "stripes"][:1]
    blobs = engine.search(query, k=15, where=Filter(labels=frozenset({"blobs"})))[0].hits
    assert len(blobs) == 15 and {h.label for h in blobs} == {"blobs"}  # k, though none is near the top
    folder = engine.search(query, k=30, where=Filter(folder="train/gradient/01"))[0].hits
    assert sorted(h.id for h in folder) == [f"train/gradient/{i:03d}.png" for i in range(10, 20)]
    everything = engine.search(query, k=60)[0].hits
    cut = everything[20].score
    kept = engine.search(query, k=60, min_score=cut)[0].hits
    assert kept == [h for h in everything if h.score >= cut] and len(kept) >= 21
    assert engine.search(query, k=5, where=Filter(splits=frozenset({"nowhere"})))[0].hits == []
