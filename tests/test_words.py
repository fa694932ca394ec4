"""Search by words: what a word names among a network's classes, each indexed image's probable classes from its
vector, and the search on every surface (Python, CLI, API, page)."""

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.errors import CbirError
from cbir.features import make_extractor
from cbir.words import EVERYDAY, LikelyClasses, classes_named, forms, naming, overview, terms

torch = pytest.importorskip("torch")
from cbir.features.pretrained.extractor import imagenet_classes  # noqa: E402 - needs torch's package

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_a_word_names_its_classes_its_synonyms_and_every_kind_of_it():
    imagenet = imagenet_classes()
    dogs = classes_named("dog", imagenet)
    assert len(dogs) == 118 and imagenet[dogs[0]] == "Chihuahua" and "Golden Retriever" in [imagenet[i] for i in dogs]
    assert classes_named("Dogs", imagenet) == dogs == classes_named("domestic  dog", imagenet)
    # a synonym, a plural; "car" names railway cars too
    assert set(classes_named("automobile", imagenet)) < set(classes_named("cars", imagenet))
    cats = classes_named("cat", imagenet)
    assert set(classes_named("cat, dog", imagenet)) == set(cats) | set(dogs) == set(classes_named("cats or dog",
                                                                                                  imagenet))
    assert set(classes_named("Cats and Dogs", imagenet)) == set(cats) | set(dogs) == set(classes_named("dog OR cat",
                                                                                                      imagenet))
    assert [imagenet[i] for i in classes_named("mortar and pestle", imagenet)] == ["mortar and pestle"]
    assert [imagenet[i] for i in classes_named("espresso", imagenet)] == ["espresso"]
    animals = classes_named("animal", imagenet)
    assert set(dogs) < set(animals) and not set(classes_named("vehicle", imagenet)) & set(animals)
    assert naming(dogs, imagenet) == "Chihuahua, Japanese Chin, Maltese, Pekingese and 114 more classes"
    assert naming(classes_named("mountain", imagenet), imagenet) == "mountain or volcano"


def test_a_collection_s_classes_are_named_by_their_names_synonyms_and_more_general_words():
    assert [CIFAR10[i] for i in classes_named("car", CIFAR10)] == ["automobile"]
    assert [CIFAR10[i] for i in classes_named("plane", CIFAR10)] == ["airplane"]
    assert [CIFAR10[i] for i in classes_named("deer", CIFAR10)] == ["deer"]
    assert [CIFAR10[i] for i in classes_named("animals", CIFAR10)] == ["bird", "cat", "deer", "dog", "frog", "horse"]
    assert [CIFAR10[i] for i in classes_named("vehicle", CIFAR10)] == ["airplane", "automobile", "ship", "truck"]
    assert classes_named("Trip 2019", ["trip 2019", "home"]) == [0]  # a folder's name, even one WordNet lacks


def test_words_that_name_nothing_known_say_why_and_what_was_meant():
    with pytest.raises(CbirError, match="'dgo' names none of the network's 1,000 ImageNet classes; did you mean "
                                        "'dingo'"):
        classes_named("dgo", imagenet_classes())
    with pytest.raises(CbirError, match="'deer' names none of the network's 1,000 ImageNet classes: none of them is a "
                                        "kind of deer"):
        classes_named("deer", imagenet_classes())
    with pytest.raises(CbirError, match=r"'boat' names none of the 10 classes the features know \(airplane, "
                                        r"automobile, .*\): none of them is a kind of boat"):
        classes_named("boat", CIFAR10)
    with pytest.raises(CbirError, match="did you mean 'horse'"):
        classes_named("hors", CIFAR10)
    with pytest.raises(CbirError, match="name what to find in words"):
        terms(" , or ")
    assert forms("Golden_Retrievers") >= {"golden retrievers", "golden retriever"}
    assert "knife" in forms("knives") and "mouse" in forms("mice") and "box" in forms("boxes")


