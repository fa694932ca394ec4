"""Text in the pictures: read by PP-OCR's networks from the package (nothing fetched), kept with the engine as images
come, move, change and go, and found by the words written there from the command line, the page and the API."""

import csv
import json
import os
import socket

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

import cbir.texts
from cbir.cli import main
from cbir.engine import Engine
from cbir.errors import MissingDependencyError
from cbir.texts import TextReader, Texts, TextSpool, line_with, reader
from cbir.web import create_app

pytest.importorskip("rapidocr")


def written(path, *lines, size=(600, 1300)):
    """A phone screenshot: dark lines of text on white."""
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    for n, line in enumerate(lines):
        draw.text((40, 120 + 90 * n), line, font=ImageFont.load_default(size=40), fill=(30, 30, 30))
    picture.save(path)


@pytest.fixture
def library(tmp_path):
    """Two screenshots and two photos with nothing written in them."""
    root = tmp_path / "library"
    (root / "Screenshots").mkdir(parents=True)
    (root / "photos").mkdir()
    written(root / "Screenshots/Screenshot_2026-01-02.png", "Boarding pass", "Flight AF 1234 to Lyon",
            "Wi-Fi password: sunflower42")
    written(root / "Screenshots/Screenshot_2026-01-05.png", "Invoice 2026-117", "Total due: 98 EUR")
    Image.fromarray(data.chelsea()).save(root / "photos/cat.jpg")
    Image.fromarray(data.coffee()).save(root / "photos/coffee.jpg")
    return root


def indexed(folder, tmp_path):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(folder), "--features", "hog-gch", "--out", str(out)]) == 0
    return out


def test_what_is_written_is_read_from_the_package_alone_and_a_photo_reads_as_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("reading text tried to reach the network")

    reader.cache_clear()
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    written(tmp_path / "shot.png", "Boarding pass", "Wi-Fi password: sunflower42")
    text = reader().read(np.asarray(Image.open(tmp_path / "shot.png")))
    assert text == "Boarding pass\nWi-Fi password: sunflower42"
    assert reader().read(data.chelsea()) == "" and reader().read(data.astronaut()) == ""  # no stray "0" in fur
    assert line_with(text, "the password") == line_with(text, "sunflower") == "Wi-Fi password: sunflower42"


