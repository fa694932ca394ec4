"""Supervised retrieval vectors: features + weighted class probabilities from a linear classifier.

The classifier (multinomial logistic regression, C chosen by cross-validation on the
training split only) predicts class probabilities for EVERY image — indexed and query
alike — so no ground-truth label ever enters a vector. The retrieval vector is
[L2(features), weight * L2(probabilities)], or with `fusion="product"` the vectors that rank by feature
similarity + weight x the probability of a shared class (`cbir.features.probabilities`).

Options (each measured in docs/results/choices.md): `standardise` z-scores the raw base
features (Coates & Ng's recipe for their pooled codes) for the classifier and the feature
part of the vector; `pca` makes that part a PCA of the classifier's inputs, so the
classifier can read a high-dimensional code while the index stays small; `flip` describes
every image as the mean of its own and its mirror image's base features (for fitting and
for queries alike).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.errors import CbirError
from cbir.features.base import FeatureExtractor, check_pca, from_spec, l2_normalise, to_spec
from cbir.features.probabilities import check_fusion, fuse, fused_dim, fused_probabilities
from cbir.features.recent import Recent

_BASE = "base"
_PCA_SAMPLE = 20_000


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) that z-score each column of training features (scale floored for constant columns)."""
    return features.mean(axis=0), features.std(axis=0) + 1e-3


