"""The tags and star ratings photo managers give photos: read from XMP (in the file or beside it), IPTC and Windows'
EXIF; a filter of every search, words that name them, an overview; kept fresh as photos are retagged; in Python, on
the command line, the page and the API."""

import io
import json
import os
import sqlite3
import struct
import time

import numpy as np
import pytest
from conftest import on_milvus
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from test_places import gps, heif_with_exif

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.datasets.folder import image_facts
from cbir.engine import Engine
from cbir.errors import CbirError, UnknownWordsError
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.tags import Tagged, merged, tags_named, windows_tagged, xmp_tagged
from cbir.web import create_app

NAMESPACES = ('xmlns:x="adobe:ns:meta/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
              'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
              'xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:digiKam="http://www.digikam.org/ns/1.0/" '
              'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
              'xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/Region#"')


def xmp(keywords=(), rating=None, hierarchical=(), people=(), body="") -> bytes:
    """An XMP packet as Lightroom writes one: keywords, hierarchical keywords, people's regions, a rating."""
    def bag(items) -> str:
        return "<rdf:Bag>" + "".join(f"<rdf:li>{item}</rdf:li>" for item in items) + "</rdf:Bag>"

    rated = f' xmp:Rating="{rating}"' if rating is not None else ""
    regions = ('<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
               + "".join(f'<rdf:li><rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face"/></rdf:li>'
                         for name in people) + "</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>") if people else ""
    return (f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta {NAMESPACES}><rdf:RDF>'
            f'<rdf:Description rdf:about=""{rated}>'
            + (f"<dc:subject>{bag(keywords)}</dc:subject>" if keywords else "")
            + (f"<lr:hierarchicalSubject>{bag(hierarchical)}</lr:hierarchicalSubject>" if hierarchical else "")
            + regions + body + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def iptc(jpeg: bytes, keywords, encoding="utf-8", caption=None) -> bytes:
    """A JPEG with IPTC keywords (2:25), and a caption (2:120), in a Photoshop APP13 segment, as Picasa writes them."""
    records = b"".join(bytes([0x1C, 2, dataset]) + struct.pack(">H", len(k.encode(encoding))) + k.encode(encoding)
                       for dataset, k in [(0x19, k) for k in keywords] + ([(0x78, caption)] if caption else []))
    body = (b"Photoshop 3.0\x008BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(records))
            + records + b"\0" * (len(records) % 2))
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def photo(path, seed=0, when="2024:05:01 10:00:00", fmt="JPEG", **kwargs):
    """A 48x40 picture with an EXIF date (in a JPEG), saved with Pillow's keywords (`xmp`, `exif`, ...)."""
    if not isinstance(path, io.BytesIO):
        path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    exif = kwargs.pop("exif", Image.Exif())
    exif.get_ifd(0x8769)[36867] = when
    Image.fromarray(pixels).save(path, fmt, exif=exif, **kwargs)
    return path


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    """Photos tagged by different photo managers; one untagged."""
    root = tmp_path_factory.mktemp("album")
    photo(root / "wedding/a.jpg", 0, "2024:06:01 10:00:00", xmp=xmp(["wedding", "Anna"], 5))
    photo(root / "wedding/b.jpg", 1, "2024:06:01 11:00:00", xmp=xmp(["Wedding"], 3, people=["Bob"]))
    photo(root / "wedding/c.jpg", 2, "2024:06:02 10:00:00", xmp=xmp(hierarchical=["People|Family|Anna"]))
    windows = Image.Exif()
    windows[0x9C9E], windows[0x4746] = "beach;Anna".encode("utf-16-le") + b"\0\0", 4
    windows[0x8825] = gps(45.764, 4.8357)  # in Lyon
    photo(root / "summer/d.jpg", 3, "2024:07:01 10:00:00", exif=windows)
    out = io.BytesIO()
    photo(out, 4, "2024:07:02 10:00:00")
    (root / "summer/e.jpg").write_bytes(iptc(out.getvalue(), ["beach", "Café"]))
    photo(root / "raw/f.png", 5, fmt="PNG")
    (root / "raw/f.png.xmp").write_bytes(xmp(["sunset"], -1))  # darktable's sidecar: rejected
    photo(root / "raw/g.jpg", 6, "2023:01:01 10:00:00")
    return root


@pytest.fixture(scope="module")
def album_engine(album):
    return Engine.build(load_folder(album, progress=False, cache=False), make_extractor("gch"), progress=False)


def test_xmp_packets_give_keywords_hierarchies_people_and_ratings():
    packet = xmp(["wedding", "Zoë"], 4, ["People|Family|Anna", "Places|Lyon"], ["Bob"])
    assert xmp_tagged(b"junk before" + packet + b"junk after") == Tagged(("wedding", "Zoë", "Anna", "Lyon", "Bob"), 4)
    microsoft = xmp(body="<MPRI:PersonDisplayName>Carl</MPRI:PersonDisplayName>"
                         "<xmp:Rating>2.0</xmp:Rating><digiKam:TagsList><rdf:Seq><rdf:li>Pets/Rex</rdf:li>"
                         "</rdf:Seq></digiKam:TagsList>")
    assert xmp_tagged(microsoft) == Tagged(("Carl", "Rex"), 2)  # element forms, digiKam's hierarchy
    assert xmp_tagged(xmp(["a"], 9)) == Tagged(("a",), None) == xmp_tagged(xmp(["a"], 0))  # none, not rated
    assert xmp_tagged(xmp(["a"], "inf")) == Tagged(("a",), None) == xmp_tagged(xmp(["a"], "NaN"))
    assert xmp_tagged(b"<x:xmpmeta><broken") == Tagged() and xmp_tagged(b"") == Tagged()
    two = xmp(["raw"], 2) + b"\0preview pixels\0" + xmp(["preview", "Raw"], 5)  # a DNG's and its preview's
    assert xmp_tagged(two) == Tagged(("raw", "preview"), 2)  # both read, the first one's rating
    assert xmp_tagged(b"<x:xmpmeta><broken" + xmp(["kept"])) == Tagged(("kept",))  # one broken, the other read
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10 if n else "lol"}">' for n in range(10))
    bomb = f"<!DOCTYPE x [{laughs}]>".encode() + xmp(["&l9;"])  # a billion laughs: its entities are never defined
    assert xmp_tagged(bomb) == Tagged()
    assert windows_tagged({0x9C9E: 2**31, 0x4746: 3}) == Tagged((), 3)  # a number where text is due: no tags
    assert windows_tagged({0x9C9E: (65, 0, 59, 0, 66, 0)}) == Tagged(("A", "B"))
    assert merged(Tagged(("Anna", " wedding  day")), Tagged(("anna", "Beach"), 3), Tagged((), 5)) == Tagged(
        ("Anna", "wedding day", "Beach"), 3)  # once each, case ignored; the first rating given


