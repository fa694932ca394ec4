"""Decoding every supported format and odd mode into RGB uint8."""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import red_and_blue, write_dng
from PIL import Image
from skimage import data as pictures

from cbir.datasets import heif
from cbir.datasets.images import decode_image, is_image_name
from cbir.errors import ImageDecodeError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def rgb(h=12, w=20):
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 2] = (200, 30, 30)
    arr[:, w // 2:] = (30, 30, 200)
    return arr


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "AVIF"])
def test_formats_decode_to_rgb_uint8(fmt):
    out = decode_image(encode(Image.fromarray(rgb()), fmt))
    assert out.dtype == np.uint8 and out.shape == (12, 20, 3)
    assert out[6, 2, 0] > 150 and out[6, 17, 2] > 150


def test_grayscale_and_palette():
    gray = decode_image(encode(Image.new("L", (4, 4), 77), "PNG"))
    assert gray.shape == (4, 4, 3) and (gray == 77).all()
    pal = Image.fromarray(rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert decode_image(encode(pal, "PNG")).shape == (12, 20, 3)


def test_alpha_is_composited_over_white():
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    out = decode_image(encode(im, "PNG"))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[3, 3]) == (255, 255, 255)


def test_cmyk_jpeg():
    out = decode_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    assert out.shape == (8, 8, 3)
    assert out[4, 4, 0] > 200 and out[4, 4, 1] < 60


def test_16_bit_png_is_scaled_not_clipped():
    arr = np.full((6, 6), 32768, dtype=np.uint16)
    out = decode_image(encode(Image.fromarray(arr), "PNG"))
    assert abs(int(out[0, 0, 0]) - 128) <= 1


