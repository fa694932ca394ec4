"""An album shared without where its photos were taken: a JPEG's GPS position, XMP and IPTC taken out (its pixels and
its date, camera and turn kept), other pictures as their pixels, a video's positions blanked, on the shared page, in
its large view a range at a time, and in its download."""

import io
import json
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image
from PIL.ExifTags import IFD
from test_albums import indexed
from test_places import gps
from test_tags import iptc, xmp
from test_video import clip, quicktime

import cbir.albums
from cbir.cli import main
from cbir.datasets.folder import image_facts
from cbir.datasets.heif import _box
from cbir.web import create_app
from cbir.web.unplaced import Blanked, jpeg_without_places, video_places

PARIS = b"+48.8584+002.2945/"


def placed_photo(path, turned=6):
    """A JPEG taken in Lyon with a camera, turned (EXIF orientation), tagged and captioned in XMP and IPTC."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Google", "Pixel 7", turned
    exif.get_ifd(IFD.Exif)[0x9003] = "2024:07:01 10:00:00"
    exif[IFD.GPSInfo] = gps(45.764, 4.8357)
    out = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(out, "JPEG", exif=exif,
                                 xmp=xmp(["Lyon"], body="<dc:description>Home</dc:description>"))
    path.write_bytes(iptc(out.getvalue(), ["Anna"], caption="At home, 12 rue X"))
    return path


def placed_video(path):
    """A real MP4 (OpenCV's) whose `moov` ends with an Android phone's position."""
    clip(path)
    data = path.read_bytes()
    at = data.rfind(b"moov") - 4
    assert at + struct.unpack(">I", data[at:at + 4])[0] == len(data)  # the last box: nothing moves if it grows
    content = data[at + 8:] + _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", len(PARIS), 0x15C7) + PARIS))
    path.write_bytes(data[:at] + _box(b"moov", content))
    return path


def test_a_jpeg_loses_where_it_was_taken_and_keeps_its_pixels_date_camera_and_turn(tmp_path):
    path = placed_photo(tmp_path / "lyon.jpg")
    before = image_facts(str(path))
    assert before.position and before.tags and before.caption  # what there is to take out
    kept = jpeg_without_places(path.read_bytes())
    (tmp_path / "kept.jpg").write_bytes(kept)
    after = image_facts(str(tmp_path / "kept.jpg"))
    assert after.position == "" and after.tags == "" and after.caption == ""
    assert after.date == before.date and after.camera == before.camera == "Google Pixel 7"
    with Image.open(path) as a, Image.open(io.BytesIO(kept)) as b:
        assert b.getexif()[0x0112] == 6 and not b.getexif().get_ifd(IFD.GPSInfo)
        assert np.array_equal(np.asarray(a), np.asarray(b))  # the same pixels, not encoded again
    assert b"Lyon" not in kept and b"Anna" not in kept and len(kept) < path.stat().st_size
    progressive = io.BytesIO()
    Image.open(path).save(progressive, "JPEG", progressive=True, exif=Image.open(path).getexif())
    other = placed_photo(tmp_path / "other.jpg").read_bytes()
    kept = jpeg_without_places(progressive.getvalue() + other)  # a second picture after it: a Multi-Picture file's
    assert kept.count(b"\xff\xd8") == 1 and kept.endswith(b"\xff\xd9") and b"Anna" not in kept
    with Image.open(io.BytesIO(kept)) as seen:
        assert not seen.getexif().get_ifd(IFD.GPSInfo) and np.array_equal(np.asarray(seen),
                                                                           np.asarray(Image.open(progressive)))
    assert jpeg_without_places(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00broken!!\xff\xda") is None  # pixels instead
    assert jpeg_without_places(b"GIF89a") is None


def test_a_video_reads_as_stored_but_for_its_positions(tmp_path):
    android = _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + PARIS))
    apple = _box(b"meta", b"com.apple.quicktime.location.ISO6709" + b"+45.7640+004.8357+170.000/")
    stored = quicktime(android + apple, before=3000)
    (tmp_path / "v.mov").write_bytes(stored)
    with open(tmp_path / "v.mov", "rb") as f:
        blanks = video_places(f)
        assert len(blanks) == 2
        video = Blanked(f, blanks)
        whole = video.read()
        video.seek(3050)
        assert video.read(10) == whole[3050:3060] and video.size == len(stored)
    expected = bytearray(stored)
    for start, length in blanks:
        expected[start:start + length] = b" " * length
    assert whole == bytes(expected) and PARIS not in whole and b"+45.7640" not in whole  # those bytes alone
    (tmp_path / "w.mov").write_bytes(whole)
    assert image_facts(str(tmp_path / "w.mov")).position == ""


@pytest.fixture
def shared(tmp_path):
    folder = tmp_path / "trip"
    folder.mkdir()
    placed_photo(folder / "lyon.jpg")
    exif = Image.Exif()
    exif[IFD.GPSInfo] = gps(45.764, 4.8357)
    Image.fromarray(np.full((40, 48, 3), 90, np.uint8)).save(folder / "flat.png", exif=exif)  # a PNG's eXIf chunk
    placed_video(folder / "walk.mp4")
    out = indexed(folder, tmp_path)
    assert main(["albums", str(out), "Trip", "--add", "lyon.jpg", "flat.png", "walk.mp4"]) == 0
    return out


def test_a_link_shared_without_places_gives_none_in_its_photos_videos_and_download(shared, monkeypatch):
    monkeypatch.setattr(cbir.albums, "today", lambda: "2026-12-08")
    client = create_app({"ENGINES": {"trip": str(shared)}}).test_client()
    assert client.post("/albums", data={"engine": "trip", "to_album": "Trip", "do": "share", "days": "7"}
                       ).status_code == 303
    listed = client.get("/api/v1/albums").get_json()["albums"][0]
    assert listed["shared_until"] == "2026-12-15" and listed["shared_places"] is False
    link = listed["shared"]
    assert "shared with you until 2026-12-15" in client.get(link).get_data(as_text=True)
    photo = client.get(f"{link}/images/lyon.jpg")
    assert photo.mimetype == "image/jpeg" and b"Lyon" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as seen:
        assert not seen.getexif().get_ifd(IFD.GPSInfo) and seen.getexif()[0x0112] == 6
    assert image_facts(str(shared.parent / "trip/flat.png")).position
    with Image.open(io.BytesIO(client.get(f"{link}/images/flat.png").data)) as flat:
        assert flat.format == "PNG" and not flat.getexif().get_ifd(IFD.GPSInfo)  # its pixels alone
    stored = (shared.parent / "trip/walk.mp4").read_bytes()
    at = stored.find(PARIS)
    part = client.get(f"{link}/images/walk.mp4", headers={"Range": f"bytes={at - 4}-{at + 30}"})
    assert part.status_code == 206 and part.data == stored[at - 4:at] + b" " * len(PARIS) + stored[
        at + len(PARIS):at + 31]
    whole = client.get(f"{link}/images/walk.mp4")
    assert len(whole.data) == len(stored) and PARIS not in whole.data
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{link}/download").data))
    assert sorted(archive.namelist()) == ["flat.png", "lyon.jpg", "walk.mp4"]
    assert b"+48.8584" not in archive.read("walk.mp4") and archive.read("lyon.jpg") == photo.data
    monkeypatch.setattr(cbir.albums, "today", lambda: "2026-12-16")
    assert client.get(link).status_code == 404  # past its last day
    page = client.get("/?browse=1&album=Trip").get_data(as_text=True)
    assert "Its link stopped working after 2026-12-15" in page and "Share a link" in page
    assert main(["albums", str(shared)]) == 0


def test_a_link_with_places_gives_the_files_as_stored(shared, capsys):
    assert main(["albums", str(shared), "Trip", "--share", "--with-places", "--until", "2099-01-01"]) == 0
    said = capsys.readouterr().out
    assert ", until 2099-01-01:" in said and "without where" not in said
    link = said.split(" is shared at ")[1].split()[0]
    client = create_app({"ENGINES": {"trip": str(shared)}}).test_client()
    assert client.get(f"{link}/images/lyon.jpg").data == (shared.parent / "trip/lyon.jpg").read_bytes()
    assert PARIS in client.get(f"{link}/images/walk.mp4").data
    assert main(["albums", str(shared), "Trip", "--share", "--until", "tomorrow"]) == 2
    capsys.readouterr()
    assert main(["albums", str(shared)]) == 0
    assert f"Trip  (3 images; shared at {link}, until 2099-01-01)" in capsys.readouterr().out
    assert main(["albums", str(shared), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert (listed["shared"], listed["shared_until"], listed["shared_places"]) == (link, "2099-01-01", True)
