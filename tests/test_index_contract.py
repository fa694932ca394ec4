"""The VectorIndex contract, run against every implementation with ExactIndex as the oracle."""

import os
from dataclasses import replace

import numpy as np
import pytest

from cbir.errors import VectorIndexError
from cbir.features import l2_normalise
from cbir.filters import Filter, Selection
from cbir.index import ElasticIndex, ExactIndex, FaissIndex, MilvusIndex, VectorIndex, make_index

DIM = 16
MILVUS_LITE = {}  # set per test by the `kind` fixture: a fresh Milvus Lite file


def milvus(**options):
    return MilvusIndex(DIM, uri=str(MILVUS_LITE["dir"] / "milvus.db"), **options)


IMPLEMENTATIONS = {
    "exact": lambda: ExactIndex(DIM),
    "faiss-flat": lambda: FaissIndex(DIM),
    "faiss-ivf": lambda: FaissIndex(DIM, factory="IVF4,Flat", nprobe=4),
    "faiss-hnsw": lambda: FaissIndex(DIM, factory="HNSW16", ef_search=256),
    "milvus-flat": lambda: milvus(),
    "milvus-hnsw": lambda: milvus(index_type="HNSW", m=16, ef_construction=200, ef=300),
    "milvus-ivf": lambda: milvus(index_type="IVF_FLAT", nlist=128, nprobe=128),
    "elasticsearch-knn": lambda: elastic(num_candidates=1000),
    "elasticsearch-exact": lambda: elastic(exact=True),
}
REMOVABLE = set(IMPLEMENTATIONS) - {"faiss-hnsw"}
NEEDS_SERVER = {"elasticsearch-knn", "elasticsearch-exact"}
CREATED: list = []  # server-side indexes to delete after each test


def elastic(**options):
    index = ElasticIndex(DIM, **options)
    CREATED.append(index)
    return index


@pytest.fixture(autouse=True)
def drop_server_indexes():
    yield
    while CREATED:
        CREATED.pop().drop()


@pytest.fixture(scope="module")
def milvus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("milvus")


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.skipif(
    name in NEEDS_SERVER and not os.environ.get("CBIR_ES_URL"),
    reason="needs an Elasticsearch server: set CBIR_ES_URL (see README)")) for name in sorted(IMPLEMENTATIONS)])
def kind(request, milvus_dir):
    MILVUS_LITE["dir"] = milvus_dir
    return request.param


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    vectors = l2_normalise(rng.normal(size=(300, DIM)))
    ids = [f"img/{i:04d}.png" for i in range(300)]
    queries = l2_normalise(rng.normal(size=(20, DIM)))
    return ids, vectors, queries


def attributes_of(ids):
    """Three labels, two splits (what the document-storing servers keep beside each vector)."""
    return [{"path": f"/photos/{id_}", "label": "abc"[i % 3], "split": ("train", "test")[i % 2],
             "date": f"{2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00"} for i, id_ in enumerate(ids)]


def selected(ids, where: Filter) -> Selection:
    """The ids that pass `where`: those whose documents pass its conditions on them, and of those where it has
    others (tags, stars: the engine's facts), every seventh, as if those were tagged or rated so."""
    on_documents = replace(where, tag="", stars=0)
    return Selection(where, frozenset(id_ for i, (id_, a) in enumerate(zip(ids, attributes_of(ids)))
                                      if on_documents.passes(id_, a["label"], a["split"], a["date"])
                                      and (where.on_documents or i % 7 == 3)))


def filled(kind, ids, vectors):
    index = IMPLEMENTATIONS[kind]()
    attributes = attributes_of(ids)
    index.add(ids[:200], vectors[:200], attributes[:200])
    index.add(ids[200:], vectors[200:], attributes[200:])
    return index


def oracle(ids, vectors):
    index = ExactIndex(DIM)
    index.add(ids, vectors)
    return index


