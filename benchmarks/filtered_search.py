"""Filtered search against unfiltered at 50,000 images: single-query latency of the index search alone
(the query's vector computed beforehand), median over repeated searches with the same filter.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/filtered_search.py engines/cifar10-cnn

Also checks each filtered ranking against numpy's exact one over the images that pass.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from cbir import Engine
from cbir.filters import Filter


def median_ms(engine: Engine, queries: np.ndarray, where: Filter | None, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        for query in queries:
            started = time.perf_counter()
            engine.search_vectors(query[None], 10, where=where)
            times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # as `cbir serve` runs it
    engine = Engine.load(args.engine)
    queries = engine.embed(np.random.default_rng(0).integers(0, 255, (30, 32, 32, 3), dtype=np.uint8))
    ids, vectors = engine.index.vectors()
    labels = engine.metadata.labels()
    classes = sorted({label for label in labels.values() if label})
    folder = ids[0].rsplit("/", 1)[0] + "/1"
    filters = [None, Filter.of(labels=classes[:1]), Filter.of(labels=classes[:3]), Filter.of(folder=folder)]
    print(f"engine {args.engine}: {len(engine)} images, {engine.extractor.name}, {engine.index.kind}\n")
    print("| filter | images that pass | p50 ms (first search with it) | exact ranking |")
    print("|---|---|---|---|")
    for where in filters:
        first = time.perf_counter()
        engine.search_vectors(queries[:1], 10, where=where)
        first = 1000 * (time.perf_counter() - first)
        passing = engine.select(where).ids if where else set(ids)
        mask = np.array([id_ in passing for id_ in ids])
        exact = all([h.id for h in engine.search_vectors(q[None], 10, where=where)[0]] ==
                    [ids[j] for j in np.argsort(-np.where(mask, vectors @ q, -9))[:10]] for q in queries[:10])
        print(f"| {where.describe() if where else 'none'} | {len(passing):,} | {median_ms(engine, queries, where):.2f} "
              f"({first:.1f}) | {'yes' if exact else 'NO'} |")


if __name__ == "__main__":
    main()
