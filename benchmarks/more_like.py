"""What does "more like this" gain by searching with an indexed image's vector as indexed (`Engine.search_like`)
rather than reading its file and describing it again? For N indexed images drawn at random: the time a search of the
top 100 takes each way (its copies first, where the engine has a copies' engine) and how many of each ranking share
the image's label (P@100; the queries are in the index, each left out of its own ranking).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip .venv/bin/python benchmarks/more_like.py \\
        engines/cifar10-cnn --images 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from cbir import Engine
    from cbir.datasets.folder import DEFAULT_MAX_SIDE
    from cbir.web.service import SearchService

    engine = Engine.load(args.engine)
    service, labels = SearchService({"engine": engine}), engine.metadata.labels()
    ids = list(labels)
    drawn = [ids[i] for i in np.random.default_rng(0).choice(len(ids), min(args.images, len(ids)), replace=False)]
    copies = f", copies with {engine.copies.extractor.name}" if engine.copies else ""
    print(f"{len(drawn)} of {len(ids)} images, {engine.extractor.name}{copies}")
    for _ in range(args.runs):
        took, precision = {"described": 0.0, "by its vector": 0.0}, {"described": [], "by its vector": []}
        for id_ in drawn:
            for way, search in (("described", lambda: engine.search([service.pixels(id_, DEFAULT_MAX_SIDE)], 100,
                                                                    exclude=[id_])[0]),
                                ("by its vector", lambda: engine.search_like(id_, 100))):
                started = time.perf_counter()
                hits = search().hits
                took[way] += time.perf_counter() - started
                precision[way].append(np.mean([labels[h.id] == labels[id_] for h in hits]))
        print(" | ".join(f"{way}: {1000 * took[way] / len(drawn):.1f} ms, P@100 {np.mean(precision[way]):.4f}"
                         for way in took))


if __name__ == "__main__":
    main()
