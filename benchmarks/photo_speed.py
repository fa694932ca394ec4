"""How fast `effnet` indexes camera photos: 12-megapixel JPEGs decoded as `cbir index` reads a folder, then described,
at each resolution; decoding's share of the total.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/photo_speed.py [--photos 96] [--resolutions 160 224]

The photos are scikit-image's colour pictures enlarged to 4000x3000 with fine noise (so JPEG cannot shrink them to
nothing), written at quality 90 (3-5 MB each, like a phone's) into a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from cbir.datasets import load_folder
from cbir.features import make_extractor

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def write_photos(folder: Path, count: int) -> int:
    """`count` 12-megapixel JPEGs in `folder`; returns their total size in bytes."""
    rng = np.random.default_rng(0)
    total = 0
    for i in range(count):
        base = Image.fromarray(getattr(data, SOURCES[i % len(SOURCES)])()).convert("RGB").resize((4000, 3000))
        noisy = np.clip(np.asarray(base, np.int16) + rng.integers(-6, 7, (3000, 4000, 3)), 0, 255).astype(np.uint8)
        path = folder / f"photo-{i:03d}.jpg"
        Image.fromarray(noisy).save(path, quality=90)
        total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[160, 224])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        size = write_photos(Path(tmp), args.photos)
        print(f"{args.photos} photos of 4000x3000, {size / args.photos / 1e6:.1f} MB each on average\n")
        started = time.perf_counter()
        photos = load_folder(tmp, progress=False, cache=False)
        decode = time.perf_counter() - started
        print("| resolution | decode (s) | describe (s) | photos/s | decoding's share |\n|---|---|---|---|---|")
        for resolution in args.resolutions:
            extractor = make_extractor("effnet").with_options({"resolution": resolution})
            extractor.transform(photos.images[:8])  # warm-up: the network's first batch allocates
            started = time.perf_counter()
            extractor.transform(photos.images, indexing=True)
            describe = time.perf_counter() - started
            total = decode + describe
            rate, share = args.photos / total, decode / total
            print(f"| {resolution} | {decode:.1f} | {describe:.1f} | {rate:.1f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
    main()
