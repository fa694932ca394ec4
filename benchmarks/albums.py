"""How long albums take on a served engine: putting images in one from the page (`SearchService.change_album`: the
albums written as a new version of the engine folder, its other files linked), looking through one, and finding the
photos that may belong in albums of 10, 100 and 1,000 images (`Engine.search_album`, k=20). Median of 5 each
(looking through: once, its filter worked out).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/albums.py engines/cifar10-cnn

The engine folder is copied into a temporary folder; each album holds images drawn at random.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cbir.filters import Filter
from cbir.web import create_app


def median_ms(run, times: int = 5) -> float:
    took = []
    for n in range(times):
        started = time.perf_counter()
        run(n)
        took.append(time.perf_counter() - started)
    return 1000 * statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "engine"
        shutil.copytree(args.engine, path, ignore=shutil.ignore_patterns(".lock"))
        service = create_app({"ENGINES": {"engine": str(path)}}).extensions["cbir"]
        ids = np.random.default_rng(0).permutation(list(service.engines["engine"].metadata.labels()))
        putting = median_ms(lambda n: service.change_album("engine", "Put", add=list(ids[50 * n: 50 * (n + 1)])))
        found = {}
        for size in (10, 100, 1000):
            service.change_album("engine", f"Of {size}", add=list(ids[:size]))
            engine = service.engines["engine"]
            found[size] = median_ms(lambda n: engine.search_album(f"Of {size}", k=20))
        engine = service.engines["engine"]
        browsing = median_ms(lambda n: engine.browse(20, Filter.of(album="Of 1000")), times=1)  # its filter made
        service.engines["engine"].stop_micro_batching()
    print(f"{args.engine} ({len(engine):,} images, {engine.extractor.name}): putting 50 images in an album "
          f"{putting:.0f} ms (the albums written, the rest linked); looking through an album of 1,000 "
          f"{browsing:.0f} ms the first time; the photos that may belong in an album of "
          + ", ".join(f"{size:,}: {ms:.0f} ms" for size, ms in found.items()))


if __name__ == "__main__":
    main()
