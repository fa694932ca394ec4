"""The memory `cbir index` and `cbir add` take to read a folder of photos, by its size: the process's peak resident
memory, and of it the anonymous part (what the process holds itself; the rest is file pages mapped from the decoded
pixels on disk, which the system takes back when it needs them).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/folder_memory.py [--photos 500 2000] [--features hog-gch]

Each size N: N photo-like 1600x1200 JPEGs written into a temporary folder and `cbir index` of them into a new engine
(with a cache folder of its own, so that it decodes them), then N more written beside them and `cbir add`. Each
command runs in a process of its own, sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CBIR = str(Path(sys.executable).with_name("cbir"))


def write_photos(folder: Path, first: int, last: int) -> None:
    """Photos numbered first..last-1: smooth colour fields with a tint of their own (each a different picture)."""
    rng = np.random.default_rng(first)
    for i in range(first, last):
        field = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize((1600, 1200),
                                                                                         Image.Resampling.BICUBIC)
        field.save(folder / f"photo-{i:05d}.jpg", quality=85)


def peak_memory(command: list[str], env: dict) -> tuple[float, float, float]:
    """(seconds, peak resident MiB, peak anonymous MiB) of a command, sampled every 20 ms."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = anon = 0.0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            break
        fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith(("VmRSS",
                                                                                                           "RssAnon"))}
        rss = max(rss, int(fields.get("VmRSS", 0)) / 1024)
        anon = max(anon, int(fields.get("RssAnon", 0)) / 1024)
        time.sleep(0.02)
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - started, rss, anon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--features", default="hog-gch")
    args = parser.parse_args()
    print("| photos | command | s | peak resident MiB | of it anonymous MiB |\n|---|---|---|---|---|")
    for count in args.photos:
        with tempfile.TemporaryDirectory() as tmp:
            photos, home, engine = Path(tmp, "photos"), Path(tmp, "home"), Path(tmp, "engine")
            photos.mkdir()
            env = {**os.environ, "CBIR_HOME": str(home)}
            write_photos(photos, 0, count)
            for command, last in ((["index", "--dataset", str(photos), "--features", args.features, "--out",
                                     str(engine)], count), (["add", str(engine), "--dataset", str(photos)], 2 * count)):
                write_photos(photos, count, last)
                timed = peak_memory([CBIR, *command], env)
                print(f"| {count:,} | {command[0]} | {timed[0]:.1f} | {timed[1]:.0f} | {timed[2]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
