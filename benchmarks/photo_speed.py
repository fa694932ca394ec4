"""How fast `effnet` indexes camera photos: 12-megapixel JPEGs decoded as `cbir index` reads a folder, then described,
at each resolution; decoding's share of the total.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/photo_speed.py [--photos 96] [--resolutions 160 224]
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/photo_speed.py --folder PHOTOS   # your own (e.g. HEIC)
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/photo_speed.py --raw camera      # raw files (or: sensor)

The photos are scikit-image's colour pictures enlarged to 4000x3000 with fine noise (so JPEG cannot shrink them to
nothing), written at quality 90 (3-5 MB each, like a phone's) into a temporary folder; or the images of a folder.
`--raw`: written as raw files instead (DNG: 12-bit sensor data through an RGGB mosaic, 24 MB), holding the camera's
JPEG of the whole photo as most cameras do (`camera`), or a picture too small to use (`sensor`: developed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rawpy
from PIL import Image
from skimage import data

from cbir.datasets import load_folder
from cbir.datasets.images import is_image_name
from cbir.datasets.raw import is_raw_name
from cbir.features import make_extractor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_dng  # noqa: E402

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def write_photos(folder: Path, count: int, raw: str | None = None) -> None:
    """`count` 12-megapixel JPEGs in `folder`, or raw files (`raw`: "camera" or "sensor", as `--raw`)."""
    rng = np.random.default_rng(0)
    for i in range(count):
        base = Image.fromarray(getattr(data, SOURCES[i % len(SOURCES)])()).convert("RGB").resize((4000, 3000))
        noisy = np.clip(np.asarray(base, np.int16) + rng.integers(-6, 7, (3000, 4000, 3)), 0, 255).astype(np.uint8)
        if raw is None:
            Image.fromarray(noisy).save(folder / f"photo-{i:03d}.jpg", quality=90)
        else:
            write_dng(folder / f"photo-{i:03d}.dng", noisy.astype(np.uint16) * 16, noisy if raw == "camera" else None)


def pixels(path: Path) -> int:
    if is_raw_name(path.name):
        with rawpy.imread(str(path)) as raw:
            return raw.sizes.width * raw.sizes.height
    with Image.open(path) as im:
        return im.width * im.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[160, 224])
    parser.add_argument("--folder", type=Path, help="time these images instead of made-up JPEGs")
    parser.add_argument("--raw", choices=["camera", "sensor"], help="made-up raw files instead of JPEGs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        if args.folder is None:
            write_photos(folder, args.photos, args.raw)
        files = [p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name)]
        started = time.perf_counter()
        photos = load_folder(folder, progress=False, cache=False)
        decode = time.perf_counter() - started
        count, megapixels = len(photos), np.mean([pixels(p) for p in files]) / 1e6
        print(f"{count} photos of {megapixels:.1f} megapixels, {sum(p.stat().st_size for p in files) / count / 1e6:.1f} "
              f"MB each on average\n")
        print("| resolution | decode (s) | describe (s) | photos/s | decoding's share |\n|---|---|---|---|---|")
        for resolution in args.resolutions:
            extractor = make_extractor("effnet").with_options({"resolution": resolution})
            extractor.transform(photos.images[:8])  # warm-up: the network's first batch allocates
            started = time.perf_counter()
            extractor.transform(photos.images, indexing=True)
            describe = time.perf_counter() - started
            total = decode + describe
            rate, share = count / total, decode / total
            print(f"| {resolution} | {decode:.1f} | {describe:.1f} | {rate:.1f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
    main()
