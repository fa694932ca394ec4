"""The tags and star ratings people give their photos in photo managers (Lightroom, digiKam, darktable, Windows'
Photos and Explorer, Picasa...), read where those write them: the photo's XMP packet (its keywords `dc:subject`, the
last part of each hierarchical keyword, the names of the people its regions mark, `xmp:Rating`), its IPTC keywords,
Windows' EXIF keywords and rating, and an XMP sidecar beside it (`IMG_1.CR2.xmp` or `IMG_1.xmp`). Nothing is written
to a photo. A tag is named whole, case and accents ignored ("anna" names "Anna"); "," or "or" between tags names any
of them."""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import NamedTuple

from cbir.errors import UnknownWordsError
from cbir.places import counted, fold, unknown

MAX_TAGS, MAX_TAG = 200, 100  # a photo's tags kept at most, and characters of one
MAX_CAPTION = 2000  # characters of a caption kept
NO_CAPTIONS = frozenset({"default", "image", "picture", "photo", "description", "camera", "digital camera",
                         "jpeg", "screenshot"})  # what software writes where no one wrote a caption
SIDECAR_BYTES = 1 << 20  # an XMP sidecar is read up to this
REJECTED = -1  # the rating of a photo marked rejected (Lightroom's, digiKam's)

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
# properties whose values are tags: keywords, hierarchical keywords (their last part), people named in regions
_KEYWORDS = {"{http://purl.org/dc/elements/1.1/}subject"}
_DESCRIPTION = "{http://purl.org/dc/elements/1.1/}description"  # the caption (Lightroom's, digiKam's, Windows')
_HIERARCHIES = {"{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject": "|",
                "{http://www.digikam.org/ns/1.0/}TagsList": "/"}
_PEOPLE = {"{http://www.metadataworkinggroup.com/schemas/regions/}Name",
           "{http://ns.microsoft.com/photo/1.2/t/Region#}PersonDisplayName"}
_RATING = "{http://ns.adobe.com/xap/1.0/}Rating"
_MWG, _AREA = "{http://www.metadataworkinggroup.com/schemas/regions/}", "{http://ns.adobe.com/xmp/sType/Area#}"
_MP = "{http://ns.microsoft.com/photo/1.2/t/Region#}"


Box = tuple[float, float, float, float]  # left, top, right, bottom: fractions of a picture's width and height


class Tagged(NamedTuple):
    """A photo's tags, in the order found, its rating (1 to 5 stars, `REJECTED`; None where it has none), the
    faces a photo manager named in it (name, `Box`; no box: a name given the picture, not a place in it), and its
    caption ("" for none: `caption_text`)."""

    tags: tuple[str, ...] = ()
    rating: int | None = None
    faces: tuple[tuple[str, Box | None], ...] = ()
    caption: str = ""


def merged(*found: Tagged) -> Tagged:
    """The tags of all, each once (the first spelling), the first rating given, the named faces of the first
    that names any, and the first caption."""
    seen: dict[str, str] = {}
    for tag in (tag for tagged in found for tag in tagged.tags):
        tag = " ".join(tag.split())[:MAX_TAG]
        if tag and len(seen) < MAX_TAGS:
            seen.setdefault(fold(tag), tag)
    return Tagged(tuple(seen.values()), next((t.rating for t in found if t.rating is not None), None),
                  next((t.faces for t in found if t.faces), ()), next((t.caption for t in found if t.caption), ""))


def caption_words(text: str) -> frozenset[str]:
    """The words of a caption (or of words to find in one), case and accents ignored."""
    return frozenset(re.findall(r"\w+", fold(text)))


def caption_text(text: str | bytes | None) -> str:
    """A caption as kept: its spaces tidied, at most `MAX_CAPTION` characters; "" for none, and for the text cameras
    write there themselves, all in capitals ("OLYMPUS DIGITAL CAMERA", "SONY DSC", "EXIF_JPEG_PICTURE") or one of
    `NO_CAPTIONS`."""
    if isinstance(text, bytes):
        text = _text(text)
    text = " ".join((text or "").replace("\x00", " ").split())[:MAX_CAPTION]
    if text.upper() == text != text.lower() or text.casefold() in NO_CAPTIONS:
        return ""
    return text


def xmp_tagged(data: bytes) -> Tagged:
    """The tags and rating the XMP packets in `data` hold, merged (a DNG's own and its preview's; the first rating
    given): each from `<x:xmpmeta` to its end, or `data` whole where it has none (a sidecar written as bare RDF);
    nothing from one that is not well-formed XML."""
    packets, done = [], 0
    while (end := data.find(_END, done)) >= 0:  # each end with the last start before it (not a broken one's)
        if (start := data.rfind(_START, done, end)) >= 0:
            packets.append(data[start: end + len(_END)])
        done = end + len(_END)
    return merged(*map(_packet_tagged, packets or [data]))


