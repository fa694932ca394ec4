"""Helpers shared by the validation benchmarks: held-out splits of CIFAR-10 train and quick measures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cbir.datasets import Dataset, load_cifar10
from cbir.evaluation.ranking import full_ranking
from cbir.evaluation.trec import trec_measures
from cbir.index import FaissIndex
from cbir.index.exact import top_k


def validation_split(n_index: int | None = None, n_queries: int | None = None) -> tuple[Dataset, Dataset]:
    """(index, queries) from CIFAR-10 TRAIN only: 40,000 / 10,000 images, optionally stratified subsets."""
    train = load_cifar10("train", progress=False)
    perm = np.random.default_rng(0).permutation(len(train))
    index_set = train.subset(np.sort(perm[:40_000])).stratified(n_index)
    return index_set, train.subset(np.sort(perm[40_000:])).stratified(n_queries)


def cnn_protocol(description: str) -> tuple[argparse.Namespace, Dataset, Dataset]:
    """The CNN benchmarks' command line, `--model` (default: the shipped one) and `--queries`, parsed:
    (arguments, indexed, queries). "validation": the images the model held out of CIFAR-10 train
    against the rest of that split (for choosing settings); "test": the protocol's test images
    against all 50,000 training images."""
    from cbir.features.cnn.extractor import SHIPPED
    from cbir.training.validation import split_validation  # PyTorch: only the CNN benchmarks need it

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHIPPED))
    parser.add_argument("--queries", choices=["validation", "test"], default="validation")
    args = parser.parse_args()
    if args.queries == "test":
        return args, load_cifar10("train", progress=False), load_cifar10("test", progress=False)
    recipe = json.loads((Path(args.model) / "model_card.json").read_text())["recipe"]
    if not recipe["val_images"]:
        parser.error(f"{args.model} held no training images out: validation needs a model that did")
    return args, *split_validation(load_cifar10("train", progress=False), recipe["val_images"],
                                   recipe.get("val_seed", recipe["seed"]))


def mean_measures(index_set: Dataset, index_vectors: np.ndarray, queries: Dataset, query_vectors: np.ndarray,
                  k: int = 100) -> dict[str, float]:
    """Mean trec measures (P_10, P_100, map_cut_100, ...) of exact cosine search, relevant = same label."""
    index = FaissIndex(index_vectors.shape[1])
    index.add(index_set.ids, index_vectors)
    run = {q: {h.id: h.score for h in hits} for q, hits in zip(queries.ids, index.search(query_vectors, k))}
    relevant: dict[str, list[str]] = {}
    for id_, label in zip(index_set.ids, index_set.labels):
        relevant.setdefault(label, []).append(id_)
    per_query = trec_measures(run, dict(zip(queries.ids, queries.labels)), relevant)
    return {m: float(np.mean([v[m] for v in per_query.values()])) for m in next(iter(per_query.values()))}


def neighbours(queries: np.ndarray, index: np.ndarray, k: int, chunk: int = 1000):
    """(similarities, positions) of each query's k nearest indexed vectors, best first."""
    parts = [top_k(queries[s: s + chunk] @ index.T, k) for s in range(0, len(queries), chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def measures(queries: np.ndarray, query_labels: np.ndarray, index: np.ndarray, labels: np.ndarray) -> dict:
    """map_cut_100 (trec_eval: precision at each relevant rank <= 100, over all relevant), P_10, P_100.

    In numpy from the labels: `mean_measures` builds trec qrels, 50 million pairs for the
    test protocol."""
    _, positions = neighbours(queries, index, 100)
    relevant = labels[positions] == query_labels[:, None]
    precision = np.cumsum(relevant, 1) / np.arange(1, 101)
    total = np.array([np.sum(labels == label) for label in query_labels])
    return {"map_cut_100": float(((precision * relevant).sum(1) / total).mean()),
            "P_10": float(relevant[:, :10].mean()), "P_100": float(relevant.mean())}


def measures_and_map(queries: np.ndarray, query_labels: np.ndarray, index: np.ndarray, indexed: Dataset) -> dict:
    """`measures` against the `indexed` images' vectors `index`, plus full-ranking `map` (all of them ranked)."""
    m = measures(queries, query_labels, index, np.asarray(indexed.labels))
    ap, _ = full_ranking(queries, query_labels, indexed.ids, index, indexed.labels)
    return {**m, "map": float(np.nanmean(ap))}
