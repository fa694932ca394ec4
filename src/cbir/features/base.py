"""The `FeatureExtractor` base: batching, normalisation, progress, save/load built once.

A subclass sets `kind`, stores its parameters in `__init__`, and implements
`_transform_batch(images) -> (n, dim) float32`. Extractors with learned state also
implement `_fit`, `_save_state` and `_load_state` (learned attributes end in `_`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.errors import CbirError, NotFittedError

FORMAT_VERSION = 1
_KINDS: dict[str, type[FeatureExtractor]] = {}


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def check_pca(pca: int | None, most: int | None = None) -> None:
    """A `pca` option: None (no PCA) or a whole number of dimensions from 1 to `most` (when known)."""
    if pca is None:
        return
    if isinstance(pca, bool) or not isinstance(pca, int) or pca < 1:
        raise ValueError(f"pca is a number of dimensions (1 or more), or null for none, not {pca!r}")
    if most is not None and pca > most:
        raise ValueError(f"pca ({pca}) cannot exceed the {most} dimensions it reduces")


def to_spec(extractor: FeatureExtractor) -> dict:
    """What recreates an unfitted extractor of any kind: its kind, name and configuration."""
    return {"kind": extractor.kind, "name": extractor.name, "config": extractor.get_config()}


def from_spec(spec: dict) -> FeatureExtractor:
    """The unfitted extractor described by `to_spec` output."""
    return _KINDS[spec["kind"]].from_config(spec["config"], name=spec["name"])


def _fits(value, hint) -> bool:
    """Whether a JSON-read option value suits a constructor parameter's type hint (ints for floats too)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool) and hint is not bool:
        return False
    if hint is float:
        return isinstance(value, int | float)
    if typing.get_origin(hint) in (list, tuple, Sequence):
        return isinstance(value, list | tuple) and all(_fits(v, typing.get_args(hint)[0]) for v in value)
    return not isinstance(hint, type) or isinstance(value, hint)