def test_search_matches_the_oracle(kind, data):
    ids, vectors, queries = data
    got = filled(kind, ids, vectors).search(queries, 10)
    want = oracle(ids, vectors).search(queries, 10)
    assert len(got) == len(want) == 20
    for g, w in zip(got, want):
        assert [h.id for h in g] == [h.id for h in w]
        np.testing.assert_allclose([h.score for h in g], [h.score for h in w], atol=1e-5)
        assert all(a.score >= b.score for a, b in zip(g, g[1:]))


def test_each_vector_finds_itself_first(kind, data):
    ids, vectors, _ = data
    hits = filled(kind, ids, vectors).search(vectors[:50], 1)
    assert [h[0].id for h in hits] == ids[:50]
    assert all(h[0].score == pytest.approx(1.0, abs=1e-5) for h in hits)


def test_k_larger_than_the_index_and_empty_index(kind, data):
    ids, vectors, queries = data
    index = IMPLEMENTATIONS[kind]()
    assert len(index) == 0 and index.search(queries[:2], 5) == [[], []]
    index = filled(kind, ids, vectors)
    assert len(index) == 300
    assert len(index.search(queries[:1], 1000)[0]) == 300


def test_remove(kind, data):
    ids, vectors, queries = data
    index = filled(kind, ids, vectors)
    top = index.search(queries[:1], 3)[0]
    if kind not in REMOVABLE:
        with pytest.raises(VectorIndexError, match="removal"):
            index.remove([top[0].id])
        return
    assert index.remove([top[0].id, "not-there"]) == 1
    assert len(index) == 299
    assert index.search(queries[:1], 2)[0][0].id == top[1].id
    index.add([top[0].id], vectors[ids.index(top[0].id)])
    assert index.search(queries[:1], 1)[0][0].id == top[0].id


def test_bad_input_is_refused(kind, data):
    ids, vectors, _ = data
    index = filled(kind, ids, vectors)
    with pytest.raises(VectorIndexError, match="already"):
        index.add([ids[0]], vectors[:1])
    with pytest.raises(VectorIndexError, match="dimension"):
        index.add(["new"], np.ones((1, DIM + 1), np.float32))
    with pytest.raises(VectorIndexError, match="ids"):
        index.add(["a", "b"], vectors[:1])
    with pytest.raises(VectorIndexError, match="NaN"):
        index.add(["nan"], np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(VectorIndexError, match="dimension"):
        index.search(np.ones((1, 3), np.float32), 1)


def test_save_load_round_trip(kind, data, tmp_path):
    ids, vectors, queries = data
    index = filled(kind, ids, vectors)
    if kind in REMOVABLE:
        index.remove(ids[:5])
    index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx")
    assert type(loaded) is type(index) and len(loaded) == len(index) and loaded.get_config() == index.get_config()
    def ranked_ids(idx):
        return [[h.id for h in row] for row in idx.search(queries, 7)]

    assert ranked_ids(loaded) == ranked_ids(index)


def test_vectors_returns_everything_added(kind, data):
    ids, vectors, _ = data
    got_ids, got = filled(kind, ids, vectors).vectors()
    order = np.argsort(got_ids)
    assert [got_ids[i] for i in order] == ids
    np.testing.assert_allclose(got[order], vectors, atol=1e-6)


def test_vectors_of_some_ids_reads_only_those(kind, data, monkeypatch):
    """A file moved reuses its vectors (`Engine.add_moved`): a server index must not be read whole for them."""
    ids, vectors, _ = data
    index = filled(kind, ids, vectors)
    monkeypatch.setattr(index, "vectors", lambda: pytest.fail("read every vector for a few"))
    wanted = [ids[250], ids[3], ids[117]]
    np.testing.assert_allclose(index.vectors_of(wanted), vectors[[250, 3, 117]], atol=1e-6)
    assert index.vectors_of([]).shape == (0, DIM)
    with pytest.raises(VectorIndexError, match="not indexed: 'img/nope.png'"):
        index.vectors_of([ids[0], "img/nope.png"])


def test_make_index_and_bad_factory():
    assert isinstance(make_index("faiss", 8), FaissIndex)
    with pytest.raises(VectorIndexError, match="factory"):
        FaissIndex(8, factory="NoSuchThing")
    with pytest.raises(VectorIndexError, match="train"):
        FaissIndex(8, factory="IVF64,Flat").add(["a"], np.ones((1, 8), np.float32))


def test_wide_vectors_are_scanned_in_float16_unless_a_factory_is_given():
    """From 512 dimensions (`effnet`'s 1,280) every vector is still scanned, stored as float16: half the memory,
    the same ranking but for scores within 0.0001 of float32's."""
    rng = np.random.default_rng(3)
    vectors = rng.random((300, 640), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"img/{i:03d}.png" for i in range(300)]
    wide, exact = FaissIndex(640), ExactIndex(640)
    assert wide.get_config()["factory"] == "SQfp16" and FaissIndex(511).get_config()["factory"] == "Flat"
    assert FaissIndex(640, factory="Flat").get_config()["factory"] == "Flat"
    for index in (wide, exact):
        index.add(ids, vectors)
    queries = vectors[:20] + rng.normal(0, 0.05, (20, 640)).astype(np.float32)
    for got, want in zip(wide.search(queries, 10), exact.search(queries, 10)):
        assert got[0].id == want[0].id
        np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-4)


