"""What cbir sends to Elasticsearch and how it reads the answers, as plain functions of their inputs (no
client, no server): the index mapping, search bodies with their filters, the server's documented limits,
version rules and error texts. Each is tested against the shape the Elasticsearch documentation gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbir.errors import VectorIndexError
from cbir.filters import Filter
from cbir.index.base import ATTRIBUTES
from cbir.types import Hit

SIMILARITIES = {"dot_product": "dotProduct", "cosine": "cosineSimilarity"}  # -> exact script function
MAX_K = 10_000  # Elasticsearch's limit on knn `k` / `num_candidates` and on `size`
MAX_DIMS = 4096  # a dense_vector's most dimensions
BBQ_MIN_DIMS = 64  # bbq_* quantisation's fewest
SERVER_MAJOR = 9  # the client's major version: the servers it talks to
# what the engine's requests need, for an API key's role (docs/scaling.md)
PRIVILEGES = {"cluster": ["monitor"],
              "indices": ["create_index", "delete_index", "manage", "view_index_metadata", "read", "write"]}


def knn_score_to_similarity(score: float) -> float:
    """knn scores for dot_product and cosine are (1 + similarity) / 2."""
    return 2.0 * score - 1.0


def check_server(number: str, url: str) -> tuple[int, int]:
    """(major, minor) of a server version such as "9.1.4", when the client talks to it."""
    major, minor = (int(part) for part in number.split(".")[:2])
    if major != SERVER_MAJOR:
        raise VectorIndexError(f"Elasticsearch at {url} is version {number}; cbir's client talks to "
                               f"{SERVER_MAJOR}.x servers only")
    return major, minor


def refusal_text(exc, url: str) -> str:
    """What an error answer of the server means, in one line; an older server's refusal of the client's
    compatibility header named as what it is."""
    body = getattr(exc, "body", None)
    reason = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(reason, dict):
        reason = reason.get("reason") or reason.get("type")
    reason = str(reason or exc)
    if "Accept version must be either version" in reason:
        return (f"Elasticsearch at {url} is older than {SERVER_MAJOR}.0 (it refused the {SERVER_MAJOR}.x "
                f"client's compatibility header): cbir works with {SERVER_MAJOR}.x servers")
    return f"Elasticsearch at {url} answered {getattr(exc, 'status_code', '?')}: {reason}"


def check_vector_field(dim: int, index_type: str) -> None:
    """Refuse, before any work, a vector field the server would refuse: too many dimensions, or an odd
    number for int4 quantisation, or too few for bbq."""
    if dim > MAX_DIMS:
        raise VectorIndexError(f"Elasticsearch stores vectors of at most {MAX_DIMS} dimensions; these features "
                               f"have {dim}: choose other features (or --set pca=N where they take it), or the "
                               f"faiss or milvus backend")
    if index_type.startswith("int4") and dim % 2:
        raise VectorIndexError(f"Elasticsearch's {index_type} needs an even number of dimensions, not {dim}: "
                               f"choose int8_{index_type.split('_')[1]}")
    if index_type.startswith("bbq") and dim < BBQ_MIN_DIMS:
        raise VectorIndexError(f"Elasticsearch's {index_type} needs at least {BBQ_MIN_DIMS} dimensions, not {dim}")


def vector_source(version: tuple[int, int]) -> dict:
    """The `_source` filter that returns the stored vectors: servers that may leave vectors out of `_source`
    (8.19, and 9.1 on) are asked for them with `exclude_vectors`, which 9.0 does not know."""
    source: dict = {"includes": ["vector"]}
    if version >= (9, 1) or (8, 19) <= version < (9, 0):
        source["exclude_vectors"] = False
    return source


def ids_body(ids: Sequence[str], version: tuple[int, int]) -> dict:
    """A search for these documents by id (the ids query), with their stored vectors."""
    return {"query": {"ids": {"values": list(ids)}}, "source": vector_source(version), "size": len(ids)}


def zero_rows(ids: Sequence[str], vectors: np.ndarray, similarity: str) -> None:
    """Refuse all-zero vectors, naming their images: neither dot_product nor cosine can index one (HOG of a
    uniform image is all zero)."""
    zero = np.flatnonzero(~vectors.any(axis=1))
    if len(zero):
        named = ", ".join(repr(ids[i]) for i in zero[:5]) + (f" and {len(zero) - 5} more" if len(zero) > 5 else "")
        raise VectorIndexError(f"{len(zero)} image(s) have an all-zero feature vector, which Elasticsearch's "
                               f"{similarity} similarity cannot index (e.g. a uniform image under HOG): {named}. "
                               f"Remove them from the collection, or use the faiss or milvus backend")


def hits_of(response: dict, to_similarity) -> list[Hit]:
    """The hits of one `msearch` response; an error (whole or on some shards) is a `VectorIndexError`."""
    if "error" in response:
        raise VectorIndexError(f"Elasticsearch search failed: {response['error']}")
    shards = response.get("_shards", {})
    if shards.get("failed"):
        reasons = "; ".join(str(f.get("reason", f)) for f in shards.get("failures", [])[:3])
        raise VectorIndexError(f"Elasticsearch searched only {shards.get('successful')} of {shards.get('total')} "
                               f"shards ({shards['failed']} failed: {reasons}): the ranking would be incomplete")
    return [Hit(h["_id"], to_similarity(h["_score"])) for h in response["hits"]["hits"]]


def mapping(dim: int, similarity: str = "dot_product", index_type: str = "hnsw", m: int = 16,
            ef_construction: int = 100) -> dict:
    """The index mapping: the vector field and the image's keywords."""
    options: dict = {"type": index_type}
    if index_type.endswith("hnsw"):
        options.update(m=m, ef_construction=ef_construction)
    vector = {"type": "dense_vector", "dims": dim, "index": True, "similarity": similarity, "index_options": options}
    fields = {k: {"type": "date"} if k == "date" else {"type": "keyword"} for k in ("id", *ATTRIBUTES)}
    return {"properties": {"vector": vector, **fields}}


