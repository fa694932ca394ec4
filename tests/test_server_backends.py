"""Milvus (for real, embedded Milvus Lite) and Elasticsearch (against a real server when CBIR_ES_URL is set)
as engine backends from the library and the CLI; errors a user can act on."""

import json
import os
import socket

import numpy as np
import pytest

from cbir import Engine
from cbir.cli import main
from cbir.datasets import load_folder
from cbir.errors import VectorIndexError
from cbir.features import l2_normalise
from cbir.index import ElasticIndex, MilvusIndex, VectorIndex
from cbir.index.elastic import client_for
from cbir.index.elastic_requests import mapping
from cbir.types import Hit
from cbir.web import create_app

needs_es = pytest.mark.skipif(not os.environ.get("CBIR_ES_URL"),
                              reason="needs an Elasticsearch server: set CBIR_ES_URL (see README)")


def ranking(engine, images, k=5):
    return [[(h.id, round(h.score, 4)) for h in r.hits] for r in engine.search(images, k)]


@pytest.fixture(scope="module")
def faiss_cli_engine(tiny_collection, tmp_path_factory):
    out = tmp_path_factory.mktemp("faiss") / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "hog-gch", "--factory", "Flat",
                 "--out", str(out)]) == 0  # float32, as the servers store them (836 dimensions: float16 by default)
    return Engine.load(out)


@pytest.fixture(scope="module")
def queries(tiny_collection):
    test = load_folder(tiny_collection, split="test", progress=False, cache=False)
    assert test.labels[0] == "blobs"
    return test.images


def test_milvus_lite_engine_from_the_cli_matches_faiss_and_reopens(faiss_cli_engine, queries, tiny_collection,
                                                                    tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "hog-gch", "--backend", "milvus",
                 "--out", str(out)]) == 0
    assert (out / "milvus.db").exists()  # the default Milvus Lite file lives in the engine folder
    engine = Engine.load(out)
    assert engine.info()["index"]["kind"] == "milvus" and len(engine) == 60
    assert ranking(engine, queries) == ranking(faiss_cli_engine, queries)
    assert engine.search(queries[:1], 1)[0].hits[0].label == "blobs"  # metadata joins as with FAISS
    capsys.readouterr()
    assert main(["search", str(out), str(tiny_collection / "test" / "blobs" / "000.png"), "--json", "-k", "2"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["label"] == "blobs"
    web = create_app({"ENGINES": {"milvus": engine}}).test_client()  # the page and API serve it unchanged
    query = (tiny_collection / "test" / "stripes" / "000.png").read_bytes()
    found = web.post("/api/v1/search?k=3", data=query, content_type="application/octet-stream").get_json()
    assert found["engine"] == "milvus" and [h["label"] for h in found["hits"]] == ["stripes"] * 3


def test_milvus_collection_stores_the_image_attributes(tiny_collection, tmp_path):
    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    index = MilvusIndex(4, uri=str(tmp_path / "m.db"), index_type="HNSW", ef=64)
    index.add(data.ids[:3], l2_normalise(np.eye(4, dtype=np.float32)[:3]),
              [{"path": p, "label": label, "split": s} for p, label, s in
               zip(data.paths[:3], data.labels[:3], data.splits[:3])])
    rows = index._client.get(index.collection, ids=[data.ids[0]], output_fields=["path", "label", "split"])
    assert (rows[0]["path"], rows[0]["label"], rows[0]["split"]) == (data.paths[0], data.labels[0], "train")


def test_a_milvus_collection_made_before_images_had_dates_filters_by_date_through_the_ids(tmp_path):
    from pymilvus import DataType, MilvusClient

    from cbir.filters import Filter, Selection

    uri = str(tmp_path / "m.db")
    client = MilvusClient(uri)  # an earlier version's schema: no date field
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=2048)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    for name in ("path", "label", "split"):
        schema.add_field(name, DataType.VARCHAR, max_length=2048, nullable=True)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    client.create_collection("old", schema=schema, index_params=params, consistency_level="Strong")
    vectors = l2_normalise(np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    client.insert("old", [{"id": f"{n}.jpg", "vector": v, "label": "x"} for n, v in enumerate(vectors.tolist())])
    client.close()
    index = MilvusIndex(4, uri=uri, collection="old", create=False)
    july = Selection(Filter.of(since="2019-07", until="2019-07"), frozenset({"1.jpg", "4.jpg"}))  # the metadata's
    assert {h.id for h in index.search(vectors[:1], 5, july)[0]} == {"1.jpg", "4.jpg"}


def test_milvus_errors_a_user_can_act_on(tmp_path):
    uri = str(tmp_path / "m.db")
    index = MilvusIndex(8, uri=uri, collection="photos")
    index.add(["a"], l2_normalise(np.ones((1, 8), np.float32)))
    index.save(tmp_path / "saved")
    with pytest.raises(VectorIndexError, match="already exists"):
        MilvusIndex(8, uri=uri, collection="photos")
    with pytest.raises(VectorIndexError, match="holds 8-d vectors"):
        MilvusIndex(16, uri=uri, collection="photos", create=False)
    with pytest.raises(VectorIndexError, match=r"\.db"):
        MilvusIndex(8, uri=str(tmp_path / "not-a-db-file"))
    with pytest.raises(VectorIndexError, match="index type"):
        MilvusIndex(8, uri=uri, index_type="DISKANN_PLUS")
    index.drop()
    with pytest.raises(VectorIndexError, match="missing"):
        VectorIndex.load(tmp_path / "saved")


def test_cli_refuses_options_of_another_backend(tiny_collection, tmp_path, capsys):
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--es-url", "http://x:9200",
                 "--out", str(tmp_path / "e")]) == 2
    assert "--es-url does not apply to --backend faiss" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_elasticsearch_mapping_follows_the_options():
    hnsw = mapping(256, "dot_product", "int8_hnsw", m=32, ef_construction=200)["properties"]
    assert hnsw["vector"] == {"type": "dense_vector", "dims": 256, "index": True, "similarity": "dot_product",
                              "index_options": {"type": "int8_hnsw", "m": 32, "ef_construction": 200}}
    assert {k: v["type"] for k, v in hnsw.items() if k != "vector"} == dict.fromkeys(
        ["id", "path", "label", "split"], "keyword") | {"date": "date"}
    assert mapping(8, "cosine", "flat")["properties"]["vector"]["index_options"] == {"type": "flat"}


