"""Choose the `hog-gch` fusion weight on a validation split of CIFAR-10 train (the test split is not used).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip .venv/bin/python benchmarks/fusion_weights.py

Index: 40,000 training images; queries: 2,000 of the other 10,000 (class-stratified).
Prints P_100 and map_cut_100 for each GCH weight and colour space (HOG weight 1).
"""

from __future__ import annotations

import numpy as np

from cbir.datasets import load_cifar10
from cbir.evaluation.trec import trec_measures
from cbir.features import l2_normalise
from cbir.features.global_ import HOG, ColorHistogram
from cbir.index import FaissIndex


def main() -> None:
    train = load_cifar10("train", progress=False)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(train))
    index_set, held_out = train.subset(np.sort(perm[:40_000])), train.subset(np.sort(perm[40_000:]))
    queries = held_out.stratified(2_000)
    hog = {name: HOG().transform(ds.images) for name, ds in (("index", index_set), ("queries", queries))}
    relevant: dict[str, list[str]] = {}
    for id_, label in zip(index_set.ids, index_set.labels):
        relevant.setdefault(label, []).append(id_)
    print("| GCH space | GCH weight | P_100 | map_cut_100 |\n|---|---|---|---|")
    for space in ("gray", "rgb"):
        gch = ColorHistogram(bins=64 if space == "gray" else 8, space=space)
        hist = {"index": gch.transform(index_set.images), "queries": gch.transform(queries.images)}
        for weight in (0.0, 0.15, 0.25, 0.35, 0.5, 1.0):
            fused = {k: l2_normalise(np.hstack([hog[k], weight * hist[k]])) for k in hog}
            index = FaissIndex(fused["index"].shape[1])
            index.add(index_set.ids, fused["index"])
            run = {q: {h.id: h.score for h in hits} for q, hits in zip(queries.ids, index.search(fused["queries"], 100))}
            per_query = trec_measures(run, dict(zip(queries.ids, queries.labels)), relevant)
            mean = lambda m: np.mean([v[m] for v in per_query.values()])  # noqa: E731
            print(f"| {space} | {weight} | {mean('P_100'):.4f} | {mean('map_cut_100'):.5f} |")


if __name__ == "__main__":
    main()
