"""The `VectorIndex` protocol and what every implementation shares: input checks and string ids."""

from __future__ import annotations

import heapq
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Container, Sequence
from contextlib import AbstractContextManager, nullcontext
from operator import attrgetter
from pathlib import Path
from typing import ClassVar

import numpy as np

from cbir.errors import VectorIndexError
from cbir.filters import Selection
from cbir.types import Hit

_KINDS: dict[str, type[VectorIndex]] = {}


def as_vectors(x, dim: int | None = None) -> np.ndarray:
    """Check and convert to a C-contiguous (n, d) float32 array (d must equal `dim` when given)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise VectorIndexError(f"vectors must be a 2-D (n, d) array, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise VectorIndexError(f"vectors have dimension {x.shape[1]}, the index has {dim}")
    if not np.isfinite(x).all():
        raise VectorIndexError("vectors contain NaN or infinite values")
    return x


ATTRIBUTES = ("path", "label", "split", "date")  # what document-storing backends keep beside each vector


def check_ids(ids: Sequence[str], n: int, existing: Container[str] | Callable[[list[str]], list[str]] = ()
              ) -> list[str]:
    """Ids as a list of distinct strings, one per vector, none already in the index.

    `existing`: the ids already indexed, or (for server backends) a function that returns
    which of the given ids the server already holds."""
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise VectorIndexError(f"got {len(ids)} ids for {n} vectors")
    if len(set(ids)) != len(ids):
        raise VectorIndexError("ids must be distinct")
    clash = existing(ids) if callable(existing) else [i for i in ids if i in existing]
    if clash:
        raise VectorIndexError(f"id {clash[0]!r} is already in the index; remove it first")
    return ids


class VectorIndex(ABC):
    """Vectors under string ids, searched by inner product (cosine on L2-normalised vectors)."""

    kind: ClassVar[str]
    max_k: ClassVar[int | None] = None  # the most hits one search may ask of the backend
    server: ClassVar[str] = ""  # the backend's name in messages

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    def __init__(self, dim: int):
        if dim <= 0:
            raise VectorIndexError(f"dimension must be positive, got {dim}")
        self.dim = int(dim)

    @abstractmethod
    def add(self, ids: Sequence[str], vectors: np.ndarray, attributes: Sequence[dict] | None = None) -> None:
        """Add vectors under new, distinct string ids.

        `attributes`: one dict per id (path, label, split) for backends that store documents
        (Milvus, Elasticsearch); the embedded indexes leave them to the engine's metadata."""

    def search(self, queries: np.ndarray, k: int, selection: Selection | None = None) -> list[list[Hit]]:
        """For each query row, up to `k` hits, best (highest score) first; with a `selection`, only among the
        images that pass its filter (k of them whenever k pass). The checks every backend shares are made
        here (vectors, k clamped to what may be found and to the backend's limit, nothing to search); a
        backend implements `_search` on checked queries and a k from 1 to its size."""
        queries = as_vectors(queries, self.dim)
        k = min(int(k), len(self) if selection is None else len(selection.ids))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if self.max_k is not None and k > self.max_k:
            raise VectorIndexError(f"{self.server} returns at most {self.max_k} hits per query, asked for {k}")
        return self._search(queries, k, selection)

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int, selection: Selection | None) -> list[list[Hit]]:
        """`search` once its checks are made."""

    @abstractmethod
    def remove(self, ids: Sequence[str]) -> int:
        """Remove the given ids (unknown ids are ignored); returns how many were removed."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def vectors(self) -> tuple[list[str], np.ndarray]:
        """All (ids, (n, dim) vectors) in the index, for exhaustive evaluation."""

    @abstractmethod
    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The (len(ids), dim) vectors of these indexed ids, in their order, read without the others; an error
        naming one that is not indexed."""

    @classmethod
    def preflight(cls, dim: int | None = None, **options) -> None:
        """Check, before any long work, that an index of `dim` dimensions (when known) with these options can
        be made (servers reachable, their limits kept)."""

    def loading(self) -> AbstractContextManager:
        """A block in which one load's `add` calls run (`Engine.add`): for servers that prepare for a load
        once and finish it once."""
        return nullcontext()

    def drop(self) -> None:
        """Delete what the index holds outside the engine folder (a server's collection); nothing for the
        embedded ones."""

    def get_config(self) -> dict:
        """Parameters that recreate an empty index like this one."""
        return {}

    def save(self, path: str | Path) -> None:
        """Write the index into folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, "dim": self.dim, "config": self.get_config(), "count": len(self)}
        (path / "index.json").write_text(json.dumps(meta, indent=2))
        self._save(path)

    @abstractmethod
    def _save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> VectorIndex:
        """Read an index of any kind from its folder."""
        path = Path(path)
        try:
            meta = json.loads((path / "index.json").read_text())
        except FileNotFoundError as exc:
            raise VectorIndexError(f"no index at {path} (index.json missing)") from exc
        kind_cls = _KINDS.get(meta["kind"])
        if kind_cls is None:
            raise VectorIndexError(f"{path}: unknown index kind {meta['kind']!r}")
        index = kind_cls._load(path, meta)
        if len(index) != meta["count"]:
            raise VectorIndexError(f"{path}: index holds {len(index)} vectors, its record says {meta['count']}")
        return index

    @classmethod
    @abstractmethod
    def _load(cls, path: Path, meta: dict) -> VectorIndex: ...


def not_indexed(ids: Sequence[str], found) -> None:
    """Refuse the ids that `found` (anything with `in`) lacks, naming the first."""
    missing = [id_ for id_ in ids if id_ not in found]
    if missing:
        raise VectorIndexError(f"{len(missing)} id(s) not indexed: {missing[0]!r}")


def among(ids: Collection[str], search: Callable[[list[str]], list[list[Hit]]], k: int, chunk: int
          ) -> list[list[Hit]]:
    """Each query's k best hits among `ids`, from a server that takes at most `chunk` ids in one search's filter:
    `search(some_ids)` for each chunk of them, the k best of all kept (exactly the k best among `ids`: each chunk's k
    best hold those of the k best that lie in it)."""
    ordered, best = sorted(ids), None
    for start in range(0, len(ordered), chunk):
        found = search(ordered[start: start + chunk])
        best = found if best is None else [heapq.nlargest(k, a + b, key=attrgetter("score"))
                                           for a, b in zip(best, found)]
    return best or []


def hits_from(scores: np.ndarray, positions: np.ndarray, ids: Sequence[str | None]) -> list[list[Hit]]:
    """Turn (nq, k) score and position arrays into Hit lists, dropping empty slots (position < 0)."""
    return [[Hit(ids[p], s) for s, p in zip(row_s, row_p) if p >= 0 and ids[p] is not None]
            for row_s, row_p in zip(scores.tolist(), positions.tolist())]
