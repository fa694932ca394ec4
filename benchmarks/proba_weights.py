"""How to fuse the predicted class probabilities with the embedding (`cnn --set proba_weight=W
--set proba_fusion=F`), and with what weight.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/proba_weights.py --model MODEL_DIR --queries validation

The network runs once, as `cnn-supervised` runs it (int8, indexed images single-view, queries flip-averaged).
Each fusion and weight then builds its vectors from those outputs (`cbir.features.probabilities`). "cosine"
ranks by embedding similarity + W^2 x the probability vectors' cosine, and "product" by embedding similarity
+ W x the probability that both images show the same class. For each: map_cut_100, P_10, P_100, full-ranking
map, and "copy first": how often an indexed image, given as a query, finds itself first (1,000 of them).
`--queries validation` (the model's held-out training images against the rest; for choosing) or `test`
(the protocol).
"""

from __future__ import annotations

import numpy as np

from cbir.features.base import l2_normalise
from cbir.features.cnn.extractor import CnnExtractor
from cbir.features.probabilities import fuse

from common import cnn_protocol, measures_and_map, neighbours

RUNS = [("cosine", 0.0)] + [("cosine", w) for w in (0.5, 1.0, 2.0, 4.0, 8.0, 32.0)] + [
    ("product", w) for w in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)]
COPIES = 1000


def main() -> None:
    args, indexed, queries = cnn_protocol(__doc__)
    query_labels = np.array(queries.labels)
    extractor = CnnExtractor(args.model, int8=True, index_tta=False).fit(indexed)
    index_out = extractor._forward_training(indexed.images, progress=True)
    query_out = extractor._forward(queries.images)
    copies = np.random.default_rng(0).choice(len(indexed), COPIES, replace=False)
    copy_out = extractor._forward([indexed.images[i] for i in copies])
    print(f"{len(queries)} queries ({args.queries}) against {len(indexed)} indexed images\n")
    print("| fusion | proba_weight | map_cut_100 | P_10 | P_100 | map | copy first |\n|---|---|---|---|---|---|---|")
    for fusion, weight in RUNS:
        index = l2_normalise(fuse(*index_out, weight, fusion, indexing=True))
        m = measures_and_map(l2_normalise(fuse(*query_out, weight, fusion)), query_labels, index, indexed)
        _, first = neighbours(l2_normalise(fuse(*copy_out, weight, fusion)), index, 1)
        print(f"| {fusion} | {weight:g} | {m['map_cut_100']:.5f} | {m['P_10']:.4f} | {m['P_100']:.4f} "
              f"| {m['map']:.4f} | {np.mean(first[:, 0] == copies):.3f} |", flush=True)


if __name__ == "__main__":
    main()
