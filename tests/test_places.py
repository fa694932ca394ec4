"""Where photos were taken: their EXIF GPS position, named after the nearest town; a place filter of every search and
of looking through the images, an overview of the places; in Python, on the command line, the page and the API."""

import json
import sqlite3

import numpy as np
import pytest
from conftest import on_milvus
from PIL import Image

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.datasets.folder import image_facts
from cbir.engine import Engine
from cbir.errors import UnknownWordsError
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.places import Towns, gps_position, places_named

# (file, latitude, longitude): photos of a trip, as a phone would write them; None: a photo without a position
TRIP = [("lyon/a.jpg", 45.7640, 4.8357), ("lyon/b.jpg", 45.7597, 4.8422), ("lyon/c.jpg", 45.7485, 4.8467),
        ("paris/a.jpg", 48.8584, 2.2945), ("paris/b.jpg", 48.8606, 2.3376),
        ("austin/a.jpg", 30.2672, -97.7431), ("sea/a.jpg", 40.0, -40.0), ("home/a.jpg", None, None)]


def gps(lat: float, lon: float) -> dict:
    """An EXIF GPS directory as cameras write it: degrees, minutes and seconds, and a hemisphere letter."""
    def dms(value: float) -> tuple:
        value = abs(value)
        return (float(int(value)), float(int(value * 60 % 60)), round(value * 3600 % 60, 4))

    return {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}


