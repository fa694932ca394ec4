"""Choose the `hog-gch` fusion weight on a validation split of CIFAR-10 train (the test split is not used).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip .venv/bin/python benchmarks/fusion_weights.py

Index: 40,000 training images; queries: 2,000 of the other 10,000 (class-stratified).
Prints P_100 and map_cut_100 for each GCH weight and colour space (HOG weight 1).
"""

from __future__ import annotations

import numpy as np

from common import mean_measures, validation_split

from cbir.features import l2_normalise
from cbir.features.global_ import HOG, ColorHistogram


def main() -> None:
    index_set, queries = validation_split(None, 2_000)
    hog = {name: HOG().transform(ds.images) for name, ds in (("index", index_set), ("queries", queries))}
    print("| GCH space | GCH weight | P_100 | map_cut_100 |\n|---|---|---|---|")
    for space in ("gray", "rgb"):
        gch = ColorHistogram(bins=64 if space == "gray" else 8, space=space)
        hist = {"index": gch.transform(index_set.images), "queries": gch.transform(queries.images)}
        for weight in (0.0, 0.15, 0.25, 0.35, 0.5, 1.0):
            fused = {k: l2_normalise(np.hstack([hog[k], weight * hist[k]])) for k in hog}
            m = mean_measures(index_set, fused["index"], queries, fused["queries"])
            print(f"| {space} | {weight} | {m['P_100']:.4f} | {m['map_cut_100']:.5f} |")


if __name__ == "__main__":
    main()
