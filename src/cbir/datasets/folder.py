"""Image collections from a folder or a .zip archive, read recursively.

Layout: `<split>/<class>/<file>` or `<class>/<file>` gives labels (the parent folder)
and splits (a known split name two levels up); files at the top level are unlabelled.
A file inside a zip has the path `ARCHIVE.zip::member/name.jpg`.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import threading
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
from PIL import Image, IptcImagePlugin, UnidentifiedImageError
from tqdm.auto import tqdm

from cbir.cameras import camera_of
from cbir.datasets import previews
from cbir.datasets.cache import cached_dataset
from cbir.datasets.listing import collection_files, member_left_out
from cbir.datasets.raw import without_raw_twins
from cbir.datasets.spool import PixelSpool
from cbir.datasets.video import is_video_name, video_frame, video_taken, without_live_twins
from cbir.datasets.collection import Dataset
from cbir.datasets.heif import described, is_heif
from cbir.datasets.images import IMAGE_EXTENSIONS, decode_image, is_image_name
from cbir.errors import DatasetError, ImageDecodeError
from cbir.places import gps_position
from cbir.takeout import album_copies, google_facts, google_sidecar, is_takeout, trashed
from cbir.tags import (SIDECAR_BYTES, Box, Tagged, exif_caption, iptc_keywords, merged, sidecar, sidecar_tagged,
                       stored, windows_tagged, xmp_tagged)

SPLIT_NAMES = frozenset({"train", "test", "val", "valid", "validation", "query", "queries",
                         "database", "db", "gallery", "index"})
MEMBER_SEPARATOR = "::"
DEFAULT_MAX_SIDE = 256
DECODE_THREADS = 2  # both cores of a small machine: a 12-megapixel JPEG takes ~24 ms to decode on one
MAX_FILE_BYTES = 256 << 20  # one image file: an uncompressed RGB image at the decoder's 64-megapixel limit is 192 MB


def layout_of(relpath: str) -> tuple[str | None, str | None]:
    """(label, split) implied by a file's path relative to the collection root."""
    parts = PurePosixPath(relpath).parts
    label = parts[-2] if len(parts) >= 2 else None
    split = parts[-3] if len(parts) >= 3 and parts[-3].lower() in SPLIT_NAMES else None
    return label, split


def archive_member(path: str) -> tuple[str, str] | None:
    """(archive, member) of an image stored in an archive, `ARCHIVE.zip::member`; None for a file of its own, one
    whose name holds the separator too (`a::b.jpg`) included: a file there by the whole name is one."""
    archive, separator, member = path.partition(MEMBER_SEPARATOR)
    if not separator or os.path.isfile(path):
        return None
    return archive, member


def read_bytes(path: str) -> bytes:
    """The bytes of an image file, or of a zip member given as `ARCHIVE.zip::member` (the archive's
    member index is read once per version of the file, not once per image); at most `MAX_FILE_BYTES`."""
    if stored := archive_member(path):
        archive, member = stored
        zf, lock = _archive(archive)
        with lock:  # one file position shared by the threads (a server's) reading this archive
            return read_member(zf, member)
    with open(path, "rb") as f:  # refused by its size, unread; read(n) sets n bytes aside first: n is the size
        size = os.fstat(f.fileno()).st_size
        _within_limit(size=size)
        return _within_limit(f.read(size + 1))


def decode_file(path: str, max_side: int | None = None) -> np.ndarray:
    """The image stored at `path` (a file, or `ARCHIVE.zip::member`) decoded: a video's still (`video`), read from its
    file, else the file's bytes (`decode_image`)."""
    if is_video_name(path) and archive_member(path) is None:
        return video_frame(path, max_side)
    return decode_image(read_bytes(path), max_side=max_side)


def read_member(zf: zipfile.ZipFile, member: str) -> bytes:
    """A zip member's bytes, refused before inflating when it is larger than `MAX_FILE_BYTES` (a zip bomb
    inflates a few kilobytes into gigabytes) and never read past that bound."""
    size = zf.getinfo(member).file_size
    _within_limit(size=size)
    with zf.open(member) as f:
        return _within_limit(f.read(size + 1))


