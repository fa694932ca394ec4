"""`ExactIndex`: brute-force inner product in numpy — the oracle every other index is tested against."""

from __future__ import annotations

from collections.abc import Sequence
import json
from pathlib import Path

import numpy as np

from cbir.filters import Selection
from cbir.index.base import VectorIndex, as_vectors, check_ids, hits_from, not_indexed
from cbir.types import Hit


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the k best columns of each row, best first; ties by lower position."""
    n = scores.shape[1]
    k = min(k, n)
    if k == 0:
        return np.empty((len(scores), 0), np.float32), np.empty((len(scores), 0), np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(scores), 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    positions = np.take_along_axis(part, order, axis=1)
    return np.take_along_axis(scores, positions, axis=1), positions


class ExactIndex(VectorIndex):
    """All vectors in one float32 matrix; search is a matrix product and a partial sort."""

    kind = "exact"

    def __init__(self, dim: int, query_batch: int = 256):
        super().__init__(dim)
        self.query_batch = query_batch
        self._ids: list[str] = []
        self._chunks: list[np.ndarray] = [np.empty((0, self.dim), dtype=np.float32)]

    @property
    def _matrix(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.vstack(self._chunks)]
        return self._chunks[0]

    def add(self, ids: Sequence[str], vectors: np.ndarray, attributes: Sequence[dict] | None = None) -> None:
        vectors = as_vectors(vectors, self.dim)
        ids = check_ids(ids, len(vectors), set(self._ids))
        self._ids.extend(ids)
        self._chunks.append(vectors)

    def _search(self, queries: np.ndarray, k: int, selection: Selection | None) -> list[list[Hit]]:
        matrix, ids = self._matrix, self._ids
        if selection is not None:  # the selected rows only
            rows = [i for i, id_ in enumerate(ids) if id_ in selection.ids]
            matrix, ids = matrix[rows], [ids[i] for i in rows]
        results: list[list[Hit]] = []
        for start in range(0, len(queries), self.query_batch):
            scores, positions = top_k(queries[start: start + self.query_batch] @ matrix.T, k)
            results.extend(hits_from(scores, positions, ids))
        return results

    def remove(self, ids: Sequence[str]) -> int:
        drop = set(map(str, ids))
        keep = [i for i, id_ in enumerate(self._ids) if id_ not in drop]
        removed = len(self._ids) - len(keep)
        self._ids = [self._ids[i] for i in keep]
        self._chunks = [self._matrix[keep]]
        return removed

    def __len__(self) -> int:
        return len(self._ids)

    def vectors(self) -> tuple[list[str], np.ndarray]:
        return list(self._ids), self._matrix

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        row = {id_: i for i, id_ in enumerate(self._ids)}
        not_indexed(ids, row)
        return self._matrix[[row[id_] for id_ in ids]].reshape(len(ids), self.dim)

    def _save(self, path: Path) -> None:
        np.save(path / "vectors.npy", self._matrix)
        (path / "ids.json").write_text(json.dumps(self._ids))

    @classmethod
    def _load(cls, path: Path, meta: dict) -> ExactIndex:
        index = cls(meta["dim"])
        index._chunks = [np.load(path / "vectors.npy")]
        index._ids = json.loads((path / "ids.json").read_text())
        return index