def filter_clauses(where: Filter | None) -> list[dict]:
    """Filter clauses for `where` (label and split keywords among the given ones, the id a prefix of the
    folder, the date in a range): the `knn` option's `filter`, applied during the vector search, or a
    `bool` query's."""
    if not where:
        return []
    dates = ({"gte": where.since} if where.since else {}) | ({"lt": where.before} if where.until else {})
    return ([{"terms": {"label": sorted(where.labels)}}] if where.labels else []) + (
        [{"terms": {"split": sorted(where.splits)}}] if where.splits else []) + (
        [{"prefix": {"id": where.folder}}] if where.folder else []) + (
        [{"range": {"date": dates}}] if dates else [])


def search_body(query: np.ndarray, k: int, similarity: str = "dot_product", exact: bool = False,
                num_candidates: int | None = None, where: Filter | None = None,
                ids: Sequence[str] | None = None) -> dict:
    """The search request for one query vector: approximate `knn`, or (`exact`) a `script_score` over every
    document; with `where`, among the documents that pass it; with `ids`, among those (a `terms` query on the
    keyword `id`). An all-zero query has no direction to rank by, so any k documents come back (at similarity 0,
    as FAISS gives)."""
    clauses = [{"terms": {"id": list(ids)}}] if ids is not None else filter_clauses(where)
    documents = {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
    if not query.any():
        return {"size": k, "_source": False, "query": documents}
    if exact:
        script = {"source": f"{SIMILARITIES[similarity]}(params.query_vector, 'vector') + 1.0",
                  "params": {"query_vector": query.tolist()}}
        return {"size": k, "_source": False, "query": {"script_score": {"query": documents, "script": script}}}
    candidates = min(MAX_K, max(num_candidates or 0, 2 * k, 100))
    knn = {"field": "vector", "query_vector": query.tolist(), "k": k, "num_candidates": candidates}
    return {"size": k, "_source": False, "knn": knn | ({"filter": clauses} if clauses else {})}
