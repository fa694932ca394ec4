"""Does searching with several images together ("more like these") find more of what they show than one of them?
For test queries of CIFAR-10, precision at k of a search with the query alone, and of searches with the query and
one or two other test images of its class together (as a user ticks results that are what they want).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/together.py engines/cifar10-cnn [--queries 1000] [-k 100]

Prints P@k (relevant: the query's class) for 1, 2 and 3 images together, each the mean over the same queries.
"""

from __future__ import annotations

import argparse

import numpy as np

from cbir import Engine
from cbir.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("-k", type=int, default=100)
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    test = load_dataset("cifar10:test", progress=False)
    labels = np.asarray(test.labels)
    rng = np.random.default_rng(0)
    picked = rng.choice(len(test), size=min(args.queries, len(test)), replace=False)
    precision = {1: [], 2: [], 3: []}
    for i in picked:
        same = rng.permutation(np.flatnonzero((labels == labels[i]) & (np.arange(len(test)) != i)))[:2]
        for count in precision:
            images = [test.images[j] for j in [i, *same[: count - 1]]]
            hits = engine.search_together(images, k=args.k).hits
            precision[count].append(np.mean([hit.label == labels[i] for hit in hits]))
    print(f"{len(picked)} queries, {args.engine} ({engine.extractor.name}), {len(engine):,} indexed\n")
    print(f"| images together | P@{args.k} |\n|---|---|")
    for count, values in precision.items():
        print(f"| {count} | {np.mean(values):.4f} |")


if __name__ == "__main__":
    main()
