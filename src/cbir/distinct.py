"""One result per group of look-alikes (a search's `distinct`): its hits less those that are near duplicates of a
better one (shots of a burst, edits and copies of one picture), each hit kept naming those it stands for
(`Hit.alike`). Near duplicates as `cbir duplicates` pairs them: the picture features (`picture_engine`) at their
measured threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from cbir.duplicates import picture_engine
from cbir.errors import CbirError
from cbir.types import Hit

POOL = 4  # hits searched for each one wanted (and again as many times, while look-alikes leave too few)


def check_distinct(engine) -> float:
    """The threshold from which two of the engine's pictures are look-alikes; an error for features without one."""
    features = picture_engine(engine).extractor
    if features.duplicate_threshold is None:
        raise CbirError(f"one result per group of look-alikes needs features that describe the picture: an engine "
                        f"indexed with --features effnet or with --copies ('{features.name}' describes what class an "
                        f"image shows)")
    return features.duplicate_threshold


def one_per_group(engine, rows: Sequence[list[Hit]], k: int) -> list[list[Hit]]:
    """Per query, its first k hits that are no look-alike of a better one, each with the later ones it stands for."""
    threshold, picture = check_distinct(engine), picture_engine(engine)
    found = []
    for row in rows:
        if not row:
            found.append([])
            continue
        vectors = picture.index.vectors_of([hit.id for hit in row])
        alike = vectors @ vectors.T >= threshold
        kept: dict[int, list[str]] = {}
        for i, hit in enumerate(row):
            leader = next((j for j in kept if alike[i, j]), None)
            if leader is None:
                kept[i] = []
            else:
                kept[leader].append(hit.id)
        found.append([row[i]._replace(alike=tuple(ids)) for i, ids in list(kept.items())[:k]])
    return found
