"""Albums: named sets of indexed images, made and changed on the command line, the page and the API; a filter of every
search; the photos that may belong in one; kept as photos move, go and are indexed again."""

import io
import json
import os
import shutil
import zipfile
from datetime import date, datetime

import numpy as np
import pytest
from PIL import Image
from conftest import on_milvus, write_collection

import cbir.albums
from cbir.albums import FAVOURITES, Albums, Link, last_day
from cbir.cli import main
from cbir.engine import Engine
from cbir.errors import CbirError
from cbir.filters import Filter
from cbir.storage import current_version
from cbir.web import create_app


def indexed(folder, tmp_path, features="hog-gch"):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(folder), "--features", features, "--out", str(out)]) == 0
    return out


@pytest.fixture
def library(tmp_path):
    """Eight images of each of three kinds (stripes, blobs, gradients), in a folder each: ids `stripes/000.png`."""
    return write_collection(tmp_path / "photos", {"": 8}, seed=3)


def test_an_album_keeps_its_images_in_order_under_a_name_matched_without_case():
    albums = Albums()
    assert albums.add(" Rome  2019 ", ["b", "a", "b"]) == 2 and albums.add("rome 2019", ["a", "c"]) == 1
    assert albums.images("ROME 2019") == ["b", "a", "c"] and albums.named("róme 2019") == "Rome 2019"
    assert albums.add("Zürich", ["a"]) == 1 and [a.name for a in albums.overview()] == ["Rome 2019", "Zürich"]
    assert albums.overview()[0] == ("Rome 2019", 3, "b")  # its cover: the first image put in
    assert albums.rename("zurich", "rome 2019") == "Rome 2019"  # another album's name: one album
    assert len(albums) == 1 and albums.images("Rome 2019") == ["b", "a", "c"]
    assert albums.remove("rome 2019", ["a", "x"]) == 1 and albums.showing("rome 2019") == {"b", "c"}
    with pytest.raises(CbirError, match="there is no album 'Paris': the albums are Rome 2019"):
        albums.images("Paris")
    with pytest.raises(CbirError, match="at most 100 characters"):
        albums.add("x" * 101, ["a"])
    with pytest.raises(CbirError, match="needs a name"):
        albums.rename("rome 2019", "  ")
    albums.moved([("d", "", "b")])
    albums.discard(["c"])
    assert albums.images("Rome 2019") == ["d"]
    assert albums.remove("Rome 2019", ["d"]) == 1 and not albums  # an album with no image left is gone
    with pytest.raises(CbirError, match="none was made yet"):
        albums.delete("Rome 2019")


