"""How often an indexed image, given as a query as it is or altered, finds itself first: what a user looking for the
copies of a picture in their own collection expects.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/copies.py cnn cnn-supervised [--set index_tta=true] [--index 10000 --queries 1000]

Each engine indexes CIFAR-10 test images (which the shipped network never trained on, as it never saw a user's own)
with `Engine.build`; a stratified sample of them is altered and searched with `Engine.search`. Prints, per engine
and alteration, the share of the queries that find their original first and within the first 10.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image

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


ALTERATIONS = {
    "the same image": lambda x: x,
    "re-saved as JPEG, quality 75": jpeg,
    "moved 1 pixel": moved,
    "mirrored": lambda x: np.ascontiguousarray(x[:, ::-1]),
    "twice as large (bicubic)": lambda x: np.asarray(Image.fromarray(x).resize((64, 64), Image.BICUBIC)),
    "10% brighter": lambda x: np.clip(x.astype(np.float32) * 1.1, 0, 255).astype(np.uint8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("features", nargs="+")
    parser.add_argument("--index", type=int, default=10_000, help="test images indexed (default: all 10,000)")
    parser.add_argument("--queries", type=int, default=1000, help="of those, altered and searched (default 1,000)")
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
        engine = Engine.build(indexed, make_extractor(name, options=dict(args.options)), progress=False)
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
