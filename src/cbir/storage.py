"""Atomic, versioned folders: write a new version beside the old one, then switch a pointer file.

Layout: `FOLDER/CURRENT` names the live version `FOLDER/v-<stamp>/`. A crash at any point
leaves `CURRENT` naming a complete version, so the previous content stays loadable. Each
folder cbir writes carries a marker file; only marked folders (and the version `CURRENT`
named before) are ever deleted, so a user's own `v-2019/` beside an engine is left alone.
Writers take `writer_lock(FOLDER)` so that two of them never interleave; readers take no lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cbir.errors import BusyError, CbirError

POINTER = "CURRENT"
MARKER = ".cbir-version"  # inside every version (and temporary) folder cbir writes
LOCK = ".lock"
_in_process: dict[Path, threading.RLock] = {}  # one per folder: threads of this process take turns, re-entrant
_held: dict[Path, list[int]] = {}  # folder -> [descriptor holding its lock file, how many blocks hold it]
_guard = threading.Lock()


def current_version(folder: str | Path) -> Path | None:
    """The live version folder, or None when nothing was ever committed."""
    folder = Path(folder)
    try:
        name = (folder / POINTER).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return folder / name


def write_version(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)`, then make that directory the live version atomically; returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = current_version(folder)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        (tmp / MARKER).touch()
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
    _remove_stale(folder, keep=version, previous=previous)
    return version


def link_files(source: Path, target: Path, leave: set[str]) -> None:
    """Give `target` the files of the version folder `source` (linked: versions are never changed once written, so
    they may share them; copied where the file system cannot link), but those named in `leave` and the marker."""
    for item in source.rglob("*"):
        relative = item.relative_to(source)
        if relative.parts[0] in leave or relative.name == MARKER:
            continue
        if item.is_dir():
            (target / relative).mkdir(parents=True, exist_ok=True)
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(item, target / relative)
        except OSError:
            shutil.copy2(item, target / relative)


def _remove_stale(folder: Path, keep: Path, previous: Path | None) -> None:
    """Delete the replaced version and leftovers of interrupted saves: only folders cbir marked as its own."""
    for child in folder.iterdir():
        if child == keep or child.is_symlink() or not child.is_dir():
            continue
        if child == previous or (child.name.startswith(("v-", ".tmp-")) and (child / MARKER).is_file()):
            shutil.rmtree(child, ignore_errors=True)


@contextmanager
def writer_lock(folder: str | Path, wait: bool = True) -> Iterator[None]:
    """Hold `FOLDER/.lock` (with this process's pid in it) while changing the folder: a second writer
    waits for the first, saying so (or, not to `wait`, is refused); the OS releases it when a process dies,
    and the holder may take it again. Taken before any long work, it also finds out early that the folder
    cannot be written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CbirError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    with _guard:
        turn = _in_process.setdefault(key, threading.RLock())
    with turn:
        held = _held.setdefault(key, [-1, 0])
        if held[1] == 0:
            held[0] = _lock_file(folder / LOCK, wait)
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
            if held[1] == 0:
                os.close(held[0])  # releases the lock


def _lock_file(path: Path, wait: bool) -> int:
    """An open descriptor of `path` holding its exclusive flock, with this pid written in it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if not wait:
                raise BusyError(f"another cbir (pid {holder}) is changing {path.parent}: try again when it is done")
            print(f"cbir: waiting for another cbir (pid {holder}) to finish changing {path.parent}",
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
