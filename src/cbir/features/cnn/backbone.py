"""An ImageNet-pretrained body under the compact network's embedding and classifier: what `cbir train --backbone`
fine-tunes, and what `CnnExtractor` runs from the model folder it writes (the same kind of folder as the compact
network's; its config.json names the backbone).

The body is EfficientNet-Lite0 (`cbir.features.pretrained.efficientnet`) without its ImageNet classifier; its pooled
1,280-wide penultimate layer feeds a linear embedding, a BatchNorm and the class logits, as in `CifarNet`. Images are
resized whole to `resolution` x `resolution` and scaled to [-1, 1], as the ImageNet weights were trained.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from cbir.features.cnn.config import BackboneConfig
from cbir.features.cnn.model import ClassifierHead
from cbir.features.pretrained import FEATURES


class BackboneNet(ClassifierHead, nn.Module):
    """Input: (n, 3, r, r) scaled to [-1, 1] (`normalise`). `embed` gives (n, embedding_dim)."""

    INT8_PREFIX = "body._blocks."

    def __init__(self, config: BackboneConfig):
        super().__init__()
        from cbir.features.pretrained.efficientnet import EfficientNetLite

        self.config = config
        self.body = EfficientNetLite()
        del self.body._fc, self.body._dropout  # the ImageNet classifier: replaced by the layers below
        self.embedding = nn.Linear(FEATURES, config.embedding_dim, bias=False)
        self.embedding_norm = nn.BatchNorm1d(config.embedding_dim)
        self.classifier = nn.Linear(config.embedding_dim, config.num_classes, bias=False)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.config.resolution, self.config.resolution

    @classmethod
    def pretrained(cls, config: BackboneConfig) -> BackboneNet:
        """A new network whose body carries the installed ImageNet weights (the layers on top freshly initialised)."""
        from cbir.features.pretrained.efficientnet import weights_file

        net = cls(config)
        state = torch.load(weights_file(), map_location="cpu", weights_only=True)
        net.body.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
        return net

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """Float RGB 0-255 -> [-1, 1]."""
        return x / 127.5 - 1.0

    @staticmethod
    def denormalise(x: torch.Tensor) -> torch.Tensor:
        return (x + 1.0) * 127.5

    @torch.no_grad()
    def init_embedding_norm(self, batches: Iterable[torch.Tensor]) -> None:
        """Set the embedding BatchNorm's running statistics to those of the embeddings of the input `batches`: a new
        embedding layer's are unknown, and evaluation would otherwise normalise with 0 and 1."""
        self.eval()
        norm = self.embedding_norm
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
        norm.train()
        for x in batches:
            self.embed(x)
        norm.momentum = 0.1
        norm.eval()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The retrieval embedding (before the classifier)."""
        return self.embedding_norm(self.embedding(self.body.features(x)))
