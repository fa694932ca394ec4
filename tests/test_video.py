"""Videos in a folder of photos: indexed by a still, dated and placed from their `moov` box, a Live Photo's motion
left to its photo, streamed to the page."""

import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.datasets.folder import image_facts
from cbir.datasets.heif import _box
from cbir.datasets.video import video_frame
from cbir.engine import Engine
from cbir.features import make_extractor
from cbir.web import create_app

cv2 = pytest.importorskip("cv2")


def clip(path, frames: int = 30, size=(64, 48)) -> np.ndarray:
    """An MP4 whose frames change colour (blue to red), each with a white square where the third of the way in has
    it on the left; returns that still, RGB."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    assert writer.isOpened()
    still = None
    for n in range(frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:, :, 0], frame[:, :, 2] = 255 - 8 * n, 8 * n  # BGR
        frame[10:30, (8 if n == frames // 3 else 40):(28 if n == frames // 3 else 60)] = 255
        writer.write(frame)
        if n == frames // 3:
            still = frame[:, :, ::-1].copy()
    writer.release()
    return still


def quicktime(moov_content: bytes, before: int = 0) -> bytes:
    """A file of MP4 boxes with no video to decode: `ftyp`, an `mdat` of `before` bytes, then a `moov`."""
    ftyp = _box(b"ftyp", b"qt  " + struct.pack(">I", 0) + b"qt  ")
    return ftyp + _box(b"mdat", bytes(before)) + _box(b"moov", moov_content)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "beach.jpg")
    clip(root / "clip.mp4")
    Image.fromarray(255 - pixels).save(root / "IMG_0001.jpg")
    clip(root / "IMG_0001.MOV", frames=12)  # a Live Photo's motion: its photo is indexed
    (root / "broken.mov").write_bytes(b"not a video")
    return root


def test_a_video_is_indexed_by_its_still_a_third_of_the_way_in(library, capsys):
    with pytest.warns(UserWarning, match="skipped 1 unreadable file.*broken.mov"):  # said, the rest indexed
        dataset = load_folder(library, progress=False, cache=False)
    assert sorted(dataset.ids) == ["IMG_0001.jpg", "beach.jpg", "clip.mp4"]  # the Live Photo's motion left out
    still = video_frame(str(library / "clip.mp4"))
    assert still.shape == (48, 64, 3) and still[20, 10].min() > 200 and still[20, 50].min() < 100  # the square left
    assert video_frame(str(library / "clip.mp4"), max_side=32).shape == (24, 32, 3)
    engine = Engine.build(dataset, make_extractor("gch"), progress=False)
    assert engine.search([still], k=1)[0].hits[0].id == "clip.mp4"
    engine.save(library.parent / "engine")
    assert main(["search", str(library.parent / "engine"), str(library / "clip.mp4"), "-k", "1", "--paths"]) == 0
    assert capsys.readouterr().out.strip() == str(library / "clip.mp4")  # a video to search with: its still
    assert main(["info", str(library.parent / "engine")]) == 0
    assert "images     3 (0 labelled, 0 classes; 1 of them videos)" in capsys.readouterr().out
    with zipfile.ZipFile(library.parent / "videos.zip", "w") as zf:  # in an archive: left out, the decoder reads files
        zf.write(library / "clip.mp4", "clip.mp4")
        zf.write(library / "beach.jpg", "beach.jpg")
    assert load_folder(library.parent / "videos.zip", progress=False, cache=False).ids == ["beach.jpg"]


def test_a_video_says_when_and_where_it_was_taken_wherever_its_moov_lies(tmp_path):
    mvhd = _box(b"mvhd", struct.pack(">III", 0, 3_800_000_000, 3_800_000_000) + bytes(88))  # seconds since 1904
    android = _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+48.8584+002.2945/"))
    for before in (100, 3_000_000):  # a phone's moov after its mdat, far into the file
        (tmp_path / "a.mp4").write_bytes(quicktime(mvhd + android, before))
        assert image_facts(str(tmp_path / "a.mp4"))[:2] == ("2024-05-31T11:33:20", "48.85840,2.29450"), before
    apple = mvhd + _box(b"meta", b"com.apple.quicktime.creationdate" + b"2024-05-30T06:26:40+0200"
                        + b"com.apple.quicktime.location.ISO6709" + b"+45.7640+004.8357+170.000/")
    (tmp_path / "b.mov").write_bytes(quicktime(apple))
    assert image_facts(str(tmp_path / "b.mov"))[:2] == ("2024-05-30T06:26:40", "45.76400,4.83570")  # local time
    (tmp_path / "c.mp4").write_bytes(quicktime(_box(b"mvhd", bytes(100))))  # no date set: the file's time
    facts = image_facts(str(tmp_path / "c.mp4"))
    assert facts.date is not None and facts.position == ""
    (tmp_path / "d.mp4").write_bytes(b"\x00\x00\x00\x08ftyp\xff\xff\xff\xffmoov")  # boxes that lie
    assert image_facts(str(tmp_path / "d.mp4")).position == ""


def test_an_iphone_video_names_its_camera_in_its_metadata_keys(tmp_path):
    """Apple's `mdta` metadata: a `keys` box names the keys, the `ilst` box holds their values by number."""
    names = [b"com.apple.quicktime.software", b"com.apple.quicktime.make", b"com.apple.quicktime.model"]
    keys = _box(b"keys", struct.pack(">II", 0, len(names)) + b"".join(
        struct.pack(">I", 8 + len(name)) + b"mdta" + name for name in names))
    values = [b"17.1", b"Apple", b"iPhone 15 Pro"]
    ilst = _box(b"ilst", b"".join(_box(struct.pack(">I", n), _box(b"data", struct.pack(">II", 1, 0) + value))
                                  for n, value in enumerate(values, 1)))
    meta = _box(b"meta", _box(b"hdlr", bytes(8) + b"mdta" + bytes(13)) + keys + ilst)
    (tmp_path / "IMG_1.MOV").write_bytes(quicktime(_box(b"mvhd", bytes(100)) + meta, 1000))
    assert image_facts(str(tmp_path / "IMG_1.MOV")).camera == "Apple iPhone 15 Pro"
    (tmp_path / "cut.mov").write_bytes(quicktime(_box(b"mvhd", bytes(100)) + keys + ilst[:20]))  # cut short
    assert image_facts(str(tmp_path / "cut.mov")).camera == ""


