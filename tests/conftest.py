"""Shared fixtures: an isolated CBIR_HOME, tiny generated image collections, real CIFAR-10 when present."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbir.datasets import Dataset, load_folder

CLASSES = ("stripes", "blobs", "gradient")
REAL_CIFAR10 = os.environ.get("CBIR_CIFAR10")  # read before any test clears it
NOISE_PIXELS = 80 * 150 * 200 * 3  # the bytes of `noise_photos`' pixels


def make_image(kind: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A small RGB image whose look depends on `kind`, with random variation."""
    yy, xx = np.mgrid[:size, :size]
    colour = rng.integers(40, 216, size=3)
    if kind == "stripes":
        period = rng.integers(3, 6)
        mask = ((xx + rng.integers(0, period)) // period) % 2 == 0
        base = np.where(mask[..., None], colour, 255 - colour)
    elif kind == "blobs":
        cy, cx = rng.integers(8, size - 8, size=2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(16, 64)
        base = np.where(mask[..., None], colour, [20, 20, 20])
    else:
        ramp = (yy + xx) / (2 * size - 2)
        base = ramp[..., None] * colour
    noise = rng.normal(0, 6, size=(size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_collection(root: Path, per_class: dict[str, int], seed: int = 0, fmt: str = "png") -> Path:
    """Write `<split>/<class>/<n>.<fmt>` images under root."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for kind in CLASSES:
            folder = root / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(make_image(kind, rng)).save(folder / f"{i:03d}.{fmt}")
    return root


def write_dng(path: Path, sensor: np.ndarray, preview: np.ndarray | None = None, jpeg: bool = True,
              orientation: int = 1) -> Path:
    """A camera raw file as LibRaw reads it: a DNG whose sensor saw `sensor` (H, W, 3 with even sides, values up to
    4095) through an RGGB mosaic, holding the camera's picture `preview` (RGB uint8; a JPEG, or its pixels as they
    are) and the EXIF `orientation`."""
    import struct

    import tifffile

    mosaic = np.empty(sensor.shape[:2], np.uint16)
    for (dy, dx), channel in zip(((0, 0), (0, 1), (1, 0), (1, 1)), (0, 1, 1, 2)):
        mosaic[dy::2, dx::2] = sensor[dy::2, dx::2, channel]
    shown = np.zeros((8, 8, 3), np.uint8) if preview is None else preview
    stored = shown
    if preview is not None and jpeg:  # written as pixels, then marked a JPEG of the preview's size (no JPEG codec)
        buf = io.BytesIO()
        Image.fromarray(preview).save(buf, "JPEG", quality=95)
        data = buf.getvalue() + b"\0" * (-len(buf.getvalue()) % 3)
        stored = np.frombuffer(data, np.uint8).reshape(1, -1, 3)
    camera = [(50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "cbir test camera", True),
              (274, "H", 1, orientation, True)]
    cfa = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True), (50717, "I", 1, 4095, True)]
    with tifffile.TiffWriter(path) as tif:
        tif.write(stored, photometric="rgb", subfiletype=1, subifds=1, extratags=camera)
        tif.write(mosaic, photometric=32803, subfiletype=0, extratags=cfa)
    if stored is not shown:
        with tifffile.TiffFile(path) as tf:
            tags = tf.pages[0].tags
            where = {code: (tags[code].valueoffset, "<H" if tags[code].dtype == 3 else "<I")
                     for code in (256, 257, 259, 262)}
        raw = bytearray(path.read_bytes())
        for code, value in ((256, preview.shape[1]), (257, preview.shape[0]), (259, 7), (262, 6)):
            offset, fmt = where[code]
            raw[offset: offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
        path.write_bytes(bytes(raw))
    return path


def on_milvus(folder: Path, tmp_path: Path):
    """An engine of a folder's images (`gch`) on Milvus Lite: a server's kind of index, in a file under `tmp_path`."""
    from cbir.engine import Engine
    from cbir.features import make_extractor
    from cbir.index.milvus import MilvusIndex

    extractor = make_extractor("gch")
    dataset = load_folder(folder, progress=False, cache=False)
    extractor.fit(dataset)
    return Engine.build(dataset, extractor, MilvusIndex(extractor.dim, uri=str(tmp_path / "milvus.db")), progress=False)


def red_and_blue(height: int = 64, width: int = 96) -> np.ndarray:
    """A sensor's picture for `write_dng`: its left half red, its right half blue."""
    sensor = np.zeros((height, width, 3), np.uint16)
    sensor[:, : width // 2] = (3000, 600, 400)
    sensor[:, width // 2:] = (400, 800, 3000)
    return sensor


@pytest.fixture(scope="session", autouse=True)
def suite_home(tmp_path_factory):
    """A cache folder for what is built before any test's own (fixtures shared by a module or the whole run),
    so that nothing is written into the real one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CBIR_HOME", str(tmp_path_factory.mktemp("cbir-home-shared")))
        yield


@pytest.fixture(autouse=True)
def cbir_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own cache folder and no CIFAR-10 location from the environment."""
    home = tmp_path_factory.mktemp("cbir-home")
    monkeypatch.setenv("CBIR_HOME", str(home))
    monkeypatch.delenv("CBIR_CIFAR10", raising=False)
    return home


@pytest.fixture
def folder_decodes(monkeypatch) -> list:
    """One entry per image a collection's reading decodes (`cbir.datasets.folder`), from the fixture's start; a test
    clears it where its count starts."""
    from cbir.datasets import folder

    decoded, real_decode = [], folder.decode_image

    def decode(data, **kw):
        decoded.append(1)
        return real_decode(data, **kw)

    monkeypatch.setattr(folder, "decode_image", decode)
    return decoded


@pytest.fixture(scope="session")
def noise_photos(tmp_path_factory) -> Path:
    """80 PNGs of 200x150 noise (`NOISE_PIXELS` bytes of pixels in all: `traced_peak` tests)."""
    folder = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    for i in range(80):
        Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


@contextmanager
def traced_peak() -> Iterator[list]:
    """The most memory Python and NumPy held at once inside the block, traced (the list's one item, when it ends)."""
    import tracemalloc

    peak: list = []
    tracemalloc.start()
    try:
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="session")
def tiny_collection(tmp_path_factory) -> Path:
    """60 training and 15 test images in three visually distinct classes."""
    return write_collection(tmp_path_factory.mktemp("tiny"), {"train": 20, "test": 5})


@pytest.fixture(scope="session")
def tiny(tiny_collection) -> Dataset:
    """The tiny collection's 60 training images, loaded."""
    return load_folder(tiny_collection, split="train", progress=False, cache=False)


@pytest.fixture(scope="session")
def real_cifar10() -> Path:
    """The real CIFAR-10 copy named by CBIR_CIFAR10 (set by .ci/run); skips when absent."""
    value = REAL_CIFAR10
    if not value or not Path(value).exists():
        pytest.skip("real CIFAR-10 not available: set CBIR_CIFAR10 to ../shared/data/cifar10-jpeg.zip")
    return Path(value)


@pytest.fixture(scope="module", autouse=True)
def close_milvus_clients():
    """Close the Milvus clients a test module opened when it ends: Ray (`--ray`, `cbir tune`) forks
    its processes, and a fork while a gRPC client is live can leave Ray's raylet hung at startup."""
    from cbir.index.milvus import MilvusIndex

    opened = []
    connect = MilvusIndex._connect_to

    def tracked(uri: str):
        client = connect(uri)
        opened.append(client)
        return client

    patch = pytest.MonkeyPatch()
    patch.setattr(MilvusIndex, "_connect_to", staticmethod(tracked))
    yield
    patch.undo()
    for client in opened:
        client.close()


@contextmanager
def served(engine: Path, *args: str, prefix: str = ""):
    """`cbir serve ENGINE ARGS...` as a real process on a free port; yields its base URL (with the `prefix` it
    serves under, as `--url-prefix` gives it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("cbir") or f"{sys.executable} -m cbir.cli"
    proc = subprocess.Popen([*exe.split(), "serve", str(engine), "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}{prefix}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/api/v1/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"server exited: {proc.stdout.read()}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
