"""Core speed benchmark: decoding, index build, batch search and single-query latency.

Run by hand (not part of the tests), on an otherwise idle machine:

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/bench_core.py

Prints a markdown table; FAISS (the embedded default) is timed beside a plain numpy
brute-force baseline in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def numpy_top_k(index: np.ndarray, queries: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """The plain baseline: matrix product, argpartition, sort of the top k."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), chunk):
        scores = queries[s: s + chunk] @ index.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        out[s: s + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def bench_decoding(rows: list) -> None:
    from cbir.datasets import load_cifar10

    with tempfile.TemporaryDirectory() as home:
        os.environ["CBIR_HOME"] = home
        cold, _ = timed(lambda: (load_cifar10("train", progress=False), load_cifar10("test", progress=False)))
        warm, _ = timed(lambda: (load_cifar10("train", progress=False), load_cifar10("test", progress=False)), 3)
    rows.append(("decode 60,000 CIFAR-10 JPEGs, cold (zip -> cache)", f"{cold:.1f} s", ""))
    rows.append(("load 60,000 images, cached (memory-mapped)", f"{warm * 1000:.0f} ms", ""))


def bench_build(rows: list, features: str) -> None:
    from cbir import Engine
    from cbir.datasets import load_cifar10
    from cbir.features import make_extractor

    train = load_cifar10("train", progress=False)
    seconds, engine = timed(lambda: Engine.build(train, make_extractor(features), progress=False))
    rows.append((f"build the 50,000-image index ({features}, {engine.extractor.dim}-d, FAISS Flat)",
                 f"{seconds:.1f} s", f"{len(train) / seconds:,.0f} img/s"))


def bench_search(rows: list, dim: int, n_index: int, n_queries: int, k: int) -> None:
    from cbir.features import l2_normalise
    from cbir.index import FaissIndex

    rng = np.random.default_rng(0)
    vectors = l2_normalise(rng.normal(size=(n_index, dim)))
    queries = l2_normalise(rng.normal(size=(n_queries, dim)))
    index = FaissIndex(dim)
    index.add([str(i) for i in range(n_index)], vectors)
    faiss_batch, _ = timed(lambda: index._index.search(queries, k), 2)
    faiss_hits, _ = timed(lambda: index.search(queries, k), 1)
    numpy_batch, _ = timed(lambda: numpy_top_k(vectors, queries, k), 2)
    rows.append((f"search {n_queries:,} x {n_index:,} top-{k}, d={dim}: FAISS (raw / with Hit objects)",
                 f"{faiss_batch:.2f} s / {faiss_hits:.2f} s", f"numpy baseline {numpy_batch:.2f} s"))
    single = queries[:1000]
    faiss_lat = [timed(lambda q=q: index.search(q[None], 10))[0] for q in single]
    numpy_lat = [timed(lambda q=q: numpy_top_k(vectors, q[None], 10))[0] for q in single]
    rows.append((f"single query top-10, d={dim}, {n_index:,} vectors: FAISS p50 / p99",
                 f"{np.percentile(faiss_lat, 50) * 1000:.2f} / {np.percentile(faiss_lat, 99) * 1000:.2f} ms",
                 f"numpy baseline {np.percentile(numpy_lat, 50) * 1000:.2f} / "
                 f"{np.percentile(numpy_lat, 99) * 1000:.2f} ms"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="hog-gch")
    parser.add_argument("--skip-data", action="store_true", help="only the synthetic search timings")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    if not args.skip_data:
        bench_decoding(rows)
        bench_build(rows, args.features)
    for dim in (128, 256):
        bench_search(rows, dim, 50_000, 10_000, 100)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}\n")
    print("| what | time | note |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
