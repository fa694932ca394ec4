"""Image features fused with predicted class probabilities, for the index's cosine similarity to rank.

The probabilities are predicted for indexed and query images alike: no label enters a vector.

- "cosine": `[L2(features), weight * L2(probabilities)]` on both sides. Cosine similarity then ranks by the
  features' similarity + weight^2 x the probability vectors' cosine.
- "product": the query is `[L2(features), weight * p, 0]`, an indexed image `[L2(features), p, sqrt(1 - |p|^2)]`.
  Every indexed row has the same norm (sqrt 2), so cosine similarity ranks exactly by the features' similarity
  + weight x `p_query . p_indexed`. That product is the probability that the two images show the same class,
  if the predictions are calibrated and independent.
"""

from __future__ import annotations

import numpy as np

from cbir.features.base import l2_normalise

FUSIONS = ("cosine", "product")


def check_fusion(fusion: str) -> None:
    """A ValueError unless `fusion` is one of `FUSIONS`."""
    if fusion not in FUSIONS:
        raise ValueError(f"the probability fusion is one of {', '.join(FUSIONS)}, not {fusion!r}")


def fused_dim(features_dim: int, classes: int, fusion: str) -> int:
    """Length of the fused vectors."""
    return features_dim + classes + (fusion == "product")


def fuse(features: np.ndarray, probabilities: np.ndarray, weight: float, fusion: str = "cosine",
         indexing: bool = False) -> np.ndarray:
    """Fused vectors (before the final L2 normalisation) of query images or, when `indexing`, of indexed images."""
    features = l2_normalise(features)
    if fusion == "cosine":
        return np.hstack([features, weight * l2_normalise(probabilities)])
    p = probabilities.astype(np.float32)
    if indexing:
        last = np.sqrt(np.clip(1 - np.square(p).sum(axis=1, keepdims=True), 0, None))
        return np.hstack([features, p, last])
    return np.hstack([features, weight * p, np.zeros((len(p), 1), np.float32)])


def fused_probabilities(vectors: np.ndarray, classes: int, fusion: str) -> np.ndarray:
    """The class probabilities of indexed images from their fused vectors (`fuse(..., indexing=True)`, normalised):
    the probability columns are the probabilities scaled alike ("cosine": their L2 direction; "product": themselves),
    which sum to 1."""
    tail = np.asarray(vectors, np.float32)[:, -classes - (fusion == "product"):][:, :classes]
    tail = np.clip(tail, 0, None)
    return tail / np.maximum(tail.sum(axis=1, keepdims=True), np.finfo(np.float32).tiny)
