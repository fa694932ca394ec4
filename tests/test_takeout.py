"""A Google Photos Takeout indexed as it comes: when, where and who from the JSON beside each photo, however Takeout
named it; its albums as albums, each photo indexed once; favourites; a JSON come later read at the next sync."""

import json
import os
import shutil
import time
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from cbir.cli import main
from cbir.datasets.folder import image_facts
from cbir.engine import Engine
from cbir.takeout import SAME_DAY, json_names

JULY_1 = 1561982400  # 2019-07-01T12:00:00Z


def local(seconds: int) -> str:
    """A Takeout's time (UTC seconds) as dates are kept: this computer's local time, as a file's time is."""
    return datetime.fromtimestamp(seconds).isoformat(timespec="seconds")


def photo(path, seed, taken=None):
    """A 48x40 JPEG, with an EXIF date ("YYYY:MM:DD HH:MM:SS") or none, as a messenger or a scanner leaves it."""
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path, exif=exif)
    return path


def said(folder, name, taken, lat=0.0, lon=0.0, people=(), favourite=False, archived=False):
    """The JSON Takeout writes beside a photo (the fields cbir reads, and some it does not)."""
    content = {"title": name.split(".json")[0], "description": "", "imageViews": "3",
               "creationTime": {"timestamp": str(taken + 86400), "formatted": "…"},
               "photoTakenTime": {"timestamp": str(taken), "formatted": "…"},
               "geoData": {"latitude": lat, "longitude": lon, "altitude": 0.0},
               "geoDataExif": {"latitude": 0.0, "longitude": 0.0, "altitude": 0.0},
               "people": [{"name": person} for person in people], "url": "https://photos.google.com/photo/x"}
    if favourite:
        content["favorited"] = True
    if archived:
        content["archived"] = True
    (folder / name).write_text(json.dumps(content), encoding="utf-8")


@pytest.fixture
def takeout(tmp_path):
    """Takeout/Google Photos: a year's folder, an album of one of its photos and one shared with the user."""
    root = tmp_path / "Takeout" / "Google Photos"
    year, rome = root / "Photos from 2019", root / "Rome 2019"
    photo(year / "IMG_1.jpg", 1)  # no EXIF date: its file's time would be the day it was downloaded
    said(year, "IMG_1.jpg.supplemental-metadata.json", JULY_1, 45.764, 4.8357, ["Anna", "Bob"], favourite=True)
    photo(year / "IMG_2.jpg", 2, "2019:07:02 09:00:00")  # its own date, local time where it was taken
    said(year, "IMG_2.jpg.supplemental-metadata.json", JULY_1 + 86400 - 5 * 3600, archived=True)
    photo(year / "IMG_3.jpg", 3, "2001:01:01 00:00:00")  # a camera whose clock was never set: put right in Google
    said(year, "IMG_3.jpg.supplemental-metadata.json", JULY_1 + 2 * 86400, 41.9028, 12.4964)
    rome.mkdir()
    (rome / "metadata.json").write_text(json.dumps({"title": "Rome  2019", "description": "", "access": "protected"}))
    shutil.copy2(year / "IMG_3.jpg", rome / "IMG_3.jpg")  # the album's copy of the year's photo
    said(rome, "IMG_3.jpg.supplemental-metadata.json", JULY_1 + 2 * 86400, 41.9028, 12.4964)
    photo(rome / "from Bob.jpg", 4)  # a photo shared in the album: there alone
    said(rome, "from Bob.jpg.supplemental-metadata.json", JULY_1 + 3 * 86400)
    return root


def test_each_way_takeout_names_a_photo_s_json_finds_it(tmp_path):
    long_name = "Screenshot_2024-01-14-14-13-33-16_948cd9899890cbd5c2798760b2b95377.jpg"
    cases = {"IMG_1.jpg": "IMG_1.jpg.supplemental-metadata.json",
             "PXL_20230517_101530123.PORTRAIT.jpg": "PXL_20230517_101530123.PORTRAIT.jpg.supplement.json",  # 51
             "IMG_2.jpg": "IMG_2.jpg.json",  # before 2024
             "IMG_2(1).jpg": "IMG_2.jpg(1).json",
             "IMG_3(1).jpg": "IMG_3.jpg.supplemental-metadata(1).json",
             "IMG_4-edited.jpg": "IMG_4.jpg.supplemental-metadata.json",  # the original's
             "IMG_4-bearbeitet.jpg": "IMG_4.jpg.supplemental-metadata.json",
             "IMG_5~2.jpg": "IMG_5.jpg.supplemental-metadata.json",
             long_name: long_name[:46] + ".json"}
    for n, (name, json_name) in enumerate(cases.items()):
        assert len(json_name) <= 51 and json_name in json_names(name)
        photo(tmp_path / name, n)
        if not (tmp_path / json_name).exists():
            said(tmp_path, json_name, JULY_1 + n * 86400)
    first = {json_name: n for n, json_name in reversed(list(enumerate(cases.values())))}
    for name, json_name in cases.items():
        assert image_facts(str(tmp_path / name)).date == local(JULY_1 + first[json_name] * 86400), name
    photo(tmp_path / "IMG_10.jpg", 20)  # IMG_1's JSON is not IMG_10's: the file's own time
    assert image_facts(str(tmp_path / "IMG_10.jpg")).date == local(int(os.stat(tmp_path / "IMG_10.jpg").st_mtime))


