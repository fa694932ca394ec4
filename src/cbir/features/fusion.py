"""Early fusion: several extractors' vectors, each L2-normalised (by default) and weighted, concatenated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbir.datasets.collection import Dataset
from cbir.features.base import FeatureExtractor, from_spec, l2_normalise, to_spec

_SUB = "block-{i}"


class FusedExtractor(FeatureExtractor):
    """Concatenates blocks: block i is L2-normalised, then multiplied by `weights[i]`.

    The cosine similarity of two fused vectors is then the weighted mean of the
    blocks' cosine similarities, with weights proportional to `weights[i]**2`. With
    `normalise=False` the blocks keep their raw scale (for a classifier that z-scores its inputs).
    """

    kind = "fusion"
    fixed_options = frozenset({"name", "blocks"})

    def __init__(self, blocks: Sequence[FeatureExtractor], weights: Sequence[float] | None = None,
                 normalise: bool = True, name: str | None = None):
        if not blocks:
            raise ValueError("a fused extractor needs at least one block")
        weights = [1.0] * len(blocks) if weights is None else [float(w) for w in weights]
        if len(weights) != len(blocks) or any(w < 0 for w in weights):
            raise ValueError("fusion needs one non-negative weight per block")
        super().__init__(name or "-".join(b.name for b in blocks))
        self.blocks, self.weights, self.normalise = list(blocks), weights, normalise
        self.fitted_ = all(b.fitted_ for b in self.blocks)

    @property
    def fit_describes(self) -> bool:
        return any(block.fit_describes for block in self.blocks)

    @property
    def dim(self) -> int:
        return sum(b.dim for b in self.blocks)

    def get_config(self) -> dict:
        config = {"blocks": [to_spec(b) for b in self.blocks], "weights": self.weights}
        return config if self.normalise else config | {"normalise": False}  # older folders keep their hash

    @classmethod
    def from_config(cls, config: dict, name: str | None = None) -> FusedExtractor:
        return cls([from_spec(b) for b in config["blocks"]], config["weights"], config.get("normalise", True),
                   name=name)

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        for block in self.blocks:
            if not block.fitted_:
                block.fit(dataset, progress)

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._fuse([b._transform_batch(images) for b in self.blocks])

    def _index_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._fuse([b._index_batch(images) for b in self.blocks])

    def _fuse(self, parts: list[np.ndarray]) -> np.ndarray:
        scale = l2_normalise if self.normalise else np.asarray
        return np.hstack([w * scale(part) for part, w in zip(parts, self.weights)])

    def _save_state(self, path) -> None:
        for i, block in enumerate(self.blocks):
            if block.trainable:
                block.save(path / _SUB.format(i=i))

    def _load_state(self, path) -> None:
        for i, block in enumerate(self.blocks):
            if block.trainable:
                block._load_state(path / _SUB.format(i=i))
            block.fitted_ = True
