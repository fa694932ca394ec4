"""How often an indexed image, given as a query as it is or altered, finds itself first: what a user looking for the
copies of a picture in their own collection expects.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/copies.py cnn cnn-supervised [--set index_tta=true] [--copies] \
        [--index 10000 --queries 1000]

Each engine indexes CIFAR-10 test images (which the shipped network never trained on, as it never saw a user's own)
with `Engine.build`; a stratified sample of them is altered and searched with `Engine.search`. Prints, per engine
and alteration, the share of the queries that find their original first and within the first 10.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.features import make_extractor, parse_option


def jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def moved(image: np.ndarray, pixels: int = 1) -> np.ndarray:
    """Moved right and down by `pixels`, the edge rows and columns repeated."""
    padded = np.pad(image, ((pixels, 0), (pixels, 0), (0, 0)), mode="edge")
    return padded[: image.shape[0], : image.shape[1]]


def cropped(image: np.ndarray, keep: float = 0.8, corner: bool = False) -> np.ndarray:
    """The centre (or the top-left corner) `keep` of each side, at that smaller size."""
    h, w = image.shape[:2]
    ch, cw = round(h * keep), round(w * keep)
    top, left = (0, 0) if corner else ((h - ch) // 2, (w - cw) // 2)
    return np.ascontiguousarray(image[top: top + ch, left: left + cw])


def rotated(image: np.ndarray, degrees: float = 8) -> np.ndarray:
    return np.asarray(Image.fromarray(image).rotate(degrees, resample=Image.BILINEAR))


def enhanced(image: np.ndarray, kind: str, factor: float) -> np.ndarray:
    return np.asarray(getattr(ImageEnhance, kind)(Image.fromarray(image)).enhance(factor))


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BICUBIC))


def grey(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).convert("L").convert("RGB"))


def blurred(image: np.ndarray, radius: float = 1.0) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def with_text(image: np.ndarray) -> np.ndarray:
    """A caption drawn over the bottom of the picture, as photo apps and memes add."""
    im = Image.fromarray(image)
    ImageDraw.Draw(im).text((1, im.height - 11), "(c)2026", fill=(255, 255, 255))
    return np.asarray(im)


def with_logo(image: np.ndarray) -> np.ndarray:
    """A small white-framed red badge in the top-right corner (a sixth of the side)."""
    out = image.copy()
    side = max(4, image.shape[1] // 6)
    out[1: 1 + side, -1 - side: -1] = (255, 255, 255)
    out[2: side, -side: -2] = (220, 30, 30)
    return out


ALTERATIONS = {
    "the same image": lambda x: x,
    "re-saved as JPEG, quality 75": jpeg,
    "re-saved as JPEG, quality 30": lambda x: jpeg(x, 30),
    "moved 1 pixel": moved,
    "mirrored": lambda x: np.ascontiguousarray(x[:, ::-1]),
    "twice as large (bicubic)": lambda x: resized(x, 2),
    "half as large": lambda x: resized(x, 0.5),
    "10% brighter": lambda x: np.clip(x.astype(np.float32) * 1.1, 0, 255).astype(np.uint8),
    "30% darker": lambda x: enhanced(x, "Brightness", 0.7),
    "more contrast (x1.4)": lambda x: enhanced(x, "Contrast", 1.4),
    "more saturated (x1.6)": lambda x: enhanced(x, "Color", 1.6),
    "grey": grey,
    "blurred (radius 1)": blurred,
    "centre 80% cropped": cropped,
    "corner 90% cropped": lambda x: cropped(x, 0.9, corner=True),
    "rotated 8 degrees": rotated,
    "text over it": with_text,
    "a logo in a corner": with_logo,
    "cropped 90% + JPEG 75": lambda x: jpeg(cropped(x, 0.9)),
    "mirrored + 20% brighter": lambda x: enhanced(np.ascontiguousarray(x[:, ::-1]), "Brightness", 1.2),
    "grey + blurred": lambda x: blurred(grey(x)),
    "rotated 5 degrees + text": lambda x: with_text(rotated(x, 5)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("features", nargs="+")
    parser.add_argument("--index", type=int, default=10_000, help="test images indexed (default: all 10,000)")
    parser.add_argument("--queries", type=int, default=1000, help="of those, altered and searched (default 1,000)")
    parser.add_argument("--copies", action="store_true",
                        help="index a second time with effnet-copies, as `cbir index --copies` (copies first)")
    parser.add_argument("--set", dest="options", type=parse_option, action="append", default=[],
                        metavar="KEY=VALUE", help="change an extractor option, e.g. index_tta=true (repeatable)")
    args = parser.parse_args()
    indexed = load_cifar10("test", progress=False).stratified(args.index)
    sample = indexed.stratified(args.queries, seed=1)
    options = ", ".join(f"{k}={v}" for k, v in args.options)
    print(f"{len(indexed)} indexed test images, {len(sample)} of them altered as queries"
          + (f"; options {options}" if options else "") + "\n")
    print("| features | query | first | in the first 10 |\n|---|---|---|---|")
    for name in args.features:
        started = time.perf_counter()
        engine = Engine.build(indexed, make_extractor(name, options=dict(args.options)), progress=False,
                              copies=make_extractor("effnet-copies") if args.copies else None)
        built = time.perf_counter() - started
        for alteration, alter in ALTERATIONS.items():
            results = engine.search([alter(image) for image in sample.images], k=10)
            ranks = [[hit.id for hit in result.hits] for result in results]
            first = np.mean([row[0] == id_ for row, id_ in zip(ranks, sample.ids)])
            top10 = np.mean([id_ in row for row, id_ in zip(ranks, sample.ids)])
            print(f"| `{name}` | {alteration} | {first:.3f} | {top10:.3f} |", flush=True)
        print(f"\n(`{name}`: built in {built:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