def _within_limit(data: bytes = b"", size: int | None = None) -> bytes:
    """`data`, unless it (or a file of `size` bytes) is over `MAX_FILE_BYTES`: then an ImageDecodeError."""
    if (len(data) if size is None else size) > MAX_FILE_BYTES:
        raise ImageDecodeError(f"the file is larger than {MAX_FILE_BYTES >> 20} MB, the limit for one image")
    return data


def _archive(archive: str) -> tuple[zipfile.ZipFile, threading.Lock]:
    """The open zip archive at this path as it is now, and its lock (`_open_archive`)."""
    stat = os.stat(archive)
    return _open_archive(archive, stat.st_mtime_ns, stat.st_size, os.getpid())


@functools.lru_cache(maxsize=4)
def _open_archive(archive: str, mtime_ns: int, size: int, pid: int) -> tuple[zipfile.ZipFile, threading.Lock]:
    """An open zip archive and the lock for reading it; a changed file (mtime, size) is opened anew, and
    a forked process opens its own (a shared file position would mix up their reads). Opening CIFAR-10's
    60,000-member zip takes ~0.3 s: once per image, that made a page of thumbnails take seconds."""
    return zipfile.ZipFile(archive), threading.Lock()


def _file_of(path: str | None) -> tuple[zipfile.ZipFile | None, threading.Lock | None, str] | None:
    """(archive, its lock, member) of an image stored as `ARCHIVE.zip::member`, (None, None, path) of an image
    file; None when it has no file of its own (given in memory, or an image of the official CIFAR-10
    archive)."""
    if path is None:
        return None
    if (stored := archive_member(path)) is None:
        return None, None, path
    archive, member = stored
    return (*_archive(archive), member) if is_image_name(member) else None


def file_stamp(path: str | None) -> str | None:
    """What the file system says of an image's file now, cheaply: "size:mtime_ns", or a zip member's "size:crc32";
    None when it has no file (`_file_of`) or the file is gone."""
    try:
        if (found := _file_of(path)) is None:
            return None
        zf, _lock, name = found
        if zf is None:
            stat = os.stat(name)
            return f"{stat.st_size}:{stat.st_mtime_ns}"
        info = zf.getinfo(name)
        return f"{info.file_size}:{info.CRC:08x}"
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def image_stamp(path: str | None) -> str | None:
    """The stamp an engine records for an image: its file's (`file_stamp`), followed by "+size:mtime_ns" of each
    file beside it that tells of it (its XMP sidecar, `cbir.tags.sidecar`; a Google Photos Takeout's JSON,
    `cbir.takeout`), so that a photo retagged there, or whose JSON came later, is seen."""
    stamp = file_stamp(path)
    if stamp is None or MEMBER_SEPARATOR in path:
        return stamp
    for beside in filter(None, (sidecar(path), google_sidecar(path))):
        try:
            extra = os.stat(beside)
        except OSError:
            continue
        stamp += f"+{extra.st_size}:{extra.st_mtime_ns}"
    return stamp


def file_part(stamp: str | None) -> str | None:
    """The file's own part of an image's stamp (`image_stamp`), without its sidecar's."""
    return stamp.split("+", 1)[0] if stamp else stamp


class Facts(NamedTuple):
    """What an image's file says of it: when it was taken (ISO 8601 "YYYY-MM-DDTHH:MM:SS": its EXIF date,
    DateTimeOriginal, else DateTime, else the file's modification time, a zip member's date), where (its EXIF GPS
    position as "LAT,LON" in degrees, `cbir.places`; "" when it has none), its tags (`cbir.tags`, one a line; ""
    when it has none), rating (stars; None when it has none), camera (`cbir.cameras`; "" when it says none) and
    caption (`cbir.tags.caption_text`; "" for none). None where it has no file or the file is gone. `own_date`: the
    date is the picture's own (EXIF, a video's, a Takeout's), not the file's time."""

    date: str | None = None
    position: str | None = None
    tags: str | None = None
    rating: int | None = None
    camera: str | None = None
    caption: str | None = None
    own_date: bool = False


