"""A `cbir index` stopped half-way and run again: how long the second run takes against a whole one.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/resume.py --features cnn

Times a whole run, then starts the same command in a fresh folder, kills it (SIGKILL) once half of the
batches are kept in `.partial/`, runs it again and times that; checks the two engines hold the same vectors.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="cnn")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    command = [sys.executable, "-m", "cbir.cli", "index", "--dataset", "cifar10", "--features", args.features]
    try:
        started = time.perf_counter()
        subprocess.run([*command, "--out", str(work / "whole")], check=True, capture_output=True)
        whole = time.perf_counter() - started
        stopped = subprocess.Popen([*command, "--out", str(work / "resumed")], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while len(list((work / "resumed" / ".partial").glob("batch-*.npz"))) < 25:  # 25 of 49 batches
            time.sleep(0.2)
        stopped.send_signal(signal.SIGKILL)
        stopped.wait()
        kept = len(list((work / "resumed" / ".partial").glob("batch-*.npz")))
        started = time.perf_counter()
        subprocess.run([*command, "--out", str(work / "resumed")], check=True, capture_output=True)
        again = time.perf_counter() - started
        (a_ids, a), (b_ids, b) = Engine.load(work / "whole").index.vectors(), Engine.load(work / "resumed").index.vectors()
        same = a_ids == b_ids and np.array_equal(a, b)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.features} on CIFAR-10's 50,000 ({os.cpu_count()} CPUs): whole run {whole:.1f} s; killed with "
          f"{kept} of 49 batches kept, run again {again:.1f} s = {100 * again / whole:.0f}% of the whole; "
          f"same vectors: {same}")


if __name__ == "__main__":
    main()
