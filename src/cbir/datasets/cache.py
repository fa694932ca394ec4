"""Decoded-pixel cache: a Dataset saved once, memory-mapped, reused while its source is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import numpy as np

from cbir.config import cache_dir, cache_limit
from cbir.datasets.collection import Dataset
from cbir.datasets.listing import collection_files
from cbir.datasets.spool import PixelSpool, mapped

PIXELS = "pixels.bin"
CACHE_FORMAT = 3  # 2: one entry per source and options, holding its state; 3: pixels written as they are read


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


def cached_dataset(source: str | Path, options: list, build: Callable[[PixelSpool], Dataset]) -> Dataset:
    """The Dataset read from `source` (a folder or an archive) with `options` (anything JSON-serialisable): from the
    cache while the source is as it was (`source_fingerprint`), else built and kept in place of the earlier one, so
    that the cache holds one copy per source and options, and at most `cache_limit()` bytes of them all (those read
    least recently go first; a Dataset larger than that is not kept). `build(spool)` appends every image it reads to
    the spool, in the order of the Dataset it returns: they are written to the cache as they are read."""
    source, limit = Path(source).resolve(), cache_limit()
    folder = cache_dir("decoded") / _slot(source, options)
    state = source_fingerprint(source)[1:]
    if meta_of(folder).get("state") == state and meta_of(folder).get("format") == CACHE_FORMAT:
        try:
            return _read(folder)
        except (OSError, ValueError, KeyError):
            pass
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        spool = PixelSpool.at(tmp / PIXELS)
        try:
            dataset = build(spool)
        finally:
            spool.close()
        if len(spool) != len(dataset):
            raise ValueError(f"{len(spool)} images spooled for a dataset of {len(dataset)}")
        size = (tmp / PIXELS).stat().st_size
        if size > limit:  # its images stay readable: mapped from a file removed with its folder below
            if limit:  # a cache of nothing asked for says nothing
                warnings.warn(f"the decoded pixels of {source} ({size / 1e9:.2f} GB) are more than the cache "
                              f"folder keeps (CBIR_CACHE_GB={limit / 1e9:g}): not kept, the next reading decodes it "
                              f"again", stacklevel=3)
            shutil.rmtree(folder, ignore_errors=True)  # an earlier state's copy
            return dataset
        np.save(tmp / "shapes.npy", np.array(spool.shapes, dtype=np.int64).reshape(-1, 3))
        meta = {"format": CACHE_FORMAT, "source": str(source), "options": options, "state": state,
                "ids": dataset.ids, "labels": dataset.labels, "paths": dataset.paths, "splits": dataset.splits,
                "name": dataset.name, "skipped": dataset.skipped}
        (tmp / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _make_room(folder, limit)
    return _read(folder)


def _used(folder: Path) -> None:
    """Mark an entry as read now, to the nanosecond (a file system's own times move in steps of milliseconds): the
    last to go when room is made."""
    now = time.time_ns()
    with suppress(OSError):  # a cache that cannot be written is still read
        os.utime(folder, ns=(now, now))


def _make_room(kept: Path, limit: int) -> None:
    """Remove the pixels of the collections read least recently (never `kept`) while the cache's decoded pixels
    are more than `limit` bytes."""
    entries = {}  # each collection's pixels: (when last read, bytes)
    for entry in kept.parent.iterdir():
        with suppress(OSError):  # removed meanwhile, by another process making room
            if entry.is_dir() and not entry.name.startswith(".tmp-"):
                entries[entry] = (entry.stat().st_mtime_ns, sum(f.stat().st_size for f in entry.iterdir()))
    total = sum(size for _, size in entries.values())
    for entry, (_, size) in sorted(entries.items(), key=lambda item: item[1][0]):  # the least recently read first
        if total <= limit:
            return
        if entry != kept:
            shutil.rmtree(entry, ignore_errors=True)
            total -= size


def _slot(source: Path, options: list) -> str:
    return hashlib.sha256(json.dumps([CACHE_FORMAT, str(source), *options]).encode()).hexdigest()[:24]


def meta_of(folder: Path) -> dict:
    """An entry's meta.json; empty when it has none (or an unreadable one)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _read(folder: Path) -> Dataset:
    meta = json.loads((folder / "meta.json").read_text())
    images = mapped(folder / PIXELS, np.load(folder / "shapes.npy"))
    _used(folder)
    return Dataset(meta["ids"], images, meta["labels"], meta["paths"], meta["splits"], meta["name"], meta["skipped"])
