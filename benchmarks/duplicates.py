"""`cbir duplicates` on CIFAR-10 with planted copies: precision and recall of the pairs it groups, per threshold and
per alteration, and the near duplicates CIFAR-10's test images have among its training images.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/duplicates.py [--features effnet] [--index 10000 --planted 1000] [--cifar-test]

A stratified sample of training images is indexed with one altered copy of `--planted` of them (the alterations
of benchmarks/copies.py in turn). A pair the groups join is right when it is an original and its copy, wrong when
it joins a copy to anything else. Pairs of two CIFAR-10 images are counted apart: the benchmark cannot judge them
(CIFAR-10 holds near duplicates of its own); "strict precision" counts them as wrong too.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from copies import ALTERATIONS
from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.datasets.collection import Dataset
from cbir.duplicates import find_duplicates
from cbir.features import make_extractor, parse_option

THRESHOLDS = (0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96)


def planted(indexed: Dataset, count: int, folder: Path) -> tuple[Dataset, dict[str, tuple[str, str]]]:
    """`indexed` plus altered copies of `count` of its images, written to `folder` as PNG (pixel verification reads
    them); copy id -> (original id, alteration)."""
    originals = indexed.stratified(count, seed=2)
    names = [n for n in ALTERATIONS if n != "the same image"]  # exact copies are found by their pixels
    copies, paths, truth = [], [], {}
    for i, (id_, image) in enumerate(zip(originals.ids, originals.images)):
        name = names[i % len(names)]
        copies.append(ALTERATIONS[name](np.asarray(image)))
        paths.append(str(folder / f"{i}.png"))
        Image.fromarray(copies[-1]).save(paths[-1])
        truth[f"planted/{id_}"] = (id_, name)
    images = list(indexed.images) + copies
    n = len(copies)
    return Dataset(list(indexed.ids) + list(truth), images, list(indexed.labels) + [None] * n,
                   list(indexed.paths) + paths, list(indexed.splits) + [None] * n), truth


def scores(groups, truth: dict[str, tuple[str, str]]) -> tuple[float, float, float, dict[str, float], list]:
    """(precision, strict precision, recall, recall per alteration, pairs of two CIFAR-10 images) of the pairs the
    groups join."""
    joined = {frozenset(pair) for g in groups for pair in itertools.combinations([m.id for m in g.members], 2)}
    right = {frozenset((copy, original)) for copy, (original, _) in truth.items()}
    found = joined & right
    unjudged = sorted(tuple(sorted(p)) for p in joined if not p & truth.keys())
    per = {}
    for copy, (original, name) in truth.items():
        per.setdefault(name, []).append(frozenset((copy, original)) in found)
    judged = len(joined) - len(unjudged)
    return (len(found) / max(judged, 1), len(found) / max(len(joined), 1), len(found) / len(right),
            {k: float(np.mean(v)) for k, v in per.items()}, unjudged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="effnet")
    parser.add_argument("--set", dest="options", type=parse_option, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--index", type=int, default=10_000, help="training images indexed (default 10,000)")
    parser.add_argument("--planted", type=int, default=1000, help="of those, altered copies added (default 1,000)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=THRESHOLDS)
    parser.add_argument("--cifar-test", action="store_true",
                        help="also count CIFAR-10 test images with a near duplicate among the indexed ones")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    data, truth = planted(load_cifar10("train", progress=False).stratified(args.index), args.planted, Path(folder.name))
    extractor = make_extractor(args.features, options=dict(args.options))
    started = time.perf_counter()
    engine = Engine.build(data, extractor, progress=True)
    print(f"{len(data)} images ({args.planted} planted copies) described with {args.features} in "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| threshold | precision | recall | strict precision | CIFAR-10 pairs | grouping (s) |")
    print("|---|---|---|---|---|---|")
    per_threshold = {}
    for threshold in args.thresholds:
        started = time.perf_counter()
        groups = find_duplicates(engine, threshold, progress=True)
        took = time.perf_counter() - started
        precision, strict, recall, per, unjudged = scores(groups, truth)
        per_threshold[threshold] = (per, unjudged)
        print(f"| {threshold} | {precision:.4f} | {recall:.4f} | {strict:.4f} | {len(unjudged)} | {took:.1f} |",
              flush=True)
    default = engine.extractor.duplicate_threshold
    if default in per_threshold:
        per, unjudged = per_threshold[default]
        print(f"\nrecall per alteration at the default threshold {default}:\n\n| alteration | recall |\n|---|---|")
        for name, value in per.items():
            print(f"| {name} | {value:.3f} |")
        print(f"\n{len(unjudged)} pairs of two CIFAR-10 images joined at {default}, e.g.: {unjudged[:10]}")
    if args.cifar_test:
        test = load_cifar10("test", progress=False)
        threshold = default or args.thresholds[-1]
        results = engine.search(test.images, k=1, min_score=threshold)
        found = [(q, r.hits[0].id, r.hits[0].score) for q, r in zip(test.ids, results) if r.hits]
        print(f"\n{len(found)} of {len(test)} CIFAR-10 test images ({len(found) / len(test):.1%}) have an indexed "
              f"training image at similarity {threshold} or more; e.g. {found[:10]}")


if __name__ == "__main__":
    main()
