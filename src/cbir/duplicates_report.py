"""A self-contained HTML report of duplicate groups: every image as an inline thumbnail, the kept one framed, each
photo's file a click away."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from cbir.datasets.folder import archive_member

THUMB = 160  # pixels on a thumbnail's longest side


def templates() -> Environment:
    """The web page's templates, for pages written to files."""
    return Environment(loader=PackageLoader("cbir.web", "templates"), autoescape=select_autoescape())


def thumbnail_uri(engine, member) -> str:
    """A data: URI of the member's thumbnail (an empty one when its file cannot be read)."""
    from cbir.datasets.sources import load_image
    from cbir.errors import CbirError
    from cbir.web.pictures import thumbnail

    try:
        image = load_image(member.path, max_side=THUMB) if member.path else None
    except (OSError, CbirError):
        image = None
    if image is None:
        return ""
    data, mimetype = thumbnail(image, THUMB)
    return f"data:{mimetype};base64," + base64.b64encode(data).decode()


def write_report(groups, engine, name: str, path: str | Path, threshold: float | None = None) -> None:
    """Write the report of `groups` (found in `engine`, called `name`; near ones at `threshold`) to `path`."""
    from cbir.duplicates import rule

    html = templates().get_template("duplicates_report.html").render(
        groups=groups, engine=name, rule=None if threshold is None else rule(engine, threshold),
        copies=sum(len(g.members) - 1 for g in groups), src=lambda m: thumbnail_uri(engine, m), link=lambda m: None,
        original=file_uri)
    Path(path).write_text(html)


def file_uri(member) -> str | None:
    """A `file://` address of a member's photo, for the report opened where the photos are; None for one in an
    archive, or without a file."""
    if not member.path or archive_member(member.path):
        return None
    return Path(member.path).absolute().as_uri()
