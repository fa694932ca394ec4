"""What an engine knows of its photos, written out for other software, so that nothing said here stays here alone: an
XMP file a photo (`xmp_of`: what darktable, digiKam and Lightroom read beside a photo) and a CSV table (`csv_rows`).

Each photo's XMP holds its tags, the people found in it with a name (keywords, and `People|Anna` as a hierarchical
keyword), its albums (keywords, and `Albums|Rome`), its caption, stars, when and where it was taken (EXIF's
DateTimeOriginal and GPS position in XMP: a Takeout's, or a date put right, travel with it); the CSV table also the
text read in it (`cbir.texts`). The files are written
into a folder of their own, in the collection's layout (`IMG_1.jpg` -> `IMG_1.jpg.xmp`), never beside the photos:
an XMP file there is read as the photo's own tags (`cbir.tags.sidecar`). Each says it was written by cbir
(`xmp:CreatorTool`), and only such a file is written over.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from pathlib import Path

from cbir import __version__
from cbir.types import Hit

CREATOR = "cbir"  # what `xmp:CreatorTool` starts with in the files written here
NAMESPACES = {"x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
              "dc": "http://purl.org/dc/elements/1.1/", "xmp": "http://ns.adobe.com/xap/1.0/",
              "lr": "http://ns.adobe.com/lightroom/1.0/", "exif": "http://ns.adobe.com/exif/1.0/"}
COLUMNS = ("id", "path", "date", "place", "latitude", "longitude", "camera", "rating", "tags", "people", "albums",
           "caption", "text")
for _prefix, _uri in NAMESPACES.items():
    ElementTree.register_namespace(_prefix, _uri)


def _name(prefix: str, local: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{local}"


def named_people(hit: Hit) -> list[str]:
    """The people found in a photo who have a name ("person 3", no one's name yet, left out)."""
    return [who for who in hit.people if not who.startswith("person ")]


def xmp_of(hit: Hit) -> bytes:
    """An XMP sidecar of what is known of a photo (`Metadata.hit`)."""
    root = ElementTree.Element(_name("x", "xmpmeta"))
    about = ElementTree.SubElement(ElementTree.SubElement(root, _name("rdf", "RDF")), _name("rdf", "Description"),
                                   {_name("rdf", "about"): "", _name("xmp", "CreatorTool"): f"{CREATOR} {__version__}"})
    if hit.rating is not None:
        about.set(_name("xmp", "Rating"), str(hit.rating))
    if hit.date:
        about.set(_name("exif", "DateTimeOriginal"), hit.date)
    if hit.position:
        about.set(_name("exif", "GPSLatitude"), _gps(hit.position[0], "NS"))
        about.set(_name("exif", "GPSLongitude"), _gps(hit.position[1], "EW"))
    people, albums = named_people(hit), list(hit.albums)
    if keywords := list(dict.fromkeys([*hit.tags, *people, *albums])):
        _items(about, "dc", "subject", "Bag", keywords)
    if hierarchy := [f"People|{who}" for who in people] + [f"Albums|{album}" for album in albums]:
        _items(about, "lr", "hierarchicalSubject", "Bag", hierarchy)
    if hit.caption:
        _items(about, "dc", "description", "Alt", [hit.caption]).set("{http://www.w3.org/XML/1998/namespace}lang",
                                                                      "x-default")
    return (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + ElementTree.tostring(root)
            + b'\n<?xpacket end="w"?>\n')


def _items(parent: ElementTree.Element, prefix: str, local: str, kind: str, values: list[str]) -> ElementTree.Element:
    """A property holding a list (`Bag`) or language alternatives (`Alt`); returns its last item."""
    holder = ElementTree.SubElement(ElementTree.SubElement(parent, _name(prefix, local)), _name("rdf", kind))
    for value in values:
        item = ElementTree.SubElement(holder, _name("rdf", "li"))
        item.text = value
    return item


def _gps(degrees: float, hemispheres: str) -> str:
    """A coordinate as XMP's EXIF schema writes it: "DDD,MM.mmmmmH"."""
    whole, minutes = divmod(abs(degrees) * 60, 60)
    return f"{int(whole)},{minutes:.5f}{hemispheres[degrees < 0]}"


def written_by_cbir(path: Path) -> bool:
    """Whether an XMP file was written here (`CREATOR`), and so may be written over."""
    try:
        return f'CreatorTool="{CREATOR} '.encode() in path.read_bytes()[:4096]
    except OSError:
        return False


def sidecar_path(folder: Path, image_id: str) -> Path | None:
    """Where the XMP of an image goes in an export folder: its id's path, `.xmp` after its name; None for an id
    that would lead out of the folder (an archive's member named "/etc/x.jpg")."""
    parts = [part for part in image_id.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        return None
    return folder.joinpath(*parts[:-1], parts[-1] + ".xmp")


def csv_rows(hits: Iterable[Hit]) -> Iterator[list]:
    """The rows of the CSV table (`COLUMNS`, then one a photo): lists joined with "; ", the text read in a photo
    (`cbir text`) with its lines as they are (quoted)."""
    yield list(COLUMNS)
    for hit in hits:
        latitude, longitude = hit.position or ("", "")
        yield [hit.id, hit.path or "", hit.date or "", hit.place or "", latitude, longitude, hit.camera or "",
               "" if hit.rating is None else hit.rating, "; ".join(hit.tags), "; ".join(named_people(hit)),
               "; ".join(hit.albums), hit.caption or "", hit.text or ""]


def write_csv(hits: Iterable[Hit], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(csv_rows(hits))
