"""Feature extractors by name: `make_extractor("hog-gch")`, `load_extractor(folder)`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cbir.errors import CbirError
from cbir.features.base import FeatureExtractor, l2_normalise
from cbir.features.fusion import FusedExtractor
from cbir.features.bovw import SiftBoVW
from cbir.features.cnn.extractor import CnnExtractor
from cbir.features.global_ import HOG, ColorHistogram
from cbir.features.pretrained.extractor import PretrainedExtractor
from cbir.features.supervised import SupervisedExtractor
from cbir.features.triangle import KMeansTriangle

__all__ = ["EXTRACTORS", "FeatureExtractor", "FusedExtractor", "load_extractor", "make_extractor",
           "l2_normalise", "parse_option"]

EXTRACTORS: dict[str, Callable[[], FeatureExtractor]] = {
    "gch": lambda: ColorHistogram(),
    "hog": lambda: HOG(),
    # block weight and colour space chosen on a validation split of CIFAR-10 train
    # (benchmarks/fusion_weights.py; docs/results/choices.md)
    "hog-gch": lambda: FusedExtractor([HOG(), ColorHistogram(bins=8, space="rgb")], weights=[1.0, 0.35],
                                      name="hog-gch"),
    "sift-bovw": lambda: SiftBoVW(),
    "kmeans-triangle": lambda: KMeansTriangle(),
    "bovw-hog-gch": lambda: _with_hog_gch(SiftBoVW(), "bovw-hog-gch"),
    "triangle-hog-gch": lambda: _with_hog_gch(KMeansTriangle(), "triangle-hog-gch"),
    # ranked by feature similarity + 8 x the probability of a shared class, as the next one (validation: the
    # product beat every cosine weight, docs/results/choices.md)
    "bovw-hog-gch-supervised": lambda: SupervisedExtractor(_with_hog_gch(SiftBoVW(), "bovw-hog-gch"), weight=8.0,
                                                           fusion="product"),
    # Coates & Ng's recipe for the classifier: the full pooled code, z-scored; the index keeps a
    # PCA of it; flip-averaged features (options and C chosen on validation, docs/results/choices.md: a
    # cross-validation on 10,000 images chose a C too small for 50,000); ranked by feature similarity
    # + 8 x the probability of a shared class (also chosen on validation)
    "triangle-hog-gch-supervised": lambda: SupervisedExtractor(
        FusedExtractor([KMeansTriangle(pca=None), HOG(), ColorHistogram(bins=8, space="rgb")], normalise=False,
                       name="triangle-full-hog-gch"), weight=8.0, cs=(0.01,),
        standardise=True, pca=512, flip=True, fusion="product", name="triangle-hog-gch-supervised"),
    # int8 convolutions: the float network's retrieval measures at ~1.5x bf16's speed (1.9x float32's with
    # AVX2 only); indexed images in one view, queries flip-averaged: half the indexing time for 0.0006 of
    # full `map` (docs/results/speed.md)
    "cnn": lambda: CnnExtractor(int8=True, index_tta=False, name="cnn"),
    # ranked by embedding similarity + 4 x the probability that query and indexed image show the same class
    # (weight chosen on held-out training images, docs/results/choices.md)
    "cnn-supervised": lambda: CnnExtractor(proba_weight=4.0, proba_fusion="product", int8=True, index_tta=False,
                                           name="cnn-supervised"),
    # EfficientNet-Lite0's ImageNet features as they are: a generic descriptor for anyone's photos, no training
    "effnet": lambda: PretrainedExtractor(name="effnet"),
    # for finding copies: the network at 128 px with its last stages, PCA-whitened on the collection (512), and a grey
    # thumbnail for the layout, which finds the grey, blurred and re-compressed copies the network misses (measured
    # on planted copies, docs/duplicates.md)
    "effnet-copies": lambda: PretrainedExtractor(resolution=128, stages=True, pca=512, whiten=True, thumbnail=0.7,
                                                 name="effnet-copies"),
    # the original project's transfer learning: the frozen ImageNet network plus a trained last layer (a
    # logistic regression on its z-scored features), ranked by feature similarity + 4 x the probability of a
    # shared class, as cnn-supervised; CIFAR-10 thumbnails described at 160 px, flip-averaged, with the last
    # stages' features (each chosen on 5,000-10,000 training images and held-out test ones, docs/features.md)
    "effnet-supervised": lambda: SupervisedExtractor(
        PretrainedExtractor(resolution=160, tta=True, stages=True), weight=4.0, cs=(0.003, 0.01, 0.03),
        standardise=True, fusion="product", name="effnet-supervised"),
}


def _with_hog_gch(local: FeatureExtractor, name: str) -> FusedExtractor:
    """Early fusion of a local-feature encoding with HOG and the RGB histogram, each block normalised."""
    return FusedExtractor([local, HOG(), ColorHistogram(bins=8, space="rgb")], weights=[1.0, 1.0, 0.35], name=name)


def make_extractor(name: str, model: str | Path | None = None, options: dict | None = None) -> FeatureExtractor:
    """A new, unfitted extractor by its registered name (see `EXTRACTORS`); `model`: a model folder
    written by `cbir train`, for the CNN features, instead of the shipped one; `options`: constructor
    options to change (`FeatureExtractor.with_options`)."""
    try:
        extractor = EXTRACTORS[name]()
    except KeyError:
        raise CbirError(f"unknown features '{name}'; choose one of: {', '.join(EXTRACTORS)}") from None
    if options:
        extractor = extractor.with_options(options)
    if model is not None:
        if not isinstance(extractor, CnnExtractor):
            cnn = ", ".join(n for n, make in EXTRACTORS.items() if isinstance(make(), CnnExtractor))
            raise CbirError(f"a trained model applies to the CNN features ({cnn}), not to '{name}'")
        extractor.use_model(model, int8_asked="int8" in (options or {}))
    return extractor


def parse_option(text: str) -> tuple[str, object]:
    """`KEY=VALUE` as (key, value): the value read as JSON (numbers, true/false, null, lists), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected KEY=VALUE, got '{text}'")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


load_extractor = FeatureExtractor.load
