"""When and where pictures were taken, said by hand: a camera's clock put right by a shift, a scan dated, photos
without GPS placed, kept as files are read again, edited, moved and indexed again, on the command line, a photo's
page and the API."""

import csv
import os
from datetime import timedelta

import pytest
from PIL import Image
from test_tags import photo

from cbir.cli import main
from cbir.engine import Engine
from cbir.errors import CbirError
from cbir.places import located
from cbir.taken import duration, moment, moved
from cbir.web import create_app


def camera(make: str, model: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    return exif


@pytest.fixture
def wedding(tmp_path):
    """Two cameras at one wedding, one of them three hours ahead; and a scan with no date of its own."""
    root = tmp_path / "wedding"
    photo(root / "canon/1.jpg", 0, "2024:06:01 17:00:00", exif=camera("Canon", "Canon EOS R6"))
    photo(root / "canon/2.jpg", 1, "2024:06:01 18:30:00", exif=camera("Canon", "Canon EOS R6"))
    photo(root / "phone/1.jpg", 2, "2024:06:01 14:10:00", exif=camera("Apple", "iPhone 13"))
    Image.new("RGB", (48, 40), "gray").save(root / "scan.png")
    return root


def indexed(root, tmp_path):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    return out


def test_moments_and_shifts_are_read_as_people_write_them():
    assert moment("2019-07-14") == "2019-07-14T00:00:00" and moment(" 2019-07-14 10:30 ") == "2019-07-14T10:30:00"
    assert duration("+3h") == timedelta(hours=3) and duration("-1d2h30m") == -timedelta(days=1, hours=2, minutes=30)
    assert moved("2024-06-01T17:00:00", duration("-3h")) == "2024-06-01T14:00:00"
    for wrong in ("3h", "+", "+3x", "soon"):
        with pytest.raises(CbirError, match="a shift is"):
            duration(wrong)
    with pytest.raises(CbirError, match="a moment is"):
        moment("14/07/2019")


def test_a_camera_s_clock_is_put_right_and_stays_so(wedding, tmp_path, capsys):
    out = indexed(wedding, tmp_path)
    assert main(["dates", str(out), "--camera", "Canon EOS R6", "--shift", "-3h"]) == 0
    assert "moved the dates of 2 images by -3h (2 changed)" in capsys.readouterr().out
    engine = Engine.load(out)
    assert [h.id for h in engine.browse(10, order="oldest").hits][:3] == ["canon/1.jpg", "phone/1.jpg", "canon/2.jpg"]
    assert engine.metadata.date("canon/1.jpg") == "2024-06-01T14:00:00"
    assert main(["dates", str(out), "scan.png", "--set", "1987-08-01"]) == 0
    assert Engine.load(out).metadata.date("scan.png") == "1987-08-01T00:00:00"

    os.utime(wedding / "canon/1.jpg")  # touched: its header read again, the date said here kept
    photo(wedding / "canon/2.jpg", 7, "2024:06:01 18:30:00", exif=camera("Canon", "Canon EOS R6"))  # edited
    (wedding / "phone/1.jpg").rename(wedding / "phone/first.jpg")  # moved
    assert main(["sync", str(out)]) == 0
    engine = Engine.load(out)
    assert engine.metadata.date("canon/1.jpg") == "2024-06-01T14:00:00"
    assert engine.metadata.date("canon/2.jpg") == "2024-06-01T15:30:00"  # edited, still as said
    assert engine.metadata.date("phone/first.jpg") == "2024-06-01T14:10:00"
    capsys.readouterr()
    assert main(["index", "--dataset", str(wedding), "--features", "hog-gch", "--out", str(out)]) == 0
    assert "when or where 3 were taken, as said by hand" in capsys.readouterr().out
    engine = Engine.load(out)  # indexed again: the dates said kept
    assert engine.metadata.date("canon/2.jpg") == "2024-06-01T15:30:00" and engine.metadata.date(
        "scan.png") == "1987-08-01T00:00:00"
    assert main(["search", str(out), "--since", "1987", "--until", "1987", "--paths"]) == 0
    assert capsys.readouterr().out.strip().endswith("scan.png")
    assert main(["export", str(out), "--csv", str(tmp_path / "photos.csv")]) == 0
    with open(tmp_path / "photos.csv", newline="", encoding="utf-8") as f:
        assert {row["id"]: row["date"] for row in csv.DictReader(f)}["canon/1.jpg"] == "2024-06-01T14:00:00"
    assert main(["dates", str(out), "--folder", "canon/", "--as-taken"]) == 0
    assert Engine.load(out).metadata.date("canon/1.jpg") == "2024-06-01T17:00:00"  # as its file says
    (wedding / "scan.png").unlink()  # gone: its file cannot say, so it keeps the date it has
    assert main(["dates", str(out), "scan.png", "--as-taken"]) == 0
    engine = Engine.load(out)
    assert engine.metadata.date("scan.png") == "1987-08-01T00:00:00" and engine.metadata.date_set("scan.png") is None


def test_dates_are_said_of_images_named_or_filtered_not_of_all_by_mistake(wedding, tmp_path, capsys):
    out = indexed(wedding, tmp_path)
    assert main(["dates", str(out), "--shift", "+1h"]) == 2  # nothing named: nothing changed
    assert "name the images" in capsys.readouterr().err
    assert main(["dates", str(out), "scan.png", "--folder", "canon/", "--shift", "+1h"]) == 2
    assert main(["dates", str(out), "scan.png", "--shift", "+1h", "--set", "2020-01-01"]) == 2
    assert main(["dates", str(out), "nothing.jpg", "--shift", "+1h"]) == 2
    assert main(["dates", str(out), str(wedding / "scan.png"), "--shift", "+1d"]) == 0  # a file, by its path
    assert Engine.load(out).metadata.date_set("scan.png") is not None


def test_a_photo_s_page_sets_its_date_and_gives_it_back(wedding, tmp_path):
    out = indexed(wedding, tmp_path)
    client = create_app({"ENGINES": {"w": str(out)}}).test_client()
    page = client.get("/photo/scan.png").get_data(as_text=True)
    assert 'name="date"' in page and "As its file says" not in page
    answer = client.post("/photo/scan.png/date", data={"engine": "w", "date": "1987-08-01T10:30"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/photo/scan.png?engine=w")
    page = client.get("/photo/scan.png").get_data(as_text=True)
    assert "1987-08-01 10:30:00</a> (said here)" in page and "As its file says" in page
    hits = client.get("/api/v1/images?since=1987&until=1987").get_json()["hits"]
    assert [h["id"] for h in hits] == ["scan.png"]
    assert client.post("/photo/scan.png/date", data={"engine": "w", "date": "last summer"}).status_code == 400
    client.post("/photo/scan.png/date", data={"engine": "w", "as_taken": "1"})
    assert Engine.load(out).metadata.date_set("scan.png") is None
    answer = client.post("/api/v1/dates/canon/1.jpg", json={"engine": "w", "date": "2024-06-01T14:00"})
    assert answer.get_json() == {"id": "canon/1.jpg", "date": "2024-06-01T14:00:00", "said": True}
    assert client.post("/api/v1/dates/canon/1.jpg", json={"as_taken": True}).get_json()["date"] \
        == "2024-06-01T17:00:00"
    assert client.post("/api/v1/dates/canon/1.jpg", json={}).status_code == 400
    assert client.post("/api/v1/dates/none.jpg", json={"date": "2020-01-01"}).status_code == 404
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/dates/{image_id}"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]) == {"date", "as_taken", "engine"}


def test_towns_and_positions_are_read_as_people_write_them():
    assert located("45.764, 4.8357") == "45.76400,4.83570" and located("Paris, Texas").startswith("33.6")
    assert located("Wien") == located("Vienna")  # a city by its other name
    with pytest.raises(CbirError, match="did you mean 'Lyon'"):
        located("Lyonn")
    for wrong in ("0,0", "95,3"):
        with pytest.raises(CbirError, match="a position is"):
            located(wrong)


def test_photos_without_gps_are_placed_and_stay_so(wedding, tmp_path, capsys):
    out = indexed(wedding, tmp_path)
    assert main(["places", str(out), "--folder", "canon/", "--set", "Lyon"]) == 0
    assert "placed 2 images near Lyon, France" in capsys.readouterr().out
    assert main(["search", str(out), "--place", "Lyon", "--paths"]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted(str(wedding / f"canon/{n}.jpg") for n in (1, 2))
    os.utime(wedding / "canon/1.jpg")  # read again: the place said kept
    photo(wedding / "canon/2.jpg", 7, "2024:06:01 18:30:00", exif=camera("Canon", "Canon EOS R6"))  # edited
    assert main(["sync", str(out)]) == 0
    assert main(["index", "--dataset", str(wedding), "--features", "hog-gch", "--out", str(out)]) == 0
    engine = Engine.load(out)
    assert engine.places()[0].place == "Lyon, France" and engine.places()[0].images == 2
    assert main(["places", str(out), "canon/1.jpg", "--as-taken"]) == 0
    assert Engine.load(out).metadata.hit("canon/1.jpg", 1.0).place is None  # its file says nothing
    assert main(["places", str(out), "--set", "Lyon"]) == 2  # nothing named
    assert main(["places", str(out), "scan.png", "--set", "Lyonn"]) == 2
    assert "did you mean 'Lyon'" in capsys.readouterr().err


def test_a_photo_s_page_and_the_api_place_it(wedding, tmp_path):
    out = indexed(wedding, tmp_path)
    client = create_app({"ENGINES": {"w": str(out)}}).test_client()
    assert "somewhere unknown" in client.get("/photo/scan.png").get_data(as_text=True)
    answer = client.post("/photo/scan.png/place", data={"engine": "w", "place": "Grenoble"})
    assert answer.status_code == 303
    page = client.get("/photo/scan.png").get_data(as_text=True)
    assert "Grenoble, France</a> (said here)" in page and "As its file says" in page
    assert '<option value="Grenoble, France"' in client.get("/").get_data(as_text=True)  # the start page, at once
    assert client.post("/photo/scan.png/place", data={"engine": "w", "place": "Qwxzville"}).status_code == 400
    assert client.post("/photo/scan.png/place", data={"engine": "w", "place": ""}).status_code == 400
    answer = client.post("/api/v1/places/phone/1.jpg", json={"place": "45.1885,5.7245"}).get_json()
    assert answer == {"id": "phone/1.jpg", "place": "Grenoble, France", "position": [45.1885, 5.7245], "said": True}
    hits = client.get("/api/v1/images?place=Grenoble").get_json()["hits"]
    assert sorted(h["id"] for h in hits) == ["phone/1.jpg", "scan.png"]
    assert client.post("/api/v1/places/phone/1.jpg", json={"as_taken": True}).get_json()["said"] is False
    assert client.post("/api/v1/places/phone/1.jpg", json={}).status_code == 400