@pytest.mark.filterwarnings("ignore:skipped 1 unreadable")
def test_the_page_marks_videos_and_streams_them(library):
    from cbir.duplicates import file_facts

    engine = Engine.build(load_folder(library, progress=False, cache=False), make_extractor("gch"), progress=False)
    client = create_app({"ENGINES": {"videos": engine}}).test_client()
    thumb = client.get("/api/v1/images/clip.mp4?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype.startswith("image/")  # its still
    whole = client.get("/api/v1/images/clip.mp4")
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    assert whole.data == (library / "clip.mp4").read_bytes()
    part = client.get("/api/v1/images/clip.mp4", headers={"Range": "bytes=0-99"})  # a browser seeking
    assert part.status_code == 206 and len(part.data) == 100
    page = client.get("/?browse=1").get_data(as_text=True)
    assert page.count('class="video"') == 1 and page.count("data-video") == 1
    assert file_facts(str(library / "clip.mp4")) == (64 * 48, (library / "clip.mp4").stat().st_size)


def test_a_video_of_any_size_downloads_a_megabyte_at_a_time(tmp_path):
    """A file over what is read whole (256 MB: a phone's 4K minute) goes into the download's zip as it is sent."""
    import io

    from cbir.datasets.folder import MAX_FILE_BYTES

    (tmp_path / "videos").mkdir()
    clip(tmp_path / "videos" / "big.mp4")
    with open(tmp_path / "videos" / "big.mp4", "r+b") as f:  # sparse: no disk taken
        f.truncate(MAX_FILE_BYTES + (1 << 20))
    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "videos" / "green.png")
    engine = Engine.build(load_folder(tmp_path / "videos", progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    client = create_app({"ENGINES": {"videos": engine}}).test_client()
    got = client.get("/api/v1/download?id=big.mp4&id=green.png")
    assert got.status_code == 200
    with zipfile.ZipFile(io.BytesIO(got.data)) as archive:
        assert archive.namelist() == ["big.mp4", "green.png"]  # not left out
        assert archive.getinfo("big.mp4").file_size == MAX_FILE_BYTES + (1 << 20)
        assert archive.read("green.png") == (tmp_path / "videos" / "green.png").read_bytes()


def test_photos_videos_and_raw_files_are_kinds_to_filter_by(tmp_path, capsys):
    from conftest import write_dng

    root = tmp_path / "mixed"
    root.mkdir()
    Image.new("RGB", (48, 40), (200, 40, 40)).save(root / "photo.jpg")
    clip(root / "clip.mp4")
    write_dng(root / "IMG_2.DNG", np.full((32, 48, 3), 2000, np.uint16))
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    for kind, expected in [("video", ["clip.mp4"]), ("raw", ["IMG_2.DNG"]), ("photo", ["IMG_2.DNG", "photo.jpg"])]:
        assert main(["search", str(out), "--kind", kind, "--paths"]) == 0
        assert sorted(line.rsplit("/", 1)[-1] for line in capsys.readouterr().out.split()) == expected, kind
    client = create_app({"ENGINES": {"mixed": str(out)}}).test_client()
    assert [h["id"] for h in client.get("/api/v1/images?kind=video").get_json()["hits"]] == ["clip.mp4"]
    assert "kind is photo, video, raw" in client.get("/api/v1/images?kind=gif").get_json()["error"]
    page = client.get("/?browse=1&kind=raw").get_data(as_text=True)
    assert '<option value="raw" selected>raw files</option>' in page
    assert "Only images that are camera raw files." in page


def test_screenshots_are_a_kind_of_their_own_by_the_names_systems_give_them(tmp_path, capsys):
    from cbir.filters import kind_of

    shots = ["Screenshot_20240101-123456_Maps.jpg", "Screen Shot 2019-01-01 at 12.34.56 PM.png",
             "Capture d’écran 2024-01-01 à 12.34.56.png", "Bildschirmfoto 2024-01-01 um 12.34.56.png",
             "Captura de pantalla 2024-01-01 a las 12.34.56.png", "Screenshot from 2024-01-01 12-34-56.png",
             "Pictures/Screenshots/IMG_0042.PNG", "DCIM/screenshots/anything.jpg"]
    assert [kind_of(name) for name in shots] == ["screenshot"] * len(shots)
    assert [kind_of(name) for name in ["IMG_0001.JPG", "screens/shot.jpg", "my-screenshot-ideas/a.jpg",
                                       "Screenshots.mp4"]] == ["photo", "photo", "photo", "video"]
    root = tmp_path / "phone"
    (root / "Screenshots").mkdir(parents=True)
    Image.new("RGB", (48, 40), (200, 40, 40)).save(root / "IMG_0001.jpg")
    Image.new("RGB", (40, 80), (250, 250, 250)).save(root / "Screenshots" / "Screenshot_20240101-123456.png")
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(root), "--features", "gch", "--out", str(out)]) == 0
    capsys.readouterr()
    for kind, expected in [("screenshot", ["Screenshot_20240101-123456.png"]), ("photo", ["IMG_0001.jpg"])]:
        assert main(["search", str(out), "--kind", kind, "--paths"]) == 0
        assert [line.rsplit("/", 1)[-1] for line in capsys.readouterr().out.split()] == expected, kind
    page = create_app({"ENGINES": {"phone": str(out)}}).test_client().get("/?browse=1&kind=screenshot")
    assert '<option value="screenshot" selected>screenshots</option>' in page.get_data(as_text=True)
    assert "Only images that are screenshots." in page.get_data(as_text=True)