def image_facts(path: str | None) -> Facts:
    """An image's `Facts`, from its file's header (and an XMP sidecar beside it: `cbir.tags.sidecar`)."""
    date, position, tagged, camera, own = _facts(path)
    return Facts(date, position, stored(tagged), tagged.rating, camera, tagged.caption, own) if date is not None \
        else Facts()


def named_faces(path: str | None) -> tuple[tuple[str, Box | None], ...]:
    """The faces a photo manager named in an image (`cbir.tags.Tagged.faces`), where its file or sidecar says; else
    the people a Google Photos Takeout says are in it, without a box (`cbir.faces.Faces.name_the_rest`)."""
    return _facts(path)[2].faces


def _facts(path: str | None) -> tuple[str | None, str | None, Tagged, str | None, bool]:
    """(date, position, tags, camera, whether the date is the picture's own) of an image's file, and its sidecar's
    tags; (None, None, no tags, None, False) where it has no file or the file is gone."""
    try:
        if (found := _file_of(path)) is None:
            return None, None, Tagged(), None, False
        zf, lock, name = found
        if zf is None:
            with open(name, "rb") as f:
                if is_video_name(name):
                    date, position, camera = video_taken(f)
                    tagged = Tagged()
                else:
                    date, position, tagged, camera = _header_facts(f)
            if beside := sidecar(name):
                tagged = merged(sidecar_tagged(beside), tagged)
            if (google := google_facts(name)) is not None:  # a Google Photos Takeout's
                date, position = google.date_over(date), google.position or position
                tagged = merged(Tagged(caption=google.caption), tagged,
                                Tagged(google.people, faces=tuple((name, None) for name in google.people)))
            own = date is not None
            date = date or datetime.fromtimestamp(os.stat(name).st_mtime).isoformat(timespec="seconds")
        else:
            with lock, zf.open(name) as f:
                date, position, tagged, camera = _header_facts(f)
            own = date is not None
            date = date or "%04d-%02d-%02dT%02d:%02d:%02d" % zf.getinfo(name).date_time
        return date, position, tagged, camera, own
    except (OSError, KeyError, zipfile.BadZipFile):
        return None, None, Tagged(), None, False


_HEADER_BYTES = 1 << 17  # EXIF lives in a JPEG's first 64 KB (its APP1 segment), a TIFF's header near its start
_EXIF_BYTES = 1 << 16  # a HEIF file's EXIF item: read up to this (a phone's is a few KB)


def _header_facts(f) -> tuple[str | None, str, Tagged, str]:
    """The EXIF date (or None), GPS position ("LAT,LON", or ""), tags and camera ("" for none) of an open image
    file: from its first bytes
    (EXIF, an XMP packet, IPTC keywords), or for a HEIF file (a phone's HEIC) from its `Exif` and XMP items,
    wherever its `meta` box says they lie."""
    header, tagged = f.read(_HEADER_BYTES), Tagged()
    try:
        if is_heif(header):
            exif, where = Image.Exif(), described(header)
            if where.exif is not None:
                f.seek(where.exif[0][0])
                block = f.read(min(where.exif[0][1], _EXIF_BYTES))  # a 4-byte offset to its TIFF header, then EXIF
                exif.load(block[4 + int.from_bytes(block[:4], "big"):])
            if where.xmp is not None:
                f.seek(where.xmp[0][0])
                tagged = xmp_tagged(f.read(min(where.xmp[0][1], SIDECAR_BYTES)))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = Image.open(io.BytesIO(header))
                exif = image.getexif()
                tagged = merged(xmp_tagged(header) if b"<x:xmpmeta" in header else Tagged(),
                                iptc_keywords(IptcImagePlugin.getiptcinfo(image)))
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, struct.error, IndexError):
        return None, "", tagged, ""
    tagged, camera = merged(tagged, windows_tagged(exif), exif_caption(exif)), camera_of(exif)
    try:
        text = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, DateTime
        date = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat() if text else None
    except (OSError, ValueError, struct.error):
        date = None
    try:
        return date, gps_position(exif.get_ifd(0x8825)), tagged, camera
    except (OSError, ValueError, struct.error):
        return date, "", tagged, camera


