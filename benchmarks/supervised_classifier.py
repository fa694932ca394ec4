"""Which features and C give the supervised variants' classifier the best accuracy (validation only).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/supervised_classifier.py --max-index 20000 --max-queries 5000

Fits each candidate base extractor on the validation split's index part (CIFAR-10 TRAIN
images only), trains the logistic regression for each C on it and prints the accuracy on
the held-out training images, with the fit times. The test split is never used.
--standardise and --flip describe images as `SupervisedExtractor(standardise=..., flip=...)`
does (raw z-scored features; the mean of an image's and its mirror image's features).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from common import validation_split

from cbir.features import EXTRACTORS, FusedExtractor
from cbir.features.global_ import HOG, ColorHistogram
from cbir.features.supervised import SupervisedExtractor, standardisation
from cbir.features.triangle import KMeansTriangle

CANDIDATES = {
    "bovw-hog-gch": EXTRACTORS["bovw-hog-gch"],
    "triangle-hog-gch": EXTRACTORS["triangle-hog-gch"],
    "triangle-full-hog-gch": lambda: FusedExtractor(
        [KMeansTriangle(pca=None), HOG(), ColorHistogram(bins=8, space="rgb")], weights=[1.0, 1.0, 0.35],
        name="triangle-full-hog-gch"),
    "triangle-full-raw-hog-gch": lambda: FusedExtractor(
        [KMeansTriangle(pca=None), HOG(), ColorHistogram(bins=8, space="rgb")], normalise=False,
        name="triangle-full-raw-hog-gch"),
    "triangle4000-hog-gch": lambda: FusedExtractor(
        [KMeansTriangle(k=4000), HOG(), ColorHistogram(bins=8, space="rgb")], weights=[1.0, 1.0, 0.35],
        name="triangle4000-hog-gch"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-index", type=int)
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--cs", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--features", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES),
                        help="triangle-hog-gch: Coates-Ng block PCA-512 (as shipped); triangle-full-hog-gch: "
                             "the full 6,400-d block; triangle-full-raw-hog-gch: the same, blocks not L2-normalised; "
                             "triangle4000-hog-gch: 4,000 centroids, PCA-512")
    parser.add_argument("--standardise", action="store_true", help="z-score each feature before the classifier")
    parser.add_argument("--flip", action="store_true", help="average each image's features with its mirror image's")
    args = parser.parse_args()
    train, held_out = validation_split(args.max_index, args.max_queries)
    print(f"fit on {len(train)} training images, accuracy on {len(held_out)} held-out training images\n")
    print("| features | dim | inputs | C | accuracy | fit s |\n|---|---|---|---|---|---|")
    for name in args.features:
        extractor = CANDIDATES[name]().fit(train)
        describe = SupervisedExtractor(extractor, standardise=args.standardise, flip=args.flip).base_features
        x_train, x_test = describe(train.images, progress=True), describe(held_out.images)
        inputs = ("standardised" if args.standardise else "L2 blocks") + (", flip-averaged" if args.flip else "")
        if args.standardise:
            mean, std = standardisation(x_train)
            x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
        for c in args.cs:
            started = time.perf_counter()
            model = LogisticRegression(C=c, max_iter=1000).fit(x_train, train.labels)
            accuracy = float(np.mean(model.predict(x_test) == np.asarray(held_out.labels)))
            print(f"| {name} | {extractor.dim} | {inputs} | {c:g} | {accuracy:.4f} | "
                  f"{time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
