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
from cbir.index.elastic import client_for, mapping
from cbir.web import create_app

needs_es = pytest.mark.skipif(not os.environ.get("CBIR_ES_URL"),
                              reason="needs an Elasticsearch server: set CBIR_ES_URL (see README)")


def ranking(engine, images, k=5):
    return [[(h.id, round(h.score, 4)) for h in r.hits] for r in engine.search(images, k)]


@pytest.fixture(scope="module")
def faiss_cli_engine(tiny_collection, tmp_path_factory):
    out = tmp_path_factory.mktemp("faiss") / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "hog-gch", "--out", str(out)]) == 0
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
        ["id", "path", "label", "split"], "keyword")
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
