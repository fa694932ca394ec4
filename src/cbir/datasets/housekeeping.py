"""What the cache folder (`CBIR_HOME`) holds, what of it is still of use, and making room (`cbir cache`).

Everything there is rebuilt when needed: the decoded pixels of each collection read (`cache`), the previews of
images decoded at full size only (`previews`) and the downloaded CIFAR-10 archive. Of no use any more: pixels of a
collection changed or gone since, a preview of a file changed or gone, an earlier version's format, what an
interrupted write left. `prune` removes those only; `clear` everything cbir put there (and nothing else).
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from cbir.config import cbir_home
from cbir.datasets import cache, previews
from cbir.datasets.cifar10 import ARCHIVE_NAME
from cbir.datasets.folder import file_stamp

KINDS = ("decoded", "previews")  # the cache's sub-folders, beside the download
UNFINISHED_AFTER = 3600  # seconds: a temporary file or folder untouched this long was left by an interrupted write


@dataclass
class Item:
    """One thing in the cache folder."""

    kind: str  # "decoded", "previews" or "download"
    path: Path
    size: int  # bytes
    useless: str | None = None  # why it is of no use any more; None while it is
    about: str = ""  # what it holds, for people


def inventory(now: float | None = None) -> list[Item]:
    """Every item of the cache folder (`now`: the time that says which temporary files were left, default now)."""
    now = time.time() if now is None else now
    home = cbir_home()
    items = [Item("download", home / ARCHIVE_NAME, (home / ARCHIVE_NAME).stat().st_size, about="CIFAR-10")
             ] if (home / ARCHIVE_NAME).is_file() else []
    decoded, kept = home / "decoded", home / "previews"
    for entry in sorted(decoded.iterdir()) if decoded.is_dir() else ():
        with suppress(FileNotFoundError):  # replaced meanwhile by a write
            items.append(_decoded(entry, now))
    for entry in sorted(kept.iterdir()) if kept.is_dir() else ():
        for file in sorted(entry.iterdir()) if entry.is_dir() else [entry]:
            with suppress(FileNotFoundError):
                items.append(_preview(file, now))
    return items


def prune(items: list[Item]) -> int:
    """Remove the items of no use any more; the bytes freed."""
    freed = 0
    for item in items:
        if item.useless:
            _remove(item.path)
            freed += item.size
    for folder in {item.path.parent for item in items if item.useless and item.kind == "previews"}:
        if folder.name != "previews":
            with suppress(OSError):  # not empty: a preview was kept there meanwhile
                folder.rmdir()  # an image's folder whose last preview went
    return freed


def clear() -> int:
    """Remove everything cbir keeps in the cache folder; the bytes freed (what is of use is not looked at)."""
    home = cbir_home()
    freed = 0
    for path in [home / name for name in KINDS] + [home / ARCHIVE_NAME]:
        if path.exists():
            freed += _size(path)
            _remove(path)
    return freed


def _decoded(entry: Path, now: float) -> Item:
    """A collection's decoded pixels (`cache.cached_dataset`), or what a write of them left."""
    size = _size(entry)
    if entry.name.startswith(".tmp-"):
        left = _left(entry, now)
        return Item("decoded", entry, size, left, about="" if left else "a collection being written")
    meta = cache.meta_of(entry)
    if meta.get("format") != cache.CACHE_FORMAT:
        return Item("decoded", entry, size, "an earlier version's format" if meta else "unreadable")
    source, options = Path(meta["source"]), meta["options"]
    split = options[1] if len(options) > 1 and options[1] else None
    about = f"{source}{f' ({split})' if split else ''}, {len(meta['ids']):,} images"
    if not source.exists():
        return Item("decoded", entry, size, "its collection is gone (or not mounted)", about)
    if cache.source_fingerprint(source)[1:] != meta["state"]:
        return Item("decoded", entry, size, "its collection changed since", about)
    return Item("decoded", entry, size, None, about)


def _preview(file: Path, now: float) -> Item:
    """A slow image's preview (`previews`), or what a write of one left."""
    size = file.stat().st_size
    if file.suffix == ".tmp":
        return Item("previews", file, size, _left(file, now))
    if file.parent.name == "previews":
        return Item("previews", file, size, "an earlier version's format")
    recorded = previews.recorded(file)
    if recorded is None:
        return Item("previews", file, size, "unreadable")
    path, stamp = recorded
    return Item("previews", file, size, None if file_stamp(path) == stamp else "its file changed or is gone", path)


def _left(path: Path, now: float) -> str | None:
    """Why a temporary file or folder is of no use: an interrupted write's, when untouched for long (else a write
    in progress, None)."""
    files = [path, *path.rglob("*")] if path.is_dir() else [path]
    touched = max(f.stat().st_mtime for f in files)
    return "left by an interrupted write" if now - touched > UNFINISHED_AFTER else None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(os.path.getsize(os.path.join(root, f)) for root, _dirs, files in os.walk(path) for f in files)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