def test_the_faces_photo_managers_named_are_read_with_their_boxes():
    mwg = xmp(body='<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
                   '<rdf:li><rdf:Description mwg-rs:Name="Anna" mwg-rs:Type="Face" xmlns:stArea='
                   '"http://ns.adobe.com/xmp/sType/Area#"><mwg-rs:Area stArea:x="0.5" stArea:y="0.4" stArea:w="0.2" '
                   'stArea:h="0.3" stArea:unit="normalized"/></rdf:Description></rdf:li>'
                   '<rdf:li><rdf:Description mwg-rs:Name="Rex" mwg-rs:Type="Pet"><mwg-rs:Area/></rdf:Description>'
                   '</rdf:li><rdf:li rdf:parseType="Resource"><mwg-rs:Name>Bob</mwg-rs:Name><mwg-rs:Area '
                   'rdf:parseType="Resource" xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"><stArea:x>0.1'
                   '</stArea:x><stArea:y>0.1</stArea:y><stArea:w>0.1</stArea:w><stArea:h>0.1</stArea:h></mwg-rs:Area>'
                   '</rdf:li><rdf:li><rdf:Description mwg-rs:Name="Far" xmlns:stArea="http://ns.adobe.com/xmp/sType/'
                   'Area#"><mwg-rs:Area stArea:x="3" stArea:y="0.4" stArea:w="0.2" stArea:h="nan"/></rdf:Description>'
                   '</rdf:li></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>')
    found = xmp_tagged(mwg)
    assert found.tags == ("Anna", "Rex", "Bob", "Far")  # every name is a tag
    assert [(name, tuple(round(v, 3) for v in box)) for name, box in found.faces] == [
        ("Anna", (0.4, 0.25, 0.6, 0.55)), ("Bob", (0.05, 0.05, 0.15, 0.15))]  # a pet's and a box off the picture: no
    microsoft = xmp(body='<MPRI:Regions><rdf:Bag><rdf:li MPRI:PersonDisplayName="Carl" MPRI:Rectangle="0.25, 0.5, '
                         '0.1, 0.2"/></rdf:Bag></MPRI:Regions>')
    assert xmp_tagged(microsoft).faces == (("Carl", (0.25, 0.5, 0.35, 0.7)),)
    assert merged(Tagged(("a",)), xmp_tagged(microsoft), found).faces == xmp_tagged(microsoft).faces  # the first's


