"""A `cbir index` stopped half-way and run again: how long the second run takes against a whole one.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/resume.py --features cnn [--copies]

Times a whole run, then starts the same command in a fresh folder, kills it (SIGKILL) when half the whole run's
time has passed, runs it again and times that; checks the two engines (and their copies) hold the same vectors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cbir import Engine
from cbir.resume import COPIES_FOLDER, FOLDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="cnn")
    parser.add_argument("--copies", action="store_true", help="index with --copies (the default engine)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    command = [sys.executable, "-m", "cbir.cli", "index", "--dataset", "cifar10", "--features", args.features,
               *(["--copies"] if args.copies else [])]
    try:
        started = time.perf_counter()
        subprocess.run([*command, "--out", str(work / "whole")], check=True, capture_output=True)
        whole = time.perf_counter() - started
        stopped = subprocess.Popen([*command, "--out", str(work / "resumed")], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(whole / 2)
        stopped.send_signal(signal.SIGKILL)
        stopped.wait()
        kept = {folder: len(list((work / "resumed" / folder).glob("batch-*.npz")))
                for folder in (FOLDER, COPIES_FOLDER)}
        started = time.perf_counter()
        subprocess.run([*command, "--out", str(work / "resumed")], check=True, capture_output=True)
        again = time.perf_counter() - started
        whole_engine, resumed = Engine.load(work / "whole"), Engine.load(work / "resumed")
        same = all(_same(a, b) for a, b in [(whole_engine, resumed), (whole_engine.copies, resumed.copies)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.features}{' --copies' * args.copies} on CIFAR-10's 50,000 ({os.cpu_count()} CPUs): whole run "
          f"{whole:.1f} s; killed half-way with batches kept {kept}, run again {again:.1f} s = "
          f"{100 * again / whole:.0f}% of the whole; same vectors: {same}")


def _same(a: Engine | None, b: Engine | None) -> bool:
    if a is None or b is None:
        return a is b
    (a_ids, a_vectors), (b_ids, b_vectors) = a.index.vectors(), b.index.vectors()
    return a_ids == b_ids and np.array_equal(a_vectors, b_vectors)


if __name__ == "__main__":
    main()
