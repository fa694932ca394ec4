"""Which features and C give the supervised variants' classifier the best accuracy (validation only).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/supervised_classifier.py --max-index 20000 --max-queries 5000

Fits each candidate base extractor on the validation split's index part (CIFAR-10 TRAIN
images only), trains the logistic regression for each C on it and prints the accuracy on
the held-out training images, with the fit times. The test split is never used.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from common import validation_split

from cbir.features import EXTRACTORS, FusedExtractor
from cbir.features.global_ import HOG, ColorHistogram
from cbir.features.triangle import KMeansTriangle

CANDIDATES = {
    "triangle-hog-gch (Coates-Ng block PCA-512, as shipped)": EXTRACTORS["triangle-hog-gch"],
    "triangle-hog-gch, full 6,400-d Coates-Ng block": lambda: FusedExtractor(
        [KMeansTriangle(pca=None), HOG(), ColorHistogram(bins=8, space="rgb")], weights=[1.0, 1.0, 0.35],
        name="triangle-full-hog-gch"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-index", type=int)
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--cs", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    args = parser.parse_args()
    train, held_out = validation_split(args.max_index, args.max_queries)
    print(f"fit on {len(train)} training images, accuracy on {len(held_out)} held-out training images\n")
    print("| features | dim | C | accuracy | fit s |\n|---|---|---|---|---|")
    for name, make in CANDIDATES.items():
        extractor = make()
        x_train = extractor.fit_transform(train)
        x_test = extractor.transform(held_out.images)
        for c in args.cs:
            started = time.perf_counter()
            model = LogisticRegression(C=c, max_iter=500).fit(x_train, train.labels)
            accuracy = float(np.mean(model.predict(x_test) == np.asarray(held_out.labels)))
            print(f"| {name} | {extractor.dim} | {c:g} | {accuracy:.4f} | {time.perf_counter() - started:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