@pytest.mark.parametrize("where, passing", [
    (Filter(labels=frozenset({"b"})), 100),
    (Filter(splits=frozenset({"test"}), folder="img/01"), 50),
    (Filter(labels=frozenset({"a", "c"}), folder="img/00"), 67),
    (Filter(folder="img/029"), 10),  # fewer images pass than k: each of them, no more
    (Filter.of(since="2018-06", until="2019"), 50),  # from June 2018 to the end of 2019
    (Filter.of(labels=["a"], until="2016-03-01"), 10),  # up to the end of that day
    (Filter.of(tag="Anna"), 43),  # the engine's facts, not the documents': the servers are given the ids
    (Filter.of(folder="img/00", stars=3), 14),
])
def test_a_filtered_search_matches_the_oracle_and_returns_k_whenever_k_pass(kind, data, where, passing):
    ids, vectors, queries = data
    selection = selected(ids, where)
    assert len(selection.ids) == passing
    got = filled(kind, ids, vectors).search(queries, 20, selection)
    want = oracle(ids, vectors).search(queries, 20, selection)
    for g, w in zip(got, want):
        assert len(g) == min(20, passing) and all(h.id in selection.ids for h in g)
        assert [h.id for h in g] == [h.id for h in w]
        np.testing.assert_allclose([h.score for h in g], [h.score for h in w], atol=1e-5)


@pytest.mark.parametrize("server", ["milvus-flat", "elasticsearch-exact"])
def test_a_server_given_more_ids_than_one_filter_holds_searches_them_a_part_at_a_time(server, data, milvus_dir,
                                                                                     monkeypatch):
    """A filter of the engine's facts reaches a server as the ids that pass, at most a chunk in one search: the k
    best of all the parts are the k best among the ids (here 43 ids, 5 a search)."""
    if server in NEEDS_SERVER and not os.environ.get("CBIR_ES_URL"):
        pytest.skip("needs an Elasticsearch server: set CBIR_ES_URL (see README)")
    import cbir.index.elastic
    import cbir.index.milvus

    MILVUS_LITE["dir"] = milvus_dir
    ids, vectors, queries = data
    index, selection = filled(server, ids, vectors), selected(ids, Filter.of(tag="Anna"))
    searches = []
    module = cbir.index.milvus if server.startswith("milvus") else cbir.index.elastic
    monkeypatch.setattr(module, "ID_CHUNK" if module is cbir.index.milvus else "_ID_CHUNK", 5)
    searched = index._searched
    monkeypatch.setattr(index, "_searched", lambda *a, **kw: searches.append(1) or searched(*a, **kw))
    got, want = index.search(queries, 12, selection), oracle(ids, vectors).search(queries, 12, selection)
    assert len(searches) == 9  # ceil(43 / 5)
    for g, w in zip(got, want):
        assert [h.id for h in g] == [h.id for h in w]
        np.testing.assert_allclose([h.score for h in g], [h.score for h in w], atol=1e-5)
