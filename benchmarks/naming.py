"""How long naming a person on the page takes: the served engine's faces changed and kept in its folder as a new
version whose other files are linked from the one before (`SearchService.name_person`), against what it would cost
to load the engine, change it and save all of it (`Engine.editing` + `save`). Median of 5 each.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/naming.py engines/cifar10-cnn [--faces 2000]

The engine folder is copied into a temporary folder; one without faces is given `--faces` faces of random
descriptors around `--faces`/100 people, one face an image.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cbir import Engine
from cbir.faces import DESCRIPTOR, Faces
from cbir.web import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    parser.add_argument("--faces", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "engine"
        shutil.copytree(args.engine, path, ignore=shutil.ignore_patterns(".lock"))
        engine = Engine.load(path)
        if engine.faces is None:
            rng = np.random.default_rng(0)
            people = rng.normal(size=(args.faces // 100, DESCRIPTOR)).astype(np.float32) * 3
            faces = Faces()
            for n, id_ in enumerate(list(engine.metadata.labels())[:args.faces]):
                faces.add(id_, np.array([[0.1, 0.1, 0.3, 0.3]]), people[n % len(people)] + rng.normal(0, 0.01, 128))
            faces.group()
            engine.faces = faces
            engine.save(path)
        service = create_app({"ENGINES": {"engine": str(path)}}).extensions["cbir"]
        linked, whole = [], []
        for n in range(5):
            started = time.perf_counter()
            service.name_person("engine", "1", f"Anna {n}")
            linked.append(time.perf_counter() - started)
        for n in range(5):
            started = time.perf_counter()
            with Engine.editing(path) as edited:
                edited.name_person("1", f"Anna {n}")
                edited.save(path)
            whole.append(time.perf_counter() - started)
        service.engines["engine"].stop_micro_batching()
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    print(f"{args.engine} ({len(engine):,} images, {size:.0f} MB, {len(engine.faces):,} faces): naming a person "
          f"{1000 * statistics.median(linked):.0f} ms (the faces written, the rest linked; the page's collection "
          f"described again included); loading, changing and saving the whole engine "
          f"{1000 * statistics.median(whole):.0f} ms")


if __name__ == "__main__":
    main()
