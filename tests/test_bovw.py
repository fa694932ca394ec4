"""Bag of Visual Words, Coates-Ng triangle features and the supervised variant, on tiny generated images."""

import re

import numpy as np
import pytest

from cbir import Engine
from cbir.datasets import load_folder
from cbir.errors import CbirError, NotFittedError
from cbir.features import EXTRACTORS, load_extractor, make_extractor
from cbir.features.bovw import SiftBoVW
from cbir.features.fusion import FusedExtractor
from cbir.features.global_ import ColorHistogram
from cbir.features.kmeans import kmeans_centroids
from cbir.features.local import SiftConfig, balanced_chunk, describe
from cbir.features.supervised import SupervisedExtractor
from cbir.features.triangle import KMeansTriangle


@pytest.fixture(scope="module")
def train(tiny_collection):
    return load_folder(tiny_collection, split="train", progress=False, cache=False)


@pytest.fixture(scope="module")
def bovw(train):
    return SiftBoVW(k=16, sample_images=60, sample_descriptors=5000, n_jobs=1).fit(train)


@pytest.fixture(scope="module")
def triangle(train):
    return KMeansTriangle(k=20, pca=16, sample_patches=5000).fit(train)


def test_dense_grid_and_rootsift():
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    (desc, pos), = describe([image], SiftConfig(step=8, patch=16, upscale=2))
    assert desc.shape == (49, 128) and pos.shape == (49, 2) and (0 <= pos).all() and (pos < 1).all()
    np.testing.assert_allclose((desc ** 2).sum(axis=1), 1.0, atol=1e-4)  # RootSIFT rows have unit L2 norm
    (plain, _), = describe([image], SiftConfig(step=8, patch=16, rootsift=False))
    assert plain.max() > 1


@pytest.mark.parametrize("n, workers, most", [(1024, 2, 500), (10_000, 2, 2000), (999, 2, 500), (257, 3, 100),
                                               (50_000, 16, 500)])