def test_the_command_line_makes_albums_looks_through_them_and_suggests_what_may_belong(library, tmp_path, capsys,
                                                                                       monkeypatch):
    out = indexed(library, tmp_path)
    capsys.readouterr()
    assert main(["albums", str(out)]) == 0
    assert "no albums yet" in capsys.readouterr().out
    before = current_version(out)
    described = os.stat(before / "metadata.sqlite").st_ino
    assert main(["albums", str(out), "Stripes", "--add", "stripes/000.png", str(library / "stripes/001.png")]) == 0
    assert capsys.readouterr().out == "put 2 images in Stripes: 2 in all\n"
    now = current_version(out)  # a new version, its other files linked from the one before, not written again
    assert now != before and os.stat(now / "metadata.sqlite").st_ino == described
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{library / 'blobs/000.png'}\n"))
    assert main(["albums", str(out), "STRIPES", "--add", "-"]) == 0  # as `cbir search --paths` writes them
    assert capsys.readouterr().out == "put 1 image in Stripes: 3 in all\n"
    assert main(["albums", str(out)]) == 0 and capsys.readouterr().out == "Stripes  (3 images)\n"
    assert main(["albums", str(out), "stripes"]) == 0
    assert capsys.readouterr().out.split() == ["stripes/000.png", "stripes/001.png", "blobs/000.png"]
    assert main(["search", str(out), "--album", "stripes", "--paths"]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted(
        str(library / name) for name in ("stripes/000.png", "stripes/001.png", "blobs/000.png"))
    assert main(["search", str(out), "--like", "stripes/000.png", "-k", "1", "--album", "stripes"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("stripes/001.png  in Stripes")  # what albums each is in
    assert main(["albums", str(out), "stripes", "--remove", "blobs/000.png"]) == 0
    assert main(["albums", str(out), "stripes", "--suggest", "-k", "6"]) == 0
    suggested = [line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(suggested) == [f"stripes/{n:03d}.png" for n in range(2, 8)]  # the other stripes, none of its own
    assert main(["info", str(out)]) == 0
    assert "albums     Stripes (2): `cbir search" in capsys.readouterr().out
    assert main(["albums", str(out), "stripes", "--rename", "Lines"]) == 0
    assert capsys.readouterr().out == "Stripes is now Lines\n"
    assert main(["albums", str(out), "lines", "--delete"]) == 0
    assert capsys.readouterr().out == "deleted the album Lines (2 images, still indexed)\n"
    assert len(Engine.load(out)) == 24 and not Engine.load(out).albums
    assert main(["albums", str(out), "x", "--add", "nothing.png", "stripes/000.png"]) == 2
    assert "not an indexed image's id or file: nothing.png" in capsys.readouterr().err
    assert main(["albums", str(out), "--add", "stripes/000.png"]) == 2
    assert "--add needs an album" in capsys.readouterr().err
    assert main(["search", str(out), "--album", "nowhere"]) == 2
    assert "there is no album 'nowhere'" in capsys.readouterr().err


def test_albums_follow_their_photos_as_they_move_go_and_are_indexed_again(library, tmp_path, capsys):
    out = indexed(library, tmp_path)
    assert main(["albums", str(out), "Mixed", "--add", "stripes/000.png", "blobs/001.png", "gradient/002.png"]) == 0
    (library / "moved").mkdir()
    shutil.move(library / "stripes/000.png", library / "moved/000.png")
    (library / "blobs/001.png").unlink()
    Image.open(library / "gradient/002.png").rotate(90).save(library / "gradient/002.png")  # edited: described again
    capsys.readouterr()
    assert main(["sync", str(out)]) == 0
    assert "described 1 again" in capsys.readouterr().out
    assert Engine.load(out).albums.images("mixed") == ["moved/000.png", "gradient/002.png"]  # the edited one stays
    capsys.readouterr()
    assert main(["index", "--dataset", str(library), "--features", "gch", "--out", str(out)]) == 0
    assert "kept from the engine it replaces: 1 album" in capsys.readouterr().out
    engine = Engine.load(out)
    assert engine.extractor.name == "gch" and engine.albums.images("mixed") == ["moved/000.png", "gradient/002.png"]
    assert main(["remove", str(out), "gradient/002.png"]) == 0
    assert Engine.load(out).albums.images("mixed") == ["moved/000.png"]


def test_what_may_belong_in_an_album_is_scored_by_its_three_best_similarities_to_the_album_s_images(library, tmp_path):
    """Ranked as comparing every image with every one of the album's would rank them (the mean of its three best
    similarities), where the album's own fill the first places of each other's rankings (each is then searched
    deeper)."""
    import numpy as np

    engine = Engine.load(indexed(library, tmp_path))
    members = [f"stripes/{n:03d}.png" for n in range(7)]  # 6 deep, a stripes image's ranking holds only stripes
    engine.albums.add("Most stripes", members)
    ids = [id_ for id_ in engine.metadata.labels() if id_ not in members]
    best = np.sort(engine.index.vectors_of(ids) @ engine.index.vectors_of(members).T, axis=1)[:, -3:].mean(axis=1)
    expected = [ids[i] for i in np.argsort(-best, kind="stable")[:3]]
    found = engine.search_album("most stripes", k=3).hits
    assert [h.id for h in found] == expected and found[0].id == "stripes/007.png"
    assert [h.score for h in found] == pytest.approx(sorted(best, reverse=True)[:3], abs=1e-5)


def test_a_server_engine_and_a_copies_engine_filter_by_album_too(library, tmp_path):
    engine = on_milvus(library, tmp_path)  # its documents hold no albums: the server is given the ids
    engine.albums.add("Two", ["blobs/003.png", "gradient/004.png"])
    hits = engine.search_album("two", k=3).hits
    assert len(hits) == 3 and {"blobs/003.png", "gradient/004.png"}.isdisjoint(h.id for h in hits)
    found = engine.browse(10, Filter.of(album="two")).hits
    assert sorted(h.id for h in found) == ["blobs/003.png", "gradient/004.png"]
    shutil.copy(library / "stripes/000.png", library / "copy.png")
    out = tmp_path / "copies"
    assert main(["index", "--dataset", str(library), "--features", "gch", "--copies", "--out", str(out)]) == 0
    copies = Engine.load(out)
    copies.change_albums(out, lambda albums: albums.add("One", ["stripes/000.png"]))
    assert copies.search_like("stripes/000.png", 3, where=Filter.of(album="one")).hits == []  # itself left out
    copies.change_albums(out, lambda albums: albums.add("one", ["copy.png"]))  # the filters kept are stale now
    hits = copies.search_like("stripes/000.png", 3, where=Filter.of(album="one")).hits
    assert [(h.id, round(h.copy or 0, 3)) for h in hits] == [("copy.png", 1.0)]  # as its copy: the copies' engine


def test_albums_on_the_page_and_in_the_api(library, tmp_path):
    out = indexed(library, tmp_path)
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    made = client.post("/api/v1/albums/Stripes", json={"add": ["stripes/000.png", "stripes/001.png"]})
    assert made.status_code == 200 and made.get_json()["album"] == "Stripes"
    listed = client.get("/api/v1/albums").get_json()
    schema = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/albums"]["get"]["responses"]["200"]
    item = schema["content"]["application/json"]["schema"]["properties"]["albums"]["items"]["properties"]
    assert listed["albums"] == [{"name": "Stripes", "images": 2, "cover": "stripes/000.png",
                                 "thumbnail": "/api/v1/images/stripes/000.png?size=thumb", "shared": None,
                                 "shared_until": None, "shared_places": None}]
    assert set(listed["albums"][0]) == set(item)  # as documented
    assert Engine.load(out).albums.images("stripes") == ["stripes/000.png", "stripes/001.png"]  # kept in the folder
    suggested = client.get("/api/v1/albums/stripes/suggestions?k=6").get_json()["hits"]
    assert sorted(h["id"] for h in suggested) == [f"stripes/{n:03d}.png" for n in range(2, 8)]
    browsed = client.get("/api/v1/images?album=stripes").get_json()["hits"]
    assert sorted(h["id"] for h in browsed) == ["stripes/000.png", "stripes/001.png"]
    assert [h["albums"] for h in browsed] == [["Stripes"], ["Stripes"]]  # each hit says what albums it is in
    assert client.post("/api/v1/albums/2019%2FRome", data={"add": "stripes/003.png"}).get_json()["album"] == "2019/Rome"
    assert client.get("/api/v1/albums/2019/rome/suggestions?k=1").get_json()["hits"][0]["id"].startswith("stripes/")
    assert client.post("/api/v1/albums/2019/Rome", json={"delete": True}).get_json()["album"] is None
    assert client.get("/api/v1/albums/paris/suggestions").status_code == 404
    assert client.post("/api/v1/albums/paris", json={"remove": ["stripes/000.png"]}).status_code == 404
    assert client.post("/api/v1/albums/paris", json={"add": ["nope.png"]}).status_code == 404
    assert client.post("/api/v1/albums/paris", json={"add": [3]}).status_code == 400
    assert client.post("/api/v1/albums/paris", json={}).status_code == 400
    assert client.post("/api/v1/albums/x", json={"add": ["stripes/000.png"]},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403  # not from another site's page

    start = client.get("/").get_data(as_text=True)
    assert 'id="albums"' in start and "/?browse=1&amp;album=Stripes" in start
    page = client.get("/?browse=1&album=stripes").get_data(as_text=True)
    marked = '<span class="tags albums" title="in the album Stripes" data-albums="Stripes">in Stripes</span>'
    assert page.count(marked) == 2  # each photo says what albums it is in
    assert "Only images in album stripes." in page and "Photos that may belong in Stripes" in page
    assert "Take them out of Stripes" in page and 'data-confirm="Delete the album Stripes?' in page
    zipped = client.get("/api/v1/download?album=stripes&engine=photos")
    assert zipfile.ZipFile(io.BytesIO(zipped.data)).namelist() == ["stripes/000.png", "stripes/001.png"]
    assert zipped.headers["Content-Disposition"] == 'attachment; filename="Stripes.zip"; filename*=UTF-8\'\'Stripes.zip'
    assert 'href="/api/v1/download?album=Stripes&amp;engine=photos"' in page
    assert client.get("/api/v1/download?album=paris").status_code == 404
    page = client.get("/?suggest=stripes&k=6").get_data(as_text=True)
    assert "photos that may belong in Stripes" in page and "back to Stripes" in page
    answer = client.post("/albums", data={"to_album": "Stripes", "do": "add", "id": ["stripes/002.png"], "k": "6"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/?browse=1&album=Stripes&engine=photos&k=6"
    answer = client.post("/albums", data={"to_album": "stripes", "do": "remove", "id": ["stripes/000.png"]})
    assert answer.status_code == 303 and client.get("/api/v1/albums").get_json()["albums"][0]["images"] == 2
    answer = client.post("/albums", data={"to_album": "stripes", "do": "rename", "name": "Lines"})
    assert answer.headers["Location"] == "/?browse=1&album=Lines&engine=photos"
    assert client.post("/albums", data={"to_album": "Lines", "do": "add"}).status_code == 400  # nothing ticked
    answer = client.post("/albums", data={"to_album": "lines", "do": "delete"})
    assert answer.headers["Location"] == "/?engine=photos#albums" and Engine.load(out).albums.overview() == []
    trip = client.get("/?browse=1&folder=blobs/").get_data(as_text=True)
    assert 'value="add-all"' in trip and "Put all 8 in the album" in trip
    answer = client.post("/albums", data={"to_album": "Blobs", "do": "add-all", "folder": "blobs/"})
    assert answer.headers["Location"] == "/?browse=1&album=Blobs&engine=photos"
    assert Engine.load(out).albums.images("blobs") == [f"blobs/{n:03d}.png" for n in range(8)]  # earliest first
    assert client.post("/albums", data={"to_album": "All", "do": "add-all"}).status_code == 400  # no filter
    answer = client.post("/api/v1/albums/Gradients?folder=gradient/", json={"add_all": True, "engine": "photos"})
    assert answer.get_json()["album"] == "Gradients"
    assert Engine.load(out).albums.images("gradients") == [f"gradient/{n:03d}.png" for n in range(8)]
    assert client.post("/api/v1/albums/All", json={"add_all": True}).status_code == 400
    client.post("/api/v1/albums/Gradients", json={"delete": True})
    assert "Put all" not in client.get("/?browse=1").get_data(as_text=True)
    for n in range(18):
        client.post(f"/api/v1/albums/Album {n:02d}", json={"add": [f"blobs/{n % 8:03d}.png"]})
    start = client.get("/").get_data(as_text=True)
    assert start.count("/?browse=1&amp;album=Album") == 16 and 'title="every album, by name">all 19 albums…' in start
    listed = client.get("/albums?engine=photos").get_data(as_text=True)  # every album, on a page of its own
    assert listed.count("/?browse=1&amp;album=Album") == 18 and "19 albums, by name." in listed
    assert start.count('<option value="Album ') == 18  # in the Album field, and offered to put images in
    loaded = create_app({"ENGINES": {"photos": Engine.load(out)}}).test_client()
    refused = loaded.post("/api/v1/albums/x", json={"add": ["stripes/000.png"]})
    assert refused.status_code == 409 and "loaded, not as a folder" in refused.get_json()["error"]


def test_a_duplicate_set_aside_leaves_its_place_in_albums_to_the_copy_kept(tmp_path, capsys):
    """`cbir duplicates --move-to` keeps one copy of each picture: the albums the others were in hold the kept one
    instead, where they were, so that `remove --missing` empties no album."""
    photos = tmp_path / "photos"
    for folder, colour in (("all", (200, 40, 40)), ("favourites", (200, 40, 40)), ("other", (20, 90, 200))):
        (photos / folder).mkdir(parents=True)
        Image.new("RGB", (64, 48), colour).save(photos / folder / "shot.png")
    out = indexed(photos, tmp_path, "gch")
    assert main(["albums", str(out), "Best", "--add", "other/shot.png", "favourites/shot.png"]) == 0
    assert main(["duplicates", str(out), "--exact-only", "--move-to", str(tmp_path / "aside")]) == 0
    assert (tmp_path / "aside" / "shot.png").exists()  # the copy set aside
    assert "1 album holds the copy kept instead" in capsys.readouterr().err
    assert main(["remove", str(out), "--missing"]) == 0
    assert Engine.load(out).albums.images("best") == ["other/shot.png", "all/shot.png"]


def test_an_album_or_any_look_through_is_told_from_its_oldest_photo_too(library, tmp_path, capsys):
    for n, name in enumerate(["blobs/002.png", "blobs/000.png", "blobs/001.png"]):  # taken in this order
        os.utime(library / name, (1_600_000_000 + n * 3600,) * 2)
    out = indexed(library, tmp_path)
    assert main(["albums", str(out), "Day", "--add", "blobs/000.png", "blobs/001.png", "blobs/002.png"]) == 0
    capsys.readouterr()
    assert main(["search", str(out), "--album", "day", "--oldest-first", "--paths"]) == 0
    assert capsys.readouterr().out.split() == [str(library / f"blobs/00{n}.png") for n in (2, 0, 1)]
    assert main(["search", str(out), "--album", "day", "--paths"]) == 0
    assert capsys.readouterr().out.split() == [str(library / f"blobs/00{n}.png") for n in (1, 0, 2)]
    assert main(["search", str(out), "--like", "blobs/000.png", "--oldest-first"]) == 2
    assert "--oldest-first orders a look through" in capsys.readouterr().err
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    hits = client.get("/api/v1/images?album=day&order=oldest").get_json()["hits"]
    assert [h["id"] for h in hits] == [f"blobs/00{n}.png" for n in (2, 0, 1)]
    assert client.get("/api/v1/images?order=sideways").status_code == 400
    page = client.get("/?browse=1&album=day").get_data(as_text=True)
    assert "all images, newest first" in page
    assert 'class="order" href="/?browse=1&amp;engine=photos&amp;album=day&amp;order=oldest">oldest first</a>' in page
    page = client.get("/?browse=1&album=day&order=oldest").get_data(as_text=True)
    assert "all images, oldest first" in page and ">newest first</a>" in page
    assert page.index("blobs/002.png") < page.index("blobs/000.png") < page.index("blobs/001.png")


def test_a_photo_is_made_a_favourite_from_its_page_without_javascript(library, tmp_path):
    out = indexed(library, tmp_path, "gch")
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    shown = Engine.load(out).browse(1).hits[0].id
    page = client.get(f"/photo/{shown}").get_data(as_text=True)
    assert "♡ Favorite" in page and 'name="do" value="add"' in page
    answer = client.post("/albums", data={"engine": "photos", "id": shown, "to_album": FAVOURITES, "do": "add",
                                          "back": "photo"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/photo/{shown}?engine=photos")
    assert Engine.load(out).albums.images("favorites") == [shown]
    page = client.get(f"/photo/{shown}").get_data(as_text=True)
    assert "♥ A favorite" in page and 'name="do" value="remove"' in page
    client.post("/albums", data={"engine": "photos", "id": shown, "to_album": FAVOURITES, "do": "remove",
                                 "back": "photo"})
    assert not Engine.load(out).albums and "♡ Favorite" in client.get(f"/photo/{shown}").get_data(as_text=True)


def test_archived_photos_leave_the_timeline_and_on_this_day_and_are_found_by_searches(library, tmp_path):
    december = datetime(2020, 12, 8, 12).timestamp()
    for name in ("stripes/000.png", "stripes/001.png", "blobs/000.png"):  # taken on 8 December 2020
        os.utime(library / name, (december, december))
    out = indexed(library, tmp_path)
    assert main(["albums", str(out), "Archive", "--add", "stripes/000.png", "stripes/001.png"]) == 0
    engine = Engine.load(out)
    archived = {"stripes/000.png", "stripes/001.png"}
    assert engine.albums.archived() == archived
    assert {h.id for h in engine.browse(100).hits} == set(engine.metadata.labels()) - archived  # the timeline
    assert not archived & {h.id for h in engine.browse(100, Filter.of(since="2020", until="2020")).hits}
    assert {h.id for h in engine.browse(100, Filter.of(album="archive")).hits} == archived  # its album
    assert archived <= {h.id for h in engine.browse(100, Filter.of(folder="stripes/")).hits}  # any other filter
    pixels = np.asarray(Image.open(library / "stripes/000.png").convert("RGB"))
    assert engine.search([pixels], k=1)[0].hits[0].id == "stripes/000.png"  # and any search
    assert [(m.images, m.example) for m in engine.on_this_day(date(2026, 12, 8))] == [(1, "blobs/000.png")]
    app = create_app({"ENGINES": {"photos": str(out)}})
    assert not archived & set(app.extensions["cbir"].examples("photos", 24))  # the start page's pictures
    client = app.test_client()
    page = client.get("/photo/stripes/000.png").get_data(as_text=True)
    assert "Archived: bring it back" in page
    client.post("/albums", data={"engine": "photos", "id": "stripes/000.png", "to_album": "Archive", "do": "remove",
                                 "back": "photo"})
    assert Engine.load(out).albums.archived() == {"stripes/001.png"}
    assert ">Archive</button>" in client.get("/photo/stripes/000.png").get_data(as_text=True)


def test_an_album_shared_by_a_link_keeps_its_secret_through_its_changes():
    albums = Albums({"Rome": ["a", "b"], "Paris": ["c"]})
    link = albums.share("rome")
    secret = link.secret
    assert len(secret) >= 22 and albums.share("Rome").secret == secret and albums.shared_by(secret) == ("Rome", link)
    assert albums.shared_by(secret[:-1]) is None and albums.shared_by("") is None
    assert Albums({"Rome": ["a"]}).share("Rome").secret != secret  # another, not to be guessed
    albums.rename("Rome", "Roma")
    assert albums.shared_by(secret)[0] == "Roma" and albums.copy().link("roma").secret == secret
    albums.remove("Roma", ["a", "b"])  # gone with the album
    assert albums.shared_by(secret) is None
    secret = albums.share("Paris").secret
    assert albums.unshare("paris") and not albums.unshare("paris") and albums.shared_by(secret) is None


def test_a_link_works_until_its_last_day_and_gives_the_places_only_where_said(tmp_path, monkeypatch):
    monkeypatch.setattr(cbir.albums, "today", lambda: "2026-12-08")
    albums = Albums({"Rome": ["a"], "Paris": ["b"]})
    link = albums.share("Rome", until="2026-12-31")
    assert link.until == "2026-12-31" and not link.places  # without where they were taken, unless said
    assert albums.share("Paris", places=True).places and albums.link("paris").until is None
    with pytest.raises(CbirError, match="stopped working already"):
        albums.share("Rome", until="2026-12-07")
    with pytest.raises(CbirError, match="a day such as"):
        last_day("next week")
    albums.save(tmp_path / "albums.json")
    assert Albums.load(tmp_path / "albums.json").link("Rome") == link
    monkeypatch.setattr(cbir.albums, "today", lambda: "2026-12-31")
    assert albums.shared_by(link.secret) == ("Rome", link)  # its last day
    monkeypatch.setattr(cbir.albums, "today", lambda: "2027-01-01")
    assert albums.shared_by(link.secret) is None and albums.link("Rome") == link  # said, not working
    assert albums.share("Rome").secret != link.secret  # shared again: a new link, the old one still dead
    (tmp_path / "old.json").write_text(json.dumps({"albums": {"Rome": ["a"]}, "shared": {"Rome": "s" * 22}}))
    assert Albums.load(tmp_path / "old.json").link("Rome") == Link("s" * 22, None, True)  # as shared before 0.4.15


def test_an_album_shared_by_a_link_shows_its_photos_and_nothing_else_without_the_password(library, tmp_path, capsys):
    out = indexed(library, tmp_path)
    other = indexed(write_collection(tmp_path / "other", {"stripes": 3}, seed=5), tmp_path / "x")  # the same ids
    assert main(["albums", str(out), "Lines", "--add", "stripes/000.png", "stripes/001.png"]) == 0
    assert main(["albums", str(out), "Lines", "--share", "--with-places"]) == 0  # the files as stored
    link = capsys.readouterr().out.split(" is shared at ")[1].split()[0]
    assert link == "/shared/" + Engine.load(out).albums.link("Lines").secret
    app = create_app({"ENGINES": {"photos": str(out), "other": str(other)}, "PASSWORD": "s3cret"})
    client = app.test_client()
    assert client.get("/").status_code == 401 and client.get("/api/v1/images/stripes/002.png").status_code == 401
    page = client.get(link)
    assert page.status_code == 200 and "Lines" in page.get_data(as_text=True)
    shown = page.get_data(as_text=True)
    assert shown.count('<li class="hit">') == 2 and "/api/" not in shown and "people" not in shown
    assert client.get("/static/style.css").status_code == 200  # the page's style, for everyone
    thumb = client.get(f"{link}/images/stripes/000.png?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype.startswith("image/")
    mine = app.extensions["cbir"].image_bytes("stripes/000.png", False, engine="photos")[0]
    assert client.get(f"{link}/images/stripes/000.png").data == mine  # this engine's, not the other's
    assert client.get(f"{link}/images/stripes/002.png").status_code == 404  # not in the album
    assert client.get(f"{link}/images/../stripes/002.png").status_code == 404
    assert client.get("/shared/" + "A" * 22).status_code == 404
    zipped = client.get(f"{link}/download")
    assert zipfile.ZipFile(io.BytesIO(zipped.data)).namelist() == ["stripes/000.png", "stripes/001.png"]
    auth = {"Authorization": "Basic " + __import__("base64").b64encode(b"me:s3cret").decode()}
    album_page = client.get("/?browse=1&album=Lines", headers=auth).get_data(as_text=True)
    assert f"{link}</a>" in album_page and "Stop sharing" in album_page
    listed = client.get("/api/v1/albums?engine=photos", headers=auth).get_json()["albums"]
    assert listed[0]["shared"] == link
    assert client.post("/albums", data={"to_album": "Lines", "do": "unshare", "engine": "photos"},
                       headers=auth).status_code == 303
    assert client.get(link).status_code == 404 and client.get(f"{link}/images/stripes/000.png").status_code == 404
    assert "Share a link" in client.get("/?browse=1&album=Lines", headers=auth).get_data(as_text=True)
    answer = client.post("/api/v1/albums/Lines", json={"share": True, "engine": "photos"}, headers=auth)
    new = answer.get_json()["albums"][0]["shared"]
    assert new.startswith("/shared/") and new != link and client.get(new).status_code == 200
    assert main(["albums", str(out), "Lines", "--unshare"]) == 0
    assert "no longer shared" in capsys.readouterr().out
