"""Captions: what people wrote of a photo in a photo manager (XMP, IPTC, EXIF) or in Google Photos (a Takeout's JSON),
read with its other facts; shown with it, and found by the words they hold; cameras' own stamps left out."""

import io
import json
import sqlite3

from PIL import Image
from test_tags import iptc, photo, xmp
from test_takeout import JULY_1, said

from cbir.cli import main
from cbir.datasets.folder import image_facts
from cbir.engine import Engine
from cbir.tags import caption_text
from cbir.web import create_app


def described(text: str) -> bytes:
    """An XMP `dc:description` as Lightroom writes a caption: a language alternative."""
    return (f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{text}</rdf:li>'
            f'<rdf:li xml:lang="fr">autre</rdf:li></rdf:Alt></dc:description>')


def captioned(root):
    """Photos captioned by Lightroom (in the photo and beside it), Picasa (IPTC), Windows (EXIF) and Google Photos;
    one a camera stamped; one with no caption."""
    photo(root / "lr.jpg", 0, "2024:06:01 10:00:00", xmp=xmp(["cake"], body=described("Anna&apos;s birthday cake")))
    photo(root / "raw.jpg", 1, "2024:06:02 10:00:00", xmp=xmp(body=described("In the photo")))
    (root / "raw.jpg.xmp").write_bytes(xmp(body=described("Beside it: the birthday party")))
    out = io.BytesIO()
    photo(out, 2, "2024:06:03 10:00:00")
    (root / "picasa.jpg").write_bytes(iptc(out.getvalue(), ["party"], caption="Grandma’s garden"))
    windows = Image.Exif()
    windows[0x010E] = "Snow on the Fourvière hill".encode()  # UTF-8, as Windows writes it
    photo(root / "windows.jpg", 3, "2024:06:04 10:00:00", exif=windows)
    stamped = Image.Exif()
    stamped[0x010E] = "OLYMPUS DIGITAL CAMERA         "
    photo(root / "olympus.jpg", 4, "2024:06:05 10:00:00", exif=stamped)
    photo(root / "google.jpg", 5, "2024:06:06 10:00:00")
    said(root, "google.jpg.supplemental-metadata.json", JULY_1)
    content = json.loads((root / "google.jpg.supplemental-metadata.json").read_text())
    content["description"] = "First day at school"
    (root / "google.jpg.supplemental-metadata.json").write_text(json.dumps(content))
    photo(root / "plain.jpg", 6, "2024:06:07 10:00:00")
    return root


def test_a_caption_is_read_wherever_a_photo_manager_wrote_it(tmp_path):
    root = captioned(tmp_path)
    captions = {p.name: image_facts(str(p)).caption for p in sorted(root.glob("*.jpg"))}
    assert captions == {"google.jpg": "First day at school", "lr.jpg": "Anna's birthday cake",
                        "olympus.jpg": "", "picasa.jpg": "Grandma’s garden",
                        "plain.jpg": "", "raw.jpg": "Beside it: the birthday party",  # the sidecar's first
                        "windows.jpg": "Snow on the Fourvière hill"}
    assert caption_text("SONY DSC") == caption_text(b"EXIF_JPEG_PICTURE\x00") == caption_text("  ") == ""
    assert caption_text("東京タワー") == "東京タワー"  # no capitals to tell by: a caption
    assert caption_text(" a\n two-line\tcaption ") == "a two-line caption"


def test_captions_are_shown_and_found_by_their_words(tmp_path, capsys):
    root = captioned(tmp_path / "photos")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["search", str(out), "--words", "Birthday", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["captioned"] == "Birthday"
    assert [(h["id"], h["caption"]) for h in result["hits"]] == [("raw.jpg", "Beside it: the birthday party"),
                                                                ("lr.jpg", "Anna's birthday cake")]  # newest first
    assert main(["search", str(out), "--words", "birthday cake"]) == 0  # each word, whole
    text = capsys.readouterr().out
    assert "(captioned birthday cake)" in text and "lr.jpg" in text and "raw.jpg" not in text
    assert "“Anna's birthday cake”" in text
    assert main(["search", str(out), "--words", "fourviere"]) == 0  # case and accents ignored
    assert "windows.jpg" in capsys.readouterr().out
    assert main(["search", str(out), "--words", "birth"]) == 2  # not a word of any: nothing found, as before
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    page = client.get("/?words=school").get_data(as_text=True)
    assert "whose caption says school" in page and "First day at school" in page
    assert client.get("/api/v1/search?words=school").get_json()["captioned"] == "school"
    engine = Engine.load(out)
    photo_page = client.get("/photo/lr.jpg").get_data(as_text=True)
    assert "<dt>Caption</dt><dd>Anna&#39;s birthday cake</dd>" in photo_page
    assert engine.metadata.hit("plain.jpg", 1.0).caption is None


def test_engines_indexed_before_captions_were_read_get_them_from_the_next_add(tmp_path, capsys):
    root = captioned(tmp_path / "photos")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    database = next(out.glob("v-*")) / "metadata.sqlite"
    with sqlite3.connect(database) as db:  # as an engine of an earlier version holds it
        db.execute("ALTER TABLE images DROP COLUMN caption")
    db.close()
    assert Engine.load(out).metadata.hit("lr.jpg", 1.0).caption is None
    assert main(["add", str(out), "--dataset", str(root)]) == 0
    assert Engine.load(out).metadata.hit("lr.jpg", 1.0).caption == "Anna's birthday cake"
