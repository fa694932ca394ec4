"""How right are the photos that may belong in an album? On a labelled engine, albums of images drawn from one class
and from three classes (an album of one dog; of one trip: beaches, streets and dinners); of the k images suggested
for each, the share of the album's classes (precision at k), ranked by the mean of an image's m best similarities
to the album's images (m = 1: its best one alone; m = the album's size: the same ranking as the album's mean), exactly
(every image compared with every one of the album's), and as `Engine.search_album` ranks them. 50 albums each, k=20.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/album_suggestions.py engines/cifar10-effnet-10k [--size 10]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from cbir import Engine
from cbir.albums import BEST_OF


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    parser.add_argument("--size", type=int, default=10, help="images an album holds (default 10)")
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--albums", type=int, default=50)
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    labels = engine.metadata.labels()
    ids = list(labels)
    vectors, label = engine.index.vectors_of(ids), np.array([labels[id_] for id_ in ids])
    classes, rng = sorted(set(label)), np.random.default_rng(0)
    print(f"{args.engine} ({len(engine):,} images, {engine.extractor.name}), albums of {args.size}, P@{args.k}:")
    for kinds in (1, 3):
        found: dict[str, list[float]] = {}
        for n in range(args.albums):
            chosen = list(rng.choice(classes, kinds, replace=False))
            members = np.concatenate([rng.choice(np.flatnonzero(label == c), len(part), replace=False)
                                      for c, part in zip(chosen, np.array_split(np.arange(args.size), kinds))])
            similar = np.sort(vectors @ vectors[members].T, axis=1)
            similar[members] = -9.0  # the album's own are not suggested
            for m in (1, 2, 3, 5, args.size):
                top = np.argsort(-similar[:, -m:].mean(axis=1), kind="stable")[:args.k]
                found.setdefault(f"{m} best" if m < args.size else "all (the mean)", []).append(
                    np.isin(label[top], chosen).mean())
            engine.albums.add(f"album {kinds}-{n}", [ids[i] for i in members])
            hits = engine.search_album(f"album {kinds}-{n}", args.k).hits
            found.setdefault(f"search_album ({BEST_OF} best)", []).append(
                np.mean([labels[h.id] in chosen for h in hits]))
        print(f"  {kinds} class{'es' * (kinds > 1)}: " + ", ".join(f"{how} {statistics.mean(precision):.3f}"
                                                                for how, precision in found.items()))


if __name__ == "__main__":
    main()
