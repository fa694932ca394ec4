"""Exact vs approximate search: quality, recall and single-query latency, at 50,000 and at 1,000,000 vectors.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/scale.py --engine engines/cifar10-cnn --plot docs/scale-recall-latency.png

Part 1 (CIFAR-10, the engine's own vectors: 50,000 indexed, 10,000 test queries): for FAISS Flat
(exact), FAISS HNSW / IVF-PQ and Milvus Lite FLAT / HNSW, `map_cut_100` with trec_eval semantics,
recall@100 against the exact top 100, and single-query latency (one query per call, one FAISS
thread; builds and the 10k-query batch use both cores).
Part 2 (`--million`): 1,000,000 x 128-d vectors made from the engine's vectors (PCA to 128-d, then
each a random indexed vector plus Gaussian noise that follows the data's spectrum, so the set keeps
the structure of real embeddings), FAISS HNSW recall@10 and latency on one core,
and bytes per vector with and without quantisation. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import faiss
import numpy as np

from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.evaluation.trec import trec_measures
from cbir.features import l2_normalise
from cbir.index import ExactIndex, FaissIndex, MilvusIndex
from cbir.plots import saved_figure


def recall(found: list[list[str]], truth: list[list[str]], k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def single_query_ms(index, queries: np.ndarray, k: int, n: int = 500) -> float:
    """Median milliseconds of one-query searches (after 20 warm-up calls)."""
    for q in queries[:20]:
        index.search(q[None], k)
    times = []
    for q in queries[:n]:
        start = time.perf_counter()
        index.search(q[None], k)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def approximate_at_50k(engine: Engine, queries: np.ndarray, query_labels: list[str], milvus_dir: Path) -> list:
    ids, vectors = engine.index.vectors()
    labels = engine.metadata.labels()
    relevant: dict[str, list[str]] = defaultdict(list)
    for id_, label in labels.items():
        relevant[label].append(id_)
    qids = [f"q{i}" for i in range(len(queries))]
    dim = vectors.shape[1]
    configs = [("FAISS Flat (exact)", lambda: FaissIndex(dim))]
    configs += [(f"FAISS HNSW32 ef={ef}", lambda ef=ef: FaissIndex(dim, "HNSW32", ef_search=ef)) for ef in (128, 256)]
    configs += [(f"FAISS IVF1024,PQ64 nprobe={p}", lambda p=p: FaissIndex(dim, "IVF1024,PQ64", nprobe=p))
                for p in (16, 64)]
    configs += [("FAISS IVF1024,Flat nprobe=16", lambda: FaissIndex(dim, "IVF1024,Flat", nprobe=16))]
    configs += [("Milvus Lite FLAT", lambda: MilvusIndex(dim, uri=str(milvus_dir / "m.db")))]
    configs += [(f"Milvus Lite HNSW M=16 ef={ef}",
                 lambda ef=ef: MilvusIndex(dim, uri=str(milvus_dir / "m.db"), index_type="HNSW", ef=ef))
                for ef in (128, 256)]
    rows, exact_top, exact_ms = [], None, None
    for name, make in configs:
        faiss.omp_set_num_threads(2)
        started = time.perf_counter()
        index = make()
        index.add(ids, vectors)
        index.search(queries[:1], 1)  # Milvus flushes and builds its index on the first search
        build = time.perf_counter() - started
        started = time.perf_counter()
        hits = index.search(queries, 100)
        batch = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        top = [[h.id for h in row] for row in hits]
        exact_top = exact_top or top
        run = {q: {h.id: h.score for h in row} for q, row in zip(qids, hits)}
        per_query = trec_measures(run, dict(zip(qids, query_labels)), relevant)
        map100 = float(np.mean([v["map_cut_100"] for v in per_query.values()]))
        latency = single_query_ms(index, queries, 100)
        exact_ms = exact_ms or latency
        rows.append({"index": name, "map_cut_100": map100, "recall@100": recall(top, exact_top, 100),
                     "ms": latency, "speed-up": exact_ms / latency, "build s": build, "10k batch s": batch})
        print(f"| {name} | {map100:.5f} | {rows[-1]['recall@100']:.4f} | {latency:.2f} | "
              f"{rows[-1]['speed-up']:.1f}x | {build:.1f} | {batch:.1f} |", flush=True)
        if isinstance(index, MilvusIndex):
            index.drop()
    return rows


def million(engine: Engine, queries: np.ndarray, n: int, dim: int = 128, noise: float = 0.2) -> None:
    rng = np.random.default_rng(0)
    _, vectors = engine.index.vectors()
    dim = min(dim, vectors.shape[1])
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)

    def project(x: np.ndarray) -> np.ndarray:
        return ((x - mean) @ vt[:dim].T).astype(np.float32)

    base = project(vectors)
    scale = noise * base.std(axis=0)  # noise follows the data's own spectrum: its structure stays
    data = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        data[s: s + m] = l2_normalise(base[rng.integers(0, len(base), m)] + rng.normal(0, 1, (m, dim)) * scale)
    q = l2_normalise(project(queries[:1000]) + rng.normal(0, 1, (1000, dim)).astype(np.float32) * scale)
    truth = ExactIndex(dim)
    truth.add([str(i) for i in range(n)], data)
    want = [[h.id for h in row] for row in truth.search(q, 10)]
    del truth
    print(f"\n{n:,} x {dim}-d vectors (CIFAR-10 embeddings, PCA to {dim}-d, each a random indexed vector "
          f"plus Gaussian noise of {noise} x each component's spread); 1,000 noisy test queries; one search "
          f"thread\n")
    print("| index | recall@10 | ms / query (1 core) | build s | bytes / vector |\n|---|---|---|---|---|")
    for factory, params in (("HNSW32", (32, 64, 128, 256)), ("HNSW32,SQ8", (64, 128, 256)),
                            ("IVF4096,PQ32", (16, 64)), ("Flat", (None,))):
        faiss.omp_set_num_threads(2)
        index = FaissIndex(dim, factory)
        started = time.perf_counter()
        ids = [str(i) for i in range(n)]
        index.add(ids, data)
        build = time.perf_counter() - started
        with tempfile.NamedTemporaryFile() as f:
            faiss.write_index(index._index.index, f.name)
            per_vector = Path(f.name).stat().st_size / n
        faiss.omp_set_num_threads(1)
        for p in params:
            if factory.startswith("HNSW"):
                index.ef_search = p
            elif factory.startswith("IVF"):
                index.nprobe = p
            index._apply_search_params()
            got = [[h.id for h in row] for row in index.search(q, 10)]
            ms = single_query_ms(index, q, 10, n=1000)
            label = factory + (f" ef={p}" if factory.startswith("HNSW") else f" nprobe={p}" if p else "")
            print(f"| {label} | {recall(got, want, 10):.4f} | {ms:.3f} | {build:.0f} | {per_vector:.0f} |",
                  flush=True)
        del index


def plot(rows: list, path: str) -> None:
    with saved_figure(path, figsize=(7, 4.5), dpi=120) as (_, ax):
        for row in rows:
            marker = "s" if "Milvus" in row["index"] else "^" if "exact" in row["index"] else "o"
            ax.scatter(row["ms"], row["recall@100"], marker=marker, s=60,
                       label=f"{row['index']} (map_cut_100 {row['map_cut_100']:.5f})")
        ax.legend(fontsize=7, loc="lower right")
        ax.set(xscale="log", xlabel="single-query latency, ms (log scale; one thread)", ylabel="recall@100 vs exact",
               title="50,000 CIFAR-10 vectors, 10,000 queries: recall vs latency")
        ax.grid(alpha=0.3, which="both")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", required=True, help="a CIFAR-10 engine folder (e.g. engines/cifar10-cnn)")
    parser.add_argument("--plot", help="recall-vs-latency PNG to write")
    parser.add_argument("--million", type=int, default=0, metavar="N", help="also the N-vector part (1000000)")
    parser.add_argument("--skip-50k", action="store_true")
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    test = load_cifar10("test", progress=False)
    queries = engine.embed(test.images)
    if not args.skip_50k:
        print("| index | map_cut_100 | recall@100 | ms / query | speed-up vs exact | build s | 10k batch s |\n"
              "|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as milvus_dir:
            rows = approximate_at_50k(engine, queries, test.labels, Path(milvus_dir))
        if args.plot:
            plot(rows, args.plot)
    if args.million:
        million(engine, queries, args.million)


if __name__ == "__main__":
    main()
