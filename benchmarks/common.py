"""Helpers shared by the validation benchmarks: a held-out split of CIFAR-10 train and quick measures."""

from __future__ import annotations

import numpy as np

from cbir.datasets import Dataset, load_cifar10
from cbir.evaluation.trec import trec_measures
from cbir.index import FaissIndex


def validation_split(n_index: int | None = None, n_queries: int | None = None) -> tuple[Dataset, Dataset]:
    """(index, queries) from CIFAR-10 TRAIN only: 40,000 / 10,000 images, optionally stratified subsets."""
    train = load_cifar10("train", progress=False)
    perm = np.random.default_rng(0).permutation(len(train))
    index_set = train.subset(np.sort(perm[:40_000])).stratified(n_index)
    return index_set, train.subset(np.sort(perm[40_000:])).stratified(n_queries)


def mean_measures(index_set: Dataset, index_vectors: np.ndarray, queries: Dataset, query_vectors: np.ndarray,
                  k: int = 100) -> dict[str, float]:
    """Mean trec measures (P_10, P_100, map_cut_100, ...) of exact cosine search, relevant = same label."""
    index = FaissIndex(index_vectors.shape[1])
    index.add(index_set.ids, index_vectors)
    run = {q: {h.id: h.score for h in hits} for q, hits in zip(queries.ids, index.search(query_vectors, k))}
    relevant: dict[str, list[str]] = {}
    for id_, label in zip(index_set.ids, index_set.labels):
        relevant.setdefault(label, []).append(id_)
    per_query = trec_measures(run, dict(zip(queries.ids, queries.labels)), relevant)
    return {m: float(np.mean([v[m] for v in per_query.values()])) for m in next(iter(per_query.values()))}
