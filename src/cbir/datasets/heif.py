"""A HEIC photo's own thumbnail, read instead of the photo where it is large enough.

HEVC has no reduced-size decoding like JPEG's: a phone's 12-megapixel HEIC takes ~1 s of a core to decode in full.
Phones also store a small copy of each photo in the file (a `thmb` item: 320x240 on iPhones). The HEIF reader
installed with cbir (`pi-heif`) decodes only a file's primary image, so `thumbnail_file` copies the thumbnail into
a HEIF file of its own, of which it is the primary image: its bitstream and its properties (decoder configuration,
size, turns), nothing decoded or re-encoded. Only a thumbnail that is a scaled copy of the photo is taken (the same
aspect ratio and the same turns, no crop but of an encoder's padding), else None and the photo is decoded in
full.

The boxes read and written are those of ISO/IEC 14496-12 (ISOBMFF) and 23008-12 (HEIF): `ftyp`, `meta` with
`hdlr`, `pitm`, `iloc`, `iinf`/`infe`, `iref`/`thmb`, `iprp`/`ipco`/`ipma`, `idat`; and `mdat`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")
TURNS = (b"irot", b"imir")  # properties that turn or mirror a decoded image
PADDING = 64  # a crop (`clap`) of fewer pixels than this from the right and bottom only takes away an encoder's
# padding (HEVC codes even sizes, in blocks): the same picture; any other crop may show another part of it


def is_heif(data: bytes | None) -> bool:
    """Whether bytes are a HEIC/HEIF file (by its `ftyp` box's major brand)."""
    return bool(data) and data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS


class _Span(NamedTuple):
    start: int  # of the box's content
    end: int
    box: int  # where the box starts, its header included


@dataclass
class _Item:
    type: bytes = b""
    infe: bytes = b""  # the whole `infe` box, copied as it is
    method: int = 0  # iloc's construction method: 0 file offsets, 1 offsets in `idat`
    extents: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    properties: list[int] = field(default_factory=list)  # ipma's entries as stored (essential bit and index)


def thumbnail_file(data: bytes, side: int) -> bytes | None:
    """A HEIF file whose primary image is the smallest thumbnail of `data`'s primary image with a longest side of
    at least `side` pixels, or None: not HEIF, no such thumbnail, or boxes this reader does not take."""
    if not is_heif(data):
        return None
    try:
        return _thumbnail_file(data, side)
    except (struct.error, ValueError, KeyError, IndexError, ZeroDivisionError):
        return None


class Described(NamedTuple):
    """Where a HEIF file keeps what it says of its picture, each as extents (file offset, length) or None: its EXIF
    block (date, GPS position: an `Exif` item) and its XMP packet (tags, rating: a `mime` item of type
    application/rdf+xml)."""

    exif: list[tuple[int, int]] | None = None
    xmp: list[tuple[int, int]] | None = None


def described(header: bytes) -> Described:
    """Where a HEIF file keeps its EXIF and XMP, which may lie anywhere in the file, read from the `meta` box in its
    first bytes (`header`), parsed once for both. None for each where it is not HEIF, its `meta` box is not within
    `header`, it has no such item in the file, or its boxes are of a kind this reader does not take."""
    if not is_heif(header):
        return Described()
    try:
        for kind, span in _boxes(header, 0, len(header)):  # up to `meta`: a box after it may run past the header
            if kind == b"meta":
                items = _items(header, dict(_boxes(header, span.start + 4, span.end))).values()  # a full box
                return Described(_first(items, lambda item: item.type == b"Exif"),
                                 _first(items, lambda item: item.type == b"mime"
                                        and _content_type(item.infe) == b"application/rdf+xml"))
    except (struct.error, ValueError, KeyError, IndexError):
        return Described()
    return Described()


def _first(items, wanted) -> list[tuple[int, int]] | None:
    """The extents of the first item that is `wanted` (a test of an `_Item`), where it is stored in the file."""
    found = [item for item in items if wanted(item)]
    return found[0].extents if found and found[0].method == 0 and found[0].extents else None


def _content_type(infe: bytes) -> bytes:
    """The content type a `mime` item's `infe` box (version 2 or 3) gives after its name."""
    version = infe[8]
    at = 12 + (2 if version == 2 else 4) + 2 + 4  # its header, item id, protection index, item type
    names = infe[at:].split(b"\0")
    return names[1] if len(names) > 1 else b""


def _thumbnail_file(data: bytes, side: int) -> bytes | None:
    top = dict(_boxes(data, 0, len(data)))
    meta = dict(_boxes(data, top[b"meta"].start + 4, top[b"meta"].end))  # a full box: version and flags first
    items, primary = _items(data, meta), _primary(data, meta[b"pitm"])
    iprp = dict(_boxes(data, meta[b"iprp"].start, meta[b"iprp"].end))
    ipco = list(_boxes(data, iprp[b"ipco"].start, iprp[b"ipco"].end))
    ipma_version, ipma_flags = _full(data, iprp[b"ipma"].start)
    _associations(data, iprp[b"ipma"], ipma_version, ipma_flags, items)

    def properties(item: _Item) -> list[tuple[bytes, _Span]]:
        """The item's properties (`ipco` boxes), its entries' essential bit left out of their index."""
        return [ipco[(entry & (0x7FFF if ipma_flags & 1 else 0x7F)) - 1] for entry in item.properties]

    def sizes(item: _Item) -> tuple[int, int]:
        for kind, span in properties(item):
            if kind == b"ispe":
                return struct.unpack_from(">II", data, span.start + 4)
        raise ValueError("an image without its size")

    def turns(item: _Item) -> list[bytes] | None:
        """The item's turns and mirrors, or None when it is cropped by more than its padding."""
        chosen = properties(item)
        if any(kind == b"clap" and not _padding_only(data[span.start: span.end], *sizes(item))
               for kind, span in chosen):
            return None
        return [kind + data[span.start: span.end] for kind, span in chosen if kind in TURNS]

    width, height = sizes(items[primary])
    candidates, turned = [], turns(items[primary])
    for thumb_id in _thumbnails_of(data, meta, primary):
        thumb = items.get(thumb_id)
        if thumb is None or thumb.type != b"hvc1" or thumb.method not in (0, 1) or not thumb.extents:
            continue
        t_width, t_height = sizes(thumb)
        if (side <= max(t_width, t_height) < max(width, height) and turned is not None and turns(thumb) == turned
                and abs(t_width * height - t_height * width) <= 2 * max(width, height)):  # the same aspect ratio
            candidates.append((t_width * t_height, thumb_id))
    if not candidates:
        return None
    thumb_id = min(candidates)[1]
    thumb = items[thumb_id]
    base = meta[b"idat"].start if thumb.method == 1 else 0
    payload = b"".join(data[base + offset: base + offset + length] for offset, length in thumb.extents)
    if len(payload) != sum(length for _, length in thumb.extents):
        return None  # a file cut short
    whole = lambda span: data[span.box: span.end]  # noqa: E731
    return _written(whole(top[b"ftyp"]), whole(meta[b"hdlr"]), thumb_id, thumb, whole(iprp[b"ipco"]), ipma_flags,
                    payload)


def _padding_only(clap: bytes, width: int, height: int) -> bool:
    """Whether a `clap` box's content crops a `width` x `height` image by fewer than `PADDING` pixels, from its
    right and bottom only (its offsets are those of the clean area's centre from the image's)."""
    wide_n, wide_d, high_n, high_d, x_n, x_d, y_n, y_d = struct.unpack(">IIIIiIiI", clap)
    clean_width, clean_height, x, y = wide_n / wide_d, high_n / high_d, x_n / x_d, y_n / y_d
    return (0 <= width - clean_width < PADDING and 0 <= height - clean_height < PADDING
            and abs(2 * x - (clean_width - width)) <= 1 and abs(2 * y - (clean_height - height)) <= 1)


def _boxes(data: bytes, start: int, end: int):
    """(type, `_Span`) of each box from `start` to `end`."""
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            raise ValueError("a box runs past its parent")
        yield kind, _Span(start + header, start + size, start)
        start += size


def _full(data: bytes, start: int) -> tuple[int, int]:
    """(version, flags) of the full box whose content starts at `start`."""
    word = struct.unpack_from(">I", data, start)[0]
    return word >> 24, word & 0xFFFFFF


def _uint(data: bytes, at: int, size: int, end: int) -> tuple[int, int]:
    """An unsigned big-endian integer of `size` bytes (0, 2, 4 or 8) at `at`, and where the next field starts; an
    error past `end` (its box's end), so that no count in a damaged or hostile file makes a long loop."""
    if at + size > end:
        raise ValueError("a field past the end of its box")
    return (int.from_bytes(data[at: at + size], "big") if size else 0), at + size


def _primary(data: bytes, pitm: _Span) -> int:
    version, _ = _full(data, pitm.start)
    return _uint(data, pitm.start + 4, 2 if version == 0 else 4, pitm.end)[0]


def _items(data: bytes, meta: dict) -> dict[int, _Item]:
    """Every item's type, `infe` box and extents (`iinf`, `iloc`)."""
    items: dict[int, _Item] = {}
    start, end, _ = meta[b"iinf"]
    version, _ = _full(data, start)
    for kind, (at, stop, box) in _boxes(data, start + (6 if version == 0 else 8), end):
        if kind != b"infe":
            continue
        infe_version, _ = _full(data, at)
        if infe_version < 2:
            continue
        item_id, at_type = _uint(data, at + 4, 2 if infe_version == 2 else 4, stop)
        items[item_id] = _Item(type=data[at_type + 2: at_type + 6], infe=data[box: stop])
    start, end, _ = meta[b"iloc"]
    version, _ = _full(data, start)
    at = start + 4
    offset_size, length_size = data[at] >> 4, data[at] & 15
    base_size, index_size = data[at + 1] >> 4, (data[at + 1] & 15) if version in (1, 2) else 0
    count, at = _uint(data, at + 2, 4 if version == 2 else 2, end)
    for _ in range(count):
        item_id, at = _uint(data, at, 4 if version == 2 else 2, end)
        method = 0
        if version in (1, 2):
            method, at = _uint(data, at, 2, end)
            method &= 15
        _, at = _uint(data, at, 2, end)  # data reference index
        base, at = _uint(data, at, base_size, end)
        extents, at = _uint(data, at, 2, end)
        if extents > 1 and not index_size + offset_size + length_size:
            raise ValueError("extents of no size")
        item = items.setdefault(item_id, _Item())
        item.method = method
        for _ in range(extents):
            _, at = _uint(data, at, index_size, end)
            offset, at = _uint(data, at, offset_size, end)
            length, at = _uint(data, at, length_size, end)
            item.extents.append((base + offset, length))
    return items


def _thumbnails_of(data: bytes, meta: dict, primary: int) -> list[int]:
    """The items that are thumbnails of the primary image (`iref`'s `thmb` references)."""
    if b"iref" not in meta:
        return []
    start, end, _ = meta[b"iref"]
    version, _ = _full(data, start)
    size, found = (2 if version == 0 else 4), []
    for kind, (at, stop, _) in _boxes(data, start + 4, end):
        if kind != b"thmb":
            continue
        source, at = _uint(data, at, size, stop)
        count, at = _uint(data, at, 2, stop)
        if primary in (_uint(data, at + n * size, size, stop)[0] for n in range(count)):
            found.append(source)
    return found


def _associations(data: bytes, ipma: _Span, version: int, flags: int, items: dict[int, _Item]) -> None:
    """Each item's property entries (`ipma`)."""
    at, end = ipma.start + 4, ipma.end
    count, at = _uint(data, at, 4, end)
    for _ in range(count):
        item_id, at = _uint(data, at, 2 if version < 1 else 4, end)
        n, at = _uint(data, at, 1, end)
        entries = []
        for _ in range(n):
            entry, at = _uint(data, at, 2 if flags & 1 else 1, end)
            entries.append(entry)
        items.setdefault(item_id, _Item()).properties = entries


def _box(kind: bytes, content: bytes, full: tuple[int, int] | None = None) -> bytes:
    if full is not None:
        content = struct.pack(">I", full[0] << 24 | full[1]) + content
    return struct.pack(">I4s", 8 + len(content), kind) + content


def _written(ftyp: bytes, hdlr: bytes, item_id: int, item: _Item, ipco: bytes, ipma_flags: int,
             payload: bytes) -> bytes:
    """A HEIF file of one image: `item`, whose coded data is `payload`."""
    wide = item_id > 0xFFFF
    if wide and item.infe[8] < 3:
        raise ValueError("an item id too large for its infe box")
    pitm = _box(b"pitm", struct.pack(">I" if wide else ">H", item_id), (1 if wide else 0, 0))
    iinf = _box(b"iinf", struct.pack(">H", 1) + item.infe, (0, 0))
    association = b"".join(struct.pack(">H" if ipma_flags & 1 else ">B", entry) for entry in item.properties)
    ipma = _box(b"ipma", struct.pack(">I", 1) + struct.pack(">I" if wide else ">H", item_id)
                + struct.pack(">B", len(item.properties)) + association, (1 if wide else 0, ipma_flags))
    iprp = _box(b"iprp", ipco + ipma)

    def iloc(offset: int) -> bytes:  # version 2: 4-byte ids; offsets and lengths of 4 bytes, no base offset
        return _box(b"iloc", struct.pack(">BBIIHHHII", 0x44, 0x00, 1, item_id, 0, 0, 1, offset, len(payload)),
                    (2, 0))

    meta = lambda offset: _box(b"meta", hdlr + pitm + iloc(offset) + iinf + iprp, (0, 0))  # noqa: E731
    offset = len(ftyp) + len(meta(0)) + 8  # the payload, after the mdat box's header
    return ftyp + meta(offset) + _box(b"mdat", payload)
