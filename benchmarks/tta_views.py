"""Which test-time views pay: one view, flip TTA, flip TTA over views also moved (`tta_shift`).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/tta_views.py --model MODEL_DIR --queries validation

For each pairing of indexed-image views and query views (the `cnn` options that give it; the
int8 network, as `cnn` runs): the
queries' classification accuracy, map_cut_100, P_10, P_100, full-ranking map, and the seconds
spent describing the indexed images and the queries (the embedding budget is 60 s for
CIFAR-10's 60,000). `--queries validation` (the model's held-out training images against the
rest; for choosing) or `test` (the protocol), as in `query_expansion.py`.
"""

from __future__ import annotations

import json
import time

import numpy as np

from cbir.features.cnn.extractor import CnnExtractor
from cbir.features.cnn.model import TTA_SHIFT

from common import cnn_protocol, measures_and_map

PAIRINGS = [  # (indexed images' views, queries' views, the `cnn` options that give them)
    ("one view", "flip", {"index_tta": False}), ("flip", "flip", {}),
    ("one view", "flip + moved", {"index_tta": False, "tta_shift": TTA_SHIFT}),
    ("flip", "flip + moved", {"tta_shift": TTA_SHIFT})]


def options_text(options: dict) -> str:
    return ", ".join(f"`{key}={json.dumps(value)}`" for key, value in options.items()) or "(defaults)"


def main() -> None:
    args, indexed, queries = cnn_protocol(__doc__)
    query_labels = np.array(queries.labels)
    vectors, seconds, accuracy = {}, {}, {}
    for index_view, query_view, options in PAIRINGS:  # each side's vectors computed once
        extractor = CnnExtractor(args.model, int8=True, **options).fit(indexed)  # the same calibration
        for side, view, images in (("index", index_view, indexed.images), ("query", query_view, queries.images)):
            if (side, view) not in vectors:
                started = time.perf_counter()
                vectors[side, view] = extractor.transform(images, indexing=side == "index")
                seconds[side, view] = time.perf_counter() - started
        if query_view not in accuracy:
            predicted = np.array(extractor.classes_)[extractor.predict_proba(queries.images).argmax(1)]
            accuracy[query_view] = float(np.mean(predicted == query_labels))
    print(f"{len(queries)} queries ({args.queries}) against {len(indexed)} indexed images\n")
    print("| indexed | queries | `cnn` options | query accuracy | map_cut_100 | P_10 | P_100 | map | index s "
          "| queries s |\n|---|---|---|---|---|---|---|---|---|---|")
    for index_view, query_view, options in PAIRINGS:
        index, query = vectors["index", index_view], vectors["query", query_view]
        m = measures_and_map(query, query_labels, index, indexed)
        print(f"| {index_view} | {query_view} | {options_text(options)} | {accuracy[query_view]:.4f} | "
              f"{m['map_cut_100']:.5f} | {m['P_10']:.4f} | {m['P_100']:.4f} | {m['map']:.4f} | "
              f"{seconds['index', index_view]:.0f} | {seconds['query', query_view]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
