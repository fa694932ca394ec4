"""How fast and how well `cbir text` reads what is written in pictures: phone screenshots (1170x2532 PNGs) of lines
of words at each text height, and 12-megapixel JPEGs with nothing written in them (as `photo_speed.py` makes them:
the time a library of photos takes, and words read where there are none).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/reading_text.py [--screenshots 24] [--photos 24]

Words are drawn from the nouns cbir knows (`cbir/wordnet-nouns.txt`), eight lines of three words a screenshot, in
Pillow's own font; a word is read when it is among the words read in its picture (whole, case ignored). Images are
read as `cbir text` reads them (`cbir.texts.reader().scan`: decoded at `TEXT_SIDE`, two at a time), decoding
included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from photo_speed import write_photos

from cbir.datasets.sources import load_image
from cbir.tags import caption_words
from cbir.texts import TEXT_SIDE, reader

HEIGHTS = (12, 16, 24, 32, 48)  # text heights in pixels, of a screenshot's 2,532


def nouns() -> list[str]:
    lines = resources.files("cbir").joinpath("wordnet-nouns.txt").read_text().splitlines()
    return sorted({word for line in lines if not line.startswith("#") for word in line.split("\t")[0].split(", ")
                   if word.isalpha() and 4 <= len(word) <= 10})


def write_screenshots(folder: Path, count: int) -> dict[str, frozenset[str]]:
    """`count` screenshots in `folder`, a text height each in turn; returns the words written in each."""
    rng, words, wrote = np.random.default_rng(0), nouns(), {}
    for i in range(count):
        height = HEIGHTS[i % len(HEIGHTS)]
        picture = Image.new("RGB", (1170, 2532), "white")
        draw, lines = ImageDraw.Draw(picture), [" ".join(rng.choice(words, 3)) for _ in range(8)]
        for n, line in enumerate(lines):
            draw.text((60, 200 + n * 3 * height), line, font=ImageFont.load_default(size=height), fill=(20, 20, 20))
        name = f"Screenshot-{height}px-{i:03d}.png"
        picture.save(folder / name)
        wrote[name] = caption_words(" ".join(lines))
    return wrote


def read_all(paths: dict[str, str]) -> tuple[dict[str, str], float]:
    reader()  # loaded before the clock starts
    started = time.perf_counter()
    read = {id_: text for id_, text, _ in reader().scan(paths, load_image, progress=False)}
    return read, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screenshots", type=int, default=24)
    parser.add_argument("--photos", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shots, photos = Path(tmp, "shots"), Path(tmp, "photos")
        shots.mkdir(), photos.mkdir()
        wrote = write_screenshots(shots, args.screenshots)
        write_photos(photos, args.photos)
        read, took = read_all({name: str(shots / name) for name in wrote})
        print(f"{len(wrote)} screenshots, 1170x2532, read at {TEXT_SIDE} px: {len(wrote) / took:.2f} images/s")
        print("| text height (px of 2,532) | words written | read | words read not written |\n|---|---|---|---|")
        for height in HEIGHTS:
            names = [name for name in wrote if f"-{height}px-" in name]
            written = sum(len(wrote[n]) for n in names)
            found = sum(len(wrote[n] & caption_words(read[n])) for n in names)
            stray = sum(len(caption_words(read[n]) - wrote[n]) for n in names)
            print(f"| {height} (1/{2532 // height}) | {written} | {found / written:.1%} | {stray} |")
        files = {p.name: str(p) for p in sorted(photos.glob("*.jpg"))}
        started = time.perf_counter()
        for path in files.values():
            load_image(path, TEXT_SIDE)
        decode = time.perf_counter() - started
        read, took = read_all(files)
        print(f"\n{len(files)} photos of 12 megapixels with nothing written: {len(files) / took:.2f} images/s "
              f"(decoding alone, one at a time: {decode / len(files) * 1000:.0f} ms a photo); words read in them: "
              f"{sum(len(caption_words(text)) for text in read.values())}")


if __name__ == "__main__":
    main()