def test_elasticsearch_configuration_errors_need_no_server(monkeypatch):
    monkeypatch.delenv("CBIR_ES_URL", raising=False)
    with pytest.raises(VectorIndexError, match="CBIR_ES_URL"):
        client_for(None)
    with pytest.raises(VectorIndexError, match="not in the URL"):
        client_for("https://elastic:secret@localhost:9200")
    with pytest.raises(VectorIndexError, match="similarity"):
        ElasticIndex(8, url="http://localhost:9200", similarity="l2_norm")


def test_an_unreachable_elasticsearch_is_a_clear_error(tiny_collection, tmp_path, capsys):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--backend",
                 "elasticsearch", "--es-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "e")]) == 2
    assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}" in capsys.readouterr().err


@needs_es
def test_elasticsearch_engine_from_the_cli_matches_faiss(faiss_cli_engine, queries, tiny_collection, tmp_path):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "hog-gch", "--backend",
                 "elasticsearch", "--index-type", "flat", "--out", str(out)]) == 0
    engine = Engine.load(out)
    try:
        saved = (next(out.glob("v-*")) / "index" / "index.json").read_text()
        assert os.environ["CBIR_ES_URL"] in saved
        for secret in ("CBIR_ES_API_KEY", "CBIR_ES_PASSWORD"):
            assert not os.environ.get(secret) or os.environ[secret] not in saved
        assert [[h for h, _ in r] for r in ranking(engine, queries)] == \
               [[h for h, _ in r] for r in ranking(faiss_cli_engine, queries)]
    finally:
        engine.index.drop()
    with pytest.raises(Exception, match="missing"):
        Engine.load(out)


@needs_es
def test_elasticsearch_refuses_an_index_with_another_mapping():
    index = ElasticIndex(8)
    try:
        with pytest.raises(VectorIndexError, match="another mapping"):
            ElasticIndex(16, index=index.index)
    finally:
        index.drop()


@needs_es
def test_elasticsearch_wrong_credentials(monkeypatch):
    monkeypatch.setenv("CBIR_ES_API_KEY", "bm90LWEta2V5Om5vcGU=")
    try:
        ElasticIndex(8).drop()  # a server without security accepts any key: nothing to check there
    except VectorIndexError as exc:
        assert "refused the credentials" in str(exc)


