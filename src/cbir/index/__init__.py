"""Vector indexes: `ExactIndex` (the oracle), `FaissIndex` (the embedded default), and the
server engines `MilvusIndex` (also embedded as Milvus Lite) and `ElasticIndex`."""

from __future__ import annotations

from cbir.errors import CbirError
from cbir.index.base import VectorIndex
from cbir.index.elastic import ElasticIndex
from cbir.index.exact import ExactIndex
from cbir.index.faiss_ import FaissIndex
from cbir.index.milvus import MilvusIndex

__all__ = ["BACKENDS", "ElasticIndex", "ExactIndex", "FaissIndex", "MilvusIndex", "VectorIndex", "make_index",
           "load_index"]

BACKENDS = {"faiss": FaissIndex, "exact": ExactIndex, "milvus": MilvusIndex, "elasticsearch": ElasticIndex}


def make_index(backend: str, dim: int, **options) -> VectorIndex:
    """A new empty index of the named backend."""
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise CbirError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}") from None
    return cls(dim, **options)


load_index = VectorIndex.load