def rows_of(probabilities):
    """Images' class probabilities by their ids, which are their rows' numbers."""
    return lambda ids: probabilities[[int(id_) for id_ in ids]]


def test_each_image_keeps_its_most_probable_classes_and_a_word_sums_them():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.full(50, 0.3), size=9000).astype(np.float32)  # more than one chunk
    likely = LikelyClasses.of([str(n) for n in range(9000)], rows_of(probabilities))
    assert likely.classes.shape == (9000, 20) and likely.classes.dtype == np.int16
    wanted = [3, 7, 11]
    exact = probabilities[:, wanted].sum(axis=1)
    kept = likely.scores(wanted)
    assert np.all(kept <= exact + 1e-6) and np.all(exact - kept < 0.05)  # only what is beyond the top 20 is lost
    top = probabilities.argmax(axis=1)
    np.testing.assert_allclose(likely.scores([int(top[0])])[0], probabilities[0, top[0]], rtol=1e-6)


def test_an_overview_counts_the_images_that_show_what_each_word_names():
    for word in EVERYDAY:  # each everyday word names some of ImageNet's classes
        assert classes_named(word, imagenet_classes()), word
    names = ["cat", "dog", "frog"]
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.4, 0.4, 0.2]], np.float32)
    likely = LikelyClasses.of(["0", "1", "2", "3"], rows_of(probabilities))
    assert overview(likely, names) == [("cat", 2, "0"), ("dog", 1, "1")]  # at least 0.5 each, the likeliest; no frog
    imagenet = np.zeros((3, 1000), np.float32)
    imagenet[:, classes_named("espresso", imagenet_classes())[0]] = [0.9, 0.6, 0.1]
    imagenet[2, classes_named("tabby cat", imagenet_classes())[0]] = 0.9
    shown = {s.words: s.images for s in overview(LikelyClasses.of(["0", "1", "2"], rows_of(imagenet)),
                                                 imagenet_classes())}
    assert shown == {"drink": 2, "food": 2, "cat": 1}  # espresso is a drink and a food