def test_a_photo_s_tags_and_rating_are_read_from_where_photo_managers_write_them(album, tmp_path):
    facts = {name: image_facts(str(album / name)) for name in ("wedding/a.jpg", "wedding/b.jpg", "wedding/c.jpg",
                                                               "summer/d.jpg", "summer/e.jpg", "raw/f.png",
                                                               "raw/g.jpg")}
    assert [(f.tags, f.rating) for f in facts.values()] == [
        ("wedding\nAnna", 5), ("Wedding\nBob", 3), ("Anna", None), ("beach\nAnna", 4), ("beach\nCafé", None),
        ("sunset", -1), ("", None)]
    assert facts["wedding/a.jpg"].date == "2024-06-01T10:00:00"  # read in the same header as the date
    latin = tmp_path / "latin.jpg"
    out = io.BytesIO()
    photo(out)
    latin.write_bytes(iptc(out.getvalue(), ["Café"], "latin-1"))
    assert image_facts(str(latin)).tags == "Café"
    png = PngInfo()
    png.add_itxt("XML:com.adobe.xmp", xmp(["x"]).decode())
    for fmt, name, kwargs in (("PNG", "p.png", {"pnginfo": png}), ("WEBP", "p.webp", {"xmp": xmp(["x"])}),
                              ("TIFF", "p.tif", {"tiffinfo": {700: xmp(["x"])}})):  # XMP in other formats' headers
        photo(tmp_path / name, fmt=fmt, **kwargs)
        assert image_facts(str(tmp_path / name)).tags == "x", fmt
    for before in (1_000, 3_000_000):  # a phone's HEIC: its XMP item, wherever the file keeps it
        (tmp_path / "phone.heic").write_bytes(heif_with_exif(Image.Exif().tobytes(), before, xmp(["beach"], 5)))
        assert image_facts(str(tmp_path / "phone.heic"))[2:4] == ("beach", 5), before
    photo(tmp_path / "IMG_1.CR2.jpg")  # Lightroom's sidecar is NAME.xmp, any case; the sidecar's tags come first
    (tmp_path / "IMG_1.CR2.XMP").write_bytes(xmp(["Lightroom"], 2))
    assert image_facts(str(tmp_path / "IMG_1.CR2.jpg"))[2:4] == ("Lightroom", 2)


def test_a_tag_filters_every_search_and_words_that_name_tags_find_them(album_engine):
    tagged = album_engine.browse(10, Filter.of(tag="anna"))  # case ignored
    assert [h.id for h in tagged.hits] == ["summer/d.jpg", "wedding/c.jpg", "wedding/a.jpg"]  # the newest first
    assert tagged.hits[0].tags == ("beach", "Anna") and tagged.hits[0].rating == 4
    assert {h.id for h in album_engine.browse(10, Filter.of(tag="Bob, cafe")).hits} == {"wedding/b.jpg", "summer/e.jpg"}
    assert {h.id for h in album_engine.browse(10, Filter.of(tag="wedding")).hits} == {"wedding/a.jpg", "wedding/b.jpg"}
    assert [h.id for h in album_engine.browse(10, Filter.of(stars=4)).hits] == ["summer/d.jpg", "wedding/a.jpg"]
    assert [h.id for h in album_engine.browse(10, Filter.of(tag="anna", stars=5)).hits] == ["wedding/a.jpg"]
    image = np.asarray(Image.open(album_engine.metadata.path("raw/g.jpg")).convert("RGB"))
    assert {h.id for h in album_engine.search([image], k=5, where=Filter.of(tag="beach"))[0].hits} == {
        "summer/d.jpg", "summer/e.jpg"}
    with pytest.raises(UnknownWordsError, match="no image is tagged 'Ana': did you mean 'Anna'") as caught:
        album_engine.browse(3, Filter.of(tag="Ana"))
    assert caught.value.suggestions == ["Anna"] and caught.value.field == "tag"
    with pytest.raises(CbirError, match="stars is a rating from 1 to 5"):
        Filter.of(stars="six")
    assert Filter.of(tag="Anna", stars=4).describe() == "tagged Anna, rated 4 stars or more"
    found = album_engine.search_words("Anna")  # no class is named so (gch knows none): the tags
    assert found.tagged == "Anna" and [h.id for h in found.hits] == ["summer/d.jpg", "wedding/c.jpg", "wedding/a.jpg"]
    in_lyon = album_engine.search_words("anna in Lyon")  # a tag and a place
    assert [h.id for h in in_lyon.hits] == ["summer/d.jpg"] and (in_lyon.tagged, in_lyon.near) == ("anna", "Lyon")
    with pytest.raises(UnknownWordsError, match="no image is tagged 'Ana': did you mean 'Anna'") as caught:
        album_engine.search_words("Ana in Lyon")  # a tag misspelt: the words with the tag meant
    assert caught.value.suggestions == ["Anna in Lyon"]
    with pytest.raises(CbirError, match="a tag in the words"):
        album_engine.search_words("Anna", where=Filter.of(tag="Bob"))
    assert [t[:2] for t in album_engine.tags()] == [("Anna", 3), ("beach", 2), ("Wedding", 2), ("Bob", 1),
                                                   ("Café", 1), ("sunset", 1)]  # wedding and Wedding: one
    assert album_engine.tags()[0].example == "summer/d.jpg" and album_engine.ratings() == {5: 1, 4: 1, 3: 1, -1: 1}
    with pytest.raises(UnknownWordsError, match="none of the images has tags"):
        tags_named("Anna", [])


