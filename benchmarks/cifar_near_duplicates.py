"""CIFAR-10's own near duplicates: test images whose nearest training image is at the features' duplicate threshold or
more, counted per class, with a picture of the closest pairs.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/cifar_near_duplicates.py [--features effnet-copies] \
        [--out docs/cifar10-near-duplicates.png]

Barz & Denzler (2020, "Do we train on test data?") found near duplicates in the training set for ~3.3% of
CIFAR-10's test images, by hand.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from PIL import Image

from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.features import make_extractor

SHOWN = 24  # pairs in the picture, from the most similar down
SCALE = 3  # each 32x32 image drawn 96x96


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="effnet-copies")
    parser.add_argument("--out", help="write the closest pairs there as a PNG (test image above, training image below)")
    args = parser.parse_args()
    train, test = load_cifar10("train", progress=False), load_cifar10("test", progress=False)
    engine = Engine.build(train, make_extractor(args.features), progress=True)
    threshold = engine.extractor.duplicate_threshold
    found = [(r.hits[0].score, q, r.hits[0].id) for q, r in
             zip(test.ids, engine.search(test.images, k=1, min_score=threshold)) if r.hits]
    found.sort(reverse=True)
    labels = dict(zip(test.ids, test.labels))
    same = sum(labels[q] == engine.metadata.label(t) for _, q, t in found)
    print(f"{len(found)} of {len(test)} test images ({len(found) / len(test):.1%}) have a training image at "
          f"{args.features} similarity {threshold} or more; {same} of them of the same class")
    print("per class:", dict(sorted(Counter(labels[q] for _, q, _ in found).items())))
    if args.out and found:
        pixels = dict(zip(test.ids, test.images)) | dict(zip(train.ids, train.images))
        columns = [np.concatenate([np.asarray(pixels[q]), np.asarray(pixels[t])]) for _, q, t in found[:SHOWN]]
        strip = np.concatenate([np.pad(c, ((0, 0), (0, 2), (0, 0)), constant_values=255) for c in columns], axis=1)
        Image.fromarray(strip).resize((strip.shape[1] * SCALE, strip.shape[0] * SCALE), Image.NEAREST).save(args.out)
        print(f"the {min(SHOWN, len(found))} closest pairs: {args.out}")


if __name__ == "__main__":
    main()
