"""A Milvus Lite index searched with filters of the engine's facts (tags, place, stars, what images show), which
reach the server as the ids that pass, against filters its documents hold (a label) and none: single-query
latency of the index search alone, median of 30 queries x 3, each ranking checked against numpy's.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/server_filters.py engines/cifar10-cnn

The engine's vectors and labels are copied into a Milvus Lite collection in a temporary folder; the ids that pass
a fact filter are a random subset of the size given (which facts select them does not change the search).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cbir import Engine
from cbir.filters import Filter, Selection
from cbir.index.milvus import MilvusIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 25_000, 50_000])
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    ids, vectors = engine.index.vectors()
    labels = engine.metadata.labels()
    rng = np.random.default_rng(0)
    queries = vectors[rng.choice(len(ids), 30, replace=False)]
    with tempfile.TemporaryDirectory() as folder:
        index = MilvusIndex(vectors.shape[1], uri=str(Path(folder) / "milvus.db"))
        index.add(ids, vectors, [{"label": labels[i]} for i in ids])
        label = sorted(set(labels.values()))[0]
        labelled = Selection(Filter.of(labels=[label]), frozenset(i for i in ids if labels[i] == label))
        cases = [("none", None), (f"label {label} (in the documents)", labelled)]
        cases += [(f"{n:,} ids (a tag, place, stars...)",
                   Selection(Filter.of(tag=f"tag{n}"), frozenset(rng.choice(ids, n, replace=False).tolist())))
                  for n in args.sizes]
        print(f"engine {args.engine}: {len(ids):,} vectors of {vectors.shape[1]} dimensions, Milvus Lite FLAT\n")
        print("| filter | images that pass | p50 ms | exact ranking |")
        print("|---|---|---|---|")
        for name, selection in cases:
            index.search(queries[:1], 10, selection)  # the first search seals the collection's segments
            times = []
            for _ in range(3):
                for query in queries:
                    started = time.perf_counter()
                    index.search(query[None], 10, selection)
                    times.append(time.perf_counter() - started)
            passing = selection.ids if selection else set(ids)
            mask = np.array([i in passing for i in ids])
            exact = all([h.id for h in index.search(q[None], 10, selection)[0]]
                        == [ids[j] for j in np.argsort(-np.where(mask, vectors @ q, -9))[:10]] for q in queries[:10])
            print(f"| {name} | {len(passing):,} | {1000 * float(np.median(times)):.1f} | {'yes' if exact else 'NO'} |")


if __name__ == "__main__":
    main()
