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

import argparse
import json
from pathlib import Path

import numpy as np

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, CnnExtractor
from cbir.features.cnn.train import split_validation
from cbir.index.exact import top_k

SETTINGS = [("none", 0, 0, 0), ("alpha-QE", 0, 10, 3), ("alpha-QE", 0, 20, 1), ("alpha-QE", 0, 50, 3),
            ("DBA + alpha-QE", 10, 20, 3), ("DBA + alpha-QE", 20, 20, 3)]


def neighbours(queries: np.ndarray, index: np.ndarray, k: int, chunk: int = 1000):
    """(similarities, positions) of each query's k nearest indexed vectors, best first."""
    parts = [top_k(queries[s: s + chunk] @ index.T, k) for s in range(0, len(queries), chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def expand(queries: np.ndarray, index: np.ndarray, k: int, alpha: float, with_self: bool = True) -> np.ndarray:
    """Normalised similarity^alpha-weighted sums of each query's k nearest indexed vectors (and itself)."""
    if k == 0:
        return queries
    sims, positions = neighbours(queries, index, k)
    summed = (np.clip(sims, 0, None)[:, :, None] ** alpha * index[positions]).sum(1)
    out = summed + queries if with_self else summed
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def measures(queries: np.ndarray, query_labels: np.ndarray, index: np.ndarray, labels: np.ndarray) -> dict:
    """map_cut_100 (trec_eval: precision at each relevant rank <= 100, over all relevant), P_10, P_100.

    In numpy from the labels: `common.mean_measures` builds trec qrels, 50 million pairs for the
    test protocol."""
    _, positions = neighbours(queries, index, 100)
    relevant = labels[positions] == query_labels[:, None]
    precision = np.cumsum(relevant, 1) / np.arange(1, 101)
    total = np.array([np.sum(labels == label) for label in query_labels])
    return {"map_cut_100": float(((precision * relevant).sum(1) / total).mean()),
            "P_10": float(relevant[:, :10].mean()), "P_100": float(relevant.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHIPPED))
    parser.add_argument("--queries", choices=["validation", "test"], default="validation")
    args = parser.parse_args()
    train = load_cifar10("train", progress=False)
    if args.queries == "validation":
        recipe = json.loads((Path(args.model) / "model_card.json").read_text())["recipe"]
        if not recipe["val_images"]:
            parser.error(f"{args.model} held no training images out: validation needs a model that did")
        train, queries = split_validation(train, recipe["val_images"], recipe.get("val_seed", recipe["seed"]))
    else:
        queries = load_cifar10("test", progress=False)
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
