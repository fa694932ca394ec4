"""Measures over the FULL ranking of the index, computed in numpy chunk by chunk.

Scoring 10,000 queries against 50,000 images gives 500 million scores: far too many
for a run file, so full-ranking AP and the precision-recall curve come from here.
Ties are broken as trec_eval does: by doc id, descending.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm.auto import tqdm

RECALL_LEVELS = np.linspace(0.0, 1.0, 11)


def full_ranking(query_vectors: np.ndarray, query_labels: Sequence[str], index_ids: Sequence[str],
                 index_vectors: np.ndarray, index_labels: Sequence[str | None], chunk: int = 256,
                 progress: bool = False, threads: int = 2,
                 exclude: Sequence[int] | None = None,
                 first: Sequence[Sequence[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(AP over the full ranking, interpolated precision at 11 recall levels) per query.

    `exclude`: per query, the position in `index_ids` of an image left out of its ranking (the
    query itself, when indexed), or -1. `first`: per query, the positions ranked before all others, in
    that order (its copies, `cbir.copies`). Queries without any relevant image get NaN.
    """
    order = np.argsort(np.asarray(index_ids, dtype=object))[::-1].astype(np.int64)
    sorted_position = np.empty_like(order)
    sorted_position[order] = np.arange(len(order))
    skips = np.full(len(query_vectors), -1) if exclude is None else np.asarray(exclude)
    skips = np.where(skips >= 0, sorted_position[np.maximum(skips, 0)], -1)
    vectors = np.ascontiguousarray(index_vectors[order], dtype=np.float32)
    labels = np.asarray([index_labels[i] if index_labels[i] is not None else "" for i in order], dtype=object)
    codes = {label: code for code, label in enumerate(sorted(set(labels)))}
    label_codes = np.array([codes[label] for label in labels], dtype=np.int32)
    n = len(query_vectors)
    ap = np.full(n, np.nan)
    iprec = np.full((n, len(RECALL_LEVELS)), np.nan)

    tops = [sorted_position[list(f)] for f in first] if first is not None else [[]] * n

    def one(row: np.ndarray, code: int, skip: int, top: Sequence[int]) -> tuple[float, np.ndarray] | None:
        if skip >= 0:
            row[skip] = -np.inf  # last in the ranking, then cut off
        row[top] = 2.0 + np.arange(len(top))[::-1]  # above any cosine similarity, in their order
        relevant = (label_codes[np.argsort(-row, kind="stable")] == code)[: len(row) - (skip >= 0)]
        ranks = np.flatnonzero(relevant) + 1
        if len(ranks) == 0:
            return None
        precision = np.arange(1, len(ranks) + 1) / ranks
        interpolated = np.maximum.accumulate(precision[::-1])[::-1]
        at = np.maximum(np.ceil(RECALL_LEVELS * len(ranks)).astype(int) - 1, 0)
        return float(precision.mean()), interpolated[at]

    with ThreadPoolExecutor(max_workers=threads) as pool, \
            tqdm(total=n, desc="full ranking", unit="query", disable=not progress, mininterval=0.5) as bar:
        for start in range(0, n, chunk):
            scores = query_vectors[start: start + chunk] @ vectors.T
            qcodes = [codes.get(label, -1) if label else -1 for label in query_labels[start: start + chunk]]
            for i, result in enumerate(pool.map(one, scores, qcodes, skips[start: start + chunk],
                                                 tops[start: start + chunk])):
                if result is not None:
                    ap[start + i], iprec[start + i] = result
            bar.update(len(scores))
    return ap, iprec