def photo(path, lat=None, lon=None, seed=0, when="2024:05:01 10:00:00"):
    """A 48x40 JPEG with an EXIF date and, unless `lat` is None, a GPS position."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when
    if lat is not None:
        exif[0x8825] = gps(lat, lon)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, exif=exif)
    return path


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    root = tmp_path_factory.mktemp("trip")
    for n, (name, lat, lon) in enumerate(TRIP):
        photo(root / name, lat, lon, seed=n, when=f"2024:05:{n + 1:02d} 10:00:00")
    return root


@pytest.fixture(scope="module")
def trip_engine(trip):
    return Engine.build(load_folder(trip, progress=False, cache=False), make_extractor("gch"), progress=False)


def test_a_gps_position_is_read_as_cameras_write_it():
    assert gps_position(gps(45.764, 4.8357)) == "45.76400,4.83570"
    assert gps_position(gps(-33.8688, 151.2093)) == "-33.86880,151.20930"  # south
    assert gps_position(gps(30.2672, -97.7431)) == "30.26720,-97.74310"  # west
    assert gps_position({1: "N", 2: 45.5, 3: "W\x00", 4: 73.25}) == "45.50000,-73.25000"  # decimal degrees
    assert gps_position({}) == "" and gps_position({1: "N", 2: (45.0, 0.0, 0.0)}) == ""  # none, no longitude
    assert gps_position(gps(0.0, 0.0)) == ""  # a camera's blank
    assert gps_position({1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (1.0, 0.0, 0.0)}) == ""  # no such latitude
    assert gps_position({1: "N", 2: ("x", 0, 0), 3: "E", 4: (1.0, 0.0, 0.0)}) == ""  # malformed


def test_a_file_says_where_it_was_taken_in_its_header(trip, tmp_path):
    assert image_facts(str(trip / "lyon/a.jpg"))[:2] == ("2024-05-01T10:00:00", "45.76400,4.83570")
    assert image_facts(str(trip / "home/a.jpg"))[1] == ""  # read: it has none
    import zipfile

    with zipfile.ZipFile(tmp_path / "trip.zip", "w") as zf:
        zf.write(trip / "paris/a.jpg", "paris/a.jpg")
    assert image_facts(f"{tmp_path / 'trip.zip'}::paris/a.jpg")[1] == "48.85840,2.29450"


def heif_with_exif(exif: bytes, before: int, xmp: bytes | None = None) -> bytes:
    """A HEIF file as phones write one, its `meta` box first and its EXIF item (and an XMP item, `xmp`) in `mdat`
    after `before` bytes of other data (an image's, here zeros): only the boxes that say where the items lie."""
    import struct

    from cbir.datasets.heif import _box

    ftyp = _box(b"ftyp", b"heic" + struct.pack(">I", 0) + b"mif1heic")
    hdlr = _box(b"hdlr", struct.pack(">I", 0) + b"pict" + bytes(12) + b"\x00", (0, 0))
    infes = [_box(b"infe", struct.pack(">HH", 2, 0) + b"Exif" + b"\x00", (2, 0))]
    blocks = [struct.pack(">I", 6) + exif]  # the offset of its TIFF header ("Exif\0\0" before it), then the EXIF
    if xmp is not None:
        infes.append(_box(b"infe", struct.pack(">HH", 3, 0) + b"mime" + b"XMP\x00application/rdf+xml\x00", (2, 0)))
        blocks.append(xmp)

    def meta(offset: int) -> bytes:  # iloc version 1: 4-byte offsets and lengths, one extent an item
        entries, at = b"", offset
        for n, block in enumerate(blocks):
            entries += struct.pack(">HHHHII", 2 + n, 0, 0, 1, at, len(block))
            at += len(block)
        iloc = _box(b"iloc", struct.pack(">BBH", 0x44, 0x00, len(blocks)) + entries, (1, 0))
        return _box(b"meta", hdlr + _box(b"pitm", struct.pack(">H", 1), (0, 0)) + iloc
                    + _box(b"iinf", struct.pack(">H", len(infes)) + b"".join(infes), (0, 0)), (0, 0))

    offset = len(ftyp) + len(meta(0)) + 8 + before
    return ftyp + meta(offset) + _box(b"mdat", bytes(before) + b"".join(blocks))


def test_a_phone_s_heic_says_when_and_where_wherever_its_exif_lies(tmp_path):
    from pathlib import Path

    from cbir.datasets.heif import described

    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2023:08:01 12:00:00"
    exif[0x8825] = gps(35.6586, 139.7454)
    for before in (1_000, 3_000_000):  # in the file's first bytes, and far after them (past an image's data)
        (tmp_path / "photo.heic").write_bytes(heif_with_exif(exif.tobytes(), before))
        assert image_facts(str(tmp_path / "photo.heic"))[:2] == ("2023-08-01T12:00:00", "35.65860,139.74540"), before
    assert described((Path(__file__).parent / "data" / "astronaut.heic").read_bytes()).exif is None  # it has none
    data = heif_with_exif(exif.tobytes(), 10)
    assert described(data).exif is not None and described(data[:40]).exif is None  # its meta box cut short


def test_a_position_is_named_after_the_nearest_town_within_reach():
    towns = Towns.load()
    assert len(towns.names) == 69472
    named = towns.nearest(np.array([[48.8584, 2.2945], [45.7640, 4.8357], [30.2672, -97.7431], [47.3769, 8.5417],
                                    [40.0, -40.0], [35.6812, 139.7671]]))
    assert named == ["Paris, France", "Lyon, France", "Austin, Texas, United States", "Zürich, Switzerland", None,
                     "Tokyo, Japan"]
    # a numbered part of a town is named as the town ("Paris 15 Vaugirard"); the 19th arrondissement, in Paris
    assert towns.nearest(np.array([[48.8817, 2.3822]])) == ["Paris, France"]


def test_a_place_is_named_by_its_parts_in_order_or_one_of_several():
    places = ["Paris, France", "Paris, Texas, United States", "Lyon, France", "Zürich, Switzerland"]
    assert places_named("paris", places) == {"Paris, France", "Paris, Texas, United States"}
    assert places_named("Paris,  FRANCE", places) == {"Paris, France"}
    assert places_named("france", places) == {"Paris, France", "Lyon, France"}
    assert places_named("Texas or zurich", places) == {"Paris, Texas, United States", "Zürich, Switzerland"}
    with pytest.raises(UnknownWordsError, match="no image was taken near 'France, Paris'"):
        places_named("France, Paris", places)  # parts in the place's order
    with pytest.raises(UnknownWordsError, match="did you mean 'Lyon'") as raised:
        places_named("Lyonn", places)
    assert raised.value.suggestions == ["Lyon"] and raised.value.field == "place"
    with pytest.raises(UnknownWordsError, match="none of the images has a GPS position"):
        places_named("Paris", [])


def test_a_large_city_is_named_by_its_other_names_too():
    places = ["Vienna, Austria", "Vienna, Virginia, United States", "Munich, Germany", "Frankfurt am Main, Germany"]
    assert places_named("Wien", places) == {"Vienna, Austria"}  # the Austrian city's, not the other Vienna
    assert places_named("wien, austria", places) == {"Vienna, Austria"}
    assert places_named("München or Frankfurt", places) == {"Munich, Germany", "Frankfurt am Main, Germany"}
    assert places_named("Vienna", places) == {"Vienna, Austria", "Vienna, Virginia, United States"}
    with pytest.raises(UnknownWordsError, match="no image was taken near 'Wien, Germany'"):
        places_named("Wien, Germany", places)


def test_a_city_s_name_names_the_smaller_towns_in_its_area(tmp_path):
    places = ["Boulogne-Billancourt, France", "Versailles, France", "Villeurbanne, France", "Kawasaki, Japan",
              "Yokohama, Japan", "Annecy, France"]
    assert places_named("Paris", places) == {"Boulogne-Billancourt, France"}  # 8 km from Paris; Versailles 17
    assert places_named("Lyon", places) == {"Villeurbanne, France"}
    assert places_named("Tokyo", places) == {"Kawasaki, Japan"}  # Yokohama, over a third of Tokyo's size: its own
    assert places_named("Paris, France or Annecy", places) == {"Boulogne-Billancourt, France", "Annecy, France"}
    with pytest.raises(UnknownWordsError, match="no image was taken near 'Grenoble'"):
        places_named("Grenoble", places)  # a city with none of the places in its area
    photo(tmp_path / "photos/a.jpg", 48.8352, 2.2410, seed=1)  # in Boulogne-Billancourt
    photo(tmp_path / "photos/b.jpg", 48.8049, 2.1204, seed=2)  # in Versailles
    engine = Engine.build(load_folder(tmp_path / "photos", progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    found = engine.browse(5, Filter.of(place="Paris"))
    assert [(h.id, h.place) for h in found.hits] == [("a.jpg", "Boulogne-Billancourt, France")]
    assert [h.id for h in engine.search_words("in Paris").hits] == ["a.jpg"]


def test_an_engine_knows_where_its_pictures_were_taken(trip_engine):
    places = trip_engine.places()
    assert [(p.place, p.images, p.example) for p in places] == [
        ("Lyon, France", 3, "lyon/c.jpg"), ("Paris, France", 2, "paris/b.jpg"),
        ("Austin, Texas, United States", 1, "austin/a.jpg")]  # the newest of each; at sea and at home: no place
    lyon = trip_engine.browse(10, Filter.of(place="Lyon"))
    assert [h.id for h in lyon.hits] == ["lyon/c.jpg", "lyon/b.jpg", "lyon/a.jpg"]
    assert {h.place for h in lyon.hits} == {"Lyon, France"} and lyon.hits[2].position == (45.764, 4.8357)
    france = trip_engine.search([np.asarray(Image.open(trip_engine.metadata.path("austin/a.jpg")))], k=10,
                                where=Filter.of(place="France"))[0]
    assert sorted(h.id for h in france.hits) == ["lyon/a.jpg", "lyon/b.jpg", "lyon/c.jpg", "paris/a.jpg",
                                                 "paris/b.jpg"]
    home = trip_engine.browse(10).hits[0]
    assert home.id == "home/a.jpg" and home.place is None and home.position is None
    assert {h.id: h.place for h in trip_engine.browse(10).hits}["sea/a.jpg"] is None  # far from any town
    assert trip_engine.browse(10).hits[1].position == (40.0, -40.0)  # its position is still known
    with pytest.raises(UnknownWordsError, match="did you mean 'Paris'"):
        trip_engine.browse(10, Filter.of(place="Pariss"))
    assert Filter.of(place="Lyon").describe() == "taken near Lyon"
    assert Filter.of(since="2024", until="2024", place="Lyon").describe() == "taken in 2024, near Lyon"


def test_engines_indexed_before_positions_were_read_get_them_from_the_next_add(trip, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(trip), "--features", "gch", "--out", str(out)]) == 0
    database = next(out.glob("v-*")) / "metadata.sqlite"
    with sqlite3.connect(database) as db:  # as an engine of an earlier version holds it: no position column
        db.execute("ALTER TABLE images DROP COLUMN position")
    db.close()
    assert Engine.load(out).places() == []
    capsys.readouterr()
    assert main(["add", str(out), "--dataset", str(trip)]) == 0
    assert [p.place for p in Engine.load(out).places()] == ["Lyon, France", "Paris, France",
                                                            "Austin, Texas, United States"]


def test_the_cli_names_places_and_filters_by_them(trip, tmp_path, capsys):
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(trip), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert ("places     Lyon, France (3); Paris, France (2); Austin, Texas, United States (1): "
            f"`cbir search {out} --place PLACE` looks through them\n") in capsys.readouterr().out
    assert main(["search", str(out), "--place", "paris"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "newest first:" and len(lines) == 3
    assert lines[1].endswith("paris/b.jpg  near Paris, France")
    assert main(["search", str(out), str(trip / "lyon/a.jpg"), "--place", "Texas", "--json"]) == 0
    hit, = json.loads(capsys.readouterr().out)[0]["hits"]
    assert hit["id"] == "austin/a.jpg" and hit["place"] == "Austin, Texas, United States"
    assert hit["position"] == [30.2672, -97.7431]
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["places"][0] == {"place": "Lyon, France", "images": 3,
                                                                "example": "lyon/c.jpg"}
    assert main(["search", str(out), "--place", "Lyonn"]) == 2
    assert "no image was taken near 'Lyonn': did you mean 'Lyon'?" in capsys.readouterr().err


def test_the_page_and_the_api_offer_places_and_filter_by_them(trip_engine):
    from cbir.web import create_app

    client = create_app({"ENGINES": {"trip": trip_engine}}).test_client()
    listed = client.get("/api/v1/places").get_json()
    assert listed["engine"] == "trip" and listed["places"][1] == {"place": "Paris, France", "images": 2,
                                                                  "example": "paris/b.jpg"}
    found = client.get("/api/v1/images?place=Lyon,%20France&k=2").get_json()
    assert [h["id"] for h in found["hits"]] == ["lyon/c.jpg", "lyon/b.jpg"]
    assert found["hits"][0]["place"] == "Lyon, France" and found["hits"][0]["position"] == [45.7485, 4.8467]
    wrong = client.get("/api/v1/images?place=Pariss")
    assert wrong.status_code == 400 and wrong.get_json()["suggestions"] == ["Paris"]
    start = client.get("/").get_data(as_text=True)
    assert 'id="places"' in start and 'href="/?browse=1&amp;place=Lyon,+France&amp;engine=trip&amp;k=10"' in start
    assert 'src="/api/v1/images/lyon/c.jpg?size=thumb" alt="">Lyon, France' in start  # the newest, pictured
    assert '<option value="Austin, Texas, United States" label="1 image">' in start  # the filter suggests them
    assert 'placeholder="dog, beach in Lyon"' in start  # the words field: words and a place of these
    page = client.get("/?browse=1&place=paris").get_data(as_text=True)
    assert 'id="narrowed">Only images taken near paris.</p>' in page and "near Paris, France: more like this" in page
    assert page.count('class="hit"') == 2 and '<span class="near" title="near Paris, France">Paris</span>' in page
    typo = client.get("/?id=lyon/a.jpg&place=Pariss&k=4")
    assert typo.status_code == 400
    assert '<a href="/?id=lyon/a.jpg&amp;place=Paris&amp;k=4">Paris</a>' in typo.get_data(as_text=True)


def test_a_server_index_filters_by_place_as_faiss_does(trip, trip_engine, tmp_path):
    engine = on_milvus(trip, tmp_path)  # its documents hold no position: the server is given the ids near the place
    assert engine.places()[0].place == "Lyon, France"  # the metadata is the engine's own
    near = Filter.of(place="Lyon")
    assert [h.id for h in engine.browse(3, near).hits] == [h.id for h in trip_engine.browse(3, near).hits]
    first = sorted(trip_engine.metadata.labels())[0]
    found = [[(h.id, round(h.score, 4)) for h in e.search_like(first, 4, where=near).hits]
             for e in (engine, trip_engine)]
    assert found[0] == found[1] and {h[0] for h in found[0]} <= {h.id for h in trip_engine.browse(50, near).hits}


def test_a_map_draws_where_the_pictures_were_taken():
    from cbir.web.placemap import HEIGHTS, WIDTH, place_map

    places = {"a": "Lyon, France", "b": "Lyon, France", "c": "Lyon, France", "d": "Paris, France",
              "e": "Grenoble, France"}
    positions = {"a": (45.76, 4.83), "b": (45.77, 4.84), "c": (45.75, 4.85), "d": (48.86, 2.35), "e": (45.19, 5.72)}
    drawn = place_map(places, positions)
    spots = {spot.place: spot for spot in drawn.spots}
    assert HEIGHTS[0] <= drawn.height <= HEIGHTS[1] and drawn.spots[-1].place == "Lyon, France"  # drawn last, on top
    lyon, paris, grenoble = spots["Lyon, France"], spots["Paris, France"], spots["Grenoble, France"]
    assert lyon.count == 3 and lyon.r > paris.r == grenoble.r
    assert paris.y < lyon.y < grenoble.y and paris.x < lyon.x < grenoble.x  # north up, east right
    assert all(0 <= s.x <= WIDTH and 0 <= s.y <= drawn.height for s in drawn.spots)
    assert all(spot.label_x is not None for spot in drawn.spots)  # room for every name
    assert drawn.towns.count("M") > 100  # the towns around them: the land, without a map's tiles
    assert place_map({"a": "Lyon, France"}, {"a": (45.76, 4.83)}) is None  # one place: nothing to compare
    pacific = place_map({"a": "Suva, Fiji", "b": "Apia, Samoa"}, {"a": (-18.14, 178.44), "b": (-13.83, -171.76)})
    suva, apia = sorted(pacific.spots, key=lambda spot: spot.x)[::-1]  # across the 180th meridian: the whole world
    assert suva.place == "Suva, Fiji" and suva.x == pytest.approx(WIDTH * 358.44 / 360) and apia.x < WIDTH * 0.03
    assert pacific.height == HEIGHTS[0]


def test_a_map_of_many_places_draws_the_most_photographed(trip_engine, monkeypatch):
    from cbir.web import create_app, placemap

    monkeypatch.setattr(placemap, "SPOTS", 2)
    client = create_app({"ENGINES": {"trip": trip_engine}}).test_client()
    start = client.get("/").get_data(as_text=True)
    assert "(the 2\n    places most photographed, of 3)" in start and "<title>Paris, France: 2 pictures" in start
    assert "Austin, Texas, United States: 1 picture" not in start


def test_the_start_page_and_a_look_through_the_images_draw_the_map(trip_engine):
    from cbir.web import create_app

    client = create_app({"ENGINES": {"trip": trip_engine}}).test_client()
    start = client.get("/").get_data(as_text=True)
    assert 'id="placemap"' in start and "<title>Lyon, France: 3 pictures</title>" in start
    assert 'href="/?browse=1&amp;place=Austin,+Texas,+United+States&amp;engine=trip&amp;k=10"' in start
    browsing = client.get("/?browse=1&until=2024-05-05").get_data(as_text=True)  # a place keeps the other filters
    assert 'href="/?browse=1&amp;place=Paris,+France&amp;engine=trip&amp;k=10&amp;until=2024-05-05"' in browsing
    assert "<title>Austin" not in browsing  # taken after: not on the map of these
    assert 'id="placemap"' not in client.get("/?browse=1&label=lyon").get_data(as_text=True)  # one place: no map


def test_trips_are_the_runs_of_photos_taken_away_from_home():
    from cbir.trips import trips

    home, annecy, geneva = (48.8566, 2.3522), (45.8992, 6.1294), (46.2044, 6.1432)
    photos = [(f"2024-04-{d:02d}T10:00:00", "Paris, France", home) for d in range(1, 30, 3)]  # on the most days
    photos += [("2024-05-01T09:00:00", "Paris, France", home)]
    photos += [(f"2024-05-0{d}T1{h}:00:00", "Annecy, France", annecy) for d in (2, 3) for h in (0, 5)]
    photos += [("2024-05-05T12:00:00", "Geneva, Switzerland", geneva), ("2024-05-06T08:00:00", None, (45.0, -20.0))]
    photos += [("2024-05-20T10:00:00", "Paris, France", home)]
    photos += [(f"2024-08-{d:02d}T10:00:00", "Annecy, France", annecy) for d in (1, 2, 3)]  # too few: no trip
    photos += [(f"2024-09-{d:02d}T10:00:00", "Geneva, Switzerland", geneva) for d in (1, 2, 3, 10, 11)]
    ids = [f"{n:02d}.jpg" for n in range(len(photos))]
    dates = dict(zip(ids, (date for date, _, _ in photos)))
    places = {id_: place for id_, (_, place, _) in zip(ids, photos) if place}
    positions = dict(zip(ids, (where for _, _, where in photos)))
    found = trips(dates, places, positions)
    assert [(t.name, t.since, t.until, t.images) for t in found] == [
        ("Annecy and Geneva", "2024-05-02", "2024-05-06", 6)]
    # August's 3 photos are too few; September's 3 and 2, a week apart, are two runs, each too few
    assert found[0].example == "11.jpg"  # the first taken at its most photographed place
    closer = {id_: date.replace("09-10", "09-05").replace("09-11", "09-06") for id_, date in dates.items()}
    assert [(t.name, t.since, t.until, t.images) for t in trips(closer, places, positions)][0] == (
        "Geneva", "2024-09-01", "2024-09-06", 5)  # two days without a photo: the same trip
    assert trips(dates, {}, positions) == [] and trips({}, places, positions) == []
    dates |= {id_: None for id_ in ids[11:15]}  # undated: no part of a trip
    assert trips(dates, places, positions) == []


def test_a_collection_of_holidays_alone_has_each_holiday_a_trip():
    from cbir.trips import trips

    rome, florence, tokyo = (41.8933, 12.4829), (43.7793, 11.2463), (35.6895, 139.6917)
    photos = [(f"2022-07-{d:02d}T10:00:00", "Rome, Italy", rome) for d in range(1, 9)]  # Rome: the most days
    photos += [(f"2022-07-{d:02d}T10:00:00", "Florence, Italy", florence) for d in (10, 11)]
    photos += [(f"2023-04-{d:02d}T10:00:00", "Tokyo, Japan", tokyo) for d in range(3, 10)]
    ids = [f"{n:02d}.jpg" for n in range(len(photos))]
    found = trips(dict(zip(ids, (date for date, _, _ in photos))),
                  {id_: place for id_, (_, place, _) in zip(ids, photos)}, dict(zip(ids, (at for _, _, at in photos))))
    assert [(t.name, t.since, t.until, t.images) for t in found] == [
        ("Tokyo", "2023-04-03", "2023-04-09", 7), ("Rome and Florence", "2022-07-01", "2022-07-11", 10)]


def test_the_cli_the_page_and_the_api_offer_the_trips(tmp_path, capsys):
    from cbir.web import create_app

    home, annecy = (48.8566, 2.3522), (45.8992, 6.1294)
    for n, (day, where) in enumerate([(1, home), (2, home), (10, annecy), (10, annecy), (11, annecy), (12, annecy),
                                      (12, annecy), (20, home)]):
        photo(tmp_path / "photos" / f"{n}.jpg", *where, seed=n, when=f"2024:05:{day:02d} 10:00:{n:02d}")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "trips      2024-05-10 to 2024-05-12  Annecy (5 photos)\n" in capsys.readouterr().out
    client = create_app({"ENGINES": {"photos": str(out)}}).test_client()
    assert client.get("/api/v1/trips").get_json() == {"engine": "photos", "trips": [
        {"name": "Annecy", "since": "2024-05-10", "until": "2024-05-12", "images": 5, "example": "2.jpg"}]}
    start = client.get("/").get_data(as_text=True)
    assert 'id="trips"' in start and 'href="/?browse=1&amp;since=2024-05-10&amp;until=2024-05-12&amp;' in start
    page = client.get("/?browse=1&since=2024-05-10&until=2024-05-12").get_data(as_text=True)
    assert page.count('class="hit"') == 5


def test_the_near_field_suggests_the_most_photographed_places_only(trip_engine, monkeypatch):
    from cbir.web import create_app, ui

    monkeypatch.setattr(ui, "PLACES_OFFERED", 1)
    page = create_app({"ENGINES": {"trip": trip_engine}}).test_client().get("/").get_data(as_text=True)
    hints = page[page.index('<datalist id="place-hints">'):]
    hints = hints[:hints.index("</datalist>")]
    assert hints.count("<option") == 1 and 'value="Lyon, France"' in hints


def test_looking_through_some_images_draws_when_and_where_the_others_filters_keep(tmp_path):
    from cbir.web import create_app

    lyon, paris, austin = (45.7640, 4.8357), (48.8566, 2.3522), (30.2672, -97.7431)
    for n, (when, where) in enumerate([("2024:01:05", lyon), ("2024:02:05", lyon), ("2024:03:05", paris),
                                       ("2024:03:06", paris), ("2024:04:01", austin)]):
        photo(tmp_path / "photos" / f"{n}.jpg", *where, seed=n, when=f"{when} 10:00:00")
    engine = Engine.build(load_folder(tmp_path / "photos", progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    client = create_app({"ENGINES": {"trip": engine}}).test_client()
    lyon_page = client.get("/?browse=1&place=Lyon").get_data(as_text=True)
    assert "<title>2024-01: 1 picture</title>" in lyon_page and "<title>2024-03" not in lyon_page  # Lyon's months
    assert "<title>Paris, France: 2 pictures</title>" in lyon_page  # every place, to go to another
    march = client.get("/?browse=1&since=2024-03&until=2024-04").get_data(as_text=True)
    assert "<title>Paris, France: 2 pictures</title>" in march and "<title>Lyon, France" not in march
    assert "<title>2024-01: 1 picture</title>" in march  # every period, to go to another
    both = client.get("/?browse=1&since=2024-03&until=2024-04&place=France").get_data(as_text=True)
    assert "<title>Austin" in both and "<title>Lyon" not in both  # the map: within the dates
    assert "<title>2024-01" in both and "<title>2024-04" not in both  # the timeline: within France


def test_words_end_with_a_place_or_are_one(trip_engine):
    from cbir.errors import CbirError
    from cbir.places import split_place

    assert split_place("dog in Lyon") == ("dog", "Lyon") and split_place("beach near Nice, France") == (
        "beach", "Nice, France")
    assert split_place("at Paris") == ("", "Paris") and split_place("dog in the park in Lyon") == (
        "dog in the park", "Lyon")
    assert split_place("indoor cats") == ("indoor cats", "")
    lyon = trip_engine.search_words("Lyon", k=10)  # no class of its features: a place, the newest first
    assert [h.id for h in lyon.hits] == ["lyon/c.jpg", "lyon/b.jpg", "lyon/a.jpg"] and lyon.near == "Lyon"
    assert lyon.query == "Lyon" and lyon.classes is None
    assert [h.id for h in trip_engine.search_words("near texas", k=10).hits] == ["austin/a.jpg"]
    with pytest.raises(CbirError, match="do not say what a picture shows"):
        trip_engine.search_words("dog in Lyon", k=10)  # these features know no classes
    with pytest.raises(CbirError, match="a place in the words .'Lyon'. and in the filter .'Paris'."):
        trip_engine.search_words("in Lyon", k=10, where=Filter.of(place="Paris"))


def test_a_search_by_words_keeps_to_the_place_they_end_with(tmp_path, capsys):
    from skimage import data

    from cbir.web import create_app

    for folder, name, where in (("pets", "chelsea", (45.764, 4.8357)), ("kitchen", "coffee", (48.8584, 2.2945)),
                                ("space", "rocket", (30.2672, -97.7431))):
        exif = Image.Exif()
        exif[0x8825] = gps(*where)
        (tmp_path / "photos" / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(getattr(data, name)()).save(tmp_path / "photos" / folder / f"{name}.jpg", exif=exif)
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "effnet", "--out", str(out)]) == 0
    engine = Engine.load(out)
    cat = engine.search_words("cat in Lyon", k=5)
    assert [h.id for h in cat.hits] == ["pets/chelsea.jpg"] and cat.near == "Lyon" and "Persian cat" in cat.classes
    assert engine.search_words("cat near Paris", k=5).hits == []  # no cat there
    assert [h.id for h in engine.search_words("drink in France", k=5).hits] == ["kitchen/coffee.jpg"]
    with pytest.raises(UnknownWordsError, match="did you mean 'Lyon'") as raised:
        engine.search_words("cat in Lyonn ", k=5)
    assert raised.value.suggestions == ["cat in Lyon"]  # the words again, with the place meant
    capsys.readouterr()
    assert main(["search", str(out), "--words", "cat in Lyon"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("cat in Lyon (tabby cat, ") and header.endswith(", taken near Lyon):")
    client = create_app({"ENGINES": {"photos": engine}}).test_client()
    answer = client.get("/api/v1/search?words=cat+in+Lyon").get_json()
    assert answer["near"] == "Lyon" and answer["classes"].startswith("tabby cat") and len(answer["hits"]) == 1
    page = client.get("/?words=cat+in+Lyon").get_data(as_text=True)
    assert "Pictures of tabby cat, " in page and " taken near Lyon, by the network&#39;s probability" in page
    assert "Pictures taken near Lyon, the newest first." in client.get("/?words=in+Lyon").get_data(as_text=True)
    typo = client.get("/?words=cat+in+Lyonn")
    assert typo.status_code == 400 and '<a href="/?words=cat+in+Lyon">cat in Lyon</a>' in typo.get_data(as_text=True)
