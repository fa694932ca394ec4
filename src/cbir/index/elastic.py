"""`ElasticIndex`: vectors in an Elasticsearch index (official client 9.x, so servers 9.x: the client
asks for 9.x compatibility, which an 8.x server refuses).

One document per image: `vector` (`dense_vector`, dot_product or cosine similarity, HNSW /
int8_hnsw / bbq_hnsw / flat index options), plus `id`, `path`, `label`, `split` keywords.
A load (`loading()`: one `cbir index` or `cbir add`) streams bulk requests with refresh
disabled once and restored once at its end, and retries 429s with exponential backoff.
Search is approximate `knn` by default; `exact=True` is the original system's exhaustive
`script_score`. Batches of queries go out as one `msearch`; a shard that failed is an error,
never a silently shorter ranking. The server's limits (`check_vector_field`) are checked
before any image is described.

Where: `url` or `CBIR_ES_URL`. Credentials come only from the environment —
`CBIR_ES_API_KEY`, or `CBIR_ES_USER` + `CBIR_ES_PASSWORD`; `CBIR_ES_CA_CERTS` for a private
CA — and are never written into the engine folder.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from tqdm.auto import tqdm

from cbir.errors import MissingDependencyError, VectorIndexError
from cbir.filters import Filter, Selection
from cbir.index.base import ATTRIBUTES, VectorIndex, among, as_vectors, check_ids, not_indexed
from cbir.index.elastic_requests import (MAX_K, PRIVILEGES, SIMILARITIES, check_server, check_vector_field,
                                        hits_of, ids_body, knn_score_to_similarity, mapping, refusal_text,
                                        search_body, vector_source, zero_rows)
from cbir.types import Hit

INDEX_TYPES = ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw", "flat", "int8_flat", "int4_flat", "bbq_flat")
_MSEARCH_BATCH = 100
_ID_CHUNK = 10_000  # ids in one search's filter (a `terms` query; `index.max_terms_count` is 65,536 by default)
_MSEARCH_IDS = 100_000  # ids in one msearch at most (each search carries its own: ~4 MB of body)
_BAR_FROM = 5000  # documents; smaller loads (the engine's own batches) show no bar of their own


def client_for(url: str | None, request_timeout: float = 60.0):
    """An `Elasticsearch` client for `url` (else $CBIR_ES_URL), credentials from the environment."""
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:
        raise MissingDependencyError("the Elasticsearch backend needs its client: "
                                     "pip install 'cbir[elasticsearch]'") from exc
    url = url or os.environ.get("CBIR_ES_URL")
    if not url:
        raise VectorIndexError("no Elasticsearch URL: pass --es-url or set CBIR_ES_URL")
    if urlsplit(url).password or urlsplit(url).username:
        raise VectorIndexError("put Elasticsearch credentials in CBIR_ES_API_KEY or CBIR_ES_USER / "
                               "CBIR_ES_PASSWORD, not in the URL (the URL is saved in the engine folder)")
    options: dict = {"request_timeout": request_timeout}
    if os.environ.get("CBIR_ES_API_KEY"):
        options["api_key"] = os.environ["CBIR_ES_API_KEY"]
    elif os.environ.get("CBIR_ES_USER"):
        options["basic_auth"] = (os.environ["CBIR_ES_USER"], os.environ.get("CBIR_ES_PASSWORD", ""))
    if os.environ.get("CBIR_ES_CA_CERTS") and urlsplit(url).scheme == "https":  # a CA means nothing over http
        options["ca_certs"] = os.environ["CBIR_ES_CA_CERTS"]
    return url, Elasticsearch(url, **options)


def server_version(client, url: str) -> tuple[int, int]:
    """(major, minor) of the cluster, which must be one the client talks to; errors a user can act on when
    it cannot be asked."""
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException
    from elastic_transport import ConnectionError as TransportConnectionError, TransportError

    try:
        number = client.info()["version"]["number"]
    except AuthenticationException as exc:
        raise VectorIndexError(f"Elasticsearch at {url} refused the credentials: set CBIR_ES_API_KEY, or "
                               f"CBIR_ES_USER and CBIR_ES_PASSWORD") from exc
    except AuthorizationException as exc:
        raise VectorIndexError(f"the Elasticsearch user may not read cluster info at {url}: its role needs "
                               f"the cluster privilege 'monitor' (docs/scaling.md)") from exc
    except ApiError as exc:
        raise VectorIndexError(refusal_text(exc, url)) from exc
    except (TransportConnectionError, TransportError) as exc:
        raise VectorIndexError(f"cannot reach Elasticsearch at {url}: {exc}") from exc
    return check_server(number, url)


def _answers(what: str):
    """Turn the server's error answers while doing `what` into one-line `VectorIndexError`s; a 403 names the
    privileges the engine's requests need."""
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            from elasticsearch import ApiError, AuthorizationException

            try:
                return method(self, *args, **kwargs)
            except AuthorizationException as exc:
                raise VectorIndexError(
                    f"the Elasticsearch user may not {what} '{self.index}' at {self.url}: its role needs the cluster "
                    f"privilege {', '.join(PRIVILEGES['cluster'])} and, on the index, "
                    f"{', '.join(PRIVILEGES['indices'])} (docs/scaling.md)") from exc
            except ApiError as exc:
                raise VectorIndexError(f"could not {what} '{self.index}': {refusal_text(exc, self.url)}") from exc
        return call
    return wrap


