"""`CnnExtractor`: the trained network's embedding layer as image vectors (batched, inference mode, int8 or bf16
where the CPU computes them fast). The network is the compact CIFAR one or a fine-tuned pretrained backbone
(`cbir train --backbone`), each image resized to its input size.

Options, each measured in docs/results/speed.md: PCA on the embeddings, fusion with the
network's predicted class probabilities (indexed and query images alike: no label is used), and
int8 inference (calibrated on images spread over the fitting collection; `cbir.features.cnn.int8`).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.errors import CbirError, FitError, MissingDependencyError
from cbir.features.base import FeatureExtractor, check_pca
from cbir.features.probabilities import check_fusion, fuse, fused_dim, fused_probabilities
from cbir.features.recent import Recent

SHIPPED = Path(__file__).resolve().parent / "checkpoints" / "cifar10"
CALIBRATION_IMAGES = 1024
MAX_TTA_SHIFT = 8  # pixels of a 32-pixel input: beyond, the moved views show mostly reflected border


def calibration_sample(dataset: Dataset) -> Dataset:
    """Up to `CALIBRATION_IMAGES` images spread evenly over the collection (folders are often sorted
    by class: the first images alone may all be airplanes)."""
    step = max(1, len(dataset) // CALIBRATION_IMAGES)
    return dataset.subset(range(0, len(dataset), step)[:CALIBRATION_IMAGES])


class CnnExtractor(FeatureExtractor):
    """Embeddings of a model folder written by `cbir train` (the shipped CIFAR-10 model by default; `int8` applies to
    the compact network only, and a fine-tuned backbone given by `use_model` runs without it unless asked).

    `batch_size` 128: on the 2-core VM it embeds ~30% faster than 500 (the activations stay in
    cache; docs/results/speed.md). `int8`: int8 convolutions, their activation ranges measured on
    `CALIBRATION_IMAGES` of the images the extractor is fitted on; on a CPU without int8 kernels
    (`int8.supported`) the float network runs instead (with a warning). `bf16`: bf16 autocast for
    the float network where the CPU computes bf16 natively (`model.fast_bf16`; elsewhere float32,
    ~8x faster there). `precision` says which runs. `index_tta`: whether indexed images are
    flip-averaged too (default: as `tta`); False describes them single-view, half the network
    passes for indexing, while queries keep `tta` (docs/results/speed.md measures what it costs).
    `tta_shift`: a query's flip TTA also averages its views moved that many pixels up-left and
    down-right (`model.tta_views`: six network passes instead of two; indexed images keep their
    flips, as they are many and queries few; 0, the default: flips only). `proba_weight` > 0 fuses the
    predicted class probabilities in, the `proba_fusion` way (`cbir.features.probabilities`).
    """

    kind = "cnn"
    fixed_options = frozenset({"name", "model", "weights"})
    trainable = True
    batch_describes = True

    def __init__(self, model: str | Path | None = None, pca: int | None = None, proba_weight: float = 0.0,
                 tta: bool = True, bf16: bool = True, batch_size: int = 128, weights: str | None = None,
                 int8: bool = False, index_tta: bool | None = None, tta_shift: int = 0, proba_fusion: str = "cosine",
                 name: str | None = None):
        super().__init__(name)
        if not 0 <= tta_shift <= MAX_TTA_SHIFT:
            raise ValueError(f"tta_shift moves the views 0 to {MAX_TTA_SHIFT} pixels, not {tta_shift}")
        check_fusion(proba_fusion)
        check_pca(pca)
        self.model_path = Path(model) if model else SHIPPED
        self.pca, self.proba_weight, self.tta, self.bf16, self.batch_size = pca, proba_weight, tta, bf16, batch_size
        self.weights, self.int8, self.index_tta, self.tta_shift = weights, int8, index_tta, tta_shift
        self.proba_fusion = proba_fusion
        self.net_ = self.int8_net_ = self.ranges_ = None
        self.recent_ = Recent()  # the last queries' class probabilities, for `predict_proba` after a search

    @property
    def fit_describes(self) -> bool:
        return self.pca is not None  # the PCA is fitted on every image's embedding

    @property
    def dim(self) -> int:
        base = self.pca or self._embedding_dim()
        return fused_dim(base, len(self.classes_), self.proba_fusion) if self.proba_weight else base

    def _embedding_dim(self) -> int:
        self._ensure_model()
        return self.net_.config.embedding_dim

    def get_config(self) -> dict:
        self._ensure_model()
        config = {"pca": self.pca, "proba_weight": self.proba_weight, "tta": self.tta, "bf16": self.bf16,
                  "batch_size": self.batch_size, "weights": self.weights}
        # options added later appear only when set, so older saved folders keep their hash
        return config | ({"int8": True} if self.int8 else {}) | (
            {} if self.index_tta is None else {"index_tta": self.index_tta}) | (
            {"tta_shift": self.tta_shift} if self.tta_shift else {}) | (
            {"proba_fusion": self.proba_fusion} if self.proba_fusion != "cosine" else {})

    def with_options(self, options: dict) -> CnnExtractor:
        new = super().with_options(options)
        new.model_path = self.model_path
        new._check_pca()
        return new

    def _check_pca(self, images: int | None = None) -> None:
        """`pca` fits the network's embedding (and, given, the number of training images), before any work."""
        try:
            check_pca(self.pca, self._embedding_dim())
        except ValueError as exc:
            raise CbirError(f"features '{self.name}': {exc} (the network's embedding)") from None
        if images is not None and self.pca and self.pca > images:
            raise FitError(f"features '{self.name}': PCA to {self.pca} dimensions needs at least {self.pca} "
                           f"images, got {images}")

    def describe(self) -> str:
        self._ensure_model()
        card_path = self.model_path / "model_card.json"
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        params = sum(p.numel() for p in self.net_.parameters())
        facts = [f"{params / 1e6:.1f} M parameters" if params >= 100_000 else f"{params:,} parameters"]
        if not self._compact():
            facts.insert(0, f"{self.net_.config.backbone} fine-tuned at {self.net_.config.resolution} px")
        if card:
            facts.append(f"{card['epochs']} epochs on {card['data']} in {card['minutes']:.1f} min ({card['machine']})")
        for key, what in (("test_accuracy", "test accuracy"), ("validation_accuracy_tta", "validation accuracy")):
            if card.get(key) is not None:
                facts.append(f"{what} {card[key]:.4f}")
        if self.fitted_:
            facts.append(f"runs in {self.precision} here")  # what this CPU computes it in: it sets the speed
        return "CNN: " + "; ".join(facts)

    @property
    def precision(self) -> str:
        """What the network computes in here: "int8", "bf16" or "float32"."""
        from cbir.features.cnn.model import fast_bf16

        if self.int8_net_ is not None:
            return "int8"
        return "bf16" if self.bf16 and fast_bf16() else "float32"

    def use_model(self, path: str | Path, int8_asked: bool = False) -> None:
        """Describe images with the model folder at `path` (written by `cbir train`) instead; loaded
        now, so a missing or broken folder is an error before any work. A fine-tuned backbone runs in float
        (bf16 where fast): int8 inference is the compact network's, an error only when `int8_asked`."""
        self.model_path, self.net_, self.weights = Path(path), None, None
        int8, self.int8 = self.int8, False  # decided once the network is known
        self._ensure_model()
        self.int8 = int8 and (int8_asked or self._compact())
        self._check_int8()
        self._check_pca()

    def _compact(self) -> bool:
        """Whether the network is the compact CIFAR one (not a fine-tuned backbone)."""
        from cbir.features.cnn.model import CifarNet

        return isinstance(self.net_, CifarNet)

    def _check_int8(self) -> None:
        if self.int8 and not self._compact():
            raise CbirError(f"{self.model_path}: int8 inference (int8=true) runs the compact CIFAR network only; "
                            f"this model is a fine-tuned {self.net_.config.backbone}")

    def _ensure_model(self, path: Path | None = None) -> None:
        if self.net_ is not None:
            return
        try:
            from cbir.features.cnn.store import load_model, weights_digest
        except ImportError as exc:
            raise MissingDependencyError("CNN features need PyTorch: pip install 'cbir[cnn]'") from exc
        path = path or self.model_path
        if not (path / "config.json").exists():
            raise CbirError(f"no trained model at {path}: train one with `cbir train --out {path}`")
        digest = weights_digest(path)
        if self.weights is not None and digest != self.weights:
            raise CbirError(f"{path}: the weights ({digest}) are not the ones this extractor was built with "
                            f"({self.weights})")
        self.net_, self.classes_ = load_model(path)
        self.weights, self.model_path = digest, path
        self._check_int8()
        if not self._compact():  # a fine-tuned backbone: its BatchNorms folded, ~20% faster in bf16
            from cbir.features.pretrained.efficientnet import fold_norms

            self.net_.body = fold_norms(self.net_.body)

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        self.fit_before_rows(dataset)
        self._fit_pca(self._forward_training(dataset.images, progress)[0] if self.pca else None)

    def fit_before_rows(self, dataset: Dataset,
                        fit: Callable[[FeatureExtractor], FeatureExtractor] | None = None) -> None:
        """The network's int8 calibration on a sample of `dataset` (deterministic, a few seconds: done again by a
        resumed run), after checking the PCA against it."""
        self._ensure_model()
        self._check_pca(len(dataset))
        self._calibrate(dataset)

    def _calibrate(self, dataset: Dataset) -> None:
        """Measure the int8 activation ranges on a sample of `dataset` (float network) and build the int8 network."""
        self.int8_net_ = self.ranges_ = None
        if self.int8:
            from cbir.features.cnn.int8 import calibrate, folded

            layers = folded(self.net_)
            sample = self.net_.input_of(calibration_sample(dataset).images)
            self._set_ranges(calibrate(self.net_, sample, layers=layers), layers)

    def _set_ranges(self, ranges: list[tuple[float, float]], layers: list | None = None) -> None:
        """Keep the calibration (saved with the extractor) and build the int8 network where the CPU can run it."""
        from cbir.features.cnn.int8 import Int8Net, supported

        self.ranges_, self.int8_net_ = ranges, None
        if supported():
            self.int8_net_ = Int8Net(self.net_, ranges, layers)
        else:
            warnings.warn("int8 inference needs an x86 CPU with AVX2 or AVX512-VNNI; this one runs the float "
                          "network (near-identical vectors)", stacklevel=2)

    def __getstate__(self) -> dict:
        """Pickled (e.g. for Ray workers) without the int8 network, which is rebuilt from its ranges."""
        return {**self.__dict__, "int8_net_": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.ranges_ is not None:
            self._set_ranges(self.ranges_)

    def _fit_pca(self, embeddings: np.ndarray | None) -> None:
        self.mean_ = self.components_ = None
        if self.pca:
            self.mean_ = embeddings.mean(axis=0)
            _, _, vt = np.linalg.svd(embeddings - self.mean_, full_matrices=False)
            self.components_ = vt[: self.pca].T.astype(np.float32)

    def fit_transform(self, dataset: Dataset, progress: bool = False, normalise: bool = True) -> np.ndarray:
        """Fit (the PCA, when asked) and return the training images' vectors, running the network once."""
        self.fit_before_rows(dataset)
        return self.fit_on_rows(self.fit_rows(dataset.images, progress), dataset, progress, normalise)

    def fit_rows(self, images: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """What the PCA and the vectors are made of: the embeddings and the class probabilities, side by side."""
        return np.hstack(self._forward_training(images, progress))

    def _fit_on_rows(self, rows: np.ndarray, dataset: Dataset, progress: bool) -> np.ndarray:
        embeddings, probabilities = np.split(rows, [self._embedding_dim()], axis=1)
        self._fit_pca(embeddings)
        return self._finish(embeddings, probabilities, indexing=True)

    def _forward_training(self, images: Sequence[np.ndarray], progress: bool) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, probabilities) of training images, described as indexed images, in batches."""
        parts = [self._forward(images[s: s + 1024], indexing=True)
                 for s in tqdm(range(0, len(images), 1024), desc=f"features {self.name}", unit="batch",
                               disable=not progress, mininterval=0.5)]
        embeddings, probabilities = (np.concatenate(p) for p in zip(*parts))
        return embeddings, probabilities

    def _forward(self, images: Sequence[np.ndarray], indexing: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, class probabilities) for RGB uint8 images, averaged over their test-time views:
        a query's (`tta`, `tta_shift`) or, `indexing`, an indexed image's (`index_tta`, flips only)."""
        import torch

        from cbir.features.cnn.model import tta_views

        flip = self.tta if not indexing or self.index_tta is None else self.index_tta
        shift = 0 if indexing else self.tta_shift
        embed = self.int8_net_.embed if self.int8_net_ is not None else self.net_.embed
        embeddings, probabilities = [], []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            for s in range(0, len(images), self.batch_size):
                x = self.net_.input_of(images[s: s + self.batch_size])
                emb = sum(w * embed(view).float() for view, w in tta_views(x, flip, shift))
                logits = self.net_.classifier(emb.to(self.net_.classifier.weight.dtype)).float()
                embeddings.append(emb.numpy())
                probabilities.append(torch.softmax(logits * self.net_.config.logit_scale, dim=1).numpy())
        return np.concatenate(embeddings), np.concatenate(probabilities)

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (columns in `classes_` order): those of the images' last search when kept."""
        kept = self.recent_.get(images)
        return kept if kept is not None else self._forward(images)[1]

    def vector_proba(self, vectors: np.ndarray) -> np.ndarray:
        """The network's class probabilities fused into the vectors, when they are; else those of embeddings kept
        unit-length, scaled to the length the embedding's BatchNorm gives on average (sqrt of the sum of its squared
        scales and shifts: 16.0 for the shipped network, whose embeddings measure 14.5-17.6 on CIFAR-10)."""
        import torch

        self._ensure_model()
        if self.proba_weight:
            return fused_probabilities(vectors, len(self.classes_), self.proba_fusion)
        if self.components_ is not None:
            raise CbirError(f"features '{self.name}' keep a PCA of the network's embedding: a search by words needs "
                            "it as it is, or the network's probabilities fused in (proba_weight)")
        norm, classifier = self.net_.embedding_norm, self.net_.classifier
        with torch.inference_mode():
            length = torch.sqrt((norm.weight.float() ** 2 + norm.bias.float() ** 2).sum())
            logits = classifier(torch.from_numpy(np.asarray(vectors, np.float32)).to(classifier.weight.dtype) * length)
            return torch.softmax(logits.float() * self.net_.config.logit_scale, dim=1).numpy()

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        embeddings, probabilities = self._forward(images)
        self.recent_.keep(images, probabilities)
        return self._finish(embeddings, probabilities)

    def _index_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._finish(*self._forward(images, indexing=True), indexing=True)

    def _finish(self, embeddings: np.ndarray, probabilities: np.ndarray, indexing: bool = False) -> np.ndarray:
        """Raw vectors of query images (or, `indexing`, of indexed ones) from network outputs: PCA, then the
        probabilities fused in (`cbir.features.probabilities`) when `proba_weight` is set."""
        if self.components_ is not None:
            embeddings = (embeddings - self.mean_) @ self.components_
        if not self.proba_weight:
            return embeddings
        return fuse(embeddings, probabilities, self.proba_weight, self.proba_fusion, indexing)

    def _save_state(self, path: Path) -> None:
        shutil.copytree(self.model_path, path / "model", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("checkpoint.pt"))
        if self.components_ is not None:
            np.savez(path / "pca.npz", mean=self.mean_, components=self.components_)
        if self.ranges_ is not None:
            (path / "int8_ranges.json").write_text(json.dumps(self.ranges_))

    def _load_state(self, path: Path) -> None:
        self.net_ = None
        self._ensure_model(path / "model")
        self.mean_ = self.components_ = None
        if (path / "pca.npz").exists():
            with np.load(path / "pca.npz") as arrays:
                self.mean_, self.components_ = arrays["mean"], arrays["components"]
        self.int8_net_ = self.ranges_ = None
        if self.int8:
            self._set_ranges(json.loads((path / "int8_ranges.json").read_text()))