def missing_paths(paths: Iterable[str]) -> list[str]:
    """Which of these image paths (files, or `ARCHIVE.zip::member`) are no longer there."""
    missing, members = [], {}
    for path in paths:
        if stored := archive_member(path):
            archive, member = stored
            members.setdefault(archive, []).append((path, member))
        elif not Path(path).is_file():
            missing.append(path)
    for archive, wanted in members.items():
        try:
            present = set(_archive(archive)[0].namelist())
        except (OSError, zipfile.BadZipFile):
            present = set()
        missing += [path for path, member in wanted if member not in present]
    return missing


def location(path: str) -> Path:
    """Where an image path lies on disk: the file, or the archive of a zip member."""
    stored = archive_member(path)
    return Path(stored[0] if stored else path)


def collection_root(path: str, id_: str) -> Path:
    """The folder or archive an image was indexed from: its path less its id (the path relative to it), else the
    file's own place (`location`)."""
    return next((Path(path[:-len(sep + id_)]) for sep in (MEMBER_SEPARATOR, "/", os.sep) if path.endswith(sep + id_)),
                location(path))


def vanished_folders(ids: dict[str, str], missing: Iterable[str]) -> dict[Path, list[str]]:
    """Missing paths whose whole collection folder went (a drive not mounted, a folder moved), by that folder.

    `ids` maps each indexed path to its id, the path relative to the folder or archive it was indexed from. A
    folder none of whose indexed files is left went at once: rather unmounted or moved than deleted, so its
    files are not taken for deleted ones. A lone missing file counts only when no indexed file is left anywhere.
    """
    missing = set(missing)
    lost: dict[Path, list[str]] = {}
    held: set[Path] = set()
    for path, id_ in ids.items():
        root = collection_root(path, id_)
        if path in missing:
            lost.setdefault(root, []).append(path)
        else:
            held.add(root)
    return {root: sorted(paths) for root, paths in lost.items()
            if root not in held and (len(paths) > 1 or not held)}


@contextmanager
def _open_source(source: Path) -> Iterator[tuple[list[tuple[str, str]], Callable[[str], bytes]]]:
    """Yield ([(relative id, path)] of every image file sorted by id, read(id) -> bytes)."""
    if source.is_dir():
        # a dangling symlink is listed too: reading it fails, and it is counted among the skipped files
        names = without_raw_twins([p for p in collection_files(source) if is_image_name(p) or is_video_name(p)])
        copies = album_copies(names)  # a Google Photos Takeout's: each photo once, in its albums (`cbir.takeout`)
        names = [p for p in names if p not in copies and not trashed(p)]
        files = sorted(map(Path, without_live_twins(names, {p.rpartition(".")[0].lower() for p in names
                                                            if is_image_name(p)})))
        yield [(p.relative_to(source).as_posix(), str(p)) for p in files], lambda rel: read_bytes(str(source / rel))
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            if is_takeout(zf.namelist()):
                warnings.warn(f"{source.name} is a Google Photos Takeout: what its JSON files say (when, where, who) "
                              f"and its albums are read from its folder once extracted (unzip every part of it into "
                              f"one folder, and index that)", stacklevel=4)
            names = sorted(without_raw_twins([n for n in zf.namelist() if not n.endswith("/") and is_image_name(n)
                                              and not member_left_out(n)]))
            yield [(n, f"{source}{MEMBER_SEPARATOR}{n}") for n in names], functools.partial(read_member, zf)
    else:
        raise DatasetError(f"{source} is neither a folder nor a .zip archive")