def test_google_s_date_place_and_people_are_the_photo_s(takeout, tmp_path):
    year = takeout / "Photos from 2019"
    first = image_facts(str(year / "IMG_1.jpg"))
    assert (first.date, first.position, first.tags, first.own_date) == (local(JULY_1), "45.76400,4.83570",
                                                                         "Anna\nBob", True)
    assert image_facts(str(year / "IMG_2.jpg")).date == "2019-07-02T09:00:00"  # within a day: local time kept
    assert image_facts(str(year / "IMG_3.jpg")).date == local(JULY_1 + 2 * 86400)  # years apart: put right
    assert SAME_DAY > 24 * 3600  # clocks on Earth differ by up to 26 hours
    photo(tmp_path / "a.jpg", 5)
    (tmp_path / "a.jpg.json").write_text('{"title": "a.jpg", "tags": ["x"]}')  # a JSON, but no Takeout's
    photo(tmp_path / "b.jpg", 6)
    (tmp_path / "b.jpg.json").write_text('{"photoTakenTime": {"timestamp": "')  # cut short
    photo(tmp_path / "c.jpg", 7)
    (tmp_path / "c.jpg.json").write_text('{"photoTakenTime": {"timestamp": "x"}, "geoData": {"latitude": 91}}')
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        facts = image_facts(str(tmp_path / name))
        assert facts.date == local(int(os.stat(tmp_path / name).st_mtime)) and not facts.own_date
        assert (facts.position, facts.tags) == ("", "")


def test_a_takeout_is_indexed_with_its_albums_each_photo_once(takeout, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(takeout), "--features", "gch", "--out", str(out)]) == 0
    engine = Engine.load(out)
    assert sorted(engine.metadata.labels()) == ["Photos from 2019/IMG_1.jpg", "Photos from 2019/IMG_2.jpg",
                                                 "Photos from 2019/IMG_3.jpg", "Rome 2019/from Bob.jpg"]
    assert {a.name: engine.albums.images(a.name) for a in engine.albums.overview()} == {
        "Archive": ["Photos from 2019/IMG_2.jpg"], "Favorites": ["Photos from 2019/IMG_1.jpg"],
        "Rome 2019": ["Photos from 2019/IMG_3.jpg", "Rome 2019/from Bob.jpg"]}  # the year's photo, not its copy
    capsys.readouterr()
    assert main(["search", str(out), "--paths"]) == 0  # the timeline: archived in Google Photos, out of it here too
    assert "IMG_2.jpg" not in capsys.readouterr().out
    assert main(["search", str(out), "--place", "Rome", "--json"]) == 0
    assert [h["albums"] for h in json.loads(capsys.readouterr().out)[0]["hits"]] == [["Rome 2019"]]
    assert main(["search", str(out), "--tag", "anna", "--paths"]) == 0
    assert capsys.readouterr().out.strip().endswith("Photos from 2019/IMG_1.jpg")
    edited = takeout / "Rome 2019" / "IMG_2.jpg"  # a copy unlike its namesake (edited since): an image of its own
    photo(edited, 12)
    assert main(["albums", str(out), "Rome 2019", "--remove", "Rome 2019/from Bob.jpg"]) == 0  # the user's say
    assert main(["add", str(out), "--dataset", str(takeout)]) == 0
    assert "added 1 images" in capsys.readouterr().out
    engine = Engine.load(out)
    assert engine.albums.images("Rome 2019") == ["Photos from 2019/IMG_3.jpg", "Rome 2019/IMG_2.jpg"]
    assert main(["index", "--dataset", str(takeout), "--features", "hog-gch", "--out", str(out)]) == 0
    assert Engine.load(out).albums.images("Rome 2019") == engine.albums.images("Rome 2019")  # kept as they were