def test_without_rapidocr_reading_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(cbir.texts.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'cbir\[ocr\]'"):
        TextReader()


def test_the_command_line_reads_screenshots_first_then_finds_them_by_what_is_written(library, tmp_path, capsys):
    out = indexed(library, tmp_path)
    assert main(["search", str(out), "--text", "password"]) == 2
    assert "`cbir text ENGINE` reads it" in capsys.readouterr().err
    assert main(["info", str(out)]) == 0
    assert f"not read: `cbir text {out} --kind screenshot` reads what is written in the 2 screenshots" \
        in capsys.readouterr().out
    assert main(["text", str(out), "--kind", "screenshot"]) == 0
    assert "read 2 images" in capsys.readouterr().out
    assert Engine.load(out).texts.read.keys() == {"Screenshots/Screenshot_2026-01-02.png",
                                                  "Screenshots/Screenshot_2026-01-05.png"}
    assert main(["search", str(out), "--words", "wi-fi password"]) == 0
    said = capsys.readouterr().out
    assert "(reading wi-fi password)" in said and "Screenshot_2026-01-02.png  reads “Wi-Fi password: sunflower42”" \
        in said and "2026-01-05" not in said
    assert main(["search", str(out), "--words", "sunflower", "--paths"]) == 0  # "sunflower42": its start
    assert capsys.readouterr().out.strip() == str(library / "Screenshots/Screenshot_2026-01-02.png")
    assert main(["search", str(out), "--text", "TOTAL", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert [h["id"] for h in hits] == ["Screenshots/Screenshot_2026-01-05.png"]
    assert hits[0]["text"] == "Invoice 2026-117\nTotal due: 98 EUR"
    assert main(["info", str(out)]) == 0
    assert "text       in 2 of the 2 images read (only screenshots)" in capsys.readouterr().out

    written(library / "Screenshots/Screenshot_2026-02-01.png", "Meeting at 10:30")
    written(library / "photos/sign.png", "Rue de la Paix", size=(900, 600))
    assert main(["add", str(out), "--dataset", str(library)]) == 0
    assert "read the text in 1 images" in capsys.readouterr().out  # the new screenshot; the photos not
    assert Engine.load(out).texts.of("Screenshots/Screenshot_2026-02-01.png") == "Meeting at 10:30"
    assert main(["text", str(out)]) == 0  # every image now, and those added later
    assert "read 3 images" in capsys.readouterr().out
    engine = Engine.load(out)
    assert engine.texts.of("photos/sign.png") == "Rue de la Paix" and engine.texts.kind == ""
    assert engine.texts.of("photos/cat.jpg") is None and len(engine.texts) == 6


def test_text_follows_the_images_as_they_move_change_and_go(library, tmp_path, capsys):
    out = indexed(library, tmp_path)
    assert main(["text", str(out)]) == 0
    shots = library / "Screenshots"
    (shots / "Screenshot_2026-01-02.png").rename(shots / "boarding.png")  # moved: nothing read again
    written(shots / "Screenshot_2026-01-05.png", "Invoice 2026-118", "Total due: 12 EUR")  # edited: read again
    capsys.readouterr()
    assert main(["sync", str(out)]) == 0
    assert "read the text in 1" in capsys.readouterr().out
    engine = Engine.load(out)
    assert engine.texts.of("Screenshots/boarding.png").startswith("Boarding pass")
    assert "Screenshots/Screenshot_2026-01-02.png" not in engine.texts.read  # gone with its old name
    assert engine.texts.of("Screenshots/Screenshot_2026-01-05.png") == "Invoice 2026-118\nTotal due: 12 EUR"
    assert main(["index", "--dataset", str(library), "--features", "hog-gch", "--out", str(out)]) == 0
    assert "the text read in 4" in capsys.readouterr().out  # indexing again keeps it
    assert Engine.load(out).texts.holding("sunflower42") == {"Screenshots/boarding.png"}


def test_a_stopped_reading_goes_on_where_it_stopped(library, tmp_path, monkeypatch):
    out = indexed(library, tmp_path)
    monkeypatch.setattr(cbir.texts, "THREADS", 1)  # in order
    done, read = [], TextReader.read

    def stopping(self, image):
        if len(done) == 3:
            raise KeyboardInterrupt
        done.append(1)
        return read(self, image)

    monkeypatch.setattr(TextReader, "read", stopping)
    assert main(["text", str(out)]) == 130  # stopped after 3 images, each kept as it was read
    assert Engine.load(out).texts is None
    done.clear()
    monkeypatch.setattr(TextReader, "read", lambda self, image: done.append(1) or read(self, image))
    assert main(["text", str(out)]) == 0
    assert len(done) == 1 and len(Engine.load(out).texts) == 4  # the last one alone
    assert not (out / TextSpool.FOLDER).exists()


def test_the_page_the_api_and_the_export_have_the_text(library, tmp_path):
    out = indexed(library, tmp_path)
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    refused = client.get("/api/v1/images?text=invoice")
    assert refused.status_code == 400 and "cbir text" in refused.get_json()["error"]
    assert main(["text", str(out)]) == 0
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    found = client.get("/api/v1/search?words=boarding+pass").get_json()
    assert found["in_text"] == "boarding pass" and [h["id"] for h in found["hits"]] == [
        "Screenshots/Screenshot_2026-01-02.png"]
    assert [h["id"] for h in client.get("/api/v1/images?text=98+eur").get_json()["hits"]] == [
        "Screenshots/Screenshot_2026-01-05.png"]
    page = client.get("/?words=invoice").get_data(as_text=True)
    assert "Pictures in which invoice is written" in page and "Screenshot_2026-01-05.png" in page
    photo = client.get("/photo/Screenshots/Screenshot_2026-01-05.png").get_data(as_text=True)
    assert "Written in it</dt><dd class=\"written\">Invoice 2026-117\nTotal due: 98 EUR</dd>" in photo
    assert main(["export", str(out), "--csv", str(tmp_path / "photos.csv")]) == 0
    with open(tmp_path / "photos.csv", newline="", encoding="utf-8") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    assert rows["Screenshots/Screenshot_2026-01-05.png"]["text"] == "Invoice 2026-117\nTotal due: 98 EUR"
    assert rows["photos/cat.jpg"]["text"] == ""


def test_texts_are_kept_as_written_and_found_by_whole_words():
    texts = Texts({"a.png": "Café Flore\nOuvert", "b.png": ""}, "screenshot")
    assert texts.holding("cafe") == {"a.png"} and texts.holding("CAF") == {"a.png"}  # a word's start
    assert texts.holding("ca") == frozenset() and texts.holding("afe") == frozenset()  # too short; not its start
    assert texts.holding("flore ouvert") == {"a.png"} and texts.holding("flore fermé") == frozenset()
    assert texts.summary() == {"read": 2, "with_text": 1, "kind": "screenshot"}


def test_the_large_view_shows_what_is_written_to_read_or_copy(library, tmp_path):
    from conftest import served
    from playwright.sync_api import expect, sync_playwright
    from test_browser import CHROMIUM, launch

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    out = indexed(library, tmp_path)
    assert main(["text", str(out), "--kind", "screenshot"]) == 0
    with served(out) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"{url}/?words=boarding+pass")
        expect(page.locator("#results .hit")).to_have_count(1)
        page.locator("#results .hit a.open").click()
        written = page.locator("#viewer .written")
        expect(written).to_have_text("Boarding pass Flight AF 1234 to Lyon Wi-Fi password: sunflower42")
        assert written.inner_text().splitlines()[-1] == "Wi-Fi password: sunflower42"  # a line each, to copy
        page.goto(f"{url}/?browse=1")
        page.locator("#results .hit a.open").first.click()
        for _ in range(4):  # the photos say nothing
            if page.locator("#viewer img").get_attribute("alt").startswith("photos/"):
                break
            page.locator("#viewer [data-step='1']").click()
        expect(written).to_be_hidden()
        browser.close()