def test_milvus_ids_with_quotes_and_backslashes_are_found_and_removed(tmp_path):
    index = MilvusIndex(4, uri=str(tmp_path / "m.db"))
    ids = ["it's.png", "back\\slash.png", 'quo"te.png', "two\nlines.png", "café.png", "plain.png"]
    index.add(ids, l2_normalise(np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]))
    with pytest.raises(VectorIndexError, match="already in the index"):  # found, so refused
        index.add(["it's.png"], l2_normalise(np.ones((1, 4), np.float32)))
    assert index.remove(["it's.png", "back\\slash.png", "it"]) == 2  # and never matches another
    assert sorted(index.vectors()[0]) == sorted(ids[2:]) and len(index) == 4


def test_milvus_refuses_what_a_server_would_before_any_work(tmp_path):
    with pytest.raises(VectorIndexError, match="not one a Milvus server accepts"):
        MilvusIndex.preflight(uri=str(tmp_path / "m.db"), collection="my-photos")
    with pytest.raises(VectorIndexError, match="not one a Milvus server accepts"):
        MilvusIndex(4, uri=str(tmp_path / "m.db"), collection="2019")
    index = MilvusIndex(4, uri=str(tmp_path / "m.db"), collection="photos_2019")
    long_name = "é" * 40_000  # 40,000 characters, 80,000 bytes of UTF-8
    with pytest.raises(VectorIndexError, match="80,000 bytes of UTF-8; the Milvus collection holds at most 65,535"):
        index.add(["a.png"], l2_normalise(np.ones((1, 4), np.float32)), [{"path": long_name}])
    assert len(index) == 0


def test_a_failed_index_leaves_no_half_built_collection(tiny_collection, tmp_path, capsys, monkeypatch):
    from cbir.engine import Engine as EngineClass

    def fail(self, *args, **kwargs):
        raise VectorIndexError("stopped half-way")

    monkeypatch.setattr(EngineClass, "add_vectors", fail)
    uri = str(tmp_path / "m.db")
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--backend", "milvus",
                 "--milvus-uri", uri, "--collection", "half", "--out", str(tmp_path / "e")]) == 2
    assert "stopped half-way" in capsys.readouterr().err
    assert not MilvusIndex._connect_to(uri).has_collection("half")


def test_one_load_is_one_index_loading_block(train_images=None):
    from cbir.datasets.collection import Dataset
    from cbir.features import make_extractor
    from cbir.index import ExactIndex

    class Counting(ExactIndex):
        kind = "counting-test"
        loads = 0

        def loading(self):
            type(self).loads += 1
            return super().loading()

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (50, 8, 8, 3), dtype=np.uint8)
    data = Dataset([str(i) for i in range(50)], images, [None] * 50, [None] * 50, [None] * 50, "t")
    engine = Engine(make_extractor("gch"), Counting(64))
    engine.add(data, batch_size=7)  # 8 batches, one load
    assert Counting.loads == 1 and len(engine) == 50


def test_elasticsearch_limits_are_checked_before_any_server_or_image(tiny_collection, tmp_path, capsys,
                                                                    monkeypatch):
    from cbir.features.base import FeatureExtractor

    monkeypatch.setattr(FeatureExtractor, "transform", lambda *a, **k: pytest.fail("described images first"))
    monkeypatch.setattr(FeatureExtractor, "fit", lambda *a, **k: pytest.fail("fitted first"))
    nowhere = "http://127.0.0.1:9"  # never contacted: the limits are known without a server
    for features, index_type, message in [
            ("sift-bovw", "hnsw", "at most 4096 dimensions; these features have 5000"),
            ("bovw-hog-gch-supervised", "hnsw", "these features have 5837"),
            ("hog", "int4_hnsw", "int4_hnsw needs an even number of dimensions, not 324"),  # 324 is even: passes
            ("gch", "bbq_flat", "bbq_flat needs at least 64 dimensions, not 64")]:
        code = main(["index", "--dataset", f"{tiny_collection}:train", "--features", features, "--backend",
                     "elasticsearch", "--es-url", nowhere, "--index-type", index_type, "--out", str(tmp_path / "e")])
        err = capsys.readouterr().err
        assert code == 2
        if features in ("hog", "gch"):
            assert "cannot reach Elasticsearch" in err  # within the limits: on to the server
        else:
            assert message in err, err
    from cbir.index.elastic_requests import check_vector_field

    check_vector_field(4096, "hnsw")
    for dim, index_type, message in [(4097, "hnsw", "at most 4096"), (325, "int4_flat", "even number"),
                                     (63, "bbq_hnsw", "at least 64")]:
        with pytest.raises(VectorIndexError, match=message):
            check_vector_field(dim, index_type)
        with pytest.raises(VectorIndexError, match=message):
            ElasticIndex(dim, url=nowhere, index_type=index_type)


