"""What does indexing a video cost? A 1080p MP4 of N seconds (MPEG-4 part 2, what OpenCV's writer makes without
extra codecs; a frame moving each step so that no two are alike) written to a temporary folder, then its still a
third of the way in read at the size collections are read at (256 pixels), several times.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/video_still.py --seconds 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import cv2

    from cbir.datasets.video import video_frame

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30, (1920, 1080))
        base = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
        for n in range(30 * args.seconds):
            writer.write(np.roll(base, 4 * n, axis=1))
        writer.release()
        print(f"{args.seconds} s of 1080p, {os.path.getsize(path) / 1e6:.1f} MB")
        for _ in range(args.runs):
            started = time.perf_counter()
            still = video_frame(path, 256)
            print(f"its still, {still.shape[1]}x{still.shape[0]}: {1000 * (time.perf_counter() - started):.0f} ms")


if __name__ == "__main__":
    main()
