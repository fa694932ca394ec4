"""Fit, index and evaluate named extractors on CIFAR-10 in one process (the same code as `cbir index` + `evaluate`).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/variants.py sift-bovw kmeans-triangle --max-index 10000 --max-queries 1000

Prints one markdown row per extractor: measures, classifier accuracy on the queries
(supervised variants), wall-clock fit + index and query-encoding times, and peak memory.
With --validation, queries come from a held-out part of the TRAINING split (for choices).
--results-dir also writes each evaluation's folder (metrics.json, report, plots) for `cbir compare`.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from common import validation_split

from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.evaluation import evaluate
from cbir.evaluation.report import measure_text
from cbir.features import make_extractor, parse_option
from cbir.features.supervised import SupervisedExtractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("features", nargs="+")
    parser.add_argument("--max-index", type=int)
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--validation", action="store_true", help="queries from held-out training images")
    parser.add_argument("--save-dir", help="save each engine as SAVE_DIR/cifar10-NAME")
    parser.add_argument("--results-dir", help="write each evaluation (no TREC files) to RESULTS_DIR/cifar10-NAME, "
                                              "for `cbir compare`")
    parser.add_argument("--set", dest="options", type=parse_option, action="append", default=[],
                        metavar="KEY=VALUE", help="change an extractor option, e.g. tta=false (repeatable)")
    parser.add_argument("--model", help="CNN features: a model folder from `cbir train` instead of the shipped one")
    args = parser.parse_args()
    if args.validation:
        train, queries = validation_split(args.max_index, args.max_queries)
    else:
        train = load_cifar10("train", progress=False).stratified(args.max_index)
        queries = load_cifar10("test", progress=False).stratified(args.max_queries)
    print(f"index {len(train)}, queries {len(queries)} ({'validation' if args.validation else 'test'})\n")
    print("| features | dim | map_cut_100 | map_at_100_norm | map | P_10 | P_100 | accuracy | fit + index s "
          "| encode queries s | peak RSS GiB |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.features:
        extractor = make_extractor(name, model=args.model, options=dict(args.options))
        t0 = time.perf_counter()
        engine = Engine.build(train, extractor, progress=False)
        t1 = time.perf_counter()
        engine.embed(queries.images)
        t2 = time.perf_counter()
        if args.save_dir:
            engine.save(Path(args.save_dir) / f"cifar10-{name}")
        out = Path(args.results_dir) / f"cifar10-{name}" if args.results_dir else None
        metrics = evaluate(engine, queries, out=out, write_trec_files=False, progress=False)
        accuracy = "-"
        if isinstance(extractor, SupervisedExtractor):
            predicted = np.asarray(extractor.classes_)[extractor.predict_proba(queries.images).argmax(axis=1)]
            accuracy = f"{np.mean(predicted == np.asarray(queries.labels)):.4f}"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        measures = " | ".join(measure_text(metrics[m])
                              for m in ("AP@100", "AP@100/min(R,100)", "AP", "P@10", "P@100"))
        print(f"| `{name}` | {extractor.dim} | {measures} | {accuracy} | "
              f"{t1 - t0:.0f} | {t2 - t1:.0f} | {peak:.1f} |", flush=True)


if __name__ == "__main__":
    main()
