"""Global descriptors, early fusion and the extractor contract (normalised rows, save/load, fit)."""

import numpy as np
import pytest

from cbir.datasets import load_folder
from cbir.errors import CbirError, NotFittedError
from cbir.features import (FeatureExtractor, FusedExtractor, load_extractor, make_extractor,
                           parse_option)
from cbir.features.base import l2_normalise
from cbir.features.global_ import HOG, ColorHistogram
from cbir.features.probabilities import fuse, fused_dim


@pytest.fixture(scope="module")
def images(tiny_collection):
    return load_folder(tiny_collection, split="train", progress=False, cache=False)


@pytest.mark.parametrize("name", ["gch", "hog", "hog-gch"])
def test_every_global_extractor_gives_unit_float32_rows(name, images, tmp_path):
    extractor = make_extractor(name).fit(images)
    vectors = extractor.transform(images.images)
    assert vectors.shape == (len(images), extractor.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[:2], extractor.transform(images.images[:2]))
    extractor.save(tmp_path / name)
    again = load_extractor(tmp_path / name)
    assert again.name == name and again.config_hash() == extractor.config_hash()
    np.testing.assert_array_equal(again.transform(images.images), vectors)


def test_gray_histogram_counts_levels():
    image = np.zeros((4, 4, 3), np.uint8)
    image[:2] = 255
    hist = ColorHistogram(bins=4, sqrt=False)._transform_batch([image])[0]
    np.testing.assert_allclose(hist, [0.5, 0, 0, 0.5])
    rgb = ColorHistogram(bins=2, space="rgb", sqrt=False)._transform_batch([image])[0]
    assert rgb.shape == (8,) and rgb[0] == 0.5 and rgb[7] == 0.5


def test_histogram_ignores_layout_but_hog_does_not():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    shuffled = rng.permutation(image.reshape(-1, 3)).reshape(32, 32, 3)
    gch, hog = ColorHistogram(), HOG()
    np.testing.assert_allclose(gch.transform([image]), gch.transform([shuffled]), atol=1e-6)
    assert float(hog.transform([image])[0] @ hog.transform([shuffled])[0]) < 0.95


def test_hog_resizes_any_input_and_finds_orientation():
    hog = HOG(size=32)
    vertical = np.zeros((64, 48, 3), np.uint8)
    vertical[:, ::8] = 255
    horizontal = vertical.transpose(1, 0, 2).copy()
    v, h = hog.transform([vertical, horizontal])
    assert hog.transform([vertical[:40, :40]]).shape == (1, hog.dim)
    assert float(v @ h) < 0.5


def test_fusion_cosine_is_weighted_mean_of_block_cosines(images):
    a, b = images.images[0], images.images[30]
    hog, gch = HOG(), ColorHistogram()
    fused = FusedExtractor([hog, gch], weights=[2.0, 1.0])
    cos = lambda e: float(e.transform([a])[0] @ e.transform([b])[0])  # noqa: E731
    expected = (4 * cos(hog) + 1 * cos(gch)) / 5
    assert cos(fused) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError):
        FusedExtractor([hog], weights=[1.0, 2.0])


def test_fusion_without_block_normalisation_keeps_raw_scales(images, tmp_path):
    hog, gch = HOG(), ColorHistogram()
    raw = FusedExtractor([hog, gch], weights=[2.0, 1.0], normalise=False)
    batch = images.images[:3]
    expected = np.hstack([2 * hog.transform(batch, normalise=False), gch.transform(batch, normalise=False)])
    np.testing.assert_allclose(raw.transform(batch, normalise=False), expected, rtol=1e-6)
    assert not np.allclose(expected, raw.transform(batch))
    assert raw.config_hash() != FusedExtractor([hog, gch], weights=[2.0, 1.0]).config_hash()
    raw.save(tmp_path / "raw")
    assert load_extractor(tmp_path / "raw").normalise is False


