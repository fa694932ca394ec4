"""Faces and the people they show: found in real photographs (scikit-image's astronaut, Eileen Collins, and
matplotlib's Grace Hopper), told apart and grouped into people; a filter of every search; kept as photos come, go
and move; a stopped run resumed; on the command line, the page and the API."""

import json

import numpy as np
import pytest
from conftest import on_milvus
from matplotlib import cbook
from PIL import Image, ImageEnhance
from skimage import data

import cbir.faces
from cbir.cli import main
from cbir.datasets import load_folder
from cbir.engine import Engine
from cbir.errors import CbirError, MissingDependencyError
from cbir.faces import FaceFinder, Faces, FaceSpool
from cbir.storage import current_version
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.web import create_app


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def hopper() -> Image.Image:
    return Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")


def photos(root):
    """Three photos of each of two people, altered as a photo library's would be (flipped, cropped, resized, turned,
    lighter, less contrast), and two without a face."""
    root.mkdir(parents=True, exist_ok=True)
    shots = {"collins/a1.jpg": astronaut(), "collins/a2.jpg": astronaut().transpose(Image.Transpose.FLIP_LEFT_RIGHT),
             "collins/a3.jpg": ImageEnhance.Brightness(astronaut().crop((60, 0, 460, 400))).enhance(1.3),
             "hopper/h1.jpg": hopper(), "hopper/h2.jpg": hopper().resize((384, 450)).rotate(6),
             "hopper/h3.jpg": ImageEnhance.Contrast(hopper()).enhance(0.7),
             "other/cat.jpg": Image.fromarray(data.chelsea()), "other/coffee.jpg": Image.fromarray(data.coffee())}
    for name, image in shots.items():
        (root / name).parent.mkdir(exist_ok=True)
        image.save(root / name, quality=90)
    return root


def indexed(folder, tmp_path):
    """A `gch` engine of a folder's photos, made by `cbir index`, in `tmp_path`: its folder."""
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(folder), "--features", "gch", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    return photos(tmp_path_factory.mktemp("faces"))


@pytest.fixture(scope="module")
def finder():
    return FaceFinder()