def _decode_all(source: Path, split: str | None, max_side: int | None, progress: bool,
                keep: Callable[[str, str], bool], spool: PixelSpool) -> Dataset:
    """Every image of the source that `keep(id, path)` wants, written to `spool` as it is decoded; a folder's decoded
    by `DECODE_THREADS` threads (Pillow decodes without the GIL; a zip's members share one file position, and are
    small as a rule)."""
    ids, labels, paths, splits, skipped = [], [], [], [], []
    with _open_source(source) as (entries, read):
        entries = [e for e in entries if split is None or layout_of(e[0])[1] == split]
        skipped += [f"{_escaped(relpath)}: its name is not valid UTF-8 (rename it, e.g. `convmv -r -f latin1 -t utf8 "
                    f"--notest FOLDER`)" for relpath, path in entries if not _is_text(path)]
        entries = [e for e in entries if _is_text(e[1]) and keep(*e)]

        def decode(relpath: str, path: str) -> np.ndarray | str:
            try:
                image = video_frame(path, max_side) if is_video_name(path) else decode_image(read(relpath),
                                                                                              max_side=max_side)
            except (ImageDecodeError, OSError, zipfile.BadZipFile) as exc:
                return f"{relpath}: {exc}"
            if previews.slow(path):
                previews.keep(path, file_stamp(path), image)
            return image

        with ThreadPoolExecutor(DECODE_THREADS if source.is_dir() else 1) as pool:
            decoded = in_order(pool, decode, entries, ahead=2 * DECODE_THREADS)
            for (relpath, path), image in zip(entries, tqdm(decoded, total=len(entries), desc=f"decoding {source.name}",
                                                             unit="img", disable=not progress or not entries,
                                                             mininterval=0.5)):
                if isinstance(image, str):
                    skipped.append(image)
                    continue
                label, file_split = layout_of(relpath)
                ids.append(relpath)
                spool.append(image)
                labels.append(label)
                paths.append(path)
                splits.append(file_split)
    return Dataset(ids, spool.images(), labels, paths, splits, source.name, skipped)


def in_order(pool: ThreadPoolExecutor, run: Callable, arguments: list[tuple], ahead: int) -> Iterator:
    """`run(*each)` for each of `arguments` in the pool's threads, the results in order, at most `ahead` of them
    started and not yet taken (`Executor.map` starts them all, and a slow consumer would hold all their results)."""
    pending: deque = deque()
    for each in arguments:
        if len(pending) == ahead:
            yield pending.popleft().result()
        pending.append(pool.submit(run, *each))
    while pending:
        yield pending.popleft().result()


def _is_text(name: str) -> bool:
    """Whether a file name is text (it is not when its bytes are not UTF-8: Python keeps them as lone surrogates,
    which no engine file, database or web address can hold)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(name: str) -> str:
    """A file name whose bytes are not all UTF-8, printable: those bytes as `\\xe9`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def existing_source(path: str | Path) -> Path:
    """The folder or archive at `path`, resolved; an error when there is none."""
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise DatasetError(f"no such folder or archive: {source}")
    return source


def load_folder(path: str | Path, split: str | None = None, max_side: int | None = DEFAULT_MAX_SIDE,
                progress: bool = True, cache: bool = True, keep: Callable[[str, str], bool] | None = None) -> Dataset:
    """Read every image under a folder or in a .zip (optionally one split only).

    Images are decoded to RGB uint8, shrunk so their longest side is at most `max_side`, and written to disk as
    they are read (memory-mapped from there: a folder of any size is read in the same memory), in the cache until
    the source changes. Unreadable files are skipped with one warning that counts them; a collection with no
    readable image is an error.
    `keep(id, path)`: which images to read, the others left out, and nothing cached (`cbir add` reads only
    the files an engine lacks or that changed).
    """
    source = existing_source(path)
    left_out = 0

    def wanted(id_: str, file: str) -> bool:
        nonlocal left_out
        if keep is None or keep(id_, file):
            return True
        left_out += 1
        return False

    build = lambda spool: _decode_all(source, split, max_side, progress, wanted, spool)  # noqa: E731
    if cache and keep is None:
        dataset = cached_dataset(source, ["folder", split, max_side], build)
    else:
        spool = PixelSpool.unnamed()
        try:
            dataset = build(spool)
        finally:
            spool.close()
    if dataset.skipped:
        warnings.warn(f"skipped {len(dataset.skipped)} unreadable file(s) in {source}, "
                      f"e.g. {dataset.skipped[0]}", stacklevel=2)
    if len(dataset) == 0 and not left_out:
        where = f"split '{split}' of " if split else ""
        raise DatasetError(f"no readable images in {where}{source} "
                           f"(looked for {', '.join(sorted(e.lstrip('.') for e in IMAGE_EXTENSIONS))})")
    return dataset