def photo_collection(root):
    """A folder of scikit-image's photos: a cat, a cup of coffee, a rocket, an astronaut."""
    for folder, name in (("pets", "chelsea"), ("kitchen", "coffee"), ("space", "rocket"), ("space", "astronaut")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(getattr(data, name)()).save(root / folder / f"{name}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_collection(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def photo_engine(photos):
    from cbir.engine import Engine

    return Engine.build(load_folder(photos), make_extractor("effnet"), progress=False)


def test_an_engine_finds_pictures_of_what_words_name_by_their_probability(photo_engine):
    found = photo_engine.search_words("cat", k=10)
    assert found.query == "cat" and [h.id for h in found.hits] == ["pets/chelsea.jpg"]  # the others: none of them
    assert 0.5 < found.hits[0].score <= 1 and found.hits[0].label == "pets" and found.hits[0].path
    assert found.hits[0].shows == "Egyptian Mau"  # the most probable of the cats
    assert photo_engine.search_words("coffee", k=1).hits[0].to_dict()["shows"] == "espresso"
    assert photo_engine.search_words("cup, coffee", k=1).hits[0].id == "kitchen/coffee.jpg"
    assert photo_engine.search_words("cat", where=folder_filter("space")).hits == []  # the filter applies
    assert photo_engine.search_words("food, cat", k=10, min_score=0.5).hits[0].score >= 0.5
    assert len(photo_engine.search_words("cat, cup", k=1, distinct=True).hits) == 1
    assert len(photo_engine.browse(4, distinct=True).hits) == 4  # four pictures, none alike
    with pytest.raises(CbirError, match="k must be at least 1"):
        photo_engine.search_words("cat", k=0)


def folder_filter(folder):
    from cbir.filters import Filter

    return Filter.of(folder=folder + "/")


def test_images_added_or_removed_are_found_by_words_at_once(photos, tmp_path):
    from cbir.engine import Engine

    every = load_folder(photos)
    others = [n for n, id_ in enumerate(every.ids) if id_ != "pets/chelsea.jpg"]
    engine = Engine.build(every.subset(others), make_extractor("effnet"), progress=False)
    assert "pets/chelsea.jpg" not in [h.id for h in engine.search_words("cat", k=4).hits]
    engine.add_new(every, progress=False)
    assert engine.search_words("cat", k=1).hits[0].id == "pets/chelsea.jpg"
    engine.remove(["pets/chelsea.jpg"])
    assert "pets/chelsea.jpg" not in [h.id for h in engine.search_words("cat", k=4).hits]
    engine.save(tmp_path / "engine")
    again = Engine.load(tmp_path / "engine")  # from the vectors as saved
    assert again.search_words("coffee", k=1).hits[0].id == "kitchen/coffee.jpg"


def test_images_added_while_the_classes_are_worked_out_are_found_next_time(photos, monkeypatch):
    from cbir.engine import Engine
    from cbir.words import LikelyClasses

    every = load_folder(photos)
    others = [n for n, id_ in enumerate(every.ids) if id_ != "pets/chelsea.jpg"]
    engine = Engine.build(every.subset(others), make_extractor("effnet"), progress=False)
    worked_out = LikelyClasses.of

    def meanwhile(*args, **kwargs):  # another thread adds the cat while the classes are worked out
        found = worked_out(*args, **kwargs)
        monkeypatch.setattr(LikelyClasses, "of", worked_out)
        engine.add_new(every, progress=False)
        return found

    monkeypatch.setattr(LikelyClasses, "of", meanwhile)
    assert "pets/chelsea.jpg" not in engine.likely_classes().ids  # as they were when it started
    assert "pets/chelsea.jpg" in engine.likely_classes().ids  # not kept: worked out again with the cat
    assert engine.search_words("cat", k=1).hits[0].id == "pets/chelsea.jpg"


def test_features_that_know_no_classes_or_not_as_indexed_say_so(tiny):
    from cbir.engine import Engine
    from cbir.web import create_app

    engine = Engine.build(tiny, make_extractor("hog-gch"), progress=False)
    with pytest.raises(CbirError, match="features 'hog-gch' do not say what a picture shows: a search by words needs"):
        engine.search_words("dog")
    client = create_app({"ENGINES": {"tiny": engine}}).test_client()
    answer = client.get("/api/v1/words")
    assert answer.status_code == 400 and "do not say what a picture shows" in answer.json["error"]
    assert client.get("/").status_code == 200 and 'id="shows"' not in client.get("/").get_data(as_text=True)
    with pytest.raises(CbirError, match="a search by words needs them as they are"):
        make_extractor("effnet").with_options({"pca": 8}).vector_proba(np.zeros((1, 8), np.float32))


def test_the_cifar_network_finds_its_classes_by_name_from_its_kept_vectors(tiny):
    from cbir.engine import Engine

    engine = Engine.build(tiny, make_extractor("cnn"), progress=False)
    extractor = engine.extractor
    ids, vectors = engine.index.vectors()
    kept = extractor.vector_proba(vectors)
    order = [tiny.ids.index(id_) for id_ in ids]
    measured = extractor._forward([tiny.images[i] for i in order], indexing=True)[1]  # the probabilities as indexed
    assert kept.shape == (len(ids), 10)
    assert np.mean(kept.argmax(axis=1) == measured.argmax(axis=1)) >= 0.95  # the unit vector at the typical length
    best = engine.search_words("vehicle", k=3)
    assert all(extractor.classes_[int(np.argmax(kept[ids.index(h.id)]))] in ("airplane", "automobile", "ship",
                                                                              "truck") for h in best.hits)
    with pytest.raises(CbirError, match="'sofa' names none of the 10 classes"):
        engine.search_words("sofa")


@pytest.mark.parametrize("fusion", ["cosine", "product"])
def test_probabilities_fused_into_indexed_vectors_are_read_back(fusion):
    from cbir.features.base import l2_normalise
    from cbir.features.probabilities import fuse, fused_probabilities

    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    vectors = l2_normalise(fuse(rng.normal(size=(6, 16)), probabilities, 0.7, fusion, indexing=True))
    np.testing.assert_allclose(fused_probabilities(vectors, 4, fusion), probabilities, atol=1e-6)


def test_a_classifier_of_one_s_own_labels_finds_them_by_name(tiny_collection, tiny):
    from cbir.engine import Engine
    from cbir.features.supervised import SupervisedExtractor

    extractor = SupervisedExtractor(make_extractor("hog-gch"), cs=[1.0]).fit(tiny)
    engine = Engine.build(load_folder(tiny_collection, split="test"), extractor, progress=False)  # not trained on
    assert [h.label for h in engine.search_words("stripes", k=5).hits] == ["stripes"] * 5
    assert sorted((s.words, s.images) for s in engine.shows()) == [("blobs", 5), ("gradient", 5), ("stripes", 5)]
    cnn = Engine.build(tiny, make_extractor("cnn-supervised"), progress=False)  # CIFAR-10's classes, fused in
    ids, vectors = cnn.index.vectors()
    indexed = cnn.extractor._forward([tiny.images[tiny.ids.index(id_)] for id_ in ids], indexing=True)[1]
    np.testing.assert_allclose(cnn.extractor.vector_proba(vectors), indexed, atol=2e-3)


def test_the_cli_searches_by_words(photos, tmp_path, capsys):
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "effnet", "--out", str(engine)]) == 0
    capsys.readouterr()
    assert main(["info", str(engine)]) == 0
    assert f"shows      cat (1), food (1), drink (1): `cbir search {engine} --words WORD` finds them" in \
        capsys.readouterr().out
    assert main(["info", str(engine), "--json"]) == 0
    assert {"words": "cat", "images": 1, "example": "pets/chelsea.jpg"} in json.loads(capsys.readouterr().out)["shows"]
    assert main(["search", str(engine), "--words", "cat", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["query"] == "cat" and result["hits"][0]["id"] == "pets/chelsea.jpg"
    assert main(["search", str(engine), "--words", "espresso", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "espresso (espresso):"
    assert out.splitlines()[1].endswith("kitchen/coffee.jpg  (espresso)")
    assert main(["search", str(engine), "--words", "cat, espresso", "--paths"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(photos / "pets" / "chelsea.jpg"),
                                                    str(photos / "kitchen" / "coffee.jpg")]
    for args, message in (([str(photos / "pets" / "chelsea.jpg"), "--words", "cat"], "not both"),
                          (["--unlike", str(photos / "pets" / "chelsea.jpg")], "a look through the images"),
                          (["--words", "cat", "--together"], "--words searches alone"),
                          (["--words", "dgo"], "did you mean 'dingo'")):
        assert main(["search", str(engine), *args]) == 2
        assert message in capsys.readouterr().err


def test_the_api_and_the_page_search_by_words(photo_engine):
    from cbir.web import create_app

    client = create_app({"ENGINES": {"photos": photo_engine}}).test_client()
    answer = client.get("/api/v1/search?words=cat&k=3")
    assert answer.status_code == 200
    assert answer.json["classes"].startswith("tabby cat, tiger cat, Persian cat, Siamese cat and ")
    assert [(h["id"], h["shows"]) for h in answer.json["hits"]] == [("pets/chelsea.jpg", "Egyptian Mau")]
    for query, message in (("", "name what to find in words"), ("words=dgo", "did you mean 'dingo'"),
                           ("words=" + "a" * 201, "at most 200 characters")):
        answer = client.get(f"/api/v1/search?{query}")
        assert answer.status_code == 400 and message in answer.json["error"]
    spec = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/search"]
    assert {"get", "post"} <= set(spec) and spec["get"]["parameters"][0]["name"] == "words"

    page = client.get("/?words=coffee&k=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Pictures of espresso, by the network&#39;s probability" in html
    assert 'value="coffee"' in html and "kitchen/coffee.jpg" in html and '>espresso</span>' in html
    assert '<input type="hidden" name="words" value="coffee">' in html  # the next results are of the same words
    shows = client.get("/api/v1/words")  # waits for the overview, which the server works out as it starts
    assert shows.status_code == 200 and shows.json["engine"] == "photos"
    assert {"words": "cat", "images": 1, "example": "pets/chelsea.jpg"} in shows.json["words"]
    assert {"words": "drink", "images": 1, "example": "kitchen/coffee.jpg"} in shows.json["words"]
    start = client.get("/").get_data(as_text=True)
    assert 'id="shows"' in start and 'href="/?words=cat&amp;engine=photos&amp;k=10"' in start
    assert 'src="/api/v1/images/pets/chelsea.jpg?size=thumb" alt="">cat' in start  # the likeliest, pictured
    assert '<option value="cat" label="1 image">' in client.get("/?words=cup").get_data(as_text=True)  # suggested
    wrong = client.get("/?words=dgo&k=5&offset=10")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "did you mean" in html
    assert 'name="words" value="dgo"' in html  # the words as typed, kept in their field to mend
    assert '<a href="/?words=dingo&amp;k=5">dingo</a>' in html  # a click away: the same request, from the start
    assert client.get("/api/v1/search?words=dgo").json["suggestions"] == ["dingo"]


def test_only_images_showing_what_words_name_is_a_filter_of_any_search(photo_engine, photos, capsys, tmp_path):
    from cbir.datasets import decode_image
    from cbir.filters import Filter
    from cbir.web import create_app

    rocket = decode_image((photos / "space" / "rocket.jpg").read_bytes(), max_side=256)
    unfiltered = [h.id for h in photo_engine.search([rocket], k=4)[0].hits]
    assert len(unfiltered) == 4
    showing = Filter.of(showing="  cat ")
    assert showing.showing == "cat" and showing.describe() == "showing cat"
    assert [h.id for h in photo_engine.search([rocket], k=4, where=showing)[0].hits] == ["pets/chelsea.jpg"]
    assert photo_engine.search_words("drink", where=showing).hits == []  # a cat is no drink
    with pytest.raises(CbirError, match="did you mean 'dingo'"):
        photo_engine.search([rocket], where=Filter.of(showing="dgo"))

    client = create_app({"ENGINES": {"photos": photo_engine}}).test_client()
    answer = client.get("/api/v1/similar/space/rocket.jpg?showing=cat")
    assert answer.status_code == 200 and [h["id"] for h in answer.json["hits"]] == ["pets/chelsea.jpg"]
    wrong = client.get("/api/v1/similar/space/rocket.jpg?showing=dgo")
    assert wrong.status_code == 400 and "did you mean 'dingo'" in wrong.json["error"]
    page = client.get("/?id=space/rocket.jpg&showing=cat").get_data(as_text=True)
    assert "Only images showing cat." in page and 'name="showing" list="word-hints" value="cat"' in page

    engine = tmp_path / "engine"
    photo_engine.save(engine)
    assert main(["search", str(engine), str(photos / "space" / "rocket.jpg"), "--showing", "cat", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]] == ["pets/chelsea.jpg"]


def test_an_engine_with_copies_filters_its_copies_by_what_its_own_features_say(photos):
    from cbir.datasets import decode_image
    from cbir.engine import Engine
    from cbir.filters import Filter

    engine = Engine.build(load_folder(photos), make_extractor("effnet"), progress=False,
                          copies=make_extractor("effnet"))
    engine.copies.extractor.vector_proba = lambda vectors: pytest.fail("the copies' features were asked")
    coffee = decode_image((photos / "kitchen" / "coffee.jpg").read_bytes(), max_side=256)
    assert engine.search([coffee], k=1)[0].hits[0].copy is not None  # its copy, first
    hits = engine.search([coffee], k=2, where=Filter.of(showing="cat"))[0].hits
    assert [h.id for h in hits] == ["pets/chelsea.jpg"]
