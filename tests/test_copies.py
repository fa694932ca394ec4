"""Copies first: an engine indexed a second time with picture-level features puts the copies of a query first,
in every search and in evaluation alike; saved, loaded, added to and removed from with the engine."""

import re
import threading
from functools import partial

import numpy as np
import pytest
from PIL import Image
from test_duplicates import NEAR, PHOTOS, hard_edit, photo

from cbir.cli import main
from cbir.copies import copies_among, copies_first, grey_picture, verified_copy
from cbir.datasets import load_folder
from cbir.engine import Engine
from cbir.evaluation.ranking import full_ranking
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.types import Hit
from cbir.web import create_app

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The scikit-image photos in one folder, and their edited copies in another."""
    root = tmp_path_factory.mktemp("copies")
    (root / "photos").mkdir()
    (root / "edits").mkdir()
    for name in PHOTOS:
        photo(name).save(root / "photos" / f"{name}.jpg", quality=92)
    for name, alter in NEAR.items():
        alter(photo(name)).save(root / "edits" / f"{name}.jpg", quality=60)
    return root


def test_copies_come_first_and_nothing_else_moves(photos, tmp_path):
    indexed = load_folder(photos / "photos", cache=False)
    edits = load_folder(photos / "edits", cache=False)
    plain = Engine.build(indexed, make_extractor("gch"), progress=False)  # grey levels: blind to most edits
    engine = Engine.build(indexed, make_extractor("gch"), progress=False, copies=make_extractor("effnet"))
    before = plain.search(edits.images, k=5)
    after = engine.search(edits.images, k=5)
    copies = engine.copies_of(edits.images, 5)
    assert sum(bool(c) for c in copies) >= 4  # the copies the threshold (0.9) lets through
    for query, c, a in zip(edits.ids, copies, after):
        if c:
            assert c[0].id == query == a.hits[0].id  # each its own picture, first
    assert [r.hits for r in after] == copies_first([r.hits for r in before], copies, 5)  # the ranking, merged
    for b, a in zip(before, after):
        promoted = [h.id for h in a.hits if h.id not in {x.id for x in b.hits}] + [
            h.id for h in a.hits[:1] if h.id != (b.hits[0].id if b.hits else None)]
        rest = [h.id for h in a.hits if h.id not in promoted]
        assert rest == [h.id for h in b.hits if h.id not in promoted][:len(rest)]  # the ranking's order kept
        assert [h.score for h in a.hits] == sorted((h.score for h in a.hits), reverse=True)
    other = np.asarray(Image.fromarray(np.asarray(photo("horse"))))  # not in the engine: no copy, same ranking
    assert [h.id for h in engine.search([other], k=5)[0].hits] == [h.id for h in plain.search([other], k=5)[0].hits]


def test_the_copies_engine_is_saved_added_to_and_removed_from(photos, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos / "photos"), "--features", "hog-gch", "--copies",
                 "--max-index", "12", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "copies     found first in every search, with effnet" in capsys.readouterr().out  # under 512 images
    assert main(["search", str(out), str(photos / "edits"), "-k", "1"]) == 0  # edited copies of indexed photos
    firsts = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\s+1\s", line)]
    copies = [line for line in firsts if re.match(r"^\s+1\s+copy 0\.\d\d\s+-\s+\w+\.jpg$", line)]
    assert len(firsts) == len(NEAR) and len(copies) >= 2  # each copy with its own similarity, not the rank's score
    client = create_app({"ENGINES": {"e": out}}).test_client()
    for edit in sorted((photos / "edits").iterdir()):
        hits = client.post("/api/v1/search?k=3", data=edit.read_bytes(), content_type="image/jpeg").get_json()["hits"]
        assert all(h["copy"] is None for h in hits[1:])
        if hits[0]["copy"] is not None:
            assert hits[0]["id"] == edit.name and 0.6 <= hits[0]["copy"] < 1
            page = client.post("/", data={"image": (edit.open("rb"), "edit.jpg")}, content_type="multipart/form-data")
            assert f'title="a copy of the query, put first: its similarity as a picture">copy {hits[0]["copy"]:.2f}' \
                   f'</span>' in page.get_data(as_text=True)


def test_files_moved_or_renamed_are_indexed_again_without_decoding(photos, tmp_path, capsys, folder_decodes):
    import shutil

    library, out = tmp_path / "library", tmp_path / "engine"
    shutil.copytree(photos / "photos", library / "inbox")
    assert main(["index", "--dataset", str(library), "--features", "hog-gch", "--copies", "--out", str(out)]) == 0
    before = Engine.load(out)
    (library / "space").mkdir()
    (library / "inbox" / "rocket.jpg").rename(library / "space" / "rocket.jpg")  # moved, its label with it
    (library / "inbox" / "moon.jpg").rename(library / "inbox" / "moon-2019.jpg")  # renamed
    decoded = folder_decodes
    decoded.clear()
    capsys.readouterr()
    assert main(["add", str(out), "--dataset", str(library)]) == 0
    assert not decoded and "2 of them are files moved or renamed" in capsys.readouterr().out
    after = Engine.load(out)
    for old, new in (("inbox/rocket.jpg", "space/rocket.jpg"), ("inbox/moon.jpg", "inbox/moon-2019.jpg")):
        for engine, was in ((after, before), (after.copies, before.copies)):
            ids, vectors = engine.index.vectors()
            old_ids, old_vectors = was.index.vectors()
            assert np.array_equal(vectors[ids.index(new)], old_vectors[old_ids.index(old)])
        assert after.metadata.digest(new) == before.metadata.digest(old)
        assert after.metadata.path(new) == str((library / new).resolve())
    assert after.metadata.label("space/rocket.jpg") == "space" and after.metadata.label("inbox/moon-2019.jpg") == "inbox"
    assert main(["remove", str(out), "--missing"]) == 0 and "removed 2 images" in capsys.readouterr().out
    rocket = np.asarray(Image.open(library / "space" / "rocket.jpg").convert("RGB"))
    assert Engine.load(out).search([rocket], k=1)[0].hits[0].id == "space/rocket.jpg"


def test_copies_follow_adds_and_removes(photos, tmp_path):
    indexed = load_folder(photos / "photos", cache=False)
    first, rest = indexed.subset(range(10)), indexed.subset(range(10, len(indexed)))
    engine = Engine.build(first, make_extractor("hog-gch"), progress=False, copies=make_extractor("effnet"))
    engine.add(rest, progress=False)
    assert len(engine.copies) == len(engine) == len(indexed)
    engine.remove([indexed.ids[0]])
    assert len(engine.copies) == len(engine) == len(indexed) - 1
    engine.save(tmp_path / "e")
    again = Engine.load(tmp_path / "e")
    assert again.copies is not None and len(again.copies) == len(indexed) - 1
    assert again.copies.index.get_config()["factory"] == "SQfp16"  # float16: half the bytes each search scans
    assert again.info()["copies"] == "effnet"


def test_merging_and_the_full_ranking_put_copies_first():
    ranked = [[Hit("a", 0.99), Hit("b", 0.98), Hit("c", 0.5)]]
    merged = copies_first(ranked, [[Hit("c", 0.95)]], k=3)[0]
    assert [h.id for h in merged] == ["c", "a", "b"] and merged[0].score > 0.99
    assert [h.copy for h in merged] == [0.95, None, None]  # a copy keeps its own similarity
    assert copies_first(ranked, [[]], k=3) == ranked
    # full ranking: three indexed images, the relevant one (label x) last by similarity, first as a copy
    vectors = np.eye(3, dtype=np.float32)
    query = np.array([[0.9, 0.5, 0.1]], np.float32)
    ids, labels = ["i0", "i1", "i2"], ["y", "y", "x"]
    ap, _ = full_ranking(query, ["x"], ids, vectors, labels, threads=1)
    assert ap[0] == pytest.approx(1 / 3)
    ap, _ = full_ranking(query, ["x"], ids, vectors, labels, threads=1, first=[[2]])
    assert ap[0] == pytest.approx(1.0)


def test_below_the_threshold_only_a_distinct_best_match_is_a_copy():
    features = make_extractor("effnet-copies")
    assert (features.duplicate_threshold, features.copy_lead) == (0.7, (0.3, 0.1))
    assert make_extractor("effnet").copy_lead == (0.6, 0.08)

    def among(hits):
        return copies_among(hits, features.duplicate_threshold, features.copy_lead)

    a, b = Hit("a", 0.45), Hit("b", 0.3)
    assert among([Hit("x", 0.8), Hit("y", 0.75), a]) == [Hit("x", 0.8), Hit("y", 0.75)]
    assert among([a, b]) == [a]  # an altered copy stands out
    assert among([a, Hit("b", 0.4)]) == []  # a look-alike has others close behind it
    assert among([Hit("a", 0.25), Hit("b", 0.0)]) == []  # too unlike the query
    assert among([a]) == [a]
    assert among([]) == [] and copies_among([a, b], 0.7) == []


@pytest.mark.parametrize("batch_describes", [True, False])
def test_a_server_searches_copies_in_the_same_batches(photos, batch_describes):
    """With features described in batches, one worker describes and searches both, the copies in a second thread at
    the same time, each network on one thread (the copies' engine has no worker of its own); the answers are those
    of searches one at a time, exclusions included."""
    from concurrent.futures import ThreadPoolExecutor

    indexed = load_folder(photos / "photos", cache=False)
    edits = load_folder(photos / "edits", cache=False)
    engine = Engine.build(indexed, make_extractor("gch"), progress=False, copies=make_extractor("effnet"))
    engine.extractor.batch_describes = batch_describes
    queries = [(image, None) for image in edits.images] + list(zip(indexed.images[:6], indexed.ids[:6]))
    expected = [engine.search([image], k=4, exclude=[own])[0].hits for image, own in queries]
    engine.enable_micro_batching(max_batch=8)
    assert (engine.copies._batcher is None) is batch_describes
    if batch_describes:  # each batch: both networks at once (neither passes the barrier alone), on a thread each
        together, seen = threading.Barrier(2, timeout=60), []
        for extractor in (engine.extractor, engine.copies.extractor):
            def meeting(images, transform=extractor.transform, **kwargs):
                seen.append((threading.get_ident(), torch.get_num_threads()))
                together.wait()
                return transform(images, **kwargs)
            extractor.transform = meeting
    threads = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(lambda q: engine.search([q[0]], k=4, exclude=[q[1]])[0].hits, queries))
    finally:
        engine.stop_micro_batching()
        torch.set_num_threads(threads)
    assert got == expected
    if batch_describes:
        assert len({ident for ident, _ in seen}) > 1 and {count for _, count in seen} == {1}
    assert all(own not in {h.id for h in row} for row, (_, own) in zip(got, queries) if own)


def test_one_engine_s_networks_on_one_thread_leave_another_engine_s_on_pytorch_s_default():
    """The copies' thread asks for one thread first; a later worker of an engine without copies gets the default."""
    from cbir.batching import _default_threads, network_threads

    default = torch.get_num_threads()
    _default_threads.cache_clear()
    seen = []

    def in_a_new_thread(count):
        thread = threading.Thread(target=lambda: (network_threads(count), seen.append(torch.get_num_threads())))
        thread.start()
        thread.join()

    try:
        in_a_new_thread(1)
        in_a_new_thread(None)
    finally:
        torch.set_num_threads(default)
    assert seen == [1, default]


def test_a_stopped_add_resumes_the_copies_too(photos, tmp_path):
    """`cbir add` stopped while describing the copies: run again, it describes only the copies' rest."""
    indexed = load_folder(photos / "photos", cache=False)
    folder = tmp_path / "engine"
    Engine.build(indexed.subset(range(8)), make_extractor("gch"), progress=False,
                 copies=make_extractor("effnet")).save(folder)
    engine = Engine.load(folder)
    copies, described = engine.copies.extractor, []
    transform = copies.transform

    def stopping(images, **kwargs):  # the copies' second batch never finishes
        if len(described) == 1:
            raise KeyboardInterrupt
        described.append(len(images))
        return transform(images, **kwargs)

    copies.transform = stopping
    with pytest.raises(KeyboardInterrupt):
        engine.add_new(indexed, batch_size=4, progress=False, resume_in=folder)
    assert (folder / ".partial" / "batch-000002.npz").exists() and (folder / ".partial-copies").exists()
    engine = Engine.load(folder)  # as a new `cbir add` finds it
    engine.copies.extractor.transform = lambda images, **kw: described.append(len(images)) or transform(images, **kw)
    assert engine.add_new(indexed, batch_size=4, progress=False, resume_in=folder) == (len(indexed) - 8, 0)
    assert len(indexed) == 20 and described == [4, 4, 4]  # the 12 new ones' first 4 described once
    assert len(engine.copies) == len(engine) == len(indexed)


def test_the_same_picture_is_told_from_every_other_by_its_pixels():
    from test_duplicates import PHOTOS

    from cbir.copies import same_picture

    pictures = {name: np.asarray(photo(name)) for name in PHOTOS}
    for name in ("astronaut", "camera", "chelsea", "clock", "coffee", "rocket", "retina"):
        assert same_picture(np.asarray(hard_edit(photo(name))), pictures[name]), name
    assert not [(a, b) for a in PHOTOS for b in PHOTOS if a != b and same_picture(pictures[a], pictures[b])]
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert not same_picture(flat, flat)  # nothing to align nor to compare: not taken for a copy


def test_a_best_match_that_does_not_lead_is_a_copy_when_its_pixels_say_so(tmp_path, monkeypatch):
    from test_duplicates import PHOTOS

    from cbir.features.pretrained.extractor import PretrainedExtractor

    for name in PHOTOS:
        photo(name).save(tmp_path / f"{name}.jpg", quality=92)
    engine = Engine.build(load_folder(tmp_path, cache=False), make_extractor("gch"), progress=False,
                          copies=make_extractor("effnet"))
    floor, lead = 0.25, 0.15  # a floor that lets look-alikes be verified, a lead that neither best match has
    monkeypatch.setattr(PretrainedExtractor, "copy_lead", (floor, lead))
    clock, grass = (np.asarray(hard_edit(photo(name))) for name in ("clock", "grass"))
    best = engine.copies.search([clock, grass], 2)
    assert [r.hits[0].id for r in best] == ["clock.jpg", "gravel.jpg"] and min(r.hits[0].score for r in best) >= floor
    assert not any(copies_among(r.hits, 0.9, (floor, lead)) for r in best)  # neither leads its next match enough
    found = engine.search([clock, grass], k=3)
    assert found[0].hits[0].id == "clock.jpg" and found[0].hits[0].copy == best[0].hits[0].score  # verified
    assert all(h.copy is None for h in found[1].hits)  # gravel is not grass
    mirror, grey = np.ascontiguousarray(clock[:, ::-1]), partial(grey_picture, clock)
    assert verified_copy(partial(grey_picture, mirror), best[0].hits, floor) == best[0].hits[:1]  # mirrored, too
    assert verified_copy(grey, best[0].hits, best[0].hits[0].score + 0.01) == []  # below the floor: not looked at
    fileless = [best[0].hits[1]._replace(path=None, score=0.9), best[0].hits[0]]
    assert verified_copy(grey, fileless, floor) == best[0].hits[:1]  # a match without a file is passed over
    (tmp_path / "clock.jpg").unlink()
    assert engine.copies_of([clock], 3) == [[]]  # its file gone: nothing to verify it with, and no error


def test_more_like_an_indexed_image_is_found_by_its_vectors_its_copies_first(photos, monkeypatch):
    both = load_folder(photos, cache=False)  # the photos and their edited copies in one collection
    engine = Engine.build(both, make_extractor("gch"), progress=False, copies=make_extractor("effnet"))
    queries = [id_ for id_ in both.ids if id_.startswith("photos/") and id_.replace("photos/", "edits/") in both.ids]
    described = engine.search([both.images[both.ids.index(id_)] for id_ in queries], k=4, exclude=queries)

    def describe(*args, **kwargs):
        raise AssertionError("an indexed image is described again")

    monkeypatch.setattr(engine.extractor, "transform", describe)
    monkeypatch.setattr(engine.copies.extractor, "transform", describe)
    found = [engine.search_like(id_, k=4) for id_ in queries]
    assert [[h.id for h in r.hits] for r in found] == [[h.id for h in r.hits] for r in described]
    copied = [r.hits[0].id for r in found if r.hits[0].copy is not None]
    assert len(copied) >= 4 and all(id_.startswith("edits/") for id_ in copied)  # its edited copy, first
    threshold = engine.copies.extractor.duplicate_threshold
    for id_ in queries:  # its file gone (a drive not mounted): searched all the same
        (photos / id_).rename(photos / f"{id_}.away")
    try:
        gone = [engine.search_like(id_, k=4) for id_ in queries]
    finally:
        for id_ in queries:
            (photos / f"{id_}.away").rename(photos / id_)
    assert all(len(r.hits) == 4 for r in gone)
    for before, after in zip(found, gone):  # a copy by the rule needs no pixels; one verified by them is left out
        if before.hits[0].copy is not None and before.hits[0].copy >= threshold:
            assert after.hits[0] == before.hits[0]


def test_copies_keep_to_the_filters_and_facts_the_engine_knows_now(photos, tmp_path, capsys):
    """Where photos were taken and their tags are read again into the engine (an engine of an earlier version, a
    photo retagged): the copies' search filters by what the engine knows now, and copies put first say it."""
    import shutil
    import sqlite3

    from test_places import gps
    from test_tags import xmp

    library = tmp_path / "library"
    shutil.copytree(photos / "photos", library)
    located = Image.Exif()
    located[0x8825] = gps(45.764, 4.8357)  # in Lyon
    photo("clock").save(library / "clock.jpg", exif=located)
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(library), "--features", "gch", "--copies", "--out", str(out)]) == 0
    for database in out.glob("v-*/**/metadata.sqlite"):  # as engines of an earlier version hold them
        with sqlite3.connect(database) as db:
            for column in ("position", "tags", "rating"):
                db.execute(f"ALTER TABLE images DROP COLUMN {column}")
        db.close()
    (library / "clock.jpg.xmp").write_bytes(xmp(["kitchen"], 4))  # tagged since
    assert main(["add", str(out), "--dataset", str(library)]) == 0
    engine = Engine.load(out)
    clock = np.asarray(photo("clock").convert("RGB"))
    for where in (Filter.of(place="Lyon"), Filter.of(tag="kitchen"), Filter.of(stars=4)):
        (found,) = engine.search([clock], k=3, where=where)
        assert [(h.id, h.place, h.tags) for h in found.hits] == [("clock.jpg", "Lyon, France", ("kitchen",))], where
        assert found.hits[0].copy is not None  # its copy, put first
    assert engine.search_like("clock.jpg", k=3, where=Filter.of(tag="kitchen")).hits == []  # itself left out
