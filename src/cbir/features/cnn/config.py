"""The shapes of the networks `cbir train` writes, recorded in a model folder's config.json: the compact CIFAR
network (`ModelConfig`) or a pretrained backbone under the same embedding and classifier (`BackboneConfig`). No
PyTorch here: the command-line parser reads their defaults."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cbir.errors import CbirError


@dataclass
class ModelConfig:
    widths: tuple[int, int, int] = (64, 256, 256)
    embedding_dim: int = 256
    num_classes: int = 10
    whiten_width: int = 24
    logit_scale: float = 1 / 9
    depth: int = 2
    residual: bool = False

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})  # older configs: depth 2, no residual


BACKBONES = ("efficientnet-lite0",)


@dataclass
class BackboneConfig:
    backbone: str = "efficientnet-lite0"
    resolution: int = 96
    embedding_dim: int = 256
    num_classes: int = 10
    logit_scale: float = 1.0  # 1/9, the compact network's, learnt ~10 points slower on 6,000 images (docs/training.md)

    def __post_init__(self):
        from cbir.features.pretrained.extractor import MIN_RESOLUTION

        if self.backbone not in BACKBONES:
            raise CbirError(f"unknown backbone {self.backbone!r}: one of {', '.join(BACKBONES)}")
        if self.resolution < MIN_RESOLUTION:
            raise CbirError(f"a backbone's resolution must be {MIN_RESOLUTION} pixels or more, got {self.resolution}")

    def to_dict(self) -> dict:
        return asdict(self)


def is_backbone(model_folder: str | Path) -> bool:
    """Whether a model folder holds a fine-tuned backbone (False for the compact network, or no model there)."""
    config = Path(model_folder) / "config.json"
    return config.exists() and "backbone" in json.loads(config.read_text()).get("model", {})
