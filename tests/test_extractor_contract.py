"""The extractor contract, for every registered name: fitted on a collection, any image size gives unit float32 rows
of `dim`, a row does not depend on the batch it came in, and a saved extractor loads to the same vectors.

Extractors sized for CIFAR-10 (vocabularies of 1,000 words, PCAs to 512) are shrunk to fit 60 images; what they
compute is the same."""

import numpy as np
import pytest

from cbir.datasets import load_folder
from cbir.errors import NotFittedError
from cbir.features import EXTRACTORS, load_extractor, make_extractor

pytest.importorskip("torch")
pytest.importorskip("cv2")

SMALL = {"sift-bovw": {"k": 16}, "kmeans-triangle": {"k": 16, "pca": 8}, "effnet": {"resolution": 64},
         "effnet-copies": {"resolution": 64, "pca": 8}}
SMALL_BLOCK = {"bovw-hog-gch": {"k": 16}, "triangle-hog-gch": {"k": 16, "pca": 8}}
SMALL_BASE = {"bovw-hog-gch-supervised": ({"k": 16}, {}), "triangle-hog-gch-supervised": ({"k": 16}, {"pca": 8}),
              "effnet-supervised": (None, {})}


def small(name: str):
    """The registered extractor, shrunk to learn from 60 images."""
    extractor = make_extractor(name, options=SMALL.get(name))
    if name in SMALL_BLOCK:
        extractor.blocks[0] = extractor.blocks[0].with_options(SMALL_BLOCK[name])
    if name in SMALL_BASE:
        block, options = SMALL_BASE[name]
        extractor = extractor.with_options({"cs": [1.0], **options})
        if block is None:
            extractor.base = extractor.base.with_options({"resolution": 64})
        else:
            extractor.base.blocks[0] = extractor.base.blocks[0].with_options(block)
    return extractor


@pytest.fixture(scope="module")
def train(tiny_collection):
    return load_folder(tiny_collection, split="train", progress=False, cache=False)


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
def test_every_registered_extractor_keeps_the_contract(name, train, tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((20, 50, 3), (300, 200, 3))]
    images += list(train.images[:3])
    extractor = small(name)
    if extractor.trainable and not extractor.fitted_:
        with pytest.raises(NotFittedError):
            extractor.transform(images)
    extractor.fit(train)
    vectors = extractor.transform(images)
    assert vectors.shape == (len(images), extractor.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(extractor.transform(images[2:4]), vectors[2:4], atol=2e-3)  # another batch
    extractor.save(tmp_path / "x")
    again = load_extractor(tmp_path / "x")
    assert again.name == name and again.config_hash() == extractor.config_hash() and again.dim == extractor.dim
    np.testing.assert_allclose(again.transform(images), vectors, atol=1e-5)
