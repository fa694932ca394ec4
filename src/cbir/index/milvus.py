"""`MilvusIndex`: vectors in a Milvus collection — embedded Milvus Lite (a local `*.db` path) or a
Milvus server / cluster (`http://host:19530`), through pymilvus's `MilvusClient`.

The collection holds string primary keys, the vector and the image's path, label and split.
Index types: FLAT (exact), HNSW (m, ef_construction; ef at search), IVF_FLAT (nlist; nprobe at
search). The engine folder records the URI and collection, never credentials: a token for a
secured server comes from `CBIR_MILVUS_TOKEN` ("user:password" or an API key).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.errors import MissingDependencyError, VectorIndexError
from cbir.filters import Filter, Selection
from cbir.index.base import ATTRIBUTES, VectorIndex, among, as_vectors, check_ids, not_indexed
from cbir.types import Hit

INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT")
METRICS = ("IP", "COSINE")
MAX_TOP_K = 16384  # Milvus's limit on one search's `limit`
MAX_VARCHAR = 65_535  # the longest VARCHAR, in bytes of UTF-8 (a server counts bytes, not characters)
_CHUNK = 2000  # rows per insert / ids per lookup: well inside the gRPC message limit
ID_CHUNK = 10_000  # ids in one search's filter (Milvus Lite parses 10,000 in ~0.1 s; a server's gRPC limit: 64 MB)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # a collection name a Milvus server accepts


def check_collection_name(name: str) -> None:
    """A Milvus collection name: letters, digits and underscores, not starting with a digit, at most 255
    characters (Milvus Lite is laxer than a server; the engine must move to one unchanged)."""
    if not _NAME.fullmatch(name):
        raise VectorIndexError(f"Milvus collection name {name!r} is not one a Milvus server accepts: use "
                               f"letters, digits and underscores (not starting with a digit), at most 255")


def id_filter(ids: Sequence[str]) -> str:
    """A filter expression matching these primary keys, each written as an escaped string literal (an id such
    as `it's.png` or `a\\b.png` must neither break the expression nor match another)."""
    return f"id in [{', '.join(map(literal, ids))}]"


def filter_expression(where: Filter) -> str:
    """A Milvus filter expression for `where`: label and split among the given ones, the id starting with
    the folder (`like` with its wildcards % and _ escaped; Milvus reads other backslashes as themselves),
    the date in a range."""
    terms = [f"{field} in [{', '.join(map(literal, sorted(values)))}]"
             for field, values in (("label", where.labels), ("split", where.splits)) if values]
    if where.folder:
        prefix = where.folder.replace("%", "\\%").replace("_", "\\_")
        terms.append(f"id like {literal(prefix)[:-1]}%\"")
    if where.since:  # ISO dates compare as text
        terms.append(f"date >= {literal(where.since)}")
    if where.until:
        terms.append(f"date < {literal(where.before)}")
    return " and ".join(terms)


def literal(text: str) -> str:
    """`text` as a string literal of Milvus's filter expressions (which know the escapes \\\\, \\", \\n, \\r and
    \\t, and no \\u)."""
    return '"' + text.translate(_ESCAPES) + '"'


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _is_local(uri: str) -> bool:
    return "://" not in uri


def _check_lite_path(uri: str) -> None:
    if not uri.endswith(".db"):
        raise VectorIndexError(f"a Milvus Lite URI is a local path ending in .db, got {uri!r}")


class MilvusIndex(VectorIndex):
    """A Milvus collection behind the `VectorIndex` protocol (inner product on unit vectors = cosine)."""

    kind = "milvus"
    max_k = MAX_TOP_K
    server = "Milvus"

    def __init__(self, dim: int, uri: str = "milvus.db", collection: str | None = None, index_type: str = "FLAT",
                 metric: str = "IP", m: int = 16, ef_construction: int = 200, ef: int | None = None,
                 nlist: int = 128, nprobe: int | None = None, create: bool = True):
        super().__init__(dim)
        index_type, metric = index_type.upper(), metric.upper()
        if index_type not in INDEX_TYPES:
            raise VectorIndexError(f"Milvus index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
        if metric not in METRICS:
            raise VectorIndexError(f"Milvus metric must be one of {', '.join(METRICS)}, got {metric!r}")
        self.uri = str(Path(uri).resolve()) if _is_local(uri) else uri
        self.collection = collection or f"cbir_{uuid.uuid4().hex[:12]}"
        check_collection_name(self.collection)
        self.index_type, self.metric = index_type, metric
        self.m, self.ef_construction, self.ef, self.nlist, self.nprobe = m, ef_construction, ef, nlist, nprobe
        self._client = self._connect()
        self._dirty = False
        if create:
            self._create()
            self._count = 0
        else:
            self._open()

    @classmethod
    def preflight(cls, uri: str = "milvus.db", dim: int | None = None, collection: str | None = None,
                  **options) -> None:
        if collection is not None:
            check_collection_name(collection)
        if _is_local(uri):  # Milvus Lite starts with the index; only the path can be checked now
            _check_lite_path(uri)
        else:
            cls._connect_to(uri).close()

    def _connect(self):
        return self._connect_to(self.uri)

    @staticmethod
    def _connect_to(uri: str):
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise MissingDependencyError("the Milvus backend needs pymilvus: pip install 'cbir[milvus]'") from exc
        if _is_local(uri):
            _check_lite_path(uri)
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return MilvusClient(uri, token=os.environ.get("CBIR_MILVUS_TOKEN", ""))
        except Exception as exc:  # pymilvus raises its own and grpc's errors here
            raise VectorIndexError(f"cannot reach Milvus at {uri}: {exc}") from exc

    def _create(self) -> None:
        from pymilvus import DataType

        if self._client.has_collection(self.collection):
            raise VectorIndexError(f"Milvus collection '{self.collection}' already exists at {self.uri}: "
                                   f"choose another name or drop it")
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        for name in ATTRIBUTES:
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_VARCHAR, nullable=True)
        self._max_bytes = dict.fromkeys(("id", *ATTRIBUTES), MAX_VARCHAR)
        params = self._client.prepare_index_params()
        build = {"HNSW": {"M": self.m, "efConstruction": self.ef_construction},
                 "IVF_FLAT": {"nlist": self.nlist}}.get(self.index_type, {})
        params.add_index(field_name="vector", index_type=self.index_type, metric_type=self.metric, params=build)
        self._client.create_collection(self.collection, schema=schema, index_params=params,
                                       consistency_level="Strong")

    def _open(self) -> None:
        if not self._client.has_collection(self.collection):
            raise VectorIndexError(f"Milvus collection '{self.collection}' is missing at {self.uri}: the engine "
                                   f"points at a collection that was dropped or never built; rebuild the engine")
        fields = {f["name"]: f for f in self._client.describe_collection(self.collection)["fields"]}
        self._max_bytes = {name: int(fields[name].get("params", {}).get("max_length", MAX_VARCHAR))
                           for name in ("id", *ATTRIBUTES) if name in fields}  # earlier versions': 2,048, no date
        dim = int(fields.get("vector", {}).get("params", {}).get("dim", -1))
        if dim != self.dim:
            raise VectorIndexError(f"Milvus collection '{self.collection}' holds {dim}-d vectors, "
                                   f"the engine expects {self.dim}")
        self._client.load_collection(self.collection)  # a reopened collection must be loaded to be searched
        self._count = self._query_count()

    def _query_count(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def get_config(self) -> dict:
        return {"uri": self.uri, "collection": self.collection, "index_type": self.index_type,
                "metric": self.metric, "m": self.m, "ef_construction": self.ef_construction, "ef": self.ef,
                "nlist": self.nlist, "nprobe": self.nprobe}

    def _existing(self, ids: Sequence[str]) -> list[str]:
        found = []
        for start in range(0, len(ids), _CHUNK):
            rows = self._client.query(self.collection, filter=id_filter(ids[start: start + _CHUNK]),
                                      output_fields=["id"])
            found.extend(row["id"] for row in rows)
        return found

    def _check_lengths(self, ids: Sequence[str], attributes: Sequence[dict]) -> None:
        """Every id and attribute fits its VARCHAR field, counted in bytes of UTF-8 as a server counts them."""
        for id_, a in zip(ids, attributes):
            for name, value in (("id", id_), *((k, a.get(k)) for k in self._stored)):
                size = len(str(value).encode()) if value is not None else 0
                if size > self._max_bytes[name]:
                    shown = id_ if len(id_) <= 100 else id_[:97] + "..."
                    raise VectorIndexError(f"image {shown!r}: its {name} is {size:,} bytes of UTF-8; the Milvus "
                                           f"collection holds at most {self._max_bytes[name]:,}")

    @property
    def _stored(self) -> list[str]:
        """The attributes this collection has fields for (collections of earlier versions have no date)."""
        return [k for k in ATTRIBUTES if k in self._max_bytes]

    def add(self, ids: Sequence[str], vectors: np.ndarray, attributes: Sequence[dict] | None = None) -> None:
        vectors = as_vectors(vectors, self.dim)
        ids = check_ids(ids, len(vectors), self._existing)
        attributes = attributes or [{}] * len(ids)
        self._check_lengths(ids, attributes)
        stored = self._stored
        for start in range(0, len(ids), _CHUNK):
            rows = [{"id": id_, "vector": vector, **{k: _text(a.get(k)) for k in stored}}
                    for id_, vector, a in zip(ids[start: start + _CHUNK], vectors[start: start + _CHUNK],
                                              attributes[start: start + _CHUNK])]
            self._client.insert(self.collection, rows)
        self._count += len(ids)
        self._dirty = True

    def _search_params(self) -> dict:
        params = {"HNSW": {"ef": self.ef}, "IVF_FLAT": {"nprobe": self.nprobe}}.get(self.index_type, {})
        return {"metric_type": self.metric, "params": {k: v for k, v in params.items() if v is not None}}

    def _search(self, queries: np.ndarray, k: int, selection: Selection | None) -> list[list[Hit]]:
        if self._dirty and _is_local(self.uri):  # Milvus Lite: sealed segments search ~20x faster than growing
            self._client.flush(self.collection)
            self._dirty = False
        if self.index_type == "HNSW" and self.ef is not None and self.ef < k:
            raise VectorIndexError(f"HNSW ef ({self.ef}) must be at least k ({k})")
        where = selection.filter if selection else None
        if where and (not where.on_documents or (where.since or where.until) and "date" not in self._max_bytes):
            # the engine's facts (place, tags, stars...), or dates an older collection lacks: by the ids
            return among(selection.ids, lambda ids: self._searched(queries, min(k, len(ids)), id_filter(ids)), k,
                         ID_CHUNK)
        return self._searched(queries, k, filter_expression(where) if where else "")

    def _searched(self, queries: np.ndarray, k: int, expression: str) -> list[list[Hit]]:
        results: list[list[Hit]] = []
        for start in range(0, len(queries), 1000):
            found = self._client.search(self.collection, data=queries[start: start + 1000].tolist(), limit=k,
                                        anns_field="vector", search_params=self._search_params(),
                                        filter=expression, output_fields=["id"])
            results.extend([Hit(hit["id"], float(hit["distance"])) for hit in row] for row in found)
        return results

    def remove(self, ids: Sequence[str]) -> int:
        present = self._existing(list(dict.fromkeys(map(str, ids))))
        if present:
            self._client.delete(self.collection, filter=id_filter(present))
            self._count -= len(present)
            self._dirty = True
        return len(present)

    def __len__(self) -> int:
        return self._count

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """Pages in primary-key order, as pymilvus's `query_iterator` reads them (its own cursor filter writes
        the last id unescaped, which an id with a quote or newline breaks): each page the ids after the last
        one, as an escaped literal."""
        ids, rows, last = [], [], None
        while True:
            batch = self._client.query(self.collection, filter="" if last is None else f"id > {literal(last)}",
                                       output_fields=["id", "vector"], limit=5000,
                                       iterator="True", reduce_stop_for_best="True")  # the smallest ids, sorted
            if not batch:
                break
            ids.extend(row["id"] for row in batch)
            rows.extend(row["vector"] for row in batch)
            last = batch[-1]["id"]
        if len(ids) != self._count:
            raise VectorIndexError(f"Milvus returned {len(ids)} of the {self._count} vectors of "
                                   f"'{self.collection}'")
        return ids, np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        found: dict[str, list[float]] = {}
        for start in range(0, len(ids), 1000):
            rows = self._client.query(self.collection, filter=id_filter(ids[start: start + 1000]),
                                      output_fields=["id", "vector"])
            found.update((row["id"], row["vector"]) for row in rows)
        not_indexed(ids, found)
        return np.asarray([found[id_] for id_ in ids], dtype=np.float32).reshape(len(ids), self.dim)

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self._client.drop_collection(self.collection)
        self._count = 0

    def _save(self, path: Path) -> None:
        """The data lives in Milvus; the folder records where. Milvus Lite is flushed once a save; a server
        seals its segments itself (a flush per `cbir add` would leave many small ones, which search slower)."""
        if _is_local(self.uri):
            self._client.flush(self.collection)
            self._dirty = False

    @classmethod
    def _load(cls, path: Path, meta: dict) -> MilvusIndex:
        return cls(meta["dim"], **meta["config"], create=False)


def _text(value) -> str | None:
    return None if value is None else str(value)
