"""Decoded-pixel cache: a Dataset saved once as memory-mapped .npy files, reused while its source is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cbir.config import cache_dir
from cbir.datasets.collection import Dataset
from cbir.datasets.listing import collection_files

CACHE_FORMAT = 2  # 2: one entry per source and options, holding its state


def source_fingerprint(path: Path) -> list:
    """What identifies a source's content cheaply: size and mtime of the file, or of every file of a folder's
    collection (`collection_files`)."""
    path = Path(path).resolve()
    if path.is_file():
        stat = path.stat()
        return [str(path), stat.st_size, stat.st_mtime_ns]
    entries = []
    for file in collection_files(path):
        try:
            stat = os.stat(file)
        except OSError:  # a dangling symlink, or a file gone meanwhile: its own stat still tells a change
            stat = os.lstat(file) if os.path.lexists(file) else None
        entries.append((os.path.relpath(file, path), stat and stat.st_size, stat and stat.st_mtime_ns))
    entries.sort()
    return [str(path), hashlib.sha256(json.dumps(entries).encode()).hexdigest()]


def cached_dataset(source: str | Path, options: list, build: Callable[[], Dataset]) -> Dataset:
    """The Dataset read from `source` (a folder or an archive) with `options` (anything JSON-serialisable): from the
    cache while the source is as it was (`source_fingerprint`), else built and kept in place of the earlier one, so
    that the cache holds one copy per source and options."""
    source = Path(source).resolve()
    folder = cache_dir("decoded") / _slot(source, options)
    state = source_fingerprint(source)[1:]
    if meta_of(folder).get("state") == state:
        try:
            return _read(folder)
        except (OSError, ValueError, KeyError):
            pass
    dataset = build()
    _write(dataset, folder, {"source": str(source), "options": options, "state": state})
    return _read(folder)


def _slot(source: Path, options: list) -> str:
    return hashlib.sha256(json.dumps([CACHE_FORMAT, str(source), *options]).encode()).hexdigest()[:24]


def meta_of(folder: Path) -> dict:
    """An entry's meta.json; empty when it has none (or an unreadable one)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _write(dataset: Dataset, folder: Path, kept: dict) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        shapes = np.array([np.shape(im) for im in dataset.images], dtype=np.int64).reshape(-1, 3)
        pixels = np.lib.format.open_memmap(tmp / "pixels.npy", mode="w+", dtype=np.uint8,
                                           shape=(int(np.prod(shapes, axis=1).sum()),))
        offset = 0
        for im in dataset.images:
            flat = np.asarray(im, dtype=np.uint8).reshape(-1)
            pixels[offset: offset + flat.size] = flat
            offset += flat.size
        pixels.flush()
        del pixels
        np.save(tmp / "shapes.npy", shapes)
        meta = {**kept, "ids": dataset.ids, "labels": dataset.labels, "paths": dataset.paths,
                "splits": dataset.splits, "name": dataset.name, "skipped": dataset.skipped}
        (tmp / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read(folder: Path) -> Dataset:
    meta = json.loads((folder / "meta.json").read_text())
    shapes = np.load(folder / "shapes.npy")
    pixels = np.load(folder / "pixels.npy", mmap_mode="r")
    if len(shapes) and (shapes == shapes[0]).all():
        images = pixels.reshape(len(shapes), *shapes[0])
    else:
        ends = np.cumsum(np.prod(shapes, axis=1))
        starts = ends - np.prod(shapes, axis=1)
        images = [pixels[s:e].reshape(shape) for s, e, shape in zip(starts, ends, shapes)]
    return Dataset(meta["ids"], images, meta["labels"], meta["paths"], meta["splits"], meta["name"], meta["skipped"])
