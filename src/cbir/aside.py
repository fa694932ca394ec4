"""Duplicates set aside, never deleted (`cbir duplicates --move-to`), and put back (`--restore`).

Every image of a group but the one it keeps is moved into a folder outside the collection, under its sub-folders'
names, with its own XMP file (a photo manager's edits and tags: `cbir.tags.sidecar`; not one that a RAW+JPEG pair
shares). Each move is written, as it is made, to the folder's `LOG` (one JSON object a line: where the file was,
where it is), so that `restore` puts every file back where it was, even after a move that stopped half-way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cbir.duplicates import Group, changed_since_indexed
from cbir.errors import CbirError
from cbir.tags import sidecar

LOG = "cbir-moved.jsonl"


def aside_folder(folder: str | Path, metadata) -> Path:
    """`folder` as a place to move duplicates to, refused when it lies in a folder the engine indexes (`metadata`'s
    `folders`): the next `cbir add` or `sync` would index the moved files again."""
    folder = Path(folder).expanduser().resolve()
    for root in metadata.folders():
        if root.is_dir() and folder.is_relative_to(root.resolve()):
            raise CbirError(f"--move-to {folder} lies in {root}, a folder the engine indexes: the next `cbir add` or "
                            f"`cbir sync` would index the moved files again; choose a folder outside it (nothing was "
                            f"moved)")
    return folder


def move_duplicates(groups: Sequence[Group], folder: str | Path,
                    metadata) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Move every image but each group's kept one into `folder` (keeping their folders' names beneath it, and
    never overwriting a file there), each move written to its `LOG`. Returns (from, to) per file moved; the paths
    of the files that changed since they were indexed (`metadata`'s stamp: size and modification time; gone files
    too), whose groups are left in place: the picture kept might no longer be the one the others copy; and the
    paths left because they are the kept file under another name (a link to it, or the file a kept link points
    to). Images in zip archives, or without a file, stay where they are. A `folder` in the collection itself is
    refused (`aside_folder`), before anything moves."""
    folder = aside_folder(folder, metadata)
    # looked at again, not `Member.changed`: a file may change while the groups are found and listed
    changed = {m.path: n for n, g in enumerate(groups) for m in g.members
               if changed_since_indexed(m.id, m.path, metadata)}
    left = set(changed.values())
    paths, linked = [], []
    for group in (g for n, g in enumerate(groups) if n not in left):
        for m in group.members[1:]:
            if m.path is not None and os.path.isfile(m.path):  # a file of its own: an archive's member is none
                (linked if _same_file(m.path, group.keep.path) else paths).append(os.path.abspath(m.path))
    root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    moved = []
    for path in paths:
        target = _free(folder / os.path.relpath(path, root))
        beside = own_sidecar(path)
        try:
            _move(path, target)
        except OSError as exc:
            done = f" ({moved[0][0]})" if len(moved) == 1 else ""
            raise CbirError(f"moving {path} to {folder} failed: {exc.strerror or exc}; {len(moved)} "
                            f"file{'s' * (len(moved) != 1)} moved to {folder} before it{done}, the others left in "
                            f"place (`cbir remove ENGINE --missing` drops the moved ones from the engine; "
                            f"`cbir duplicates ENGINE --restore {folder}` puts them back)") from exc
        _log(folder, path, target)
        moved.append((path, str(target)))
        if beside is not None:  # its edits and tags go with it, named after it as it is named there
            follow = target.with_name(target.name + beside[len(path):] if _names_whole(beside, path)
                                      else target.stem + os.path.splitext(beside)[1])
            try:
                if not follow.exists():
                    _move(beside, follow)
                    _log(folder, beside, follow)
            except OSError:
                pass  # left beside where the photo was: nothing lost, `--restore` brings the photo back to it
    return moved, list(changed), linked


def own_sidecar(path: str) -> str | None:
    """The XMP file beside a photo (`cbir.tags.sidecar`) that is its own: `NAME.EXT.xmp`, or `NAME.xmp` where no other
    file beside it is named NAME (a RAW+JPEG pair's is both's)."""
    beside = sidecar(path)
    if beside is None or _names_whole(beside, path):
        return beside
    folder, stem = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0].casefold()
    others = [name for name in os.listdir(folder or ".")
              if os.path.splitext(name)[0].casefold() == stem and os.path.join(folder, name) not in (path, beside)]
    return None if others else beside


def _names_whole(beside: str, path: str) -> bool:
    """Whether an XMP file's name is the photo's whole name with .xmp after it (any case)."""
    return beside[:len(path)].casefold() == path.casefold()


def _move(source: str, target: Path) -> None:
    """Move a file (to another disk: a copy, then the file deleted), leaving no partial copy where it fails."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
    except OSError:
        if os.path.exists(source) and target.exists():
            target.unlink()  # a copy cut short (a full disk), or one whose file could not be deleted
        raise


def restore(folder: str | Path) -> tuple[list[str], list[str], list[str]]:
    """Put the files moved into `folder` (its `LOG`) back where they were, never over a file there. Returns the
    places restored, those left because a file is there again (the moved one stays in `folder`), and those whose
    moved file is no longer in `folder`; the log keeps the entries of the files still there."""
    folder = Path(folder).expanduser().resolve()
    log = folder / LOG
    try:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise CbirError(f"{folder} holds no {LOG}: nothing was set aside there by `cbir duplicates --move-to`") \
            from None
    except ValueError as exc:
        raise CbirError(f"{log} is not a log of moves cbir wrote ({exc})") from None
    restored, taken, gone, kept = [], [], [], []
    for n, entry in enumerate(entries):
        source, target = Path(entry["from"]), Path(entry["to"])
        if not target.is_file():
            gone.append(str(source))
        elif source.exists():
            taken.append(str(source))
            kept.append(entry)
        else:
            try:
                source.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(target, source)
            except OSError as exc:
                if target.is_file() and source.exists():
                    source.unlink()  # a copy cut short: the file stays set aside
                _rewrite(log, kept + entries[n:])
                raise CbirError(f"putting {target} back at {source} failed: {exc.strerror or exc}; "
                                f"{len(restored)} file(s) put back before it; the log keeps the others") from exc
            restored.append(str(source))
    _rewrite(log, kept)
    return restored, taken, gone


def _log(folder: Path, source: str, target: Path) -> None:
    with open(folder / LOG, "a") as out:
        out.write(json.dumps({"from": source, "to": str(target)}) + "\n")
        out.flush()
        os.fsync(out.fileno())


def _rewrite(log: Path, entries: list[dict]) -> None:
    """The log with these entries only (gone when there are none), replaced at once."""
    if not entries:
        log.unlink()
        return
    fd, tmp = tempfile.mkstemp(dir=log.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        out.writelines(json.dumps(entry) + "\n" for entry in entries)
    os.replace(tmp, log)


def _same_file(path: str, other: str | None) -> bool:
    """Whether two paths name one file (through a link)."""
    try:
        return other is not None and os.path.samefile(path, other)
    except OSError:
        return False


def _free(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`, ... when taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate
