"""How much weight the predicted class probabilities should get beside the embedding (`cnn --set proba_weight=W`).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/proba_weights.py --model MODEL_DIR --queries validation

The vectors are computed once, as `cnn-supervised` computes them (int8, indexed images single-view,
queries flip-averaged; weight 1: the unit embedding and the unit probability vector side by side),
and re-weighted for each W: cosine similarity then ranks by embedding similarity + W^2 x probability
similarity. For each W: map_cut_100, P_10, P_100 and full-ranking map. `--queries validation` (the
model's held-out training images against the rest; for choosing) or `test` (the protocol).
"""

from __future__ import annotations

import numpy as np

from cbir.features.base import l2_normalise
from cbir.features.cnn.extractor import CnnExtractor

from common import cnn_protocol, measures_and_map

WEIGHTS = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 32.0]


def main() -> None:
    args, indexed, queries = cnn_protocol(__doc__)
    query_labels = np.array(queries.labels)
    extractor = CnnExtractor(args.model, proba_weight=1.0, int8=True, index_tta=False).fit(indexed)
    dim = extractor.dim - len(extractor.classes_)
    index = extractor.transform(indexed.images, indexing=True)
    query = extractor.transform(queries.images)
    print(f"{len(queries)} queries ({args.queries}) against {len(indexed)} indexed images\n")
    print("| proba_weight | map_cut_100 | P_10 | P_100 | map |\n|---|---|---|---|---|")
    for weight in WEIGHTS:
        scale = np.r_[np.ones(dim), np.full(len(extractor.classes_), weight)].astype(index.dtype)
        index_w, query_w = l2_normalise(index * scale), l2_normalise(query * scale)
        m = measures_and_map(query_w, query_labels, index_w, indexed)
        print(f"| {weight:g} | {m['map_cut_100']:.5f} | {m['P_10']:.4f} | {m['P_100']:.4f} | {m['map']:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
