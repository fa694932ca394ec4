"""Which files under a folder (or in an archive) make up its collection: all but those of hidden and system folders.

Left out, below the folder given: names starting with "." (hidden files and folders: a drive's `.Trash-1000` or
`.Trashes`, `.thumbnails`, macOS's `._` companions of each file), the folders systems and NAS keep beside the
photos (`@eaDir`, where a Synology keeps thumbnails of every photo; `#recycle`, `#snapshot`, `$RECYCLE.BIN`,
`System Volume Information`, `__MACOSX`), and every folder holding a `.nomedia` file (Android's mark for a folder
galleries leave out, which anyone can put in a folder to keep it out).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

SYSTEM_FOLDERS = frozenset({"@eadir", "#recycle", "#snapshot", "$recycle.bin", "system volume information",
                            "__macosx"})
NO_MEDIA = ".nomedia"


def extension(name: str) -> str:
    """A file name's (or path's) extension, lower case with its dot (".jpg"), "" for none."""
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def left_out(name: str) -> bool:
    """Whether a file or folder of this name is no part of a collection."""
    return name.startswith(".") or name.lower() in SYSTEM_FOLDERS


def collection_files(folder: str | Path) -> Iterator[str]:
    """The paths of the files under `folder` that belong to its collection (links to files included, links to
    folders not followed), in no particular order."""
    for root, dirs, names in os.walk(folder):
        if NO_MEDIA in names and root != str(folder):
            dirs.clear()
            continue
        dirs[:] = [d for d in dirs if not left_out(d)]
        yield from (os.path.join(root, name) for name in names if not left_out(name))


def member_left_out(member: str) -> bool:
    """Whether an archive member (a path inside it) is no part of the collection."""
    return any(left_out(part) for part in PurePosixPath(member).parts)
