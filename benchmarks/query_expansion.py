"""Query expansion and database-side augmentation on CNN embeddings: do they raise map_cut_100?

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/query_expansion.py --model MODEL_DIR --queries validation

alpha-QE (Radenovic et al.): a query becomes the normalised sum of itself and its k nearest
indexed vectors weighted by similarity^alpha. DBA: every indexed vector becomes the same
kind of weighted sum of its own k nearest indexed vectors (itself included).
`--queries validation`: the model's held-out training images against the rest of the
training split (for choosing settings; the model must have held images out);
`--queries test`: the protocol's test images against all 50,000 training images.
"""

from __future__ import annotations


import numpy as np

from cbir.features.cnn.extractor import CnnExtractor

from common import cnn_protocol, measures, neighbours

SETTINGS = [("none", 0, 0, 0), ("alpha-QE", 0, 10, 3), ("alpha-QE", 0, 20, 1), ("alpha-QE", 0, 50, 3),
            ("DBA + alpha-QE", 10, 20, 3), ("DBA + alpha-QE", 20, 20, 3)]


def expand(queries: np.ndarray, index: np.ndarray, k: int, alpha: float, with_self: bool = True) -> np.ndarray:
    """Normalised similarity^alpha-weighted sums of each query's k nearest indexed vectors (and itself)."""
    if k == 0:
        return queries
    sims, positions = neighbours(queries, index, k)
    summed = (np.clip(sims, 0, None)[:, :, None] ** alpha * index[positions]).sum(1)
    out = summed + queries if with_self else summed
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def main() -> None:
    args, train, queries = cnn_protocol(__doc__)
    extractor = CnnExtractor(args.model, int8=True).fit(train)
    index, query_vectors = extractor.transform(train.images), extractor.transform(queries.images)
    labels, query_labels = np.array(train.labels), np.array(queries.labels)
    print("| method | DBA k | QE k | alpha | map_cut_100 | P_10 | P_100 |\n|---|---|---|---|---|---|---|")
    for name, dba_k, qe_k, alpha in SETTINGS:
        augmented = expand(index, index, dba_k, alpha, with_self=False)
        m = measures(expand(query_vectors, augmented, qe_k, alpha), query_labels, augmented, labels)
        print(f"| {name} | {dba_k or '-'} | {qe_k or '-'} | {alpha or '-'} | {m['map_cut_100']:.5f} | "
              f"{m['P_10']:.4f} | {m['P_100']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