def test_a_json_come_later_is_read_at_the_next_sync_on_a_server_s_documents_too(takeout, tmp_path, capsys,
                                                                              folder_decodes):
    year = takeout / "Photos from 2019"
    later = [year / "IMG_1.jpg.supplemental-metadata.json", year / "IMG_3.jpg.supplemental-metadata.json"]
    for json_file in later:  # in the second part of a Takeout, not extracted yet
        json_file.rename(tmp_path / json_file.name)
    out = str(tmp_path / "engine")
    assert main(["index", "--dataset", str(takeout), "--features", "gch", "--backend", "milvus", "--milvus-uri",
                 str(tmp_path / "milvus.db"), "--out", out]) == 0
    assert Engine.load(out).metadata.date("Photos from 2019/IMG_3.jpg") == "2001-01-01T00:00:00"
    for json_file in later:
        (tmp_path / json_file.name).rename(json_file)
        os.utime(json_file, ns=(time.time_ns(), time.time_ns() + 10**9))
    folder_decodes.clear()
    capsys.readouterr()
    assert main(["sync", out]) == 0
    assert "read the tags of 2 again" in capsys.readouterr().out and not folder_decodes  # nothing decoded
    engine = Engine.load(out)
    assert engine.metadata.date("Photos from 2019/IMG_1.jpg") == local(JULY_1)
    assert engine.metadata.hit("Photos from 2019/IMG_1.jpg", 1.0).place == "Lyon, France"
    query = str(year / "IMG_2.jpg")
    assert main(["search", out, query, "--until", local(JULY_1 + 2 * 86400)[:10], "--since", "2019", "--json"]) == 0
    assert sorted(h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]) == [
        "Photos from 2019/IMG_1.jpg", "Photos from 2019/IMG_2.jpg", "Photos from 2019/IMG_3.jpg"]  # not 2001 now


def test_a_photo_in_the_bin_is_no_part_of_the_collection(takeout, tmp_path):
    year = takeout / "Photos from 2019"
    photo(year / "IMG_9.jpg", 9)
    said(year, "IMG_9.jpg.supplemental-metadata.json", JULY_1)
    content = json.loads((year / "IMG_9.jpg.supplemental-metadata.json").read_text())
    (year / "IMG_9.jpg.supplemental-metadata.json").write_text(json.dumps(content | {"trashed": True}))
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(takeout), "--features", "gch", "--out", str(out)]) == 0
    assert "Photos from 2019/IMG_9.jpg" not in Engine.load(out).metadata and len(Engine.load(out)) == 4


def test_a_takeout_s_archive_is_indexed_with_a_word_on_what_extracting_it_gives(takeout, tmp_path, capsys):
    archive = shutil.make_archive(str(tmp_path / "takeout-20261207T101010Z-001"), "zip", tmp_path, "Takeout")
    assert main(["index", "--dataset", archive, "--features", "gch", "--out", str(tmp_path / "engine")]) == 0
    assert "is a Google Photos Takeout: what its JSON files say (when, where, who) and its albums are read from its " \
           "folder once extracted" in " ".join(capsys.readouterr().err.split())


def test_the_people_google_named_name_the_faces_found(tmp_path, capsys):
    pytest.importorskip("dlib")
    from test_faces import astronaut, hopper, photos

    year = photos(tmp_path / "Takeout" / "Google Photos" / "Photos from 2019")
    for folder in ("collins", "hopper", "other"):  # a Takeout's photos lie in one folder a year
        for picture in (year / folder).iterdir():
            picture.rename(year / picture.name)
        (year / folder).rmdir()
    together = Image.new("RGB", (1024, 600))
    together.paste(astronaut(), (0, 44))
    together.paste(hopper().resize((512, 600)), (512, 0))
    together.save(year / "together.jpg", quality=90)
    said(year, "a1.jpg.supplemental-metadata.json", JULY_1, people=["Eileen Collins"])  # her face alone in it
    said(year, "together.jpg.supplemental-metadata.json", JULY_1, people=["Eileen Collins", "Grace Hopper"])
    said(year, "h1.jpg.supplemental-metadata.json", JULY_1, people=["Grace Hopper", "Anna"])  # Anna: no face found
    said(year, "cat.jpg.supplemental-metadata.json", JULY_1, people=["Anna"])  # no face found: no one to name
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(year.parent), "--features", "gch", "--out", str(out)]) == 0
    assert main(["faces", str(out)]) == 0
    people = {p.name: p.images for p in Engine.load(out).people()}
    assert people == {"Eileen Collins": 4, "Grace Hopper": 4}  # hers named alone; then Grace Hopper the face left