def test_elasticsearch_server_versions_and_their_errors():
    from elasticsearch import ApiError, BadRequestError
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig

    from cbir.index.elastic_requests import check_server, refusal_text, vector_source

    assert check_server("9.1.4", "u") == (9, 1) and check_server("9.0.0", "u") == (9, 0)
    with pytest.raises(VectorIndexError, match="version 8.17.2; cbir's client talks to 9.x servers only"):
        check_server("8.17.2", "u")
    meta = ApiResponseMeta(400, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "localhost", 9200))
    body = {"error": {"type": "media_type_header_exception", "reason": "Invalid media-type value on headers "
                      "[Accept]", "root_cause": []}, "status": 400}
    older = BadRequestError("media_type_header_exception", meta, {
        "error": {**body["error"], "reason": "Accept version must be either version 8 or 7, but found 9. "
                  "Accept=application/vnd.elasticsearch+json; compatible-with=9"}, "status": 400})
    assert refusal_text(older, "http://es:9200") == ("Elasticsearch at http://es:9200 is older than 9.0 (it refused "
                                                     "the 9.x client's compatibility header): cbir works with 9.x "
                                                     "servers")
    assert refusal_text(ApiError("x", meta, body), "u") == "Elasticsearch at u answered 400: Invalid media-type " \
                                                           "value on headers [Accept]"
    # `_source.exclude_vectors` exists on 8.19 and from 9.1: 9.0 would refuse it
    assert [("exclude_vectors" in vector_source(v)) for v in [(8, 18), (8, 19), (9, 0), (9, 1), (9, 3)]] == \
           [False, True, False, True, True]


def test_elasticsearch_request_bodies():
    from cbir.index.elastic_requests import hits_of, ids_body, search_body, zero_rows

    # the documents of some ids, with their vectors (`vectors_of`): the ids query, `_source` as for reading all
    assert ids_body(["a.png", "it's.png"], (9, 1)) == {"query": {"ids": {"values": ["a.png", "it's.png"]}},
                                                       "source": {"includes": ["vector"], "exclude_vectors": False},
                                                       "size": 2}

    query = np.array([0.6, 0.8], np.float32)
    assert search_body(query, 5) == {"size": 5, "_source": False, "knn": {
        "field": "vector", "query_vector": [pytest.approx(0.6), pytest.approx(0.8)], "k": 5, "num_candidates": 100}}
    exact = search_body(query, 3, "cosine", exact=True)["query"]["script_score"]
    assert exact["script"]["source"] == "cosineSimilarity(params.query_vector, 'vector') + 1.0"
    # a blank query (HOG of a uniform image): no vector is sent, any k documents at similarity 0
    assert search_body(np.zeros(2, np.float32), 4) == {"size": 4, "_source": False, "query": {"match_all": {}}}
    with pytest.raises(VectorIndexError, match=r"2 image\(s\) have an all-zero feature vector.*'b.png', 'd.png'"):
        zero_rows(["a.png", "b.png", "c.png", "d.png"], np.array([[1, 0], [0, 0], [0, 1], [0, 0]], np.float32),
                  "dot_product")
    answer = {"took": 3, "timed_out": False, "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0},
              "hits": {"hits": [{"_id": "a.png", "_score": 0.9}]}}
    assert hits_of(answer, lambda s: 2 * s - 1) == [Hit("a.png", pytest.approx(0.8))]
    partial = answer | {"_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 1, "failures": [
        {"shard": 1, "index": "cbir-x", "node": "n1", "reason": {"type": "circuit_breaking_exception"}}]}}
    with pytest.raises(VectorIndexError, match="searched only 1 of 2 shards .*circuit_breaking_exception"):
        hits_of(partial, lambda s: s)