class FeatureExtractor(ABC):
    """Turns RGB uint8 images into L2-normalised float32 vectors of length `dim`."""

    kind: ClassVar[str]
    trainable: ClassVar[bool] = False
    # describing a batch uses every core (a CNN's own threads), ~2.5x faster per image than one at a time:
    # a server describes its concurrent requests' images together (`Engine.enable_micro_batching`);
    # other extractors describe each request's images in its own thread, in parallel
    batch_describes: ClassVar[bool] = False
    # `fit_transform` describes the images while fitting (a classifier on all their features, a PCA of them):
    # fitting first and describing in batches (which a stopped run resumes, `cbir.resume`) would do it twice
    fit_describes: ClassVar[bool] = False
    # cosine similarity from which two images are near duplicates (`cbir.duplicates`), measured for the
    # features; None for features that describe a class rather than the picture
    duplicate_threshold: ClassVar[float | None] = None
    # (floor, lead): below the duplicate threshold, a search's best match is still the query's copy when it scores floor
    # or more and leads the next match by `lead` (`cbir.copies`); None: the threshold alone decides
    copy_lead: ClassVar[tuple[float, float] | None] = None
    #: constructor parameters `with_options` leaves alone (given another way, or learned state)
    fixed_options: ClassVar[frozenset[str]] = frozenset({"name"})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    def __init__(self, name: str | None = None):
        self.name = name or self.kind
        self.fitted_ = not self.trainable

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of every output vector."""

    def get_config(self) -> dict:
        """The constructor parameters (JSON-serialisable) that recreate this extractor unfitted."""
        return {}

    def describe(self) -> str | None:
        """One line for people on what the extractor learned (e.g. a network's accuracy), or None."""
        return None

    def vector_proba(self, vectors: np.ndarray) -> np.ndarray:
        """The class probabilities (columns in `classes_` order) of images from their vectors as indexed, for a search
        by words (`cbir.words`); an error for features that cannot say what a picture shows."""
        raise CbirError(f"features '{self.name}' do not say what a picture shows: a search by words needs an engine "
                        "indexed with effnet (ImageNet's 1,000 classes), cnn (the classes it was trained on) or a "
                        "supervised variant (the labels its classifier learned)")

    def with_options(self, options: dict) -> FeatureExtractor:
        """A new, unfitted extractor like this one (same name) with some constructor options changed."""
        accepted = set(inspect.signature(type(self).__init__).parameters) - {"self"} - self.fixed_options
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise CbirError(f"features '{self.name}' have no option {', '.join(unknown)}; "
                            f"they take: {', '.join(sorted(accepted))}")
        try:
            hints = typing.get_type_hints(type(self).__init__)
        except NameError:  # an annotation that does not resolve: leave the values to the constructor
            hints = {}
        for key, value in options.items():
            if key in hints and not _fits(value, hints[key]):
                hint = hints[key].__name__ if isinstance(hints[key], type) else str(hints[key])
                hint = hint.replace("typing.", "").replace("collections.abc.", "").replace("pathlib.", "")
                raise CbirError(f"features '{self.name}': option {key} takes {hint}, not {value!r}")
        try:
            return type(self).from_config({**self.get_config(), **options}, name=self.name)
        except (TypeError, ValueError) as exc:
            raise CbirError(f"features '{self.name}': bad option value ({exc})") from exc

    def config_hash(self) -> str:
        """A short stable hash of kind, name and configuration."""
        blob = json.dumps({"kind": self.kind, "name": self.name, "config": self.get_config()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def fit(self, dataset: Dataset, progress: bool = False) -> FeatureExtractor:
        """Learn whatever the extractor needs from a training collection (with progress bars when `progress`);
        returns self."""
        self._fit(dataset, progress)
        self.fitted_ = True
        return self

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        """Learn state from `dataset` (nothing for fixed descriptors), showing progress bars when `progress`."""

    def fit_transform(self, dataset: Dataset, progress: bool = False, normalise: bool = True) -> np.ndarray:
        """Fit on `dataset` and return its vectors (extractors that compute them while fitting reuse them)."""
        self.fit(dataset, progress)
        return self.transform(dataset.images, progress=progress, normalise=normalise, indexing=True)

    def transform(self, images: Sequence[np.ndarray] | np.ndarray, batch_size: int = 1024,
                  progress: bool = False, normalise: bool = True, indexing: bool = False) -> np.ndarray:
        """Describe images: an (n, dim) float32 array whose rows have unit L2 norm (raw with `normalise=False`).

        `indexing`: the images are being indexed, not searched for (`_index_batch` describes them)."""
        if not self.fitted_:
            raise NotFittedError(f"extractor '{self.name}' is not fitted: call fit(dataset) first")
        n = len(images)
        describe = self._index_batch if indexing else self._transform_batch
        out = np.empty((n, self.dim), dtype=np.float32)
        with tqdm(total=n, desc=f"features {self.name}", unit="img", disable=not progress,
                  mininterval=0.5) as bar:
            for start in range(0, n, batch_size):
                batch = images[start: start + batch_size]
                out[start: start + len(batch)] = describe(batch)
                bar.update(len(batch))
        return l2_normalise(out) if normalise else out

    @abstractmethod
    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (n, dim) descriptors of a batch of RGB uint8 images."""

    @property
    def fit_resumes(self) -> bool:
        """Whether the fit of an extractor that describes every image while fitting (`fit_describes`) comes in two
        parts: `fit_rows` per batch of images (the costly part, which a stopped run keeps, `cbir.resume`), then
        `fit_on_rows` on all of them."""
        return self.fit_describes and type(self).fit_rows is not FeatureExtractor.fit_rows

    def fit_before_rows(self, dataset: Dataset, fit: Callable[[FeatureExtractor], FeatureExtractor]) -> None:
        """Fit what `fit_rows` needs first on `dataset`: a part of the extractor (a supervised variant's base) with
        `fit`, which fits it on the collection or gives back the one a stopped run fitted (`cbir.resume`), or a
        cheap step done again on every run (a network's int8 calibration)."""

    def fit_rows(self, images: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """What the fit needs of each of these images, one row each (see `fit_resumes`)."""
        raise NotImplementedError(f"features '{self.name}' fit in one pass")

    def fit_on_rows(self, rows: np.ndarray, dataset: Dataset, progress: bool = False,
                    normalise: bool = True) -> np.ndarray:
        """Fit on the `fit_rows` of every image of `dataset` (the collection fitted on, in its order: its labels
        for features that learn from them) and return their vectors."""
        vectors = self._fit_on_rows(rows, dataset, progress)
        self.fitted_ = True
        return l2_normalise(vectors) if normalise else vectors

    def _fit_on_rows(self, rows: np.ndarray, dataset: Dataset, progress: bool) -> np.ndarray:
        raise NotImplementedError(f"features '{self.name}' fit in one pass")

    def _index_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Raw descriptors of images being indexed: the same as queries' unless an extractor spends less on them."""
        return self._transform_batch(images)

    def save(self, path: str | Path) -> None:
        """Write a folder: config.json plus any learned arrays."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if not self.fitted_:
            raise NotFittedError(f"extractor '{self.name}' is not fitted: call fit(dataset) before save")
        config = {"format_version": FORMAT_VERSION, "kind": self.kind, "name": self.name,
                  "config": self.get_config(), "dim": self.dim, "config_hash": self.config_hash()}
        (path / "config.json").write_text(json.dumps(config, indent=2))
        self._save_state(path)

    def _save_state(self, path: Path) -> None:
        """Write learned state into `path` (nothing for fixed descriptors)."""

    def _load_state(self, path: Path) -> None:
        """Read learned state from `path` (nothing for fixed descriptors)."""

    @classmethod
    def load(cls, path: str | Path) -> FeatureExtractor:
        """Recreate a saved extractor of any kind from its folder."""
        path = Path(path)
        try:
            config = json.loads((path / "config.json").read_text())
            kind_cls = _KINDS[config["kind"]]
        except FileNotFoundError as exc:
            raise CbirError(f"no extractor at {path} (config.json missing)") from exc
        except KeyError as exc:
            raise CbirError(f"{path}: unknown extractor kind {exc}; is this cbir version too old?") from exc
        extractor = kind_cls.from_config(config["config"], name=config["name"])
        extractor._load_state(path)
        extractor.fitted_ = True
        if extractor.config_hash() != config.get("config_hash"):
            raise CbirError(f"{path}: extractor configuration does not match its recorded hash")
        return extractor

    @classmethod
    def from_config(cls, config: dict, name: str | None = None) -> FeatureExtractor:
        """Build an unfitted extractor from `get_config()` output."""
        return cls(**config, name=name)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}(name={self.name!r}, {params})"
