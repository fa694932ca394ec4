"""Two `cbir add` at once on one engine, started together, N times: does every image land?

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/concurrent_add.py --features cnn --runs 10

Each run indexes 1,000 CIFAR-10 training images, then two processes add 50 other images each
at the same moment; the engine must hold 1,100 images afterwards, and both must exit 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cbir import Engine


def extract(zf: zipfile.ZipFile, names: list[str], root: Path) -> None:
    for name in names:
        target = root / Path(name).relative_to("cifar10/train")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zf.read(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="hog-gch")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    cbir = [sys.executable, "-m", "cbir.cli"]
    with zipfile.ZipFile(os.environ["CBIR_CIFAR10"]) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("cifar10/train/") and n.endswith(".jpg"))
        extract(zf, names[:1000:], work / "base")
        extract(zf, names[1000:1050], work / "first")
        extract(zf, names[1050:1100], work / "second")
    results = []
    try:
        for run in range(args.runs):
            engine = work / f"engine-{run}"
            subprocess.run([*cbir, "index", "--dataset", str(work / "base"), "--features", args.features,
                            "--out", str(engine)], check=True, capture_output=True)
            adds = [subprocess.Popen([*cbir, "add", str(engine), "--dataset", str(work / part)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for part in ("first", "second")]
            codes = [add.wait() for add in adds]
            waited = sum("waiting for another cbir" in add.stderr.read() for add in adds)
            count = len(Engine.load(engine))
            results.append((codes, count, waited))
            print(f"run {run + 1}: exit codes {codes}, {count} images, {waited} of 2 waited for the other",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    good = sum(codes == [0, 0] and count == 1100 for codes, count, _ in results)
    print(f"\n{good} of {len(results)} runs kept both adds ({args.features})")


if __name__ == "__main__":
    main()