def test_product_fusion_gives_indexed_rows_one_norm_and_scores_features_plus_weighted_probability_product():
    rng = np.random.default_rng(0)
    features, logits = rng.normal(size=(30, 8)), rng.normal(size=(30, 5)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    indexed, query = fuse(features, p, 2.5, "product", indexing=True), fuse(features[:4], p[:4], 2.5, "product")
    assert indexed.shape == (30, 14) and query.shape == (4, 14) and not query[:, -1].any()
    np.testing.assert_allclose(np.linalg.norm(indexed, axis=1), np.sqrt(2), rtol=1e-5)
    unit = l2_normalise(features)
    np.testing.assert_allclose(query @ indexed.T, unit[:4] @ unit.T + 2.5 * p[:4] @ p.T, rtol=1e-5, atol=1e-6)
    cosine = fuse(features, p, 2.0)
    np.testing.assert_allclose(np.linalg.norm(cosine[:, 8:], axis=1), 2.0, rtol=1e-5)
    assert fused_dim(8, 5, "product") == 14 and fused_dim(8, 5, "cosine") == 13


def test_unknown_name_and_bad_parameters():
    with pytest.raises(CbirError, match="hog-gch"):
        make_extractor("vgg16")
    with pytest.raises(ValueError):
        ColorHistogram(bins=1)
    with pytest.raises(ValueError):
        HOG(size=8, cell=8, block=2)


def test_registered_features_take_changed_options(images):
    hog = make_extractor("hog", options={"orientations": 12})
    assert hog.name == "hog" and hog.dim == 12 * 4 * 9 and make_extractor("hog").dim == 324
    fused = make_extractor("hog-gch", options={"weights": [1.0, 0.0]})
    vectors = fused.transform(images.images[:3])  # the colour block weighs nothing
    np.testing.assert_allclose(vectors[:, :324], make_extractor("hog").transform(images.images[:3]), atol=1e-6)
    assert not vectors[:, 324:].any()
    with pytest.raises(CbirError, match="no option orientation; they take: .*orientations"):
        make_extractor("hog", options={"orientation": 12})
    with pytest.raises(CbirError, match="no option blocks"):
        make_extractor("hog-gch", options={"blocks": []})
    with pytest.raises(CbirError, match="bad option value"):
        make_extractor("gch", options={"bins": 1})
    with pytest.raises(CbirError, match="option bins takes int, not 8.5"):
        make_extractor("gch", options={"bins": 8.5})
    with pytest.raises(CbirError, match="option sqrt takes bool, not 'maybe'"):
        make_extractor("gch", options={"sqrt": "maybe"})
    with pytest.raises(CbirError, match=r"option weights takes Sequence\[float\] \| None, not \['a', 1\]"):
        make_extractor("hog-gch", options={"weights": ["a", 1]})
    with pytest.raises(CbirError, match="option pca takes int \\| None, not 'abc'"):
        make_extractor("cnn", options={"pca": "abc"})
    assert make_extractor("cnn", options={"pca": 8, "proba_weight": 2, "index_tta": False}).get_config()["pca"] == 8
    assert parse_option("index_tta=false") == ("index_tta", False)
    assert parse_option("weights=[1, 0.5]") == ("weights", [1, 0.5])
    assert parse_option("space=rgb") == ("space", "rgb") and parse_option("k=") == ("k", "")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_option("pca")


class _Mean(FeatureExtractor):
    """A trainable test extractor: subtracts the training mean colour."""

    kind = "test-mean"
    trainable = True

    @property
    def dim(self):
        return 3

    def _fit(self, dataset, progress):
        self.mean_ = np.asarray(dataset.images, np.float32).mean(axis=(0, 1, 2))

    def _transform_batch(self, images):
        return np.asarray(images, np.float32).mean(axis=(1, 2)) - self.mean_

    def _save_state(self, path):
        np.save(path / "mean.npy", self.mean_)

    def _load_state(self, path):
        self.mean_ = np.load(path / "mean.npy")


def test_trainable_extractor_refuses_use_before_fit(images, tmp_path):
    extractor = _Mean()
    with pytest.raises(NotFittedError, match="call fit"):
        extractor.transform(images.images)
    with pytest.raises(NotFittedError):
        extractor.save(tmp_path / "x")
    fused = FusedExtractor([_Mean(), HOG()])
    assert not fused.fitted_
    fused.fit(images)
    fused.save(tmp_path / "fused")
    np.testing.assert_array_equal(load_extractor(tmp_path / "fused").transform(images.images[:5]),
                                  fused.transform(images.images[:5]))