class ElasticIndex(VectorIndex):
    """An Elasticsearch index behind the `VectorIndex` protocol."""

    kind = "elasticsearch"
    max_k = MAX_K
    server = "Elasticsearch"

    def __init__(self, dim: int, url: str | None = None, index: str | None = None,
                 similarity: str = "dot_product", index_type: str = "hnsw", m: int = 16,
                 ef_construction: int = 100, shards: int = 1, replicas: int = 0,
                 num_candidates: int | None = None, exact: bool = False, create: bool = True):
        super().__init__(dim)
        if similarity not in SIMILARITIES:
            raise VectorIndexError(f"similarity must be one of {', '.join(SIMILARITIES)}, got {similarity!r}")
        if index_type not in INDEX_TYPES:
            raise VectorIndexError(f"Elasticsearch index type must be one of {', '.join(INDEX_TYPES)}, "
                                   f"got {index_type!r}")
        check_vector_field(dim, index_type)
        self.url, self.client = client_for(url)
        self.index = index or f"cbir-{uuid.uuid4().hex[:12]}"
        self.similarity, self.index_type, self.m, self.ef_construction = similarity, index_type, m, ef_construction
        self.shards, self.replicas, self.num_candidates, self.exact = shards, replicas, num_candidates, exact
        self.version = server_version(self.client, self.url)
        self._loading = 0  # nested `loading()` blocks open
        if create:
            self._create()
        else:
            self._open()

    @classmethod
    def preflight(cls, url: str | None = None, dim: int | None = None, index_type: str = "hnsw", **options) -> None:
        if dim is not None:
            check_vector_field(dim, index_type)
        url, client = client_for(url)
        server_version(client, url)

    def get_config(self) -> dict:
        return {"url": self.url, "index": self.index, "similarity": self.similarity,
                "index_type": self.index_type, "m": self.m, "ef_construction": self.ef_construction,
                "shards": self.shards, "replicas": self.replicas, "num_candidates": self.num_candidates,
                "exact": self.exact}

    def _recorded_vector_field(self) -> dict:
        mappings = self.client.indices.get_mapping(index=self.index)[self.index]["mappings"]
        return mappings.get("properties", {}).get("vector", {})

    @_answers("create the index")
    def _create(self) -> None:
        if self.client.indices.exists(index=self.index):
            field = self._recorded_vector_field()
            if field.get("dims") != self.dim or field.get("similarity") != self.similarity:
                raise VectorIndexError(f"Elasticsearch index '{self.index}' exists with another mapping (dims "
                                       f"{field.get('dims')}, similarity {field.get('similarity')}; this engine "
                                       f"needs {self.dim}, {self.similarity}): choose another name or delete it")
            raise VectorIndexError(f"Elasticsearch index '{self.index}' already exists at {self.url}: "
                                   f"choose another name or delete it")
        self.client.indices.create(index=self.index,
                                   mappings=mapping(self.dim, self.similarity, self.index_type, self.m,
                                                    self.ef_construction),
                                   settings={"number_of_shards": self.shards, "number_of_replicas": self.replicas})

    @_answers("open the index")
    def _open(self) -> None:
        if not self.client.indices.exists(index=self.index):
            raise VectorIndexError(f"Elasticsearch index '{self.index}' is missing at {self.url}: the engine "
                                   f"points at an index that was deleted or never built; rebuild the engine")
        dims = self._recorded_vector_field().get("dims")
        if dims != self.dim:
            raise VectorIndexError(f"Elasticsearch index '{self.index}' holds {dims}-d vectors, "
                                   f"the engine expects {self.dim}")

    def _existing(self, ids: Sequence[str]) -> list[str]:
        found = []
        for start in range(0, len(ids), 1000):
            docs = self.client.mget(index=self.index, ids=list(ids[start: start + 1000]), source=False)["docs"]
            found.extend(doc["_id"] for doc in docs if doc.get("found"))
        return found

    @_answers("add documents to")
    def add(self, ids: Sequence[str], vectors: np.ndarray, attributes: Sequence[dict] | None = None,
            progress: bool = True) -> None:
        from elasticsearch.helpers import streaming_bulk

        vectors = as_vectors(vectors, self.dim)
        ids = check_ids(ids, len(vectors), self._existing)
        zero_rows(ids, vectors, self.similarity)
        attributes = attributes or [{}] * len(ids)
        actions = ({"_op_type": "index", "_index": self.index, "_id": id_,
                    "_source": {"id": id_, "vector": vector.tolist(),
                                **{k: a[k] for k in ATTRIBUTES if a.get(k) is not None}}}
                   for id_, vector, a in zip(ids, vectors, attributes))
        with self.loading(), tqdm(total=len(ids), desc=f"bulk loading {self.index}", unit="doc",
                                          disable=not progress or len(ids) < _BAR_FROM, mininterval=0.5) as bar:
            for ok, item in streaming_bulk(self.client, actions, chunk_size=500, max_retries=6,
                                           initial_backoff=1, max_backoff=60, raise_on_error=False):
                if not ok:
                    raise VectorIndexError(f"Elasticsearch refused a document: {item}")
                bar.update(1)

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Refresh off for a whole load (however many `add` calls it makes), then the previous interval back
        and one refresh: two settings updates and a refresh per load, not per batch."""
        if self._loading:
            self._loading += 1
            try:
                yield
            finally:
                self._loading -= 1
            return
        settings = self.client.indices.get_settings(index=self.index)[self.index]["settings"]["index"]
        previous = settings.get("refresh_interval")
        self.client.indices.put_settings(index=self.index, settings={"index": {"refresh_interval": "-1"}})
        self._loading = 1
        try:
            yield
        finally:
            self._loading = 0
            self.client.indices.put_settings(index=self.index, settings={"index": {"refresh_interval": previous}})
            self.client.indices.refresh(index=self.index)

    @_answers("search")
    def _search(self, queries: np.ndarray, k: int, selection: Selection | None) -> list[list[Hit]]:
        where = selection.filter if selection else None
        if where and not where.on_documents:  # the engine's facts (place, tags, stars...): by the ids that pass
            return among(selection.ids, lambda ids: self._searched(queries, min(k, len(ids)), ids=ids), k,
                         _ID_CHUNK)
        return self._searched(queries, k, where)

    def _searched(self, queries: np.ndarray, k: int, where: Filter | None = None,
                  ids: Sequence[str] | None = None) -> list[list[Hit]]:
        to_similarity = (lambda s: s - 1.0) if self.exact else knn_score_to_similarity
        results: list[list[Hit]] = []
        size = max(1, min(_MSEARCH_BATCH, _MSEARCH_IDS // len(ids))) if ids else _MSEARCH_BATCH
        for start in range(0, len(queries), size):
            batch = queries[start: start + size]
            searches: list[dict] = []
            for query in batch:
                searches.extend([{"index": self.index}, search_body(query, k, self.similarity, self.exact,
                                                                    self.num_candidates, where, ids)])
            for query, response in zip(batch, self.client.msearch(searches=searches)["responses"]):
                results.append(hits_of(response, to_similarity if query.any() else lambda _: 0.0))
        return results

    @_answers("remove documents from")
    def remove(self, ids: Sequence[str]) -> int:
        from elasticsearch.helpers import streaming_bulk

        present = self._existing(list(dict.fromkeys(map(str, ids))))
        actions = ({"_op_type": "delete", "_index": self.index, "_id": id_} for id_ in present)
        removed = sum(ok for ok, _ in streaming_bulk(self.client, actions, raise_on_error=False, max_retries=6))
        self.client.indices.refresh(index=self.index)
        return int(removed)

    @_answers("count the documents of")
    def __len__(self) -> int:
        return int(self.client.count(index=self.index)["count"])

    @_answers("read the vectors of")
    def vectors(self) -> tuple[list[str], np.ndarray]:
        from elasticsearch.helpers import scan

        ids, rows = [], []
        query = {"query": {"match_all": {}}, "_source": vector_source(self.version)}
        for hit in scan(self.client, index=self.index, query=query):
            ids.append(hit["_id"])
            rows.append(hit["_source"]["vector"])
        return ids, np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)

    @_answers("read the vectors of")
    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        found: dict[str, list[float]] = {}
        for start in range(0, len(ids), 1000):
            answer = self.client.search(index=self.index, **ids_body(ids[start: start + 1000], self.version))
            found.update((hit["_id"], hit["_source"]["vector"]) for hit in answer["hits"]["hits"])
        not_indexed(ids, found)
        return np.asarray([found[id_] for id_ in ids], dtype=np.float32).reshape(len(ids), self.dim)

    @_answers("delete")
    def drop(self) -> None:
        """Delete the index and everything in it."""
        self.client.indices.delete(index=self.index, ignore_unavailable=True)

    @_answers("refresh")
    def _save(self, path: Path) -> None:
        self.client.indices.refresh(index=self.index)  # the data lives in the cluster; the folder says where

    @classmethod
    def _load(cls, path: Path, meta: dict) -> ElasticIndex:
        return cls(meta["dim"], **meta["config"], create=False)