def test_faces_are_found_where_they_are_and_told_apart_by_person(finder):
    boxes, collins = finder.find(data.astronaut())
    assert len(boxes) == 1  # not the mission patch on her suit, which the detector scores 0.13
    left, top, right, bottom = boxes[0]
    assert 0.3 < left < right < 0.55 and 0.1 < top < bottom < 0.35  # her face, up in the middle
    assert collins.shape == (1, 128)
    _, flipped = finder.find(np.asarray(astronaut().transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    _, smaller = finder.find(np.asarray(hopper().resize((256, 300))))
    _, grace = finder.find(np.asarray(hopper()))
    assert np.linalg.norm(collins - flipped) < 0.3 and np.linalg.norm(grace - smaller) < 0.3  # the same person
    assert np.linalg.norm(collins - grace) > 0.6  # two people
    for picture in (data.chelsea(), data.coffee(), np.zeros((40, 30, 3), np.uint8)):
        boxes, descriptors = finder.find(picture)
        assert boxes.shape == (0, 4) and descriptors.shape == (0, 128)


def test_searches_at_once_each_borrow_a_set_of_models_and_give_it_back(finder):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # a server's threads: dlib's networks hold state, so never shared at once
        found = list(pool.map(finder.find, [data.astronaut()] * 6))
    assert all(np.array_equal(descriptors, found[0][1]) for _, descriptors in found)
    assert 1 <= len(finder.models.free) <= 2  # as many sets as ran at once, kept for the next searches


def test_faces_group_into_people_the_most_photographed_first(album):
    engine = Engine.build(load_folder(album, progress=False, cache=False), make_extractor("gch"), progress=False)
    assert engine.people() == [] and engine.find_faces(progress=False) == (8, 0, [])
    people = engine.people()
    assert [(p.person, p.images) for p in people] == [(1, 3), (2, 3)]  # a tie: the first image's name first
    assert {p.face.image for p in people} <= {"collins/a1.jpg", "collins/a2.jpg", "collins/a3.jpg", "hopper/h1.jpg",
                                              "hopper/h2.jpg", "hopper/h3.jpg"}
    assert engine.faces.showing(1) == {"collins/a1.jpg", "collins/a2.jpg", "collins/a3.jpg"}
    in_images = engine.faces.in_images()
    assert in_images["hopper/h2.jpg"] == ("person 2",) and "other/cat.jpg" not in in_images
    hits = engine.search([data.coffee()], k=8, where=Filter.of(person=2))[0].hits  # a filter of every search
    assert sorted(h.id for h in hits) == ["hopper/h1.jpg", "hopper/h2.jpg", "hopper/h3.jpg"]
    assert [h.id for h in engine.browse(8, Filter.of(person="1")).hits] == sorted(engine.faces.showing(1))
    with pytest.raises(CbirError, match="there is no person 3: the faces found show people 1 to 2"):
        engine.browse(3, Filter.of(person=3))
    with pytest.raises(CbirError, match="nobody is named 'Anna'; `cbir faces --name N=NAME` names person N"):
        engine.browse(3, Filter.of(person="Anna"))
    assert Filter.of(person=2).describe() == "with person 2" and not Filter.of(person=2).on_documents
    assert Filter.of(person=" Grace  Hopper").describe() == "with Grace Hopper"


def test_an_engine_never_looked_at_for_faces_says_how_to(album):
    engine = Engine.build(load_folder(album, progress=False, cache=False), make_extractor("gch"), progress=False)
    with pytest.raises(CbirError, match="no faces were looked for .* `cbir faces ENGINE` finds them"):
        engine.browse(3, Filter.of(person=1))


def test_the_command_line_finds_faces_lists_people_and_filters_by_them(album, tmp_path, capsys):
    out = indexed(album, tmp_path)
    capsys.readouterr()
    assert main(["faces", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"looked at 8 images -> {out}: 6 faces in 6 of 8 images, 2 people (in 2 images or more, or named)" in said
    assert main(["info", str(out)]) == 0
    assert "faces      6 in 6 of the 8 images looked at; people 1 (3), 2 (3)" in capsys.readouterr().out
    assert main(["search", str(out), "--person", "2", "--paths"]) == 0
    assert sorted(capsys.readouterr().out.split()) == [str(album / f"hopper/h{n}.jpg") for n in (1, 2, 3)]
    assert main(["faces", str(out)]) == 0  # nothing new to look at
    assert "looked at 0 images" in capsys.readouterr().out
    assert main(["faces", str(out), "--again"]) == 0
    assert "looked at 8 images" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    assert '"people": [' in capsys.readouterr().out


def test_faces_follow_the_photos_as_they_come_move_and_go(tmp_path, capsys, monkeypatch):
    album = photos(tmp_path / "album")
    out = indexed(album, tmp_path)
    assert main(["faces", str(out)]) == 0
    astronaut().resize((400, 400)).save(album / "collins/a4.jpg")
    (album / "hopper/h3.jpg").rename(album / "hopper/h4.jpg")  # moved: its faces go with it, nothing looked at
    (album / "hopper/h2.jpg").unlink()
    looked = []
    find = FaceFinder.find
    monkeypatch.setattr(FaceFinder, "find", lambda self, image: looked.append(image.shape) or find(self, image))
    capsys.readouterr()
    assert main(["sync", str(out)]) == 0
    assert "looked for faces in 1" in capsys.readouterr().out and len(looked) == 1  # the new photo alone
    engine = Engine.load(out)
    assert engine.faces.showing(1) == {f"collins/a{n}.jpg" for n in (1, 2, 3, 4)}
    assert engine.faces.showing(2) == {"hopper/h1.jpg", "hopper/h4.jpg"}
    assert "hopper/h2.jpg" not in engine.faces.scanned and len(engine.faces) == 6


def test_an_add_without_dlib_keeps_its_images_and_says_their_faces_were_not_looked_for(album, tmp_path, capsys,
                                                                                       monkeypatch):
    out = indexed(album / "collins", tmp_path)
    assert main(["faces", str(out)]) == 0

    def missing():
        raise MissingDependencyError("finding faces needs dlib's face models: pip install 'cbir[faces]'")

    monkeypatch.setattr(cbir.faces, "_model_files", missing)
    cbir.faces.finder.cache_clear()
    capsys.readouterr()
    assert main(["add", str(out), "--dataset", str(album / "hopper")]) == 0
    said = capsys.readouterr()
    assert "added 3 images" in said.out and "the faces of the images added were not looked for" in said.err
    engine = Engine.load(out)
    assert len(engine) == 6 and engine.faces.scanned == {"a1.jpg", "a2.jpg", "a3.jpg"}  # the others: next time
    cbir.faces.finder.cache_clear()


def test_a_stopped_search_for_faces_goes_on_where_it_stopped(album, tmp_path, monkeypatch):
    out = indexed(album, tmp_path)
    monkeypatch.setattr(cbir.faces, "THREADS", 1)  # in order
    monkeypatch.setattr(FaceSpool, "BATCH", 2)
    looked, find = [], FaceFinder.find

    def stopping(self, image):
        if len(looked) == 5:
            raise KeyboardInterrupt
        looked.append(1)
        return find(self, image)

    monkeypatch.setattr(FaceFinder, "find", stopping)
    assert main(["faces", str(out)]) == 130  # stopped by Ctrl+C after 5 images: 4 of them kept (two batches of 2)
    assert Engine.load(out).faces is None
    monkeypatch.setattr(FaceFinder, "find", lambda self, image: looked.append(1) or find(self, image))
    looked.clear()
    assert main(["faces", str(out)]) == 0
    assert len(looked) == 4 and Engine.load(out).faces.showing(1)  # the other 4
    assert not (out / FaceSpool.FOLDER).exists()


def test_people_on_the_page_and_in_the_api(album):
    engine = Engine.build(load_folder(album, progress=False, cache=False), make_extractor("gch"), progress=False)
    engine.find_faces(progress=False)
    client = create_app({"ENGINES": {"album": engine}}).test_client()
    people = client.get("/api/v1/people").get_json()["people"]
    assert [(p["person"], p["images"]) for p in people] == [(1, 3), (2, 3)]
    face = client.get(people[1]["thumbnail"])  # the face alone, a little around it
    assert face.status_code == 200 and face.mimetype == "image/jpeg"
    thumb = Image.open(__import__("io").BytesIO(face.data))
    assert abs(thumb.width - thumb.height) <= 40  # a face, not the whole portrait (600x512)
    page = client.get("/").get_data(as_text=True)
    assert 'id="people">People:' in page and "crop=" in page and 'name="person"' in page
    listed = client.get("/api/v1/images?person=2").get_json()["hits"]
    assert sorted(h["id"] for h in listed) == ["hopper/h1.jpg", "hopper/h2.jpg", "hopper/h3.jpg"]
    assert client.get("/api/v1/images?person=9").status_code == 400
    browsed = client.get("/?browse=1&person=1").get_data(as_text=True)
    assert "collins/a1.jpg" in browsed and "hopper/h1.jpg" not in browsed


def test_a_server_engine_filters_by_person_too(album, tmp_path):
    engine = on_milvus(album, tmp_path)  # its documents hold no faces: the server is given the ids
    engine.find_faces(progress=False)
    hits = engine.search([data.coffee()], k=8, where=Filter.of(person=1))[0].hits
    assert sorted(h.id for h in hits) == ["collins/a1.jpg", "collins/a2.jpg", "collins/a3.jpg"]


def test_faces_are_saved_with_the_engine_and_a_missing_model_is_said(album, tmp_path, monkeypatch):
    faces = Faces()
    faces.add("a.jpg", np.array([[0.1, 0.1, 0.3, 0.4]]), np.ones((1, 128)))
    faces.add("b.jpg", np.zeros((0, 4)), np.zeros((0, 128)))  # looked at: no face
    faces.save(tmp_path / "faces.npz")
    loaded = Faces.load(tmp_path / "faces.npz")
    assert loaded.scanned == {"a.jpg", "b.jpg"} and loaded.owners == ["a.jpg"]
    np.testing.assert_array_equal(loaded.descriptors, faces.descriptors)
    monkeypatch.setattr(cbir.faces.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'cbir\[faces\]'"):
        FaceFinder()


def test_people_are_named_from_a_photo_manager_s_regions_or_by_hand(tmp_path, capsys):
    album = photos(tmp_path / "album")
    region = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
              'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"><mwg-rs:Regions rdf:parseType="Resource">'
              '<mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="Eileen Collins" mwg-rs:Type="Face">'
              '<mwg-rs:Area stArea:x="{x}" stArea:y="0.24" stArea:w="0.17" stArea:h="0.17" stArea:unit="normalized"/>'
              '</rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions></rdf:Description></rdf:RDF>'
              '</x:xmpmeta>')
    (album / "collins/a1.jpg.xmp").write_text(region.format(x=0.43))  # as Lightroom or digiKam wrote it
    (album / "collins/a2.jpg.xmp").write_text(region.format(x=0.1))  # a box around nobody's face: no name
    out = indexed(album, tmp_path)
    assert main(["faces", str(out)]) == 0
    engine = Engine.load(out)
    assert [(p.person, p.name) for p in engine.people()] == [(1, "Eileen Collins"), (2, "")]
    assert engine.faces.names.count("Eileen Collins") == 1  # one face named: the person takes its name
    assert engine.faces.showing("eileen COLLINS") == engine.faces.showing(1)  # case ignored
    assert engine.faces.showing("person 2") == engine.faces.showing("2")  # as a person without a name is shown
    capsys.readouterr()
    assert main(["faces", str(out), "--name", "2=Grace Hopper"]) == 0
    assert "person 2 is Grace Hopper" in capsys.readouterr().out
    assert main(["faces", str(out), "--again"]) == 0  # looked at again: the names given stay
    assert main(["info", str(out)]) == 0
    assert "people 1 Eileen Collins (3), 2 Grace Hopper (3)" in capsys.readouterr().out
    assert main(["search", str(out), "--person", "grace hopper", "--paths"]) == 0
    assert sorted(capsys.readouterr().out.split()) == [str(album / f"hopper/h{n}.jpg") for n in (1, 2, 3)]
    with pytest.raises(CbirError, match="nobody is named 'Ada': the people named are Eileen Collins, Grace Hopper"):
        Engine.load(out).browse(3, Filter.of(person="Ada"))
    hits = {h.id: h.people for h in Engine.load(out).browse(9).hits}  # each result says who is in it
    assert hits["collins/a2.jpg"] == ("Eileen Collins",) and hits["hopper/h1.jpg"] == ("Grace Hopper",)
    assert hits["other/cat.jpg"] == ()
    assert main(["search", str(out), "--folder", "hopper/h1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["people"] == ["Grace Hopper"]
    assert main(["faces", str(out), "--name", "Grace"]) == 2
    assert "--name is N=NAME" in capsys.readouterr().err
    page = create_app({"ENGINES": {"album": Engine.load(out)}}).test_client().get("/").get_data(as_text=True)
    assert ">Eileen Collins\n" in page and '<option value="Grace Hopper" label="3 images">' in page
    assert 'href="/?browse=1&amp;person=Grace+Hopper' in page  # a named person's chip: by name
    browsed = create_app({"ENGINES": {"album": Engine.load(out)}}).test_client().get("/?browse=1&person=2")
    assert ">with Grace Hopper</span>" in browsed.get_data(as_text=True)  # under each picture
    assert "Only images with Grace Hopper." in browsed.get_data(as_text=True)  # by name, not by number
    together = create_app({"ENGINES": {"album": Engine.load(out)}}).test_client().get(
        "/?browse=1&person=Grace+Hopper+or+Eileen+Collins").get_data(as_text=True)
    assert together.count('class="hit"') == 6 and "Only images with Grace Hopper or Eileen Collins." in together


def test_a_search_by_a_face_finds_the_photos_of_that_person(album, tmp_path, capsys, monkeypatch):
    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--name", "1=Eileen Collins"]) == 0
    query = tmp_path / "query.jpg"
    astronaut().rotate(5).resize((300, 300)).save(query)  # a photo not indexed: smaller, turned a little
    capsys.readouterr()
    assert main(["search", str(out), str(query), "--face", "-k", "10"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"{query} (the face of Eileen Collins):" and len(said) == 4  # her three photos, no one else
    assert {line.split()[3] for line in said[1:]} == {"collins/a1.jpg", "collins/a2.jpg", "collins/a3.jpg"}
    assert all(line.endswith("with Eileen Collins") for line in said[1:])  # who is in each
    scores = [float(line.split()[1]) for line in said[1:]]
    assert scores == sorted(scores, reverse=True) and all(0.4 < s <= 1 for s in scores)  # 1 - distance, under 0.6
    assert main(["search", str(out), str(query), "--face", "--folder", "collins/a2"]) == 0  # filters apply
    assert [line.split()[3] for line in capsys.readouterr().out.splitlines()[1:]] == ["collins/a2.jpg"]
    assert main(["search", str(out), str(album / "other/cat.jpg"), "--face"]) == 2
    assert "no face found in" in capsys.readouterr().err
    assert main(["search", str(out), str(query), "--face", "--together"]) == 2
    client = create_app({"ENGINES": {"album": Engine.load(out)}}).test_client()
    found = client.post("/api/v1/search?face=1&k=5", data=query.read_bytes(),
                        content_type="application/octet-stream").get_json()
    assert found["person"] == "Eileen Collins" and len(found["hits"]) == 3
    assert client.post("/api/v1/search?face=1", data=(album / "other/cat.jpg").read_bytes(),
                       content_type="application/octet-stream").status_code == 400
    page = client.post("/", data={"image": (query.open("rb"), "query.jpg"), "face": "1"},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Pictures with a face like the one in it, Eileen Collins&#39;s" in page and "hopper/h1.jpg" not in page

    capsys.readouterr()  # a face of an indexed photo: its descriptor as kept, no face detector run
    monkeypatch.setattr(cbir.faces.FaceFinder, "find", lambda *_: pytest.fail("the detector ran"))
    assert main(["search", str(out), "--like", "collins/a1.jpg", "--face"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "collins/a1.jpg (the face of Eileen Collins):"
    assert {line.split()[3] for line in said[1:]} == {"collins/a2.jpg", "collins/a3.jpg"}  # itself left out
    assert main(["search", str(out), "--like", "collins/a1.jpg", "--like", "hopper/h1.jpg", "--face"]) == 2
    similar = client.get("/api/v1/similar/hopper/h2.jpg?face=0").get_json()
    assert [h["id"] for h in similar["hits"]] in (["hopper/h1.jpg", "hopper/h3.jpg"], ["hopper/h3.jpg",
                                                                                    "hopper/h1.jpg"])
    for refused in ("face=1", "face=first"):
        assert client.get(f"/api/v1/similar/hopper/h2.jpg?{refused}").status_code == 400
    assert "no face was found in it" in client.get("/api/v1/similar/other/cat.jpg?face=").get_json()["error"]
    page = client.get("/?id=hopper/h2.jpg&face=0").get_data(as_text=True)
    assert "Query: <span class=\"name\">a face in hopper/h2.jpg</span>" in page and "crop=" in page
    assert "Pictures with a face like the one in it" in page and page.count('class="hit"') == 2


def test_people_are_numbered_again_when_their_photos_go():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 128)).astype(np.float32)
    centres *= 1.0 / np.linalg.norm(centres, axis=1, keepdims=True)  # two people 1.4 apart; their faces within 0.1
    faces = Faces()
    for n, person in enumerate([0, 0, 1, 1, 1]):
        faces.add(f"{n}.jpg", np.array([[0.1, 0.1, 0.3, 0.3]]), centres[person] + rng.normal(0, 0.005, 128))
    faces.group()
    assert faces.persons.tolist() == [2, 2, 1, 1, 1]  # the most photographed first
    faces.discard(["2.jpg", "3.jpg"])  # person 1 in one photo now: nobody; person 2 the first
    assert faces.persons.tolist() == [1, 1, 0] and [p.images for p in faces.people()] == [2]


def test_two_people_given_one_name_are_one_person(album, tmp_path, capsys):
    """A person the grouping split in two is made one by naming both alike: one person, found by the name."""
    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--name", "1=Ada", "--name", "2=ada"]) == 0  # as if one woman's two groups
    engine = Engine.load(out)
    assert [(p.person, p.name, p.images) for p in engine.people()] == [(1, "Ada", 6)]
    assert len(engine.faces.showing("ADA")) == 6 and engine.faces.persons.tolist() == [1] * 6  # one number
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "people 1 Ada (6)" in capsys.readouterr().out


def test_names_given_to_faces_overrule_the_grouping():
    """A face named otherwise than its group is that person's; one said to be nobody's leaves its group; a named
    face is a person even in one photo."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(2, 128)).astype(np.float32)
    centres *= 1.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    faces = Faces()
    for n, person in enumerate([0, 0, 0, 1, 1]):
        faces.add(f"{n}.jpg", np.array([[0.1, 0.1, 0.3, 0.3]]), centres[person] + rng.normal(0, 0.005, 128))
    faces.group()
    assert faces.persons.tolist() == [1, 1, 1, 2, 2]
    faces.rename(1, "Anna")
    faces.rename("person 2", "Carl")
    faces.name_face("2.jpg", 0, "Bob")  # the grouping took Bob for Anna: Bob alone is a person, named
    assert faces.persons.tolist() == [1, 1, 3, 2, 2] and faces.showing("Bob") == {"2.jpg"}
    assert [(p.name, p.images) for p in faces.people()] == [("Anna", 2), ("Carl", 2), ("Bob", 1)]
    faces.name_face("3.jpg", 0, "bob")  # another of Bob's, in Carl's group: it joins Bob, case aside
    assert faces.showing("Bob") == {"2.jpg", "3.jpg"} and faces.persons.tolist() == [1, 1, 2, 2, 3]
    assert faces.not_in("Anna", "1.jpg") == "Anna"  # a stranger among Anna's photos: nobody's now
    assert faces.showing("Anna") == {"0.jpg"} and faces.in_image("1.jpg")[0].nobody
    assert [tuple(seen)[2:] for seen in faces.in_image("1.jpg") + faces.in_image("0.jpg")] == [
        (0, "", True, ""), (2, "Anna", False, "")]  # Bob has more photos now: numbered first
    faces.group()  # grouped again (`cbir faces`): the names still overrule it
    assert faces.persons.tolist() == [2, 0, 1, 1, 3]
    assert faces.not_in(2, "0.jpg") is None  # Anna's last photo: no one's now
    assert faces.not_in("Carl", "4.jpg") is None and not faces.people()[1:]  # only Bob is left
    with pytest.raises(CbirError, match="1.jpg has no face 1: its faces are 0 to 0, left to right"):
        faces.name_face("1.jpg", 1, "Anna")
    with pytest.raises(CbirError, match="no face of Bob was found in 4.jpg"):
        faces.not_in("Bob", "4.jpg")
    with pytest.raises(CbirError, match="a name is at most 100 characters"):
        faces.rename("Bob", "x" * 101)


def test_people_are_named_and_put_right_on_the_page_and_in_the_api(album, tmp_path):
    """Naming a person, a face, or saying a person is not in a photo: kept in the engine's folder, served at once;
    refused from another site's page, for an engine given loaded, and while another cbir changes the folder."""
    import fcntl
    import os

    out = indexed(album, tmp_path)
    assert main(["faces", str(out)]) == 0
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Faces"]
    answer = client.get("/api/v1/faces/hopper/h1.jpg").get_json()
    assert set(answer) == set(schema["required"]) and set(answer["faces"][0]) == set(
        schema["properties"]["faces"]["items"]["required"])  # as documented
    seen = answer["faces"]
    assert [(f["face"], f["person"], f["who"], f["nobody"]) for f in seen] == [(0, 2, "person 2", False)]
    assert client.get(seen[0]["thumbnail"]).status_code == 200  # the face alone
    assert client.get("/api/v1/faces/other/cat.jpg").get_json()["faces"] == []
    assert client.get("/api/v1/faces/nothing.jpg").status_code == 404

    page = client.get("/?browse=1&person=2").get_data(as_text=True)
    assert 'action="/people"' in page and page.count('action="/people/not"') == 3  # a "not" under each photo
    assert 'data-faces="/api/v1/faces/hopper/h1.jpg?engine=album"' in page  # the large view frames the faces
    named = client.post("/people", data={"engine": "album", "person": "2", "image": "hopper/h1.jpg",
                                         "name": " Grace  Hopper "})
    assert named.status_code == 303 and named.headers["Location"] == "/?browse=1&person=Grace+Hopper&engine=album"
    assert [(p.person, p.name) for p in Engine.load(out).people()] == [(1, ""), (2, "Grace Hopper")]  # kept
    assert "Only images with Grace Hopper." in client.get(named.headers["Location"]).get_data(as_text=True)
    stale = client.post("/people", data={"engine": "album", "person": "1", "image": "hopper/h1.jpg", "name": "Ada"})
    assert stale.status_code == 409 and "reload the page" in stale.get_data(as_text=True)  # 1 is someone else

    gone = client.post("/people/not", data={"engine": "album", "person": "Grace Hopper", "id": "hopper/h3.jpg"})
    assert gone.status_code == 303 and "person=Grace+Hopper" in gone.headers["Location"]
    assert Engine.load(out).faces.showing("Grace Hopper") == {"hopper/h1.jpg", "hopper/h2.jpg"}
    answer = client.post("/api/v1/faces/hopper/h3.jpg", json={"engine": "album", "face": 0, "name": "grace hopper"})
    assert answer.status_code == 200 and answer.get_json()["faces"][0]["who"] == "Grace Hopper"  # hers again
    answer = client.post("/api/v1/faces/collins/a2.jpg", data={"face": "0", "nobody": "1"})
    assert answer.get_json()["faces"][0] | {"box": None, "thumbnail": None} == {
        "face": 0, "person": 0, "who": "", "nobody": True, "maybe": "", "box": None, "thumbnail": None}
    assert client.post("/api/v1/people/1", json={"name": "Eileen Collins", "image": "collins/a1.jpg"}
                       ).status_code == 409  # Grace Hopper is in more photos now: person 1
    renamed = client.post("/api/v1/people/2", json={"name": "Eileen Collins", "image": "collins/a1.jpg"}
                          ).get_json()["people"]
    assert [(p["name"], p["images"]) for p in renamed] == [("Grace Hopper", 3), ("Eileen Collins", 2)]
    assert [h.people for h in Engine.load(out).browse(8, Filter.of(person="Eileen Collins")).hits] == [
        ("Eileen Collins",)] * 2

    before = Engine.load(out).faces.names
    for refused, status in [
            (client.post("/api/v1/faces/hopper/h1.jpg", json={"face": 1, "name": "Ada"}), 400),
            (client.post("/api/v1/faces/hopper/h1.jpg", json={"face": "first", "name": "Ada"}), 400),
            (client.post("/api/v1/faces/hopper/h1.jpg", json={"face": 0}), 400),
            (client.post("/api/v1/faces/hopper/h1.jpg", json={"face": 0, "name": "Ada"},
                         headers={"Sec-Fetch-Site": "cross-site"}), 403),
            (client.post("/people", data={"person": "1", "name": "Ada"}, headers={"Origin": "https://else.example"}),
             403),
            (client.post("/api/v1/people/1", json={}), 400)]:
        assert refused.status_code == status, refused.get_data(as_text=True)
    lock = os.open(out / ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another cbir changing the folder
    try:
        busy = client.post("/api/v1/people/1", json={"name": "Ada"})
    finally:
        os.close(lock)
    assert busy.status_code == 409 and "another cbir" in busy.get_json()["error"]
    loaded = create_app({"ENGINES": {"album": Engine.load(out)}}).test_client()
    assert loaded.post("/api/v1/people/1", json={"name": "Ada"}).status_code == 409  # no folder to keep it in
    assert Engine.load(out).faces.names == before  # nothing refused was changed

    svc = client.application.extensions["cbir"]
    assert main(["faces", str(out), "--name", "2=Eileen"]) == 0  # another cbir changed the folder meanwhile
    written = os.stat(current_version(out) / "metadata.sqlite").st_ino
    svc.name_person("album", "Eileen", "Eileen C.")  # on the folder's latest version, not on the one served
    assert [p.name for p in Engine.load(out).people()] == [p.name for p in svc.engines["album"].people()] == [
        "Grace Hopper", "Eileen C."]
    assert os.stat(current_version(out) / "metadata.sqlite").st_ino == written  # only the faces written again


def test_the_command_line_says_whose_a_face_is_and_who_is_not_in_a_photo(album, tmp_path, capsys):
    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--name", "2=Grace Hopper", "--not-in", "Grace Hopper", "hopper/h3.jpg",
                 "--face", "collins/a3.jpg", "0", "Eileen Collins"]) == 0
    said = capsys.readouterr().out
    assert "Grace Hopper is not in hopper/h3.jpg" in said and "face 0 of collins/a3.jpg is Eileen Collins" in said
    faces = Engine.load(out).faces
    assert faces.showing("Grace Hopper") == {"hopper/h1.jpg", "hopper/h2.jpg"}
    assert faces.showing("Eileen Collins") == {f"collins/a{n}.jpg" for n in (1, 2, 3)}  # her group takes the name
    assert main(["faces", str(out), "--face", "collins/a3.jpg", "first", "Ada"]) == 2
    assert "--face is IMAGE N NAME" in capsys.readouterr().err
    assert main(["faces", str(out), "--not-in", "Grace Hopper", "other/cat.jpg"]) == 2
    assert "no face of Grace Hopper was found in other/cat.jpg" in capsys.readouterr().err
    assert Engine.load(out).faces.names == faces.names  # nothing changed


def test_people_together_or_either():
    """"Anna and Bob": the photos of both; "Anna, Bob" or "Anna or Bob": of either; a name with a comma in it is
    a name first."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(3, 128)).astype(np.float32)
    centres *= 1.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    faces = Faces()
    for image, people in {"a.jpg": [0], "ab.jpg": [0, 1], "b.jpg": [1], "c.jpg": [2], "bc.jpg": [1, 2]}.items():
        faces.add(image, np.array([[0.1 * n, 0.1, 0.1 * n + 0.05, 0.3] for n in range(len(people))]),
                  np.array([centres[p] + rng.normal(0, 0.005, 128) for p in people]))
    faces.group()
    for row, name in [(0, "Anna"), (3, "Bob"), (4, "Hopper, Grace")]:  # a.jpg's face, b.jpg's, c.jpg's
        faces.rename(int(faces.persons[row]), name)
    assert faces.showing("anna AND bob") == faces.showing("Bob & Anna") == {"ab.jpg"}
    assert faces.showing("Anna or Hopper, Grace") == {"a.jpg", "ab.jpg", "c.jpg", "bc.jpg"}  # a name with a comma
    assert faces.showing("Anna and Bob, Hopper, Grace") == {"ab.jpg", "c.jpg", "bc.jpg"}  # "and" binds first
    assert faces.showing("Anna and Hopper, Grace") == set()  # never together
    with pytest.raises(CbirError, match="nobody is named 'Carl'"):
        faces.showing("Anna and Carl")
    with pytest.raises(CbirError, match="nobody is named ''"):
        faces.showing("Anna and")


def test_people_who_may_be_one_person_are_suggested():
    """A group the grouping kept apart (its faces 0.55 from hers: not linked under 0.5, but under dlib's 0.6 for one
    person) may be her; not one seen in a photo with her, nor one named otherwise, nor anyone far."""
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(128, 6)))[0].T.astype(np.float32)  # orthonormal directions
    anna = basis[0]
    faces = Faces()

    def add(image, *centres):
        faces.add(image, np.array([[0.2 * n, 0.1, 0.2 * n + 0.1, 0.3] for n in range(len(centres))]),
                  np.array([c + rng.normal(0, 0.003, 128) for c in centres]))

    for n in range(3):
        add(f"anna{n}.jpg", anna)
    for n in range(2):
        add(f"older{n}.jpg", anna + 0.55 * basis[1])  # her, years later
        add(f"carl{n}.jpg", anna + 0.55 * basis[2])
        add(f"far{n}.jpg", anna + 1.2 * basis[3])
    add("anna-and-twin.jpg", anna, anna + 0.55 * basis[4])  # beside her: someone else
    add("twin.jpg", anna + 0.55 * basis[4])
    add("lone.jpg", anna + 0.55 * basis[5])  # in one photo: no one's
    faces.group()
    assert len(faces.people()) == 5 and faces.in_image("lone.jpg")[0].maybe == ""  # no one named yet
    faces.rename(int(faces.persons[0]), "Anna")
    faces.rename(faces.persons[faces.owners.index("carl0.jpg")].item(), "Carl")
    assert [(seen.person, seen.maybe) for seen in faces.in_image("lone.jpg")] == [(0, "Anna")]  # her, maybe
    suggested = faces.alike("Anna")
    assert [(p.face.image[:5], 0.5 < distance < 0.6) for p, distance in suggested] == [("older", True)]
    assert faces.alike("Carl") == []  # Anna, 0.55 from him, is named otherwise (the older one is 0.78 away)
    faces.rename(suggested[0][0].person, "Anna")  # yes: one person now
    assert faces.showing("Anna") >= {"older0.jpg", "older1.jpg"} and faces.alike("Anna") == []


def test_who_may_be_one_person_on_the_page_the_api_and_the_command_line(album, tmp_path, capsys):
    out = indexed(album, tmp_path)
    rng = np.random.default_rng(4)
    basis = np.linalg.qr(rng.normal(size=(128, 3)))[0].T.astype(np.float32)
    faces = Faces()  # as if the grouping had split her: her later photos 0.55 from the first ones
    for image, centre in [("collins/a1.jpg", 0), ("collins/a2.jpg", 0), ("collins/a3.jpg", 0),
                          ("hopper/h1.jpg", 1), ("hopper/h2.jpg", 1), ("hopper/h3.jpg", 2)]:
        faces.add(image, np.array([[0.3, 0.2, 0.6, 0.5]]),
                  (basis[0] + 0.55 * basis[centre] * (centre > 0) + (centre == 2) * basis[2]
                   + rng.normal(0, 0.003, 128))[None])
    faces.group()
    faces.rename(1, "Ada")
    engine = Engine.load(out)
    engine.faces = faces
    engine.save(out)
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    page = client.get("/?browse=1&person=Ada").get_data(as_text=True)
    assert 'id="alike">Maybe Ada too:' in page and "Yes, Ada</button>" in page
    listed = client.get("/api/v1/people?alike=Ada").get_json()["people"]
    assert [(p["person"], p["images"]) for p in listed] == [(2, 2)] and 0.5 < listed[0]["distance"] < 0.6
    capsys.readouterr()
    assert main(["faces", str(out), "--alike", "Ada", "--alike", "1"]) == 0
    said = capsys.readouterr().out
    assert "who may be Ada too: person 2 (2 images, faces 0.55 apart): --name 2=Ada" in said
    assert "who may be 1 too: person 2 (2 images, faces 0.55 apart)\n" in said  # no name to give
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    yes = client.post("/people", data={"engine": "album", "person": "2", "image": "hopper/h1.jpg", "name": "Ada"})
    assert yes.status_code == 303 and "person=Ada" in yes.headers["Location"]
    assert len(Engine.load(out).faces.showing("Ada")) == 5
    assert 'id="alike"' not in client.get("/?browse=1&person=Ada").get_data(as_text=True)  # no one else


def test_the_people_page_names_everyone_in_place(album, tmp_path):
    out = indexed(album, tmp_path)
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    assert "Nobody yet: <code>cbir faces ENGINE</code>" in client.get("/people").get_data(as_text=True)
    assert main(["faces", str(out)]) == 0
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    assert 'href="/people?engine=album"' in client.get("/").get_data(as_text=True)  # from the start's faces
    page = client.get("/people").get_data(as_text=True)
    assert "2 people, the most photographed first; 2 without a name yet." in page
    assert page.count('action="/people"') == 2 and 'aria-label="the name of person 2"' in page
    named = client.post("/people", data={"engine": "album", "back": "people", "person": "2",
                                         "image": "hopper/h1.jpg", "name": "Grace Hopper"})
    assert named.status_code == 303 and named.headers["Location"] == "/people?engine=album"
    assert 'value="Grace Hopper"' in client.get("/people").get_data(as_text=True)
    assert client.get("/people?engine=nothing").status_code == 404


def test_a_person_filter_follows_the_names_given_in_python(album, tmp_path):
    """The filters an engine keeps for the searches that follow are worked out again when the faces change."""
    engine = Engine.load(indexed(album, tmp_path))
    engine.find_faces(progress=False)
    engine.name_person(1, "Ada")
    assert len(engine.browse(10, Filter.of(person="Ada")).hits) == 3  # kept for the next search
    engine.not_in("Ada", "collins/a1.jpg")
    assert {h.id for h in engine.browse(10, Filter.of(person="Ada")).hits} == {"collins/a2.jpg", "collins/a3.jpg"}


def test_indexing_again_over_an_engine_keeps_the_faces_found_and_the_names_given(tmp_path, capsys, monkeypatch):
    """`cbir index` onto an engine replaces its features, not what was found and said about its photos: the faces of
    the photos still there unchanged are kept, with the names given to them, and not looked for again."""
    album = photos(tmp_path / "album")
    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--name", "1=Eileen", "--not-in", "2", "hopper/h3.jpg"]) == 0
    (album / "collins/a3.jpg").unlink()
    astronaut().resize((300, 300)).save(album / "hopper/h2.jpg")  # another picture under a known name
    monkeypatch.setattr(FaceFinder, "find", lambda self, image: pytest.fail("no photo is looked at again"))
    capsys.readouterr()
    assert main(["index", "--dataset", str(album), "--features", "hog", "--out", str(out)]) == 0
    assert ("kept from the engine it replaces: the faces found in 6 of its images, the names given to 3"
            in capsys.readouterr().out)
    engine = Engine.load(out)
    assert engine.extractor.name == "hog" and len(engine) == 7
    assert engine.faces.scanned == {"collins/a1.jpg", "collins/a2.jpg", "hopper/h1.jpg", "hopper/h3.jpg",
                                    "other/cat.jpg", "other/coffee.jpg"}  # h2 changed: to look at again
    assert [(p.name, p.images) for p in engine.people()] == [("Eileen", 2)]
    assert engine.faces_in("hopper/h3.jpg")[0].nobody  # still not person 2, who is gone with h2's old picture


def test_an_edited_photo_keeps_the_names_given_to_its_faces(tmp_path, capsys):
    """A photo edited (lighter, more contrast) is described and looked at again: the names given to its faces go to
    the faces found where they were, by `cbir sync` and by `cbir index` over the engine alike."""
    album = photos(tmp_path / "album")
    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--face", "hopper/h1.jpg", "0", "Grace"]) == 0
    ImageEnhance.Brightness(hopper()).enhance(1.2).save(album / "hopper/h1.jpg", quality=90)
    capsys.readouterr()
    assert main(["sync", str(out)]) == 0
    assert "described 1 again" in capsys.readouterr().out
    engine = Engine.load(out)
    assert [seen.who for seen in engine.faces_in("hopper/h1.jpg")] == ["Grace"] and not engine.faces.waiting
    ImageEnhance.Contrast(hopper()).enhance(1.2).save(album / "hopper/h1.jpg", quality=90)
    assert main(["index", "--dataset", str(album), "--features", "hog", "--out", str(out)]) == 0
    engine = Engine.load(out)
    assert "hopper/h1.jpg" not in engine.faces.scanned and list(engine.faces.waiting) == ["hopper/h1.jpg"]
    assert main(["faces", str(out)]) == 0  # looks at the edited photo: its face takes the name it had
    assert [seen.who for seen in Engine.load(out).faces_in("hopper/h1.jpg")] == ["Grace"]


def test_a_photo_s_own_page_names_its_faces_without_javascript(album, tmp_path):
    """A result's "open" leads (without JavaScript) to its own page: what is known of it, each face with a name field
    and "Not ..." (plain forms), and an album to put it in; kept in the engine."""
    import re

    out = indexed(album, tmp_path)
    assert main(["faces", str(out), "--name", "2=Grace Hopper"]) == 0
    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    results = client.get("/?browse=1&person=Grace+Hopper").get_data(as_text=True)
    assert '<a class="open" href="/photo/hopper/h1.jpg?engine=album"' in results
    page = client.get("/photo/hopper/h1.jpg?engine=album").get_data(as_text=True)
    assert '<img src="/api/v1/images/hopper/h1.jpg" alt="hopper/h1.jpg">' in page
    assert '<dt>With</dt><dd><a href="/?browse=1&amp;person=Grace+Hopper&amp;engine=album">Grace Hopper</a>' in page
    assert re.search(r'<input name="name" value="Grace Hopper"', page) and ">Not Grace Hopper</button>" in page
    named = client.post("/photo/hopper/h1.jpg/face", data={"engine": "album", "face": "0", "name": "Grace B. Hopper"})
    assert named.status_code == 303 and named.headers["Location"] == "/photo/hopper/h1.jpg?engine=album"
    assert Engine.load(out).faces.showing("Grace B. Hopper") == {"hopper/h1.jpg"}
    client.post("/photo/hopper/h2.jpg/face", data={"engine": "album", "face": "0", "nobody": "1", "name": ""})
    assert Engine.load(out).faces_in("hopper/h2.jpg")[0].nobody
    put = client.post("/albums", data={"engine": "album", "to_album": "Navy", "do": "add", "id": "hopper/h1.jpg",
                                       "back": "photo"})
    assert put.headers["Location"] == "/photo/hopper/h1.jpg?engine=album"
    page = client.get("/photo/hopper/h1.jpg").get_data(as_text=True)
    assert '<dt>In</dt><dd><a href="/?browse=1&amp;album=Navy&amp;engine=album">Navy</a>' in page
    assert client.get("/photo/nope.jpg").status_code == 404
