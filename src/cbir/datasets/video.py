"""Videos in a folder of photos, indexed by a still: the frame a third of the way in (a first frame is often dark
or a blur), decoded by the FFmpeg inside OpenCV's wheel, turned as the phone held it. When and where a video was
taken is read from its `moov` box (MP4, QuickTime: phones' and cameras' videos): the local time an iPhone writes
(`com.apple.quicktime.creationdate`), else its `mvhd` creation time (UTC), and the ISO 6709 position phones write
("+48.8584+002.2945/"). A video beside a photo of the same name (an iPhone's Live
Photo, IMG_0001.HEIC and IMG_0001.MOV) is that photo's: the photo is indexed, not it. Videos in an archive are left
out (the decoder reads files)."""

from __future__ import annotations

import os
import re
import struct
from datetime import datetime, timedelta

import numpy as np

from cbir.cameras import camera_named
from cbir.datasets.listing import extension
from cbir.errors import ImageDecodeError
from cbir.places import position_text

EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".avi", ".mkv", ".webm"})
MOOV_BYTES = 8 << 20  # a `moov` box is read up to this (its sample tables grow with the video's length)
_EPOCH = datetime(1904, 1, 1)  # QuickTime's
ISO6709 = re.compile(rb"([+-]\d{2}\.\d{3,})([+-]\d{3}\.\d{3,})(?:[+-][\d.]+)?/")  # as phones write it
_LOCAL = re.compile(rb"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})[+-]\d{2}:?\d{2}")  # Apple's creationdate, local

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's notes on damaged files: the errors say enough
# one decoding thread a video: folders are read by several threads already (`load_folder`), pools are never nested
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "threads;1")


MIMETYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".3gp": "video/3gpp",
             ".webm": "video/webm", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}  # a phone's MOV: H.264,
# which browsers play as MP4 (few play video/quicktime)


def is_video_name(name: str) -> bool:
    """True when the file name has one of the video extensions."""
    return extension(name) in EXTENSIONS


def without_live_twins(names: list[str], pictures: set[str]) -> list[str]:
    """The file names (paths), less each video beside a picture of the same name (`pictures`: the pictures' names
    without their extensions, lower case): a Live Photo's motion, whose photo is indexed."""
    return [name for name in names if not (is_video_name(name) and name.rpartition(".")[0].lower() in pictures)]


def video_frame(path: str, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 pixels of a video's still a third of the way in, shrunk to fit `max_side` (keeping its aspect)."""
    import cv2

    try:
        return _frame(cv2, path, max_side)
    except cv2.error as exc:
        raise ImageDecodeError(f"a video the decoder fails on: {exc}") from None


def _frame(cv2, path: str, max_side: int | None) -> np.ndarray:
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise ImageDecodeError("not a video this decoder reads (or a damaged one)")
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if frames > 3:
            capture.set(cv2.CAP_PROP_POS_FRAMES, frames // 3)
        found, frame = capture.read()
        if not found and frames > 3:  # a seek some files do not take: their first frame
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            found, frame = capture.read()
    finally:
        capture.release()
    if not found or frame is None or frame.ndim != 3:
        raise ImageDecodeError("a video without a frame to show")
    height, width = frame.shape[:2]
    scale = min(1.0, max_side / max(height, width)) if max_side else 1.0
    if scale < 1.0:
        frame = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame[:, :, ::-1])


def video_pixels(path: str) -> int | None:
    """Width x height of a video's frames; None when it cannot be read."""
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        pixels = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) * capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    return pixels or None


def video_taken(f) -> tuple[str | None, str, str]:
    """When (ISO 8601: the local time it says, else its `mvhd` creation time; None where neither is set), where
    ("LAT,LON", or "") and with what camera (`cbir.cameras`, from Apple's make and model keys; "" where it does not
    say) a video was taken, from its `moov` box, wherever the open file `f` keeps it."""
    try:
        found = moov_at(f)
    except (struct.error, OSError, ValueError):  # boxes cut short, or no file to walk
        found = None
    if found is None:
        return None, "", ""
    moov = found[1]
    date, at = None, moov.find(b"mvhd")
    if local := _LOCAL.search(moov):
        date = local.group(1).decode()
    elif at >= 4:
        try:
            seconds = struct.unpack_from(">Q" if moov[at + 4] == 1 else ">I", moov, at + 8)[0]
            date = (_EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds") if seconds else None
        except (struct.error, IndexError, OverflowError):
            date = None
    found = ISO6709.search(moov)
    position = position_text(float(found.group(1)), float(found.group(2))) if found else ""
    keys = apple_keys(moov)
    return date, position, camera_named(keys.get("com.apple.quicktime.make", ""),
                                        keys.get("com.apple.quicktime.model", ""))


def apple_keys(moov: bytes) -> dict[str, str]:
    """The text values of the metadata Apple's devices keep in a `moov` box: its `keys` box names them (`mdta`
    entries), its `ilst` box holds them, each under its key's number (from 1) in a `data` box."""
    found: dict[str, str] = {}
    try:
        at = moov.find(b"keys")
        if at < 4:
            return found
        names, pos = [], at + 12  # after the box's version, flags and count
        for _ in range(min(struct.unpack_from(">I", moov, at + 8)[0], 256)):
            size = struct.unpack_from(">I", moov, pos)[0]
            if size < 8:
                break
            names.append(moov[pos + 8: pos + size].decode("utf-8", "replace"))
            pos += size
        start = moov.find(b"ilst", pos)
        if start < 4:
            return found
        end, pos = start - 4 + struct.unpack_from(">I", moov, start - 4)[0], start + 4
        while pos + 8 <= min(end, len(moov)):
            size, number = struct.unpack_from(">II", moov, pos)
            if size < 8:
                break
            data = moov.find(b"data", pos + 8, pos + size)
            if data > 0 and 1 <= number <= len(names):
                value = moov[data + 12: data - 4 + struct.unpack_from(">I", moov, data - 4)[0]]
                found[names[number - 1]] = value.decode("utf-8", "replace")
            pos += size
    except struct.error:  # boxes cut short: what was read
        pass
    return found


def moov_at(f) -> tuple[int, bytes] | None:
    """Where in the file the `moov` box's content starts, and that content (its first `MOOV_BYTES`), found by walking
    the file's top-level boxes (an `mdat` of gigabytes is skipped); None where there is none."""
    f.seek(0, os.SEEK_END)
    end, at = f.tell(), 0
    while at + 8 <= end:
        f.seek(at)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - at
        if size < header:
            return None
        if kind == b"moov":
            return at + header, f.read(min(size - header, MOOV_BYTES))
        at += size
    return None
