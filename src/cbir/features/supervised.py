"""Supervised retrieval vectors: features + weighted class probabilities from a linear classifier.

The classifier (multinomial logistic regression, C chosen by cross-validation on the
training split only) predicts class probabilities for EVERY image — indexed and query
alike — so no ground-truth label ever enters a vector. The retrieval vector is
[L2(features), weight * L2(probabilities)].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.datasets.collection import Dataset
from cbir.errors import CbirError
from cbir.features.base import FeatureExtractor, from_spec, l2_normalise, to_spec

_BASE = "base"


class SupervisedExtractor(FeatureExtractor):
    """Wraps any extractor; fitting needs a labelled training collection."""

    kind = "supervised"
    trainable = True

    def __init__(self, base: FeatureExtractor, weight: float = 1.0, cs: Sequence[float] = (0.1, 1.0, 10.0),
                 cv_images: int = 10_000, folds: int = 3, seed: int = 0, name: str | None = None):
        super().__init__(name or f"{base.name}-supervised")
        self.base, self.weight, self.cs = base, float(weight), [float(c) for c in cs]
        self.cv_images, self.folds, self.seed = cv_images, folds, seed

    @property
    def dim(self) -> int:
        return self.base.dim + len(getattr(self, "classes_", ()))

    def get_config(self) -> dict:
        return {"base": to_spec(self.base),
                "weight": self.weight, "cs": self.cs, "cv_images": self.cv_images, "folds": self.folds,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict, name: str | None = None) -> SupervisedExtractor:
        spec = dict(config)
        return cls(from_spec(spec.pop("base")), **spec, name=name)

    def _fit(self, dataset: Dataset) -> None:
        self._fit_classifier(dataset)

    def fit_transform(self, dataset: Dataset, progress: bool = False) -> np.ndarray:
        """Fit, reusing the base features of the training images for their retrieval vectors."""
        features = self._fit_classifier(dataset, progress)
        self.fitted_ = True
        return l2_normalise(self._combine(features))

    def _fit_classifier(self, dataset: Dataset, progress: bool = True) -> np.ndarray:
        """Fit the base extractor and the classifier; returns the training images' base features."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        if not dataset.labelled:
            raise CbirError(f"'{self.name}' learns from labels: fit it on a labelled collection")
        features = self.base.fit_transform(dataset, progress) if not self.base.fitted_ else \
            self.base.transform(dataset.images, progress=progress)
        labels = np.asarray(dataset.labels)
        subset = dataset.stratified(self.cv_images, seed=self.seed)
        positions = {id_: i for i, id_ in enumerate(dataset.ids)}
        cv_rows = np.array([positions[i] for i in subset.ids])
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        scores = {c: float(np.mean(cross_val_score(LogisticRegression(C=c, max_iter=300), features[cv_rows],
                                                   labels[cv_rows], cv=folds, n_jobs=1))) for c in self.cs}
        best = max(scores, key=scores.get)
        model = LogisticRegression(C=best, max_iter=500).fit(features, labels)
        self.classes_ = [str(c) for c in model.classes_]
        self.coef_, self.intercept_ = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        self.report_ = {"cv_accuracy": scores, "C": best, "train_accuracy": float(model.score(features, labels))}
        return features

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (columns in `classes_` order) for images."""
        return self._proba(self.base.transform(images))

    def _proba(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _combine(self, features: np.ndarray) -> np.ndarray:
        return np.hstack([features, self.weight * l2_normalise(self._proba(features))])

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._combine(self.base.transform(images, batch_size=len(images) or 1))

    def _save_state(self, path: Path) -> None:
        self.base.save(path / _BASE)
        np.savez(path / "classifier.npz", coef=self.coef_, intercept=self.intercept_)
        (path / "classifier.json").write_text(json.dumps({"classes": self.classes_, **self.report_}, indent=2))

    def _load_state(self, path: Path) -> None:
        self.base = FeatureExtractor.load(path / _BASE)
        with np.load(path / "classifier.npz") as arrays:
            self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        info = json.loads((path / "classifier.json").read_text())
        self.classes_ = info.pop("classes")
        self.report_ = info