def test_sift_chunks_never_exceed_the_most_and_come_in_a_number_the_workers_divide(n, workers, most):
    chunk = balanced_chunk(n, workers, most)
    chunks = -(-n // chunk)
    assert chunk <= most and chunks % workers == 0 and chunks * chunk - n < chunks  # near-equal sizes


def test_vocabulary_has_k_words_and_histograms_sum_as_they_should(bovw, train):
    assert bovw.vocabulary_.shape == (16, 128) and bovw.dim == 16 * 5
    described = describe(train.images[:4], bovw.sift)
    counts = bovw._counts(described)
    sizes = np.array([len(d) for d, _ in described])
    np.testing.assert_array_equal(counts[:, :16].sum(axis=1), sizes)  # whole-image histogram
    np.testing.assert_array_equal(counts[:, 16:].sum(axis=1), sizes)  # the four quadrants together


def test_kmeans_shows_its_starts_and_steps_and_finds_what_plain_minibatch_kmeans_finds(capsys):
    from sklearn.cluster import MiniBatchKMeans

    data = np.random.default_rng(0).random((3000, 8), dtype=np.float32) ** 3
    params = {"batch_size": 256, "n_init": 3, "max_no_improvement": 5}
    centroids = kmeans_centroids(data, 12, "test words", seed=4, progress=True, **params)
    printed = capsys.readouterr()
    plain = MiniBatchKMeans(n_clusters=12, random_state=4, **params).fit(data).cluster_centers_
    np.testing.assert_array_equal(centroids, plain.astype(np.float32))
    bars = printed.err.replace("\r", "\n")
    assert "test words: k-means++ starts: 100%" in bars and " 3/3 " in bars
    steps = [line for line in bars.splitlines() if line.startswith("test words: mini-batch steps: 100%")]
    assert steps and printed.out == ""  # scikit-learn's own step lines went into the bars
    done, most = map(int, re.search(r"\| (\d+)/(\d+) ", steps[-1]).groups())
    assert 1 < done == most < 3000 * 100 // 256  # the bar ends where early stopping ended the run


def test_identical_images_identical_vectors_and_shift_finds_original(bovw, triangle, train):
    for extractor in (bovw, triangle):
        images = np.asarray(train.images[:30])
        vectors = extractor.transform(images)
        np.testing.assert_allclose(vectors[:3], extractor.transform(images[:3]), atol=1e-6)  # BLAS blocking
        twins = extractor.transform(np.stack([images[5], images[5]]))
        np.testing.assert_allclose(twins[0], twins[1], atol=1e-6)
        shifted = np.roll(images[7], 1, axis=1)
        scores = vectors @ extractor.transform([shifted])[0]
        assert int(np.argmax(scores)) == 7, extractor.name


def test_separates_stripes_from_blobs(bovw, triangle, train):
    test_labels = np.asarray(train.labels)
    for extractor in (bovw, triangle):
        engine = Engine.build(train, extractor, progress=False)
        results = engine.search(train.images, k=6)
        agreement = np.mean([[h.label == label for h in r.hits[1:]] for r, label in zip(results, test_labels)])
        assert agreement > 0.7, extractor.name


def test_save_load_round_trip_without_refitting(bovw, triangle, train, tmp_path, monkeypatch):
    for extractor in (bovw, triangle):
        extractor.save(tmp_path / extractor.name)
        monkeypatch.setattr(type(extractor), "_fit", lambda *a: pytest.fail("refitted"))
        loaded = load_extractor(tmp_path / extractor.name)
        np.testing.assert_array_equal(loaded.transform(train.images[:10]), extractor.transform(train.images[:10]))
        assert loaded.config_hash() == extractor.config_hash()
        monkeypatch.undo()


def test_transform_before_fit_is_refused():
    for extractor in (SiftBoVW(k=8), KMeansTriangle(k=8, pca=None), SupervisedExtractor(SiftBoVW(k=8))):
        with pytest.raises(NotFittedError, match="call fit"):
            extractor.transform(np.zeros((1, 32, 32, 3), np.uint8))


def test_supervised_uses_predicted_probabilities(train, tmp_path):
    base = KMeansTriangle(k=20, pca=16, sample_patches=5000)
    extractor = SupervisedExtractor(base, weight=2.0, cs=(1.0, 10.0), cv_images=60, folds=3).fit(train)
    assert extractor.classes_ == ["blobs", "gradient", "stripes"] and extractor.dim == 16 + 3
    proba = extractor.predict_proba(train.images)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.mean(np.asarray(extractor.classes_)[proba.argmax(1)] == np.asarray(train.labels)) > 0.9
    vectors = extractor.transform(train.images[:5])
    # the vector depends on the pixels only: the same image with another label gets the same vector
    relabelled = train.subset(range(5))
    relabelled.labels[:] = ["stripes"] * 5
    np.testing.assert_array_equal(extractor.transform(relabelled.images), vectors)
    extractor.save(tmp_path / "sup")
    loaded = load_extractor(tmp_path / "sup")
    np.testing.assert_array_equal(loaded.transform(train.images[:5]), vectors)
    assert set(loaded.report_["cv_accuracy"]) == {"1.0", "10.0"}  # JSON keys
    c = extractor.report_["C"]
    said = (f"logistic regression over kmeans-triangle (C={c}, cross-validated accuracy "
            f"{extractor.report_['cv_accuracy'][c]:.4f}, training accuracy ")
    assert extractor.describe().startswith(said) and loaded.describe() == extractor.describe()
    inputs, calls = extractor.inputs, []  # the class of an image just searched with comes from that search
    extractor.inputs = lambda images, **kw: calls.append(len(images)) or inputs(images, **kw)
    np.testing.assert_allclose(extractor.predict_proba(train.images[2:3]), proba[2:3], atol=1e-6)
    assert calls == []
    assert SupervisedExtractor(base).describe() is None  # not fitted yet


def test_supervised_product_fusion_indexes_and_queries_its_own_way(train, tmp_path):
    base = ColorHistogram(bins=4, space="rgb")
    extractor = SupervisedExtractor(base, weight=3.0, cs=(1.0,), fusion="product")
    fitted = range(0, len(train), 3)  # fit_transform indexes these, `add` (batches of 7) the others
    engine = Engine.build(train.subset(fitted), extractor, progress=False)
    engine.add(train.subset(sorted(set(range(len(train))) - set(fitted))), batch_size=7, progress=False)
    assert extractor.dim == base.dim + 3 + 1 and extractor.get_config()["fusion"] == "product"
    unit, p = base.transform(train.images), extractor.predict_proba(train.images)
    score = unit[:4] @ unit.T + 3.0 * p[:4] @ p.T
    position = {id_: i for i, id_ in enumerate(train.ids)}
    for row, result in zip(score, engine.search(train.images[:4], k=len(train))):
        ranked = row[[position[h.id] for h in result.hits]]
        assert np.all(np.diff(ranked) <= 1e-5)
    extractor.save(tmp_path / "sup")
    np.testing.assert_array_equal(load_extractor(tmp_path / "sup").transform(train.images[:4]),
                                  extractor.transform(train.images[:4]))
    assert "fusion" not in SupervisedExtractor(base).get_config()  # engines saved before the option keep their hash


def classifier_fits(stderr: str) -> str:
    """The last state of the classifier's progress bar: 'fitted/total'."""
    return re.findall(r"classifier of '[^']+': +\d+%\|[^|]*\| (\d+/\d+) ", stderr)[-1]


def test_a_single_c_is_taken_without_cross_validation(train, capsys):
    extractor = SupervisedExtractor(ColorHistogram(bins=4, space="rgb"), cs=(0.5,)).fit(train, progress=True)
    assert extractor.report_["C"] == 0.5 and extractor.report_["cv_accuracy"] == {}
    assert classifier_fits(capsys.readouterr().err) == "1/1"  # the one classifier, on every image


def test_the_classifier_bar_counts_each_fold_of_each_c_then_the_final_fit(train, capsys):
    extractor = SupervisedExtractor(ColorHistogram(bins=4, space="rgb"), cs=(0.1, 1.0, 10.0), cv_images=60,
                                    folds=4).fit(train, progress=True)
    assert len(extractor.report_["cv_accuracy"]) == 3
    assert classifier_fits(capsys.readouterr().err) == "13/13"


def test_fitting_without_progress_prints_nothing_and_with_it_shows_every_stage(train, capsys):
    def fit(progress):
        SupervisedExtractor(FusedExtractor([SiftBoVW(k=8, sample_images=30, n_jobs=1),
                                            KMeansTriangle(k=8, pca=4, sample_patches=2000)]),
                            cs=(0.1, 1.0), cv_images=60, folds=2).fit(train, progress=progress)
        return capsys.readouterr()

    assert fit(False) == ("", "")
    shown = fit(True).err
    for stage in ("SIFT descriptors", "vocabulary of 8 words: mini-batch steps", "8 patch centroids: k-means++",
                  "triangle PCA sample", "classifier of"):
        assert stage in shown


def test_supervised_options_standardise_pca_and_flip(train, tmp_path):
    base = KMeansTriangle(k=20, pca=None, sample_patches=5000)
    extractor = SupervisedExtractor(base, cs=(0.1, 1.0), cv_images=60, standardise=True, pca=8, flip=True)
    vectors = extractor.fit_transform(train)
    assert extractor.dim == 8 + 3 and vectors.shape == (len(train), 8 + 3)
    np.testing.assert_allclose(extractor.mean_, extractor.base_features(train.images).mean(axis=0), atol=1e-5)
    inputs = extractor.inputs(train.images)  # the PCA is the top principal subspace of the classifier's inputs
    _, _, vt = np.linalg.svd(inputs - inputs.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(vt[:8] @ extractor.components_), np.eye(8), atol=1e-3)
    proba = extractor.predict_proba(train.images)
    assert np.mean(np.asarray(extractor.classes_)[proba.argmax(1)] == np.asarray(train.labels)) > 0.9
    # flip: an image and its mirror image are described alike
    mirrored = [np.ascontiguousarray(im[:, ::-1]) for im in train.images[:5]]
    np.testing.assert_allclose(extractor.transform(mirrored), vectors[:5], atol=1e-5)
    plain = SupervisedExtractor(KMeansTriangle(k=20, pca=None, sample_patches=5000), cs=(1.0,), cv_images=60).fit(train)
    assert not np.allclose(plain.transform(mirrored)[:, :-3], plain.transform(train.images[:5])[:, :-3], atol=1e-3)
    extractor.save(tmp_path / "sup")
    loaded = load_extractor(tmp_path / "sup")
    np.testing.assert_array_equal(loaded.transform(train.images[:5]), extractor.transform(train.images[:5]))
    assert loaded.components_.shape == (base.dim, 8)


def test_supervised_pca_larger_than_the_features_is_a_clear_error(train):
    with pytest.raises(CbirError, match="PCA to 500 dimensions"):
        SupervisedExtractor(KMeansTriangle(k=20, pca=None, sample_patches=5000), cs=(1.0,), cv_images=60,
                            pca=500).fit(train)


def test_supervised_needs_labels(tmp_path, tiny_collection):
    unlabelled = load_folder(tiny_collection, split="train", progress=False, cache=False)
    unlabelled.labels[:] = [None] * len(unlabelled)
    with pytest.raises(CbirError, match="labelled"):
        SupervisedExtractor(KMeansTriangle(k=8, pca=None, sample_patches=2000)).fit(unlabelled)
    one_class = unlabelled.subset(range(20))
    one_class.labels[:] = ["cats"] * 20
    with pytest.raises(CbirError, match=r"the collection has one class \('cats'\), it needs two or more"):
        SupervisedExtractor(KMeansTriangle(k=8, pca=None, sample_patches=2000)).fit(one_class)


def shrink(extractor):
    """The same named extractor with tiny learned parts, so it fits on 60 images in a second."""
    for block in getattr(extractor, "blocks", []):
        shrink(block)
    if isinstance(extractor, SupervisedExtractor):
        extractor.cv_images, extractor.pca = 60, extractor.pca and 8
        shrink(extractor.base)
    if isinstance(extractor, SiftBoVW):
        extractor.k, extractor.sample_descriptors, extractor.n_jobs = 16, 5000, 1
    if isinstance(extractor, KMeansTriangle):
        extractor.k, extractor.pca, extractor.sample_patches = 20, extractor.pca and 16, 5000
    return extractor


@pytest.mark.parametrize("name", ["sift-bovw", "kmeans-triangle", "bovw-hog-gch", "triangle-hog-gch",
                                  "bovw-hog-gch-supervised", "triangle-hog-gch-supervised"])
def test_every_variant_fits_indexes_and_round_trips(name, train, tmp_path):
    assert name in EXTRACTORS
    extractor = shrink(make_extractor(name))
    assert extractor.name == name
    engine = Engine.build(train, extractor, progress=False)
    vectors = extractor.transform(train.images[:8])
    assert vectors.shape == (8, extractor.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    engine.save(tmp_path / "engine")
    loaded = Engine.load(tmp_path / "engine", features=name)
    np.testing.assert_allclose(loaded.extractor.transform(train.images[:8]), vectors, atol=1e-6)
    hits = loaded.search(train.images[:1], k=5)[0].hits
    assert [h.id for h in hits] == [h.id for h in engine.search(train.images[:1], k=5)[0].hits]
    if getattr(extractor, "fusion", "cosine") == "cosine":
        assert hits[0].id == train.ids[0]
    else:  # "product" ranks by the probability of a shared class first: the image itself need not lead
        assert hits[0].label == train.labels[0]


def test_triangle_pca_larger_than_the_training_set_is_a_clear_error(train):
    with pytest.raises(ValueError, match="at least 512 training images"):
        KMeansTriangle(k=200, pca=512, sample_patches=3000).fit(train)


def test_building_a_supervised_engine_describes_each_training_image_once(train):
    base = KMeansTriangle(k=20, pca=16, sample_patches=5000)
    seen = []
    original = base._transform_batch
    base._transform_batch = lambda images: (seen.append(len(images)), original(images))[1]
    extractor = SupervisedExtractor(base, cs=(1.0,), cv_images=60)
    engine = Engine.build(train, extractor, progress=False)
    assert sum(seen) == len(train) and len(engine) == len(train)
    np.testing.assert_allclose(engine.index.vectors()[1][:4], extractor.transform(train.images[:4]), atol=1e-5)
    seen.clear()
    SupervisedExtractor(base, cs=(1.0,), cv_images=60, flip=True).fit(train)
    assert sum(seen) == 2 * len(train)  # each image and its mirror image, once
