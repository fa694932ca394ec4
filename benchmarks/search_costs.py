"""Where a served search's CPU time goes: each stage of a batch of 8 queries, on one thread, as `cbir serve` runs it.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/search_costs.py engines/cifar10-cnn-copies [--batches 50]

A server's two cores share these stages (the two networks at once, the copies' pixel checks in the requests'
threads), so 8 searches can take no less than their sum over two: the most searches a second those stages allow,
before HTTP and upload decoding. Queries are CIFAR-10 test images (none of them indexed), in batches of 8; each
figure is the median over the batches.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from cbir import Engine
from cbir.batching import network_threads
from cbir.datasets import load_cifar10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    import faiss

    engine = Engine.load(args.engine)
    queries = load_cifar10("test", progress=False).stratified(8 * args.batches, seed=3)
    stages: dict[str, list[float]] = {}

    def timed(stage: str, run):
        started = time.perf_counter()
        result = run()
        stages.setdefault(stage, []).append((time.perf_counter() - started) * 1000)
        return result

    network_threads(1)
    faiss.omp_set_num_threads(1)
    with threadpool_limits(1, user_api="blas"):
        for start in range(0, len(queries), 8):
            images = list(queries.images[start:start + 8])
            vectors = timed("network", lambda: engine.embed(images))
            timed("scan", lambda: engine.search_vectors(vectors, 10))
            if engine.copies is not None:
                vectors = timed("copies' network", lambda: engine.copies.embed(images))
                found = timed("copies' scan", lambda: engine.copies.search_vectors(vectors, 10))
                timed("copies' pixel checks", lambda: engine.copies_among(images, found, 10))
    medians = {stage: float(np.median(times)) for stage, times in stages.items()}
    print(f"{args.engine}: {len(queries)} CIFAR-10 test queries in batches of 8, one thread\n")
    print("| stage | ms a batch of 8 |\n|---|---|")
    for stage, ms in medians.items():
        print(f"| {stage} | {ms:.1f} |")
    total = sum(medians.values())
    print(f"| **all** | **{total:.1f}** |\n\nat most {2 * 8 / total * 1000:.0f} searches/s on two cores")


if __name__ == "__main__":
    main()