def test_a_private_ca_for_https_leaves_http_urls_working(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used over http")
    monkeypatch.setenv("CBIR_ES_CA_CERTS", str(ca))
    url, client = client_for("http://localhost:9200")  # raised "TLS options require scheme to be 'https'"
    assert url == "http://localhost:9200" and client is not None


@needs_es
def test_elasticsearch_refreshes_once_per_load(tiny_collection):
    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    from cbir.features import make_extractor

    engine = Engine(make_extractor("gch"), ElasticIndex(64))
    settings = []
    put = engine.index.client.indices.put_settings
    engine.index.client.indices.put_settings = lambda **kw: settings.append(kw["settings"]) or put(**kw)
    try:
        engine.add(data, batch_size=7)
        assert len(engine) == 60 and len(settings) == 2  # off once, back once
    finally:
        engine.index.drop()


def test_the_documented_api_key_role_has_the_privileges_the_requests_need():
    from pathlib import Path

    from cbir.index.elastic_requests import PRIVILEGES

    text = (Path(__file__).parent.parent / "docs" / "scaling.md").read_text()
    role = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])["role_descriptors"]["cbir"]
    assert role["cluster"] == PRIVILEGES["cluster"] and role["indices"][0]["privileges"] == PRIVILEGES["indices"]


def test_elasticsearch_filters_are_applied_inside_the_search():
    from cbir.filters import Filter
    from cbir.index.elastic_requests import search_body

    where = Filter(labels=frozenset({"dog", "cat"}), splits=frozenset({"train"}), folder="2019/")
    clauses = [{"terms": {"label": ["cat", "dog"]}}, {"terms": {"split": ["train"]}}, {"prefix": {"id": "2019/"}}]
    query = np.array([1.0, 0.0], np.float32)
    assert search_body(query, 5, where=where)["knn"]["filter"] == clauses  # knn's own filter: k whenever k pass
    exact = search_body(query, 5, exact=True, where=where)["query"]["script_score"]["query"]
    assert exact == {"bool": {"filter": clauses}}
    assert search_body(np.zeros(2, np.float32), 5, where=where)["query"] == {"bool": {"filter": clauses}}
    assert "filter" not in search_body(query, 5)["knn"]
    # a filter of the engine's facts (tags, place, stars): the ids that pass, a `terms` query on the keyword id
    tagged = search_body(query, 5, where=Filter.of(tag="Anna"), ids=["a.jpg", "b.jpg"])
    assert tagged["knn"]["filter"] == [{"terms": {"id": ["a.jpg", "b.jpg"]}}]
    dated = search_body(query, 5, where=Filter.of(since="2019-07", until="2019-07"))["knn"]["filter"]
    assert dated == [{"range": {"date": {"gte": "2019-07", "lt": "2019-08"}}}]  # all of July


def test_a_search_by_words_on_milvus_reads_its_vectors_as_faiss_does(tiny, tmp_path):
    from cbir.features import make_extractor
    from cbir.index.faiss_ import FaissIndex

    extractor = make_extractor("cnn")
    on_faiss = Engine.build(tiny, extractor, FaissIndex, progress=False)
    on_milvus = Engine.build(tiny, extractor, MilvusIndex(extractor.dim, uri=str(tmp_path / "milvus.db")),
                             progress=False)
    words = [[(h.id, round(h.score, 4), h.shows) for h in e.search_words("vehicle, animal", k=20).hits]
             for e in (on_faiss, on_milvus)]
    assert words[0] == words[1] and len(words[0]) == 20
    assert on_milvus.shows() == on_faiss.shows()
    from cbir.filters import Filter

    shown = on_faiss.shows()[0]
    where = Filter.of(showing=shown.words)  # the server is given the ids of the images that show it
    showing = [[(h.id, round(h.score, 4)) for h in e.search(tiny.images[:1], 50, where=where)[0].hits]
               for e in (on_faiss, on_milvus)]
    assert showing[0] == showing[1] and len(showing[0]) == shown.images
    web = create_app({"ENGINES": {"milvus": on_milvus}}).test_client()  # not worked out at each start: its server's
    assert web.get("/api/v1/words").get_json()["words"] == []