_START, _END = b"<x:xmpmeta", b"</x:xmpmeta>"


def _packet_tagged(packet: bytes) -> Tagged:
    try:
        root = ElementTree.fromstring(packet)
    except (ElementTree.ParseError, ValueError):
        return Tagged()
    tags, rating, caption = [], None, ""
    for element in root.iter():
        for name, value in [(element.tag, None), *element.attrib.items()]:
            if name in _KEYWORDS or name in _HIERARCHIES or name in _PEOPLE:
                values = [value] if value is not None else _values(element)
                split = _HIERARCHIES.get(name)
                tags += [v.split(split)[-1] if split else v for v in values]
            elif name == _RATING and rating is None:
                rating = _rating(value if value is not None else element.text)
            elif name == _DESCRIPTION and not caption:  # a language alternative: the first (x-default) taken
                caption = caption_text(value if value is not None else _values(element)[0])
    return Tagged(tuple(tags), rating, tuple(_named_faces(root)), caption)


def _named_faces(root: ElementTree.Element) -> Iterator[tuple[str, Box]]:
    """The faces named in a packet's regions: the MWG's (Lightroom, digiKam, Picasa: the area's centre, width and
    height) and Microsoft's (its rectangle's corner, width and height), as fractions of the picture's size."""
    for element in root.iter():
        name = _property(element, f"{_MWG}Name")
        if name and (_property(element, f"{_MWG}Type") or "Face") == "Face":
            area = element.find(f".//{_MWG}Area")
            if area is not None and (_property(area, f"{_AREA}unit") or "normalized") == "normalized":
                x, y, w, h = (_number(_property(area, f"{_AREA}{k}")) for k in "xywh")
                if None not in (x, y, w, h):
                    yield from _box(name, x - w / 2, y - h / 2, w, h)
        elif name := _property(element, f"{_MP}PersonDisplayName"):
            rectangle = [_number(v) for v in (_property(element, f"{_MP}Rectangle") or "").split(",")]
            if len(rectangle) == 4 and None not in rectangle:
                yield from _box(name, *rectangle)


def _box(name: str, left: float, top: float, width: float, height: float) -> Iterator[tuple[str, Box]]:
    """(name, box) where the numbers make a box within the picture."""
    if 0 < width <= 1 and 0 < height <= 1 and -0.01 <= left and -0.01 <= top and left + width <= 1.01 \
            and top + height <= 1.01:
        yield " ".join(name.split())[:MAX_TAG], (max(left, 0.0), max(top, 0.0), min(left + width, 1.0),
                                                  min(top + height, 1.0))


def _property(element: ElementTree.Element, name: str) -> str | None:
    """An RDF property of an element, written as an attribute or as a child element's text."""
    if name in element.attrib:
        return element.attrib[name]
    child = element.find(name)
    return child.text if child is not None else None


def _number(text: str | None) -> float | None:
    try:
        number = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _values(element: ElementTree.Element) -> list[str]:
    """A property's values: its list's items (`rdf:li`), else its own text."""
    items = [li.text or "" for li in element.iter(f"{_RDF}li")]
    return items if items else [element.text or ""]


def _rating(text: str | None) -> int | None:
    """A rating as stars (1 to 5; -1 rejected), None where it is not one (0: not rated, as Lightroom and Windows
    write it)."""
    try:
        stars = round(float(str(text).strip()))
    except (TypeError, ValueError, OverflowError):  # no number, NaN, infinite
        return None
    return stars if stars == REJECTED or 1 <= stars <= 5 else None


def iptc_keywords(records: Mapping | None) -> Tagged:
    """The keywords (2:25) and caption (2:120) of a photo's IPTC records (Pillow's `IptcImagePlugin.getiptcinfo`),
    UTF-8 or else Latin-1."""
    found, caption = (records or {}).get((2, 25)) or [], (records or {}).get((2, 120))
    return Tagged(tuple(_text(value) for value in (found if isinstance(found, list) else [found])),
                  caption=caption_text(caption[0] if isinstance(caption, list) else caption))


def exif_caption(ifd0: Mapping) -> Tagged:
    """The caption in a photo's EXIF ImageDescription, where a person wrote one (`caption_text`): UTF-8, as most
    software writes it there (Pillow gives its bytes as Latin-1), else Latin-1."""
    text = ifd0.get(0x010E)
    if isinstance(text, str):
        try:
            text = text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return Tagged(caption=caption_text(text) if isinstance(text, (str, bytes)) else "")