class SupervisedExtractor(FeatureExtractor):
    """Wraps any extractor; fitting needs a labelled training collection."""

    kind = "supervised"
    fixed_options = frozenset({"name", "base"})
    trainable = True
    fit_describes = True

    def __init__(self, base: FeatureExtractor, weight: float = 1.0, cs: Sequence[float] = (0.1, 1.0, 10.0),
                 cv_images: int = 10_000, folds: int = 3, seed: int = 0, standardise: bool = False,
                 pca: int | None = None, flip: bool = False, fusion: str = "cosine", name: str | None = None):
        super().__init__(name or f"{base.name}-supervised")
        check_fusion(fusion)
        check_pca(pca)
        self.base, self.weight, self.cs = base, float(weight), [float(c) for c in cs]
        self.cv_images, self.folds, self.seed = cv_images, folds, seed
        self.standardise, self.pca, self.flip, self.fusion = standardise, pca, flip, fusion
        self.recent_ = Recent()  # the last queries' classifier inputs, for `predict_proba` after a search

    @property
    def dim(self) -> int:
        return fused_dim(self.pca or self.base.dim, len(getattr(self, "classes_", ())), self.fusion)

    def get_config(self) -> dict:
        config = {"base": to_spec(self.base), "weight": self.weight, "cs": self.cs, "cv_images": self.cv_images,
                  "folds": self.folds, "seed": self.seed}
        options = {"standardise": self.standardise, "pca": self.pca, "flip": self.flip,
                   "fusion": self.fusion if self.fusion != "cosine" else None}
        return config | {k: v for k, v in options.items() if v}  # older saved folders keep their hash

    @classmethod
    def from_config(cls, config: dict, name: str | None = None) -> SupervisedExtractor:
        spec = dict(config)
        return cls(from_spec(spec.pop("base")), **spec, name=name)

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        self._fit_classifier(dataset, progress)

    def fit_transform(self, dataset: Dataset, progress: bool = False, normalise: bool = True) -> np.ndarray:
        """Fit, reusing the training images' classifier inputs for their retrieval vectors."""
        inputs = self._fit_classifier(dataset, progress)
        self.fitted_ = True
        vectors = self.vectors(inputs, indexing=True)
        return l2_normalise(vectors) if normalise else vectors

    def base_features(self, images: Sequence[np.ndarray], progress: bool = False,
                      indexing: bool = False) -> np.ndarray:
        """The base extractor's vectors of images (raw when `standardise`; averaged with the mirror
        images' when `flip`; `indexing`: as the base describes images it indexes)."""
        features = self.base.transform(images, progress=progress, normalise=not self.standardise, indexing=indexing)
        return self._with_mirrors(features, images, progress, indexing)

    def _with_mirrors(self, features: np.ndarray, images: Sequence[np.ndarray], progress: bool,
                      indexing: bool) -> np.ndarray:
        if self.flip:
            features += self.base.transform([np.asarray(im)[:, ::-1] for im in images], progress=progress,
                                            normalise=not self.standardise, indexing=indexing)
            features /= 2
        return features

    def inputs(self, images: Sequence[np.ndarray], progress: bool = False, indexing: bool = False) -> np.ndarray:
        """What the classifier reads: the base features, z-scored when `standardise`."""
        return self._standardised(self.base_features(images, progress, indexing))

    def _standardised(self, features: np.ndarray) -> np.ndarray:
        """z-scores `features` in place (no copy of a 50,000 x 7,000 training matrix)."""
        if self.mean_ is not None:
            features -= self.mean_
            features /= self.scale_
        return features

    @property
    def fit_resumes(self) -> bool:
        """The base's features are what the fit needs of each image, once the base is fitted: a base that fits on a
        sample (a vocabulary) is fitted first (`fit_before_rows`); one whose fit describes every image (a PCA of a
        CNN's embeddings) fits in one pass with the classifier."""
        return self.base.fitted_ or not self.base.fit_describes

    def fit_before_rows(self, dataset: Dataset, fit: Callable[[FeatureExtractor], FeatureExtractor]) -> None:
        dataset.require_classes(f"'{self.name}'")  # before any work, as `_fit_classifier` checks
        if not self.base.fitted_:
            self.base = fit(self.base)

    def fit_rows(self, images: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        return self.base_features(images, progress, indexing=True)

    def _fit_on_rows(self, rows: np.ndarray, dataset: Dataset, progress: bool) -> np.ndarray:
        return self.vectors(self._fit_on_features(rows, dataset, progress), indexing=True)

    def _fit_classifier(self, dataset: Dataset, progress: bool) -> np.ndarray:
        """Fit the base extractor, scaling, PCA and classifier; returns the training images' classifier inputs."""
        dataset.require_classes(f"'{self.name}'")
        if self.base.fitted_:
            features = self.fit_rows(dataset.images, progress)
        else:  # the base's own fit_transform: a CNN base with PCA runs its network once, not twice
            features = self._with_mirrors(self.base.fit_transform(dataset, progress, normalise=not self.standardise),
                                          dataset.images, progress, indexing=True)
        return self._fit_on_features(features, dataset, progress)

    def _fit_on_features(self, features: np.ndarray, dataset: Dataset, progress: bool) -> np.ndarray:
        """Fit scaling, PCA and classifier on the training images' base features; returns the classifier inputs."""
        from sklearn.linear_model import LogisticRegression

        self.mean_, self.scale_ = standardisation(features) if self.standardise else (None, None)
        inputs = self._standardised(features)
        self._fit_pca(inputs)
        labels = np.asarray(dataset.labels)
        with tqdm(total=1, desc=f"classifier of '{self.name}'", unit="fit", disable=not progress) as bar:
            best, scores = self._choose_c(dataset, inputs, labels, bar)
            bar.set_postfix_str(f"C={best}, all {len(labels)} images")
            model = LogisticRegression(C=best, max_iter=1000).fit(inputs, labels)
            bar.update()
        self.classes_ = [str(c) for c in model.classes_]
        self.coef_, self.intercept_ = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        self.report_ = {"cv_accuracy": scores, "C": best, "train_accuracy": float(model.score(inputs, labels))}
        return inputs

    def _choose_c(self, dataset: Dataset, inputs: np.ndarray, labels: np.ndarray, bar: tqdm) -> tuple[float, dict]:
        """(C, cross-validated accuracy per C): the grid's best on a `cv_images` subset; a single C is taken as is.
        `bar` (counting the final fit) gains one step per classifier cross-validated, and advances as each is fitted."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        if len(self.cs) == 1:
            return self.cs[0], {}
        positions = {id_: i for i, id_ in enumerate(dataset.ids)}
        rows = np.array([positions[i] for i in dataset.stratified(self.cv_images, seed=self.seed).ids])
        x, y = inputs[rows], labels[rows]
        folds = list(StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(x, y))
        bar.total += len(self.cs) * len(folds)
        scores = {}
        for c in self.cs:
            bar.set_postfix_str(f"C={c}, {self.folds}-fold cross-validation on {len(rows)} images")
            accuracies = []
            for fit, held_out in folds:
                model = LogisticRegression(C=c, max_iter=1000).fit(x[fit], y[fit])
                accuracies.append(model.score(x[held_out], y[held_out]))
                bar.update()
            scores[c] = float(np.mean(accuracies))
        return max(scores, key=scores.get), scores

    def _fit_pca(self, inputs: np.ndarray) -> None:
        """Top `pca` eigenvectors of the inputs' covariance (on a sample; the memory of an SVD it is not)."""
        from scipy.linalg import eigh

        self.components_ = None
        if not self.pca:
            return
        sample = inputs[np.random.default_rng(self.seed).permutation(len(inputs))[:_PCA_SAMPLE]]
        n, d = sample.shape
        if self.pca > min(n, d):
            raise CbirError(f"'{self.name}': PCA to {self.pca} dimensions needs at least {self.pca} training "
                            f"images and base dimensions, got {n} images of {d}")
        sample -= sample.mean(axis=0)
        _, eigvec = eigh((sample.T @ sample).astype(np.float64), subset_by_index=[d - self.pca, d - 1])
        self.components_ = np.ascontiguousarray(eigvec[:, ::-1], dtype=np.float32)

    def describe(self) -> str | None:
        if not self.fitted_:
            return None
        cv = {str(c): accuracy for c, accuracy in (self.report_.get("cv_accuracy") or {}).items()}  # JSON: str keys
        c = str(self.report_["C"])
        chosen = f", cross-validated accuracy {cv[c]:.4f}" if c in cv else ""
        return (f"logistic regression over {self.base.name} (C={self.report_['C']}{chosen}, training accuracy "
                f"{self.report_['train_accuracy']:.4f}); base: {self.base.describe() or self.base.name}")

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (columns in `classes_` order) for images: those of their last search when kept."""
        kept = self.recent_.get(images)
        return self.probabilities(kept if kept is not None else self.inputs(images))

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities from classifier inputs (see `inputs`)."""
        logits = inputs @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def vectors(self, inputs: np.ndarray, indexing: bool = False) -> np.ndarray:
        """Retrieval vectors (before the final L2) of query images or, `indexing`, of indexed ones, from
        classifier inputs: the inputs (or their PCA) fused with the probabilities, the `fusion` way
        (`cbir.features.probabilities`)."""
        part = inputs if self.components_ is None else inputs @ self.components_
        return fuse(part, self.probabilities(inputs), self.weight, self.fusion, indexing)

    def vector_proba(self, vectors: np.ndarray) -> np.ndarray:
        """The classifier's probabilities, from the vectors they are fused into."""
        if not self.weight:
            raise CbirError(f"features '{self.name}' fuse no probabilities into their vectors (weight 0): a search "
                            "by words needs them")
        return fused_probabilities(vectors, len(self.classes_), self.fusion)

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        inputs = self.inputs(images)
        self.recent_.keep(images, inputs)
        return self.vectors(inputs)

    def _index_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.vectors(self.inputs(images, indexing=True), indexing=True)

    def _save_state(self, path: Path) -> None:
        self.base.save(path / _BASE)
        arrays = {"coef": self.coef_, "intercept": self.intercept_}
        optional = {"mean": self.mean_, "scale": self.scale_, "components": self.components_}
        np.savez(path / "classifier.npz", **arrays, **{k: v for k, v in optional.items() if v is not None})
        (path / "classifier.json").write_text(json.dumps({"classes": self.classes_, **self.report_}, indent=2))

    def _load_state(self, path: Path) -> None:
        self.base = FeatureExtractor.load(path / _BASE)
        with np.load(path / "classifier.npz") as arrays:
            self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
            self.mean_, self.scale_, self.components_ = (arrays[k] if k in arrays else None
                                                         for k in ("mean", "scale", "components"))
        info = json.loads((path / "classifier.json").read_text())
        self.classes_ = info.pop("classes")
        self.report_ = info