def test_exif_orientation_is_applied():
    im = Image.fromarray(rgb(10, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = decode_image(encode(im, "JPEG", exif=exif))
    assert out.shape == (30, 10, 3)


def test_phone_photos_in_heic_decode_the_right_way_up():
    """tests/data: scikit-image's astronaut, 96x96 cropped to 96x64, in HEIC (pillow-heif's encoder, quality 92):
    as it is, and stored turned by 90 degrees with EXIF orientation 6, as phones store a photo taken upright
    (libheif turns it back itself; EXIF's orientation must not turn it once more)."""
    expected = np.asarray(Image.fromarray(pictures.astronaut()).resize((96, 96), Image.Resampling.LANCZOS)
                          .crop((0, 16, 96, 80)), dtype=np.float32)
    for name in ("astronaut.heic", "astronaut-turned.heic"):
        assert is_image_name(name.upper())
        out = decode_image((Path(__file__).parent / "data" / name).read_bytes())
        assert out.shape == (64, 96, 3) and np.abs(out - expected).mean() < 6, name
    assert decode_image((Path(__file__).parent / "data" / "astronaut.heic").read_bytes(), max_side=48).shape == (
        32, 48, 3)


def test_a_heic_read_small_is_decoded_from_the_thumbnail_inside_it(monkeypatch):
    """tests/data: scikit-image's astronaut at 384x288 in HEIC (pillow-heif's encoder, quality 50) with a 96x72
    thumbnail, as phones store one in each photo: as it is; stored turned with EXIF orientation 6 (the thumbnail
    turned too); and at 385x289 (HEVC codes 386x290, cropped by a `clap`). Read at up to 96 pixels, the thumbnail
    is decoded (a file of its own, a tenth of the photo's bytes) the right way up; larger, the photo itself."""
    import pi_heif

    from cbir.datasets import images

    decoded, real = [], images._decode
    monkeypatch.setattr(images, "_decode", lambda data, *a, **kw: decoded.append(len(data)) or real(data, *a, **kw))
    for name, size in (("astronaut-thumbnail.heic", (384, 288)), ("astronaut-thumbnail-turned.heic", (384, 288)),
                       ("astronaut-thumbnail-odd.heic", (385, 289))):
        data = (Path(__file__).parent / "data" / name).read_bytes()
        full = decode_image(data)
        assert full.shape == (size[1], size[0], 3) and decoded.pop() == len(data), name
        small = decode_image(data, max_side=64)
        assert decoded.pop() < len(data) / 5 and small.shape == (48, 64, 3), name
        shrunk = np.asarray(Image.fromarray(full).resize((64, 48), Image.Resampling.LANCZOS), dtype=np.float32)
        assert np.corrcoef(small.astype(np.float32).ravel(), shrunk.ravel())[0, 1] > 0.9, name  # upright, same
        assert pi_heif.open_heif(io.BytesIO(heif.thumbnail_file(data, 96))).size == (96, 72), name
        assert heif.thumbnail_file(data, 97) is None and decode_image(data, max_side=97).shape == (73, 97, 3), name
        assert decoded.pop() == len(data)  # too small: the photo itself
        assert heif.thumbnail_file(data[: len(data) // 2], 64) is None  # cut short: no thumbnail, no exception
    plain = (Path(__file__).parent / "data" / "astronaut.heic").read_bytes()
    assert heif.thumbnail_file(plain, 16) is None
    assert heif.thumbnail_file(encode(Image.fromarray(rgb(8, 8)), "PNG"), 4) is None


def grid_heic(data: bytes) -> bytes:
    """The photo of a one-image HEIC with a thumbnail, as phones store theirs: a grid item (here of one tile) as
    the primary image, its description in `idat` (iloc version 1, construction method 1), the thumbnail a
    thumbnail of the grid."""
    top = dict(heif._boxes(data, 0, len(data)))
    meta = dict(heif._boxes(data, top[b"meta"].start + 4, top[b"meta"].end))
    items = heif._items(data, meta)
    iprp = dict(heif._boxes(data, meta[b"iprp"].start, meta[b"iprp"].end))
    version, flags = heif._full(data, iprp[b"ipma"].start)
    heif._associations(data, iprp[b"ipma"], version, flags, items)
    tile, thumb = items[1], items[2]
    ipco = list(heif._boxes(data, iprp[b"ipco"].start, iprp[b"ipco"].end))
    width, height = next(struct.unpack_from(">II", data, span.start + 4) for kind, span in
                         (ipco[(e & 0x7F) - 1] for e in tile.properties) if kind == b"ispe")
    whole = lambda span: data[span.box: span.end]
    coded = [b"".join(data[o: o + n] for o, n in item.extents) for item in (tile, thumb)]
    ispe = heif._box(b"ispe", struct.pack(">II", width, height), (0, 0))
    ipco_box = heif._box(b"ipco", data[iprp[b"ipco"].start: iprp[b"ipco"].end] + ispe)
    grid_props = [len(ipco) + 1] + [e for e in tile.properties if ipco[(e & 0x7F) - 1][0] in (b"colr", b"pixi")]
    entries = [(1, tile.properties), (2, thumb.properties), (3, grid_props)]
    ipma = heif._box(b"ipma", struct.pack(">I", 3) + b"".join(
        struct.pack(">HB", i, len(p)) + bytes(p) for i, p in entries), (0, 0))
    infe = heif._box(b"infe", struct.pack(">HH4s", 3, 0, b"grid") + b"\0", (2, 0))
    iinf = heif._box(b"iinf", struct.pack(">H", 3) + tile.infe + thumb.infe + infe, (0, 0))
    iref = heif._box(b"iref", heif._box(b"dimg", struct.pack(">HHH", 3, 1, 1))
                     + heif._box(b"thmb", struct.pack(">HHH", 2, 1, 3)), (0, 0))
    idat = heif._box(b"idat", struct.pack(">BBBBHH", 0, 0, 0, 0, width, height))

    def iloc(base):
        rows = [struct.pack(">HHHHII", 1, 0, 0, 1, base, len(coded[0])),
                struct.pack(">HHHHII", 2, 0, 0, 1, base + len(coded[0]), len(coded[1])),
                struct.pack(">HHHHII", 3, 1, 0, 1, 0, 8)]
        return heif._box(b"iloc", struct.pack(">BBH", 0x44, 0, 3) + b"".join(rows), (1, 0))

    def meta_box(base):
        return heif._box(b"meta", whole(meta[b"hdlr"]) + heif._box(b"pitm", struct.pack(">H", 3), (0, 0))
                         + iloc(base) + iinf + iref + heif._box(b"iprp", ipco_box + ipma) + idat, (0, 0))

    ftyp = whole(top[b"ftyp"])
    base = len(ftyp) + len(meta_box(0)) + 8
    return ftyp + meta_box(base) + heif._box(b"mdat", coded[0] + coded[1])

def test_a_phones_heic_whose_photo_is_a_grid_of_tiles_is_read_from_its_thumbnail(monkeypatch):
    """Phones store a photo as a grid of tiles (an item of its own, described in `idat`, located by iloc version
    1) with the thumbnail a thumbnail of the grid: the same file layout, built from the test file's two images."""
    import pi_heif

    from cbir.datasets import images

    data = grid_heic((Path(__file__).parent / "data" / "astronaut-thumbnail.heic").read_bytes())
    assert pi_heif.open_heif(io.BytesIO(data)).size == (384, 288)  # libheif reads it: a well-formed file
    assert pi_heif.open_heif(io.BytesIO(heif.thumbnail_file(data, 64))).size == (96, 72)
    decoded, real = [], images._decode
    monkeypatch.setattr(images, "_decode", lambda data, *a, **kw: decoded.append(len(data)) or real(data, *a, **kw))
    assert decode_image(data, max_side=64).shape == (48, 64, 3) and decoded[0] < len(data) / 5


def test_a_heic_whose_counts_run_past_their_boxes_is_given_up_at_once(monkeypatch):
    """A damaged or hostile file's counts (4 billion property associations, 65,535 items, 65,535 references) are
    not looped over: reading stops at the end of the box that holds them, and the photo is decoded in full."""
    data = (Path(__file__).parent / "data" / "astronaut-thumbnail.heic").read_bytes()
    top = dict(heif._boxes(data, 0, len(data)))
    meta = dict(heif._boxes(data, top[b"meta"].start + 4, top[b"meta"].end))
    ipma = dict(heif._boxes(data, meta[b"iprp"].start, meta[b"iprp"].end))[b"ipma"]
    thmb = next(span for kind, span in heif._boxes(data, meta[b"iref"].start + 4, meta[b"iref"].end)
                if kind == b"thmb")
    fields, real = [], heif._uint
    monkeypatch.setattr(heif, "_uint", lambda *a: fields.append(a) or real(*a))
    assert heif.thumbnail_file(data, 64) is not None and 0 < len(fields) < 100
    for at, count in ((ipma.start + 4, b"\xff\xff\xff\xff"), (meta[b"iloc"].start + 6, b"\xff\xff")):
        fields.clear()
        hostile = data[:at] + count + data[at + len(count):]
        assert heif.thumbnail_file(hostile, 64) is None and len(fields) < 200, at
    fields.clear()  # a reference to 65,535 images: read up to the first that is the photo, or the box's end
    heif.thumbnail_file(data[:thmb.start] + b"\x00\x09\xff\xff" + data[thmb.start + 4:], 64)
    assert len(fields) < 200


def test_a_heic_thumbnail_cropped_or_turned_otherwise_than_its_photo_is_not_used():
    """A `clap` that takes away more than an encoder's padding shows another part of the picture."""
    import struct

    clap = lambda w, h, x, y: struct.pack(">IIIIiIiI", w, 1, h, 1, x, 2, y, 2)  # noqa: E731  (offsets in halves)
    assert heif._padding_only(clap(385, 289, -1, -1), 386, 290)  # the right column and bottom row: HEVC's padding
    assert not heif._padding_only(clap(300, 289, -86, -1), 386, 290)  # 86 columns: a crop
    assert not heif._padding_only(clap(384, 290, 0, 0), 386, 290)  # a column each side: centred, not padding


def test_a_heic_read_at_index_size_is_read_again_from_its_preview(tmp_path, monkeypatch, cbir_home):
    """HEVC decodes at full size only (~1 s a phone photo): a thumbnail or a pixel check of an indexed HEIC takes the
    small copy kept when it was indexed, until the file changes."""
    import os
    import shutil

    from cbir.datasets import folder, load_folder, sources

    shutil.copy(Path(__file__).parent / "data" / "astronaut.heic", tmp_path / "a.heic")
    path = str((tmp_path / "a.heic").resolve())
    fresh = load_folder(tmp_path, progress=False, cache=False).images[0]
    heic_decodes, real_decode = [], sources.decode_image

    def decode(data, **kw):
        heic_decodes.append(data[4:12] == b"ftypheic")
        return real_decode(data, **kw)

    monkeypatch.setattr(sources, "decode_image", decode)  # a preview's decoding
    monkeypatch.setattr(folder, "decode_image", decode)  # a file's (`folder.decode_file`)
    thumb = sources.load_image(path, max_side=48)
    assert not any(heic_decodes) and thumb.shape == (32, 48, 3)
    assert np.abs(sources.load_image(path, max_side=256).astype(float) - fresh).mean() < 5  # a JPEG of it
    os.utime(tmp_path / "a.heic", ns=(1, 1))  # changed since: decoded again (and kept again)
    heic_decodes.clear()
    sources.load_image(path, max_side=48)
    sources.load_image(path, max_side=48)
    assert heic_decodes.count(True) == 1
    assert len(list(cbir_home.glob("previews/**/*.jpg"))) == 1  # the changed file's preview replaced the earlier one
    assert sources.load_image(path).shape == (64, 96, 3) and heic_decodes.count(True) == 2  # at full size: the file


def halves(image: np.ndarray) -> tuple[str, str]:
    """The colour that leads in the first and in the last third of an image's columns ("red", "green" or "blue")."""
    third = image.shape[1] // 3
    names = ("red", "green", "blue")
    return (names[int(image[:, :third].reshape(-1, 3).mean(0).argmax())],
            names[int(image[:, -third:].reshape(-1, 3).mean(0).argmax())])


def test_a_camera_raw_file_is_read_from_its_camera_picture_when_large_enough_else_developed(tmp_path):
    """A raw file holds the sensor's data (red left, blue right here) and the camera's picture of it (green here, to
    tell them apart): read small, the camera's picture (a JPEG, or pixels); wanted larger than it, the sensor's data
    developed at half size, unless that would give less than the camera's picture."""
    green = np.zeros((200, 300, 3), np.uint8)
    green[..., 1] = 200
    for jpeg in (True, False):
        data = write_dng(tmp_path / f"a-{jpeg}.dng", red_and_blue(512, 768), green, jpeg=jpeg).read_bytes()
        small = decode_image(data, max_side=128)
        assert small.shape == (85, 128, 3) and halves(small) == ("green", "green")
        whole = decode_image(data)  # the page's full view: 300 pixels are fewer than developing gives
        assert whole.shape == (256, 384, 3) and halves(whole) == ("red", "blue")
    without = decode_image(write_dng(tmp_path / "b.dng", red_and_blue()).read_bytes(), max_side=256)
    assert without.shape == (32, 48, 3) and halves(without) == ("red", "blue")
    tiny_sensor = write_dng(tmp_path / "c.dng", red_and_blue(), green).read_bytes()
    assert halves(decode_image(tiny_sensor)) == ("green", "green")  # developing would give less: 32x48


def test_a_camera_raw_file_is_turned_as_the_camera_was_held(tmp_path):
    """Orientation 6: the camera turned a quarter clockwise; the sensor's left (red) is the picture's top."""
    sensor, preview = red_and_blue(), np.zeros((200, 300, 3), np.uint8)
    preview[:, :150, 0] = preview[:, 150:, 2] = 220  # the camera's picture of the same scene
    for camera in (preview, None):
        image = decode_image(write_dng(tmp_path / "a.dng", sensor, camera, orientation=6).read_bytes(), 256)
        assert image.shape[0] > image.shape[1] and halves(image.transpose(1, 0, 2)) == ("red", "blue")


def test_a_tiff_that_is_no_raw_file_and_a_damaged_raw_file(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(buf, "TIFF")
    assert decode_image(buf.getvalue()).shape == (20, 30, 3)  # LibRaw declines it, Pillow reads it
    data = write_dng(tmp_path / "a.dng", red_and_blue()).read_bytes()
    with pytest.raises(ImageDecodeError):
        decode_image(data[: len(data) // 2])
    assert is_image_name("DSC_0001.NEF") and is_image_name("a.cr3") and is_image_name("x.dng")


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (5, 5), c) for c in ((250, 0, 0), (0, 250, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = decode_image(data)
    assert out[2, 2, 0] > 200 and out[2, 2, 1] < 50


@pytest.mark.parametrize("data", [b"", b"not an image at all", None])
def test_garbage_and_truncated_files_raise(data):
    if data is None:
        data = encode(Image.fromarray(rgb(64, 64)), "JPEG")[:200]
    with pytest.raises(ImageDecodeError):
        decode_image(data)


def test_pixel_bomb_refused_before_decoding():
    data = encode(Image.new("L", (3000, 3000)), "PNG")
    assert len(data) < 100_000
    with pytest.raises(ImageDecodeError, match="pixels"):
        decode_image(data, max_pixels=1_000_000)


def test_a_huge_jpeg_is_read_at_the_size_it_is_decoded_at():
    """A 100-megapixel camera's JPEG or a phone's panorama, read at index size, is decoded at an eighth of each
    side: the pixel limit counts what is decoded, not the header's size (a PNG has no such shortcut)."""
    jpeg = encode(Image.new("RGB", (3000, 3000), (200, 100, 50)), "JPEG")
    assert decode_image(jpeg, max_side=256, max_pixels=1_000_000).shape == (256, 256, 3)  # 375x375 decoded
    with pytest.raises(ImageDecodeError, match="3000x3000 = 9,000,000 pixels"):
        decode_image(jpeg, max_pixels=1_000_000)  # at full size: refused before decoding
    with pytest.raises(ImageDecodeError, match="pixels"):
        decode_image(encode(Image.new("RGB", (3000, 3000)), "PNG"), max_side=256, max_pixels=1_000_000)
    panorama = encode(Image.new("L", (16000, 6000), 90), "JPEG")  # 96 megapixels: over Pillow's own 89
    assert decode_image(panorama, max_side=256).shape == (96, 256, 3)
    photo = encode(Image.new("RGB", (4000, 3000), (200, 100, 50)), "JPEG")  # a phone's 4:3, read at 1,600
    assert decode_image(photo, max_side=1600, max_pixels=3_000_000).shape == (1200, 1600, 3)  # 2000x1500 decoded


def test_max_side_shrinks_keeping_aspect():
    out = decode_image(encode(Image.fromarray(rgb(100, 400)), "PNG"), max_side=100)
    assert out.shape == (25, 100, 3)


def test_decoding_in_many_threads_leaves_the_warning_filters_alone():
    import io
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from cbir.datasets.images import decode_image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "PNG")
    before = list(warnings.filters)
    with ThreadPoolExecutor(4) as pool:
        decoded = list(pool.map(lambda _: decode_image(buf.getvalue()), range(400)))
    assert all(d.shape == (30, 40, 3) for d in decoded)
    assert warnings.filters == before  # a filter block per decode, left in another order, swallowed warnings
