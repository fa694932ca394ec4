"""Atomic, versioned folders: write a new version beside the old one, then switch a pointer file.

Layout: `FOLDER/CURRENT` names the live version `FOLDER/v-<stamp>/`. A crash at any point
leaves `CURRENT` naming a complete version, so the previous content stays loadable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

POINTER = "CURRENT"


def current_version(folder: str | Path) -> Path | None:
    """The live version folder, or None when nothing was ever committed."""
    folder = Path(folder)
    try:
        name = (folder / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    return folder / name


def write_version(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)`, then make that directory the live version atomically; returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        write(tmp)
        version = folder / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        _fsync_tree(tmp)
        os.rename(tmp, version)
        pointer_tmp = folder / f".{POINTER}.tmp"
        with open(pointer_tmp, "w") as f:
            f.write(version.name)
            f.flush()
            os.fsync(f.fileno())
        os.replace(pointer_tmp, folder / POINTER)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale(folder, keep={version.name})
    return version


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete old versions and leftovers of interrupted saves."""
    for child in folder.iterdir():
        if child.is_dir() and child.name not in keep and child.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(child, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
