"""The camera each photo was taken with, as its EXIF says: read with its date, a filter of every search, listed by
`cbir info`, the API and the page; engines indexed before cameras were read get them at the next `cbir add`."""

import json
import sqlite3

import pytest
from PIL import Image

from cbir.cameras import camera_of
from cbir.cli import main
from cbir.engine import Engine
from cbir.errors import UnknownWordsError
from cbir.filters import Filter
from cbir.web import create_app


def shot(path, make=None, model=None, colour=(200, 30, 30)):
    """A small JPEG whose EXIF names its camera's maker and model (where given)."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), colour).save(path, exif=exif)


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    shot(root / "a.jpg", "Apple", "iPhone 13")
    shot(root / "b.jpg", "Apple", "iPhone 13", (30, 200, 30))
    shot(root / "c.jpg", "NIKON CORPORATION", "NIKON D750", (30, 30, 200))
    shot(root / "d.jpg")  # a camera that says nothing
    return root


def test_a_camera_is_named_by_its_model_after_its_maker_unless_the_model_names_it():
    def named(make=None, model=None):
        exif = Image.Exif()
        if make:
            exif[0x010F] = make
        if model:
            exif[0x0110] = model
        return camera_of(exif)

    assert named("Apple", "iPhone 13 Pro") == "Apple iPhone 13 Pro"
    assert named("Canon", "Canon EOS R6") == "Canon EOS R6"
    assert named("NIKON CORPORATION", "NIKON D750") == "NIKON D750"
    assert named("SAMSUNG", "SM-G991B\x00\x00") == "SAMSUNG SM-G991B"
    assert named(None, "DMC-GX80") == "DMC-GX80" and named("Panasonic") == "Panasonic" and named() == ""
    assert len(named("X", "Y" * 500)) == 60  # a damaged header may say anything


def test_cameras_filter_every_search_and_are_listed(album, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(album), "--features", "gch", "--out", str(out)]) == 0
    engine = Engine.load(out)
    assert [(c.camera, c.images) for c in engine.cameras()] == [("Apple iPhone 13", 2), ("NIKON D750", 1)]
    assert {h.id: h.camera for h in engine.browse(4).hits} == {
        "a.jpg": "Apple iPhone 13", "b.jpg": "Apple iPhone 13", "c.jpg": "NIKON D750", "d.jpg": None}
    assert engine.select(Filter.of(camera="apple IPHONE 13")).ids == {"a.jpg", "b.jpg"}  # case ignored
    assert engine.select(Filter.of(camera="Nikon D750 or Apple iPhone 13")).ids == {"a.jpg", "b.jpg", "c.jpg"}
    with pytest.raises(UnknownWordsError, match="no image was taken with 'iPhone 12': did you mean 'Apple iPhone"):
        engine.select(Filter.of(camera="iPhone 12"))
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "cameras    Apple iPhone 13 (2); NIKON D750 (1)" in capsys.readouterr().out
    assert main(["search", str(out), str(album / "a.jpg"), "--camera", "NIKON D750", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert [(h["id"], h["camera"]) for h in hits] == [("c.jpg", "NIKON D750")]

    client = create_app({"ENGINES": {"album": str(out)}}).test_client()
    assert client.get("/api/v1/cameras").get_json()["cameras"][0] == {
        "camera": "Apple iPhone 13", "images": 2, "example": "a.jpg"}  # taken in the same second: by id
    assert len(client.get("/api/v1/images?camera=Apple+iPhone+13").get_json()["hits"]) == 2
    assert client.get("/api/v1/images?camera=Leica").status_code == 400
    page = client.get("/?browse=1&camera=NIKON+D750").get_data(as_text=True)
    assert 'name="camera"' in page and '<option value="NIKON D750" label="1 image">' in page
    assert "Only images taken with NIKON D750." in page and page.count('class="hit"') == 1


def test_engines_indexed_before_cameras_were_read_get_them_from_the_next_add(album, tmp_path):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(album), "--features", "gch", "--out", str(out)]) == 0
    with sqlite3.connect(next(out.glob("v-*")) / "metadata.sqlite") as db:  # as an engine of 0.4.12 holds it
        db.execute("ALTER TABLE images DROP COLUMN camera")
    db.close()
    assert Engine.load(out).cameras() == [] and Engine.load(out).tags() == []
    assert main(["add", str(out), "--dataset", str(album)]) == 0
    assert [c.camera for c in Engine.load(out).cameras()] == ["Apple iPhone 13", "NIKON D750"]


def test_a_phone_s_heic_names_its_camera_in_its_exif_item(tmp_path):
    from test_places import heif_with_exif

    from cbir.datasets.folder import image_facts

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 15 Pro"
    (tmp_path / "IMG_1.heic").write_bytes(heif_with_exif(exif.tobytes(), 70_000))  # its EXIF item far in
    assert image_facts(str(tmp_path / "IMG_1.heic")).camera == "Apple iPhone 15 Pro"
