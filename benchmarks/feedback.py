"""Does marking results "not like these" find more of what one wants than ticking only those one wants?
Relevance feedback on CIFAR-10: each test query's first 10 results are judged as a user would (of the query's
class: wanted; else: not), then searched again with the query and the wanted ones together, without and with the
others held against (`cbir.engine.feedback_query` at several weights of what is not wanted).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \\
        .venv/bin/python benchmarks/feedback.py engines/cifar10-cnn [--queries 1000] [--skip 0] [-k 100] \\
        [--weights 0.5 0.7 0.9]

Prints P@k (relevant: the query's class) over the residual collection (the 10 judged results left out of every
ranking, the first one's too, so that no ranking gains by showing them again), the mean over the same queries, and
over those whose first 10 held something not wanted. The judged results take part by their vectors as indexed, as
they do in the page's searches. `--skip` leaves out the first queries of the
random order, so that a weight chosen on some queries is measured on others.
"""

from __future__ import annotations

import argparse

import numpy as np

import cbir.engine
from cbir import Engine
from cbir.datasets import load_dataset

JUDGED = 10


def precision(hits, seen: set[str], label: str, k: int) -> float:
    """P@k of a ranking less the judged images."""
    kept = [hit for hit in hits if hit.id not in seen][:k]
    return float(np.mean([hit.label == label for hit in kept]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--weights", type=float, nargs="+", default=[cbir.engine.UNLIKE_WEIGHT])
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    test = load_dataset("cifar10:test", progress=False)
    order = np.random.default_rng(0).permutation(len(test))
    picked = order[args.skip: args.skip + args.queries]
    vectors = engine.embed(test.subset(picked).images, progress=True)
    depth = args.k + JUDGED
    first = engine.search_vectors(vectors, depth)
    weights = [0.0, *args.weights]
    rows = {"query alone": [], "query and the wanted": []} | {f"... less {w:g} x the others": [] for w in weights[1:]}
    mixed = np.zeros(len(picked), dtype=bool)
    for n, (i, vector, hits) in enumerate(zip(picked, vectors, first)):
        label, judged = test.labels[i], hits[:JUDGED]
        seen = {hit.id for hit in judged}
        wanted = [hit.id for hit in judged if hit.label == label]
        others = [hit.id for hit in judged if hit.label != label]
        mixed[n] = bool(others)
        rows["query alone"].append(precision(hits, seen, label, args.k))
        liked = np.vstack([vector[None], engine.index.vectors_of(wanted)]) if wanted else vector[None]
        unliked = engine.index.vectors_of(others) if others else None
        for weight, name in zip(weights, list(rows)[1:]):
            cbir.engine.UNLIKE_WEIGHT = weight
            again = engine.search_vectors(cbir.engine.feedback_query(liked, unliked), depth)[0]
            rows[name].append(precision(again, seen, label, args.k))
    print(f"{len(picked)} queries (from position {args.skip + 1} of a random order), {args.engine} "
          f"({engine.extractor.name}), {len(engine):,} indexed; {mixed.sum()} with something not wanted in their "
          f"first {JUDGED}\n")
    print(f"| search | P@{args.k}, all | P@{args.k}, those with something not wanted |\n|---|---|---|")
    for name, values in rows.items():
        values = np.asarray(values)
        print(f"| {name} | {values.mean():.4f} | {values[mixed].mean():.4f} |")


if __name__ == "__main__":
    main()
