"""What an engine knows of its photos written out for other software: an XMP file a photo (read back as photo
managers read it) and a CSV table; never into the collection, never over a file cbir did not write."""

import csv
import xml.etree.ElementTree as ElementTree

import pytest
from test_places import photo as placed
from test_tags import photo, xmp

from cbir.cli import main
from cbir.engine import Engine
from cbir.export import NAMESPACES, sidecar_path
from cbir.tags import sidecar_tagged


@pytest.fixture
def engine(tmp_path):
    """An engine of photos tagged and rated in a photo manager, captioned, taken in Lyon, put in albums."""
    root = tmp_path / "photos"
    photo(root / "2024/wedding.jpg", 0, "2024:06:01 10:00:00", xmp=xmp(["wedding"], 4, body=(
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Anna &amp; Bob</rdf:li></rdf:Alt></dc:description>')))
    placed(root / "2024/lyon.jpg", 45.764, 4.8357, seed=1, when="2024:05:01 10:00:00")
    photo(root / "plain.jpg", 2, "2023:01:01 10:00:00")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    assert main(["albums", str(out), "Best of", "--add", "2024/wedding.jpg", "2024/lyon.jpg"]) == 0
    assert main(["albums", str(out), "Favorites", "--add", "2024/wedding.jpg"]) == 0
    return out


def test_each_photo_s_xmp_says_what_the_engine_knows_as_photo_managers_read_it(engine, tmp_path, capsys):
    folder = tmp_path / "for digikam"
    assert main(["export", str(engine), "--xmp", str(folder), "--csv", str(tmp_path / "photos.csv")]) == 0
    assert "wrote 3 XMP files" in capsys.readouterr().out
    wedding = sidecar_tagged(str(sidecar_path(folder, "2024/wedding.jpg")))
    assert wedding.tags == ("wedding", "Best of", "Favorites") and wedding.rating == 4
    assert wedding.caption == "Anna & Bob"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.xmp")) == [
        "2024/lyon.jpg.xmp", "2024/wedding.jpg.xmp", "plain.jpg.xmp"]
    described = ElementTree.parse(sidecar_path(folder, "2024/lyon.jpg")).getroot().find(
        f".//{{{NAMESPACES['rdf']}}}Description")
    said = {key.split("}")[1]: value for key, value in described.attrib.items()}
    assert said["DateTimeOriginal"] == "2024-05-01T10:00:00" and said["CreatorTool"].startswith("cbir ")
    degrees, minutes = said["GPSLatitude"][:-1].split(",")
    assert said["GPSLatitude"].endswith("N") and abs(int(degrees) + float(minutes) / 60 - 45.764) < 1e-5
    assert said["GPSLongitude"].startswith("4,") and said["GPSLongitude"].endswith("E")
    plain = sidecar_tagged(str(sidecar_path(folder, "plain.jpg")))
    assert plain.tags == () and plain.rating is None and plain.caption == ""
    with open(tmp_path / "photos.csv", encoding="utf-8", newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    assert rows["2024/lyon.jpg"]["place"] == "Lyon, France" and rows["2024/lyon.jpg"]["albums"] == "Best of"
    assert rows["2024/wedding.jpg"]["albums"] == "Best of; Favorites" and rows["2024/wedding.jpg"]["rating"] == "4"
    assert rows["2024/wedding.jpg"]["caption"] == "Anna & Bob" and rows["plain.jpg"]["latitude"] == ""
    assert main(["export", str(engine), "--xmp", str(folder)]) == 0  # its own files: written over


def test_xmp_files_go_neither_into_the_collection_nor_over_files_cbir_did_not_write(engine, tmp_path, capsys):
    assert main(["export", str(engine), "--xmp", str(tmp_path / "photos" / "xmp")]) == 2
    assert "which the engine indexes" in capsys.readouterr().err
    assert not (tmp_path / "photos" / "xmp").exists()
    folder = tmp_path / "sidecars"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "lyon.jpg.xmp").write_bytes(xmp(["mine"]))  # a photo manager's
    assert main(["export", str(engine), "--xmp", str(folder)]) == 2
    assert "1 XMP file(s)" in capsys.readouterr().err and not (folder / "plain.jpg.xmp").exists()
    assert sidecar_tagged(str(folder / "2024" / "lyon.jpg.xmp")).tags == ("mine",)  # as it was
    assert main(["export", str(engine)]) == 2
    assert "say what to write" in capsys.readouterr().err


def test_the_people_named_go_with_their_photos(tmp_path):
    pytest.importorskip("dlib")
    from test_faces import photos

    root = photos(tmp_path / "photos")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    assert main(["faces", str(out)]) == 0
    hopper = Engine.load(out).faces_in("hopper/h1.jpg")[0].person
    assert main(["faces", str(out), "--name", f"{hopper}=Grace Hopper"]) == 0
    assert main(["export", str(out), "--xmp", str(tmp_path / "xmp")]) == 0
    assert sidecar_tagged(str(tmp_path / "xmp" / "hopper" / "h2.jpg.xmp")).tags == ("Grace Hopper",)
    assert sidecar_tagged(str(tmp_path / "xmp" / "collins" / "a1.jpg.xmp")).tags == ()  # person 2: no name yet


def test_an_id_that_would_lead_out_of_the_folder_has_no_xmp_file(tmp_path):
    folder = tmp_path / "xmp"
    assert sidecar_path(folder, "2019/a.jpg") == folder / "2019" / "a.jpg.xmp"
    assert sidecar_path(folder, "/etc/a.jpg") == folder / "etc" / "a.jpg.xmp"  # an archive member's, kept inside
    assert sidecar_path(folder, "x/../../a.jpg") is None and sidecar_path(folder, "..") is None
