"""Choose the probability weight of a supervised variant on a validation split of CIFAR-10 train.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/supervised_weight.py triangle-hog-gch-supervised

Index 10,000 training images, queries 1,000 other training images (R = 1,000 per class,
so `map_cut_100` has a ceiling of 0.1 here). The classifier is fitted once; only the
weight of the probability block changes between rows (the classifier inputs are kept).
Each row is one fusion and weight: "cosine" (the unit probability vector beside the features) or "product"
(the probability of a shared class; `cbir.features.probabilities`).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import mean_measures, validation_split

from cbir.features import l2_normalise, make_extractor
from cbir.features.probabilities import FUSIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("features")
    parser.add_argument("--weights", default="0.5,1,2,4,8")
    parser.add_argument("--fusions", default=",".join(FUSIONS))
    args = parser.parse_args()
    index_set, queries = validation_split(10_000, 1_000)
    extractor = make_extractor(args.features)
    extractor.fit(index_set)
    index_inputs, query_inputs = extractor.inputs(index_set.images, progress=True), extractor.inputs(queries.images)
    accuracy = np.mean(np.asarray(extractor.classes_)[extractor.probabilities(query_inputs).argmax(1)] ==
                       np.asarray(queries.labels))
    print(f"classifier accuracy on the validation queries: {accuracy:.4f} (C={extractor.report_['C']})\n")
    print("| fusion | weight | P_10 | P_100 | map_cut_100 |\n|---|---|---|---|---|")
    for fusion, weight in itertools.product(args.fusions.split(","), map(float, args.weights.split(","))):
        extractor.fusion, extractor.weight = fusion, weight
        vectors = [l2_normalise(extractor.vectors(index_inputs, indexing=True)),
                   l2_normalise(extractor.vectors(query_inputs))]
        m = mean_measures(index_set, vectors[0], queries, vectors[1])
        print(f"| {fusion} | {weight:g} | {m['P_10']:.4f} | {m['P_100']:.4f} | {m['map_cut_100']:.5f} |", flush=True)


if __name__ == "__main__":
    main()
