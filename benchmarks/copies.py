"""How often an indexed image, given as a query as it is or altered, finds itself first: what a user looking for the
copies of a picture in their own collection expects.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/copies.py cnn cnn-supervised [--set index_tta=true] [--copies] \
        [--index 10000 --queries 1000] [--plot docs/copies-first.png]

Each engine indexes CIFAR-10 test images (which the shipped network never trained on, as it never saw a user's own)
with `Engine.build`; a stratified sample of them is altered and searched with `Engine.search`. Prints, per engine
and alteration, the share of the queries that find their original first and within the first 10, and how many
training images (not indexed: no copy of theirs is, but for CIFAR-10's own near duplicates) are given a copy first;
`--plot` draws it, beside one altered query per alteration and what the (first) engine returns first for it.
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
from cbir.plots import saved_figure


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
    parser.add_argument("--plot", metavar="PNG", help="draw the shares per alteration, with an example of each")
    args = parser.parse_args()
    indexed = load_cifar10("test", progress=False).stratified(args.index)
    sample = indexed.stratified(args.queries, seed=1)
    options = ", ".join(f"{k}={v}" for k, v in args.options)
    print(f"{len(indexed)} indexed test images, {len(sample)} of them altered as queries"
          + (f"; options {options}" if options else "") + "\n")
    print("| features | query | first | in the first 10 |\n|---|---|---|---|")
    shares, examples = {}, []  # per features: per alteration (first, in the first 10); (query, its first hit)
    position = {id_: i for i, id_ in enumerate(indexed.ids)}
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
            shares.setdefault(name, {})[alteration] = (first, top10)
            if name == args.features[0]:  # the example: a sample image of its own for each alteration
                j = len(examples) * len(sample) // len(ALTERATIONS)
                examples.append((alter(sample.images[j]), indexed.images[position[ranks[j][0]]],
                                 ranks[j][0] == sample.ids[j]))
            print(f"| `{name}` | {alteration} | {first:.3f} | {top10:.3f} |", flush=True)
        others = load_cifar10("train", progress=False).stratified(args.queries, seed=1)  # none of them indexed
        given = np.mean([r.hits[0].copy is not None for r in engine.search(list(others.images), k=10) if r.hits])
        print(f"\n(`{name}`: built in {built:.0f} s; {len(others)} training images, not indexed, given a copy first: "
              f"{given:.1%})\n", flush=True)
    if args.plot:
        plot(shares, examples, args.plot, copies=args.copies)


def plot(shares: dict[str, dict[str, tuple[float, float]]], examples: list, path: str, copies: bool) -> None:
    """Per alteration (a row): an altered query, the first hit it gets (framed green when it is the original), and
    the share of queries finding their original first (dark) and within ten (light), per features."""
    from PIL import Image

    names = list(next(iter(shares.values())))
    with saved_figure(path, 1, 2, figsize=(10, 0.42 * len(names) + 1.2), dpi=110,
                      gridspec_kw={"width_ratios": [1, 5]}) as (fig, (pictures, bars)):
        rows = []
        for query, hit, right in examples:
            cells = [np.asarray(Image.fromarray(np.asarray(image)).resize((32, 32))) for image in (query, hit)]
            framed = np.pad(cells[1], ((2, 2), (2, 2), (0, 0)), constant_values=0)
            framed[:2], framed[-2:], framed[:, :2], framed[:, -2:] = [(40, 160, 60) if right else (200, 40, 40)] * 4
            rows.append(np.hstack([np.pad(cells[0], ((2, 2), (2, 6), (0, 0)), constant_values=255), framed]))
        pictures.imshow(np.vstack(rows), extent=(0, 2, len(rows), 0), interpolation="nearest")
        pictures.set(xticks=[0.5, 1.5], yticks=[])
        pictures.set_xticklabels(["query", "first hit"], fontsize=8)
        height = 0.8 / len(shares)
        for i, (name, values) in enumerate(shares.items()):
            y = np.arange(len(names)) + 0.1 + i * height
            label = f"{name}{' --copies' if copies else ''}"
            bars.barh(y, [values[n][1] for n in names], height, align="edge", color=f"C{i}", alpha=0.35,
                      label=f"{label}: within ten")
            bars.barh(y, [values[n][0] for n in names], height, align="edge", color=f"C{i}", label=f"{label}: first")
        bars.set_yticks(np.arange(len(names)) + 0.5, names, fontsize=8)
        bars.set(ylim=(len(names), 0), xlim=(0, 1), xlabel="share of the altered queries finding their original")
        bars.axvline(0.95, color="grey", linestyle="--", linewidth=1)
        bars.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.04 - 0.9 / len(names)), ncol=2)
        bars.grid(axis="x", alpha=0.3)


if __name__ == "__main__":
    main()
