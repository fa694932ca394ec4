"""What storing wide vectors (`effnet`'s 1,280 dimensions) as float16 costs and saves: the scan of an exact FAISS
index in float32 (`Flat`) against float16 (`SQfp16`), for one query and for a batch of 8, on one thread as
`cbir serve` runs it, and how often the top 10 differ.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \\
        .venv/bin/python benchmarks/wide_scan.py engines/cifar10-effnet-10k [--size 100000] [--queries 200]

The engine's own vectors are repeated, each copy moved a little (Gaussian noise of 0.01 per dimension, then
normalised), up to `--size` images; the queries are CIFAR-10 test images described by the engine. Prints the median
time of each search, the index's memory, and the share of queries whose top 10 ids are not the same (and, of
those, the largest score difference between the two at the same rank).
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from cbir import Engine
from cbir.datasets import load_dataset
from cbir.features.base import l2_normalise


def timed(index, queries: np.ndarray, batch: int, repeats: int = 7) -> float:
    """Median milliseconds of a search of `batch` queries."""
    times = []
    for n in range(repeats):
        part = queries[n * batch % len(queries):][:batch]
        started = time.perf_counter()
        index.search(part, 10)
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    _, vectors = engine.index.vectors()
    rng = np.random.default_rng(0)
    copies = [vectors] + [l2_normalise(vectors + rng.normal(0, 0.01, vectors.shape).astype(np.float32))
                          for _ in range(-(-args.size // len(vectors)) - 1)]
    data = np.ascontiguousarray(np.concatenate(copies)[: args.size])
    test = load_dataset("cifar10:test", progress=False)
    queries = engine.embed(test.subset(np.arange(args.queries)).images)
    faiss.omp_set_num_threads(1)
    found, rows = {}, []
    with threadpool_limits(1, user_api="blas"):
        for factory in ("Flat", "SQfp16"):
            index = faiss.index_factory(data.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
            index.train(data[:1000])
            index.add(data)
            found[factory] = index.search(queries, 10)
            rows.append((factory, timed(index, queries, 1), timed(index, queries, 8),
                         data.shape[0] * data.shape[1] * (4 if factory == "Flat" else 2) / 2**20))
    (flat_scores, flat_ids), (half_scores, half_ids) = found["Flat"], found["SQfp16"]
    differ = np.any(flat_ids != half_ids, axis=1)
    print(f"{args.engine} ({engine.extractor.name}, {data.shape[1]}-d) repeated to {len(data):,} vectors, "
          f"{args.queries} queries, one thread\n")
    print("| index | 1 query (ms) | 8 queries (ms) | memory (MiB) |\n|---|---|---|---|")
    for factory, one, eight, mib in rows:
        print(f"| {factory} | {one:.1f} | {eight:.1f} | {mib:,.0f} |")
    worst = float(np.abs(flat_scores - half_scores)[differ].max()) if differ.any() else 0.0
    print(f"\ntop 10 not the same for {differ.mean():.1%} of the queries (largest score difference there: {worst:.5f})")


if __name__ == "__main__":
    main()
