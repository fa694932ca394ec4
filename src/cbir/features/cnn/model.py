"""A compact CIFAR network of the fast-training family, with an explicit embedding layer.

Shape: a frozen 2x2 patch-whitening convolution (initialised from the training data's
patch covariance), three conv blocks (conv 3x3 -> max-pool -> BatchNorm -> GELU, then
`depth - 1` times conv 3x3 -> BatchNorm -> GELU; with `residual`, the first layer's output is
added to the last one's, as in the larger fast-training nets), global max-pooling, a linear
EMBEDDING layer, and a linear classifier on the embedding. The embedding describes an image for
retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cbir.datasets.images import resize_all
from cbir.features.cnn.config import ModelConfig

SIZE = (32, 32)  # the input size the network is trained and run at
MEAN = (125.3, 123.0, 113.9)
STD = (63.0, 62.1, 66.7)
TTA_SHIFT = 1  # pixels the heavier test-time augmentation moves the views (`tta_views`)


class Block(nn.Module):
    """conv -> max-pool(2) -> BN -> GELU, then (depth - 1) x [conv -> BN -> GELU]; with `residual`
    (and depth > 1) the first layer's output is added to the last layer's."""

    def __init__(self, c_in: int, c_out: int, depth: int = 2, residual: bool = False):
        super().__init__()
        self.depth, self.residual = depth, residual and depth > 1
        self.pool = nn.MaxPool2d(2)
        for i in range(1, depth + 1):
            setattr(self, f"conv{i}", nn.Conv2d(c_in if i == 1 else c_out, c_out, 3, padding="same", bias=False))
            setattr(self, f"norm{i}", nn.BatchNorm2d(c_out))

    def layers(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d, bool]]:
        """(convolution, the BatchNorm it feeds, whether the max-pool sits between them), in order."""
        return [(getattr(self, f"conv{i}"), getattr(self, f"norm{i}"), i == 1) for i in range(1, self.depth + 1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm, pooled in self.layers():
            x = conv(x)
            x = nn.functional.gelu(norm(self.pool(x) if pooled else x))
            if pooled:  # the block's first layer: what a residual block adds to its last
                first = x
        return x + first if self.residual else x


class ClassifierHead:
    """What every network `cbir train` writes has on top of its body: an `embedding` (the retrieval vector) and a
    linear `classifier` on it, its logits scaled by `config.logit_scale`. A network also says its input:
    `input_size` and `normalise` (float RGB 0-255 (n, 3, h, w) -> the network's input)."""

    INT8_PREFIX: str  # the state-dict keys whose convolutions `int8_weights` may store as int8

    def head(self, embedding: torch.Tensor) -> torch.Tensor:
        """Class logits of embeddings."""
        return self.classifier(embedding) * self.config.logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    @classmethod
    def to_input(cls, images_uint8: torch.Tensor) -> torch.Tensor:
        """(n, H, W, 3) uint8 at `input_size` -> the network's input (n, 3, H, W), channels_last."""
        return cls.normalise(images_uint8.permute(0, 3, 1, 2).float()).contiguous(memory_format=torch.channels_last)

    def stack(self, images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(n, h, w, 3) uint8 at `input_size` from RGB uint8 images of any size."""
        return resize_all(images, self.input_size)

    def input_of(self, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        """The network's input of RGB uint8 images of any size."""
        return self.to_input(torch.from_numpy(self.stack(images)))

    def from_input(self, x: torch.Tensor, other: ClassifierHead) -> torch.Tensor:
        """`other`'s input showing the same images as this network's input `x` (a teacher's view of a student's
        augmented batch): back to 0-255, resized to `other.input_size`, normalised as `other` wants."""
        if type(other) is type(self) and tuple(other.input_size) == tuple(x.shape[2:]):
            return x
        raw = self.denormalise(x.float())
        if tuple(raw.shape[2:]) != tuple(other.input_size):
            raw = nn.functional.interpolate(raw, size=tuple(other.input_size), mode="bilinear", antialias=True,
                                            align_corners=False)
        return other.normalise(raw).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def new_head(self, embeddings: torch.Tensor, targets: torch.Tensor, num_classes: int) -> None:
        """A classifier for other classes (fine-tuning), its rows the centred, normalised class means of
        `embeddings` (weight imprinting) at the old rows' mean norm: it separates the classes from the start."""
        norm = self.classifier.weight.norm(dim=1).mean()
        means = torch.stack([embeddings[targets == c].mean(0) for c in range(num_classes)]) - embeddings.mean(0)
        self.config.num_classes = num_classes
        self.classifier = nn.Linear(self.config.embedding_dim, num_classes, bias=False).to(embeddings.device)
        self.classifier.weight.copy_(nn.functional.normalize(torch.nan_to_num(means), dim=1) * norm)


class CifarNet(ClassifierHead, nn.Module):
    """Input: float images normalised by MEAN/STD, (n, 3, H, W). `embed` gives (n, embedding_dim)."""

    INT8_PREFIX = "blocks."
    input_size = SIZE

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        self.whiten = nn.Conv2d(3, config.whiten_width, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.act = nn.GELU()
        w1, w2, w3 = config.widths
        d, r = config.depth, config.residual
        self.blocks = nn.Sequential(Block(config.whiten_width, w1, d, r), Block(w1, w2, d, r), Block(w2, w3, d, r))
        self.embedding = nn.Linear(w3, config.embedding_dim, bias=False)
        self.embedding_norm = nn.BatchNorm1d(config.embedding_dim)
        self.classifier = nn.Linear(config.embedding_dim, config.num_classes, bias=False)

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to +/- the eigenvectors of the 2x2 patch covariance, scaled to whiten."""
        patches = images.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12).double()
        eigval, eigvec = torch.linalg.eigh(torch.cov(patches.T))
        filters = (eigvec.T / torch.sqrt(eigval + eps)[:, None]).reshape(12, 3, 2, 2).flip(0)
        half = self.config.whiten_width // 2
        self.whiten.weight.copy_(torch.cat([filters[:half], -filters[:half]]).float())

    @torch.no_grad()
    def init_identity(self) -> None:
        """Set each block convolution's first filters (one per input, as far as there are filters) to the
        identity (Dirac deltas), the rest left as initialised: every block starts by passing its input through."""
        for block in self.blocks:
            for conv, _, _ in block.layers():
                nn.init.dirac_(conv.weight[: conv.in_channels])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.act(self.whiten(x)))
        return torch.amax(x, dim=(2, 3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The retrieval embedding (before the classifier)."""
        return self.embedding_norm(self.embedding(self.features(x)))

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """Float RGB 0-255 (n, 3, h, w) -> less the CIFAR-10 mean, over its standard deviation."""
        return (x - x.new_tensor(MEAN).view(1, 3, 1, 1)) / x.new_tensor(STD).view(1, 3, 1, 1)

    @staticmethod
    def denormalise(x: torch.Tensor) -> torch.Tensor:
        return x * x.new_tensor(STD).view(1, 3, 1, 1) + x.new_tensor(MEAN).view(1, 3, 1, 1)


def fast_bf16(device_type: str = "cpu") -> bool:
    """Whether bf16 autocast speeds the network up on this device: on CUDA, and on a CPU with bf16
    arithmetic (AVX512-BF16 or AMX). Elsewhere oneDNN emulates bf16, ~8x slower than float32 (an
    AVX2 EPYC; docs/results/speed.md), so float32 runs instead."""
    if device_type == "cuda":
        return True
    capabilities = torch.cpu.get_capabilities()
    return device_type == "cpu" and bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def stack_images(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(n, 32, 32, 3) uint8 from RGB uint8 images of any size: the network's input size."""
    return resize_all(images, SIZE)


def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> the compact network's input (`CifarNet.normalise`), channels_last memory format."""
    return CifarNet.to_input(images_uint8)


def compact_input(images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """The compact network's input of RGB uint8 images of any size."""
    return to_input(torch.from_numpy(stack_images(images)))


def tta_views(x: torch.Tensor, flip: bool = True, shift: int = 0) -> list[tuple[torch.Tensor, float]]:
    """Test-time views of a normalised batch with weights summing to 1: the images and their mirror
    images (only the images without `flip`); with `shift`, also both moved `shift` pixels up-left and
    down-right (reflected borders), the four moved views weighing half in all (the fast-training
    recipes' heavier TTA)."""
    if not flip:
        return [(x, 1.0)]
    pairs = [x]
    if shift:
        height, width = x.shape[2:]
        padded = nn.functional.pad(x, (shift,) * 4, mode="reflect")
        pairs += [padded[:, :, a: a + height, a: a + width].contiguous(memory_format=torch.channels_last)
                  for a in (0, 2 * shift)]
    weights = [0.5] if not shift else [0.25, 0.125, 0.125]
    return [(view, w) for pair, w in zip(pairs, weights) for view in (pair, pair.flip(3))]