def test_retagged_photos_are_read_again_at_the_next_sync_without_describing_them(album, tmp_path, capsys,
                                                                                folder_decodes):
    import shutil

    library = tmp_path / "library"
    shutil.copytree(album, library)
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(library), "--features", "gch", "--out", str(out)]) == 0
    sidecar = library / "raw" / "f.png.xmp"
    sidecar.write_bytes(xmp(["sunset", "Lyon"], 4))  # retagged in darktable: the picture is as it was
    os.utime(sidecar, ns=(time.time_ns(), time.time_ns() + 10**9))
    photo(library / "raw/g.jpg", 6, "2023:01:01 10:00:00", xmp=xmp(["snow"], 1))  # Lightroom saves the keywords in
    (library / "raw" / "h.jpg.xmp").write_bytes(xmp(["orphan"]))  # a sidecar without its photo: nothing
    capsys.readouterr()
    folder_decodes.clear()
    assert main(["sync", str(out)]) == 0
    assert "added 0, removed 0" in capsys.readouterr().out
    assert len(folder_decodes) == 1  # the photo re-saved, to see its picture is as it was; the XMP alone: nothing
    engine = Engine.load(out)
    marks = {id_: (hit.tags, hit.rating) for id_ in ("raw/f.png", "raw/g.jpg")
             if (hit := engine.metadata.hit(id_, 1.0))}
    assert marks == {"raw/f.png": (("sunset", "Lyon"), 4), "raw/g.jpg": (("snow",), 1)}
    assert "orphan" not in {t.tag for t in engine.tags()} and len(engine) == 7
    assert main(["sync", str(out)]) == 0  # as they are now: nothing more read
    assert Engine.load(out).metadata.stamps() == engine.metadata.stamps()
    sidecar.write_bytes(xmp(["sunset", "Lyon", "Fourvière"], 5))  # its XMP file alone retagged: kept all the same
    os.utime(sidecar, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    capsys.readouterr()
    assert main(["sync", str(out)]) == 0
    assert "added 0, removed 0, read the tags of 1 again" in capsys.readouterr().out
    hit = Engine.load(out).metadata.hit("raw/f.png", 1.0)
    assert (hit.tags, hit.rating) == (("sunset", "Lyon", "Fourvière"), 5)


def test_engines_indexed_before_tags_were_read_get_them_from_the_next_add(album, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(album), "--features", "gch", "--out", str(out)]) == 0
    database = next(out.glob("v-*")) / "metadata.sqlite"
    with sqlite3.connect(database) as db:  # as an engine of an earlier version holds it
        db.execute("ALTER TABLE images DROP COLUMN tags")
        db.execute("ALTER TABLE images DROP COLUMN rating")
    db.close()
    assert Engine.load(out).tags() == []
    assert main(["add", str(out), "--dataset", str(album)]) == 0
    assert [t.tag for t in Engine.load(out).tags()][:2] == ["Anna", "beach"]


