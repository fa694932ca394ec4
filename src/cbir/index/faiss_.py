"""`FaissIndex`: the embedded default — FAISS inner-product search, exact or approximate.

By default every vector is scanned (inner product on L2-normalised vectors = cosine): `Flat` (float32) for
vectors of fewer than `WIDE` dimensions, `SQfp16` (each vector stored as float16) for wider ones, whose scan
streams half the bytes (`benchmarks/wide_scan.py`). Any FAISS factory string (`HNSW32`, `IVF1024,PQ32`, ...)
gives an approximate index. String ids are mapped to FAISS's int64 ids here; the mapping is saved beside the
index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.errors import VectorIndexError
from cbir.filters import Selection
from cbir.index.base import VectorIndex, as_vectors, check_ids, hits_from, not_indexed
from cbir.types import Hit


# from this many dimensions on, vectors are stored as float16 unless a factory is given: for `effnet`'s 1,280 on
# 100,000 images, half the memory (244 MiB instead of 488), scans 1.4-2.3x faster, scores within 0.0001
WIDE = 512


def default_factory(dim: int) -> str:
    """The exact index for vectors of `dim` dimensions: float32, or float16 when they are wide."""
    return "SQfp16" if dim >= WIDE else "Flat"


class FaissIndex(VectorIndex):
    """A FAISS index wrapped in an id map; trains itself on the first vectors added when needed."""

    kind = "faiss"

    def __init__(self, dim: int, factory: str | None = None, nprobe: int | None = None,
                 ef_search: int | None = None):
        import faiss

        super().__init__(dim)
        factory = factory or default_factory(dim)
        self.factory, self.nprobe, self.ef_search = factory, nprobe, ef_search
        try:
            inner = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise VectorIndexError(f"bad FAISS factory string {factory!r}: {str(exc).splitlines()[-1]}") from exc
        self._index = faiss.IndexIDMap2(inner)
        self._ids: list[str | None] = []
        self._positions: dict[str, int] = {}
        self._selectors: dict = {}  # (id of a Selection, size when made) -> (it, its search parameters)
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        import faiss

        inner = faiss.downcast_index(self._index.index)
        if self.nprobe is not None and hasattr(inner, "nprobe"):
            inner.nprobe = self.nprobe
        if self.ef_search is not None and hasattr(inner, "hnsw"):
            inner.hnsw.efSearch = self.ef_search

    def get_config(self) -> dict:
        return {"factory": self.factory, "nprobe": self.nprobe, "ef_search": self.ef_search}

    def add(self, ids: Sequence[str], vectors: np.ndarray, attributes: Sequence[dict] | None = None) -> None:
        vectors = as_vectors(vectors, self.dim)
        ids = check_ids(ids, len(vectors), self._positions)
        if not self._index.is_trained:
            try:
                self._index.train(vectors)
            except RuntimeError as exc:
                raise VectorIndexError(f"FAISS {self.factory} could not train on the first {len(vectors)} "
                                       f"vectors: {str(exc).splitlines()[-1]}") from exc
        first = len(self._ids)
        self._index.add_with_ids(vectors, np.arange(first, first + len(ids), dtype=np.int64))
        self._ids.extend(ids)
        self._positions.update((id_, first + i) for i, id_ in enumerate(ids))

    def _search(self, queries: np.ndarray, k: int, selection: Selection | None) -> list[list[Hit]]:
        if selection is None:
            scores, labels = self._index.search(queries, k)
        else:
            scores, labels = self._index.search(queries, k, params=self._selecting(selection))
        return hits_from(scores, labels, self._ids)

    def _selecting(self, selection: Selection):
        """Search parameters of this index's kind that let only the selected ids be found (FAISS skips the
        others inside its search: HNSW walks on through them, IVF and Flat never score them); the last few
        kept, for the same selection searched again."""
        key = (id(selection), len(self._ids))
        if key not in self._selectors:
            if len(self._selectors) >= 8:
                self._selectors.pop(next(iter(self._selectors)))
            self._selectors[key] = (selection, self._selector_params(selection.ids))  # keeps `selection` alive
        return self._selectors[key][1]

    def _selector_params(self, ids: frozenset[str]):
        import faiss

        positions = np.fromiter((self._positions[i] for i in ids if i in self._positions), dtype=np.int64)
        selector = faiss.IDSelectorBatch(positions)
        inner = faiss.downcast_index(self._index.index)
        if hasattr(inner, "nprobe"):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=inner.nprobe)
        elif hasattr(inner, "hnsw"):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=inner.hnsw.efSearch)
        else:
            params = faiss.SearchParameters(sel=selector)
        params.keep_alive = selector  # the parameters hold a raw pointer to it
        return params

    def remove(self, ids: Sequence[str]) -> int:
        doomed = [self._positions[i] for i in map(str, ids) if i in self._positions]
        if not doomed:
            return 0
        try:
            removed = self._index.remove_ids(np.asarray(doomed, dtype=np.int64))
        except RuntimeError as exc:
            raise VectorIndexError(f"FAISS {self.factory} indexes do not support removal; "
                                   f"rebuild the index without these ids") from exc
        for position in doomed:
            del self._positions[self._ids[position]]
            self._ids[position] = None
        return int(removed)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def vectors(self) -> tuple[list[str], np.ndarray]:
        return self._all()

    def _all(self) -> tuple[list[str], np.ndarray]:
        import faiss

        labels = faiss.vector_to_array(self._index.id_map)
        matrix = self._index.index.reconstruct_n(0, self._index.ntotal)
        return [self._ids[i] for i in labels], np.asarray(matrix, dtype=np.float32)

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        not_indexed(ids, self._positions)
        try:
            rows = np.asarray([self._index.reconstruct(self._positions[id_]) for id_ in ids], dtype=np.float32)
        except RuntimeError:  # an IVF index keeps no map from a vector to its list: all of them, from memory
            every, matrix = self._all()
            row = {id_: i for i, id_ in enumerate(every)}
            rows = matrix[[row[id_] for id_ in ids]]
        return rows.reshape(len(ids), self.dim)

    def _save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path / "faiss.index"))
        (path / "ids.json").write_text(json.dumps(self._ids))

    @classmethod
    def _load(cls, path: Path, meta: dict) -> FaissIndex:
        import faiss

        index = cls(meta["dim"], **meta["config"])
        index._index = faiss.read_index(str(path / "faiss.index"))
        index._ids = json.loads((path / "ids.json").read_text())
        index._positions = {id_: i for i, id_ in enumerate(index._ids) if id_ is not None}
        index._apply_search_params()
        return index