def windows_tagged(ifd0: Mapping) -> Tagged:
    """The keywords ("XPKeywords", UTF-16, ";" between them) and rating Windows writes into EXIF."""
    raw, tags = ifd0.get(0x9C9E), ()
    if isinstance(raw, (bytes, tuple, list, str)):  # bytes as written; anything else is no text
        try:
            data = raw.encode("utf-16-le") if isinstance(raw, str) else bytes(raw)[:MAX_TAGS * MAX_TAG * 2]
        except (TypeError, ValueError):
            data = b""
        tags = tuple(data.decode("utf-16-le", "replace").rstrip("\x00").split(";"))
    return Tagged(tags, _rating(ifd0.get(0x4746)))


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def sidecar(path: str) -> str | None:
    """The XMP sidecar of an image file, where one lies beside it: `NAME.EXT.xmp` (darktable, digiKam), else
    `NAME.xmp` (Lightroom), any case."""
    folder, name = os.path.split(path)
    found = sidecar_files(folder)
    return found.get(name.casefold() + ".xmp") or found.get(os.path.splitext(name)[0].casefold() + ".xmp")


def sidecar_files(folder: str) -> dict[str, str]:
    """The files of a folder that may tell of the images beside them (XMP and JSON: `cbir.takeout`), lower-cased
    name -> path. Each folder is listed once while it is unchanged."""
    return _sidecars(folder or ".", modified(folder or "."))


def modified(folder: str) -> int | None:
    """A folder's modification time (ns): what it holds changed when it changed; None where it is gone."""
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


@lru_cache(maxsize=256)
def _sidecars(folder: str, mtime: int | None) -> dict[str, str]:
    """`sidecar_files` of a folder as it was at `mtime`."""
    try:
        with os.scandir(folder) as entries:
            return {e.name.casefold(): e.path for e in entries if e.name[-4:].casefold() == ".xmp"
                    or e.name[-5:].casefold() == ".json"}
    except OSError:
        return {}


def sidecar_tagged(path: str) -> Tagged:
    """The tags and rating in an XMP sidecar file; none when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return xmp_tagged(f.read(SIDECAR_BYTES))
    except OSError:
        return Tagged()


def stored(tagged: Tagged) -> str:
    """Tags as the metadata keeps them: one a line."""
    return "\n".join(tagged.tags)


def tags_of(text: str | None) -> tuple[str, ...]:
    """Stored tags (`stored`) as a tuple."""
    return tuple(text.split("\n")) if text else ()


def alternatives(text: str) -> list[str]:
    """What a filter's text names, any of them: the parts "," "or" or "|" join."""
    return [part for part in re.split(r",|\bor\b|\|", text, flags=re.IGNORECASE) if part.strip()]


def tags_named(text: str, tags: Iterable[str]) -> frozenset[str]:
    """Those of `tags` that the text names (any of those it joins with "," or "or"); an error with the tags meant
    when one names none of them."""
    return named_among(text, tags, "tag", "none of the images has tags (photo managers write them into a photo's XMP "
                                          "or IPTC keywords, or into an XMP file beside it)", "no image is tagged '{}'")


def named_among(text: str, values: Iterable[str], field: str, none: str, missing: str) -> frozenset[str]:
    """Those of `values` that the text names, whole, case and accents ignored (any of those it joins with "," or
    "or"); an `UnknownWordsError` (for `field`) saying `none` where there are no values, or `missing` (a format of
    the part given) with the values meant, where a part names none of them."""
    by_fold: dict[str, set[str]] = {}
    for value in values:
        by_fold.setdefault(fold(value), set()).add(value)
    if not by_fold:
        raise UnknownWordsError(none, field=field)
    named: set[str] = set()
    for wanted in alternatives(text):
        found = by_fold.get(fold(wanted))
        if not found:
            raise unknown(missing.format(wanted.strip()), wanted,
                          {folded: min(spellings) for folded, spellings in by_fold.items()}, field)
        named |= found
    return frozenset(named)


class Tag(NamedTuple):
    """A tag of a collection's photos: how many have it, and the newest of them (an id)."""

    tag: str
    images: int
    example: str


def overview(tags: Mapping[str, tuple[str, ...]], newest_first: list[str]) -> list[Tag]:
    """The tags of a collection's photos (`tags`: id -> its tags), the most used first, each with its newest photo
    (`newest_first`: the ids by date); tags that differ only in case or accents are one, by their most used
    spelling."""
    spellings = Counter(tag for found in tags.values() for tag in found)
    spelt: dict[str, str] = {}
    for tag, _ in sorted(spellings.items(), key=lambda kv: (-kv[1], kv[0])):
        spelt.setdefault(fold(tag), tag)
    one = {id_: tuple(dict.fromkeys(spelt[fold(tag)] for tag in found)) for id_, found in tags.items()}
    return [Tag(*row) for row in counted(one, newest_first)]