def test_tags_on_the_command_line(album, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(album), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tags       Anna (3); beach (2); Wedding (2); Bob (1)" in text and f"cbir search {out} --tag TAG" in text
    assert "rated      5 stars: 1, 4 stars: 1, 3 stars: 1, rejected: 1" in text
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tags"][0] == {"tag": "Anna", "images": 3, "example": "summer/d.jpg"} and info["ratings"]["-1"] == 1
    assert main(["search", str(out), "--tag", "Anna", "--stars", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("summer/d.jpg  near Lyon, France  ★★★★☆  tagged beach, Anna") and len(lines) == 3
    assert lines[2].endswith("wedding/a.jpg  ★★★★★  tagged wedding, Anna")
    assert main(["search", str(out), "--words", "anna", "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert found["tagged"] == "anna" and found["hits"][0]["tags"] == ["beach", "Anna"]
    assert main(["search", str(out), "--tag", "Anne"]) == 2
    assert "did you mean 'Anna'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", str(out), "--stars", "6"])


def test_tags_on_the_page_and_the_api(album_engine):
    client = create_app({"ENGINES": {"album": album_engine}}).test_client()
    start = client.get("/").get_data(as_text=True)
    assert 'id="tags">Tagged:' in start and "/?browse=1&amp;tag=Anna" in start
    assert '<input name="tag" list="tag-hints"' in start and '<select name="stars"' in start
    assert 'list="words-or-tags"' in start and '<option value="Anna" label="tagged: 3 images">' in start
    page = client.get("/?browse=1&tag=anna&stars=4").get_data(as_text=True)
    assert page.count('class="hit"') == 2 and "Only images tagged anna, rated 4 stars or more." in page
    assert '<span class="stars">★★★★</span> beach, Anna</span>' in page
    body = client.get("/api/v1/images?tag=Bob").get_json()
    assert [h["id"] for h in body["hits"]] == ["wedding/b.jpg"] and body["hits"][0]["tags"] == ["Wedding", "Bob"]
    wrong = client.get("/api/v1/images?tag=Bobb")
    assert wrong.status_code == 400 and wrong.get_json()["suggestions"] == ["Bob"]
    page = client.get("/?browse=1&tag=Bobb").get_data(as_text=True)
    assert "/?browse=1&amp;tag=Bob" in page  # the suggestion replaces the tag, in the same request
    listed = client.get("/api/v1/tags").get_json()
    assert listed["tags"][0] == {"tag": "Anna", "images": 3, "example": "summer/d.jpg"}
    assert listed["ratings"] == {"5": 1, "4": 1, "3": 1, "-1": 1}
    assert client.get("/api/v1/images?stars=9").status_code == 400
    assert "/api/v1/tags" in client.get("/api/v1/openapi.json").get_json()["paths"]
    words = client.get("/api/v1/search?words=bob").get_json()
    assert words["tagged"] == "bob" and [h["id"] for h in words["hits"]] == ["wedding/b.jpg"]


def test_a_server_index_filters_by_tags_and_stars_as_faiss_does(album, album_engine, tmp_path):
    engine = on_milvus(album, tmp_path)  # its documents hold no tags: the server is given the ids that have them
    assert engine.tags()[0].tag == "Anna"  # the metadata is the engine's own
    first = sorted(album_engine.metadata.labels())[0]
    for where in (Filter.of(tag="Anna"), Filter.of(stars=3), Filter.of(tag="beach", since="2024-07")):
        assert [h.id for h in engine.browse(9, where).hits] == [h.id for h in album_engine.browse(9, where).hits]
        found = [[h.id for h in e.search_like(first, 9, where=where).hits] for e in (engine, album_engine)]
        assert found[0] == found[1] and found[0]


def test_damaged_headers_give_what_they_can_and_never_an_error(tmp_path):
    import random

    out = io.BytesIO()
    windows = Image.Exif()
    windows[0x9C9E], windows[0x4746] = "a;b".encode("utf-16-le"), 3
    photo(out, exif=windows, xmp=xmp(["x", "y"], 4, ["A|B"], ["P"]))
    whole, draw = iptc(out.getvalue(), ["k1", "k2"]), random.Random(0)
    for n in range(300):  # bytes changed in the headers (EXIF, XMP, IPTC), some files cut short
        data = bytearray(whole)
        for _ in range(draw.randint(1, 8)):
            data[draw.randrange(min(len(data), 1200))] = draw.randrange(256)
        (tmp_path / "f.jpg").write_bytes(data[:draw.randrange(len(data))] if n % 5 == 0 else data)
        image_facts(str(tmp_path / "f.jpg"))
