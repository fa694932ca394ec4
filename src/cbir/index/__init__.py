"""Vector indexes: `ExactIndex` (the oracle) and `FaissIndex` (the embedded default)."""

from __future__ import annotations

from cbir.errors import CbirError
from cbir.index.base import VectorIndex
from cbir.index.exact import ExactIndex
from cbir.index.faiss_ import FaissIndex

__all__ = ["BACKENDS", "ExactIndex", "FaissIndex", "VectorIndex", "make_index", "load_index"]

BACKENDS = {"faiss": FaissIndex, "exact": ExactIndex}


def make_index(backend: str, dim: int, **options) -> VectorIndex:
    """A new empty index of the named backend."""
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise CbirError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}") from None
    return cls(dim, **options)


load_index = VectorIndex.load
