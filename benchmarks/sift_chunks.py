"""How the chunk size of parallel SIFT description sets its speed (the BoVW features' main cost).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/sift_chunks.py [--images 10000] [--chunks 2000 500] [--repeats 2]

Describes the first `--images` CIFAR-10 training images with `sift-bovw`'s dense RootSIFT, in one
worker process per core, once per chunk size and repeat (alternating), and prints images/s. The
chunks are as large as allowed in a number the workers divide evenly (`balanced_chunk`); before
2026-11-28 they were as large as allowed, and 5 chunks for 2 workers left one idle at the end.
"""

from __future__ import annotations

import argparse
import os
import time

from cbir.datasets import load_cifar10
from cbir.features.bovw import SiftBoVW
from cbir.features.local import balanced_chunk, describe_parallel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--chunks", type=int, nargs="+", default=[2000, 500])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    images = load_cifar10("train", progress=False).images[: args.images]
    config, workers = SiftBoVW().sift, os.cpu_count() or 1
    seconds = {chunk: [] for chunk in args.chunks}
    for _ in range(args.repeats):
        for chunk in args.chunks:
            started = time.perf_counter()
            describe_parallel(images, config, chunk=chunk)
            seconds[chunk].append(time.perf_counter() - started)
    print(f"{len(images)} images, {workers} workers\n")
    print("| chunk (most) | chunks x images | seconds (each run) | images/s (best) |\n|---|---|---|---|")
    for chunk, runs in seconds.items():
        used = balanced_chunk(len(images), workers, chunk)
        print(f"| {chunk} | {-(-len(images) // used)} x {used} | {', '.join(f'{s:.1f}' for s in runs)} | "
              f"{len(images) / min(runs):.0f} |")


if __name__ == "__main__":
    main()
