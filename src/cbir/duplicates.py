"""Exact and near duplicates among an engine's images, and new images that an engine already holds.

- **Exact**: the same decoded pixels (the metadata's `digest`): the same picture, whatever its file format,
  name or folder.
- **Near**: the engine's vectors at cosine similarity `threshold` or more (each image against its
  `NEIGHBOURS` nearest), joined into groups through shared members. The threshold means what the
  engine's features mean: `FeatureExtractor.duplicate_threshold` gives each family's measured default
  (docs/duplicates.md); features that describe a class rather than a picture have none. At that default,
  an image's best match that stands out from its next (`FeatureExtractor.copy_lead`, `cbir.copies`) is a
  near duplicate too.

In each group one image is kept: the one with the most pixels, then the largest file, then the first id
(`keeper_order`). Nothing here deletes anything: `move_duplicates` moves the others to a folder.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.folder import MEMBER_SEPARATOR, read_bytes
from cbir.copies import copies_among
from cbir.errors import CbirError
from cbir.types import Hit

NEIGHBOURS = 10  # nearest images each image is compared with: a group larger than this joins through its members
BATCH = 1024


@dataclass
class Member:
    id: str
    path: str | None
    similarity: float  # cosine similarity to the kept image (1.0 for itself and exact copies)
    pixels: int | None = None  # width x height of the file (None when it cannot be read)
    bytes: int | None = None


@dataclass
class Group:
    kind: str  # "exact" (all the same pixels) or "near"
    members: list[Member] = field(default_factory=list)  # the kept image first

    @property
    def keep(self) -> Member:
        return self.members[0]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "keep": self.keep.id, "members": [asdict(m) for m in self.members]}


def default_threshold(engine) -> float:
    """The engine's features' measured near-duplicate threshold; an error for features without one."""
    threshold = engine.extractor.duplicate_threshold
    if threshold is None:
        raise CbirError(f"features '{engine.extractor.name}' describe what class an image shows, not the picture: "
                        "near duplicates need an engine indexed with --features effnet (or give --threshold "
                        "to use these features anyway); exact duplicates need no threshold: --exact-only")
    return threshold


def file_facts(path: str | None) -> tuple[int | None, int | None]:
    """(width x height, bytes) of an image file or zip member; (None, None) when it cannot be read."""
    from PIL import Image

    if path is None:
        return None, None
    try:
        if MEMBER_SEPARATOR in path:
            data = read_bytes(path)
            size, source = len(data), io.BytesIO(data)
        else:
            size, source = os.path.getsize(path), path
        with Image.open(source) as im:
            return im.width * im.height, size
    except (OSError, ValueError, CbirError):
        return None, None


def keeper_order(member: Member) -> tuple:
    """Sort key putting the image to keep first: most pixels, then largest file, then the first id."""
    return (-(member.pixels or 0), -(member.bytes or 0), member.id)


def find_duplicates(engine, threshold: float | None = None, exact_only: bool = False,
                    progress: bool = False) -> list[Group]:
    """Groups of two or more images that are exact copies, or near duplicates at `threshold` (the features'
    default when None, with distinct best matches), largest groups first."""
    if not exact_only and threshold is None:
        threshold = default_threshold(engine)
    lead = lead_at(engine, threshold)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids, vectors = engine.index.vectors()
    rows = {id_: i for i, id_ in enumerate(ids)}
    pairs = [(rows[same[0]], rows[id_]) for same in engine.metadata.digests().values() for id_ in same[1:]]
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    if not exact_only:
        pairs = np.concatenate([pairs, _near_pairs(vectors, threshold, lead, progress)])
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    groups = []
    for label in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(component == label)
        digests = {engine.metadata.digest(ids[i]) for i in members}
        groups.append(_group(engine, [ids[i] for i in members], vectors[members],
                             "exact" if len(digests) == 1 and None not in digests else "near"))
    return sorted(groups, key=lambda g: (-len(g.members), g.keep.id))


def lead_at(engine, threshold: float | None) -> tuple[float, float] | None:
    """The features' copy lead when `threshold` is their own duplicate threshold (another threshold alone decides)."""
    features = engine.extractor
    return features.copy_lead if threshold is not None and threshold == features.duplicate_threshold else None


def rule(engine, threshold: float | None) -> str:
    """What makes two images near duplicates at `threshold`, for people."""
    lead = lead_at(engine, threshold)
    return f"cosine similarity {threshold:g} or more" + (
        f", or an image's best match when it scores {lead[0]:g} or more and leads the next by {lead[1]:g}" if lead else "")


def _near_pairs(vectors: np.ndarray, threshold: float, lead: tuple[float, float] | None,
                progress: bool) -> np.ndarray:
    """(n, 2) rows of every image and each of its `NEIGHBOURS` nearest that `copies_among` finds a copy."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    k = min(NEIGHBOURS + 1, len(vectors))
    pairs: list[tuple[int, int]] = []
    for start in tqdm(range(0, len(vectors), BATCH), desc="near duplicates", unit="batch", disable=not progress,
                      mininterval=0.5):
        scores, positions = index.search(vectors[start: start + BATCH], k)
        for row, (found, at) in enumerate(zip(scores, positions), start):
            hits = [Hit(int(p), float(score)) for p, score in zip(at, found) if 0 <= p != row]
            pairs += [(row, int(h.id)) for h in copies_among(hits, threshold, lead)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _group(engine, ids: Sequence[str], vectors: np.ndarray, kind: str) -> Group:
    members = []
    for id_ in ids:
        path = engine.metadata.path(id_)
        members.append(Member(id_, path, 1.0, *file_facts(path)))
    order = sorted(range(len(members)), key=lambda i: keeper_order(members[i]))
    kept = vectors[order[0]]
    for i in order:
        members[i].similarity = round(float(np.clip(vectors[i] @ kept, -1, 1)), 4)
    return Group(kind, [members[i] for i in order])


def check_new(engine, dataset, threshold: float | None = None, exact_only: bool = False) -> list[dict]:
    """For each image of `dataset` (new photos), the engine's images it duplicates: exact copies (same pixels)
    and, unless `exact_only`, images at `threshold` or more (at the features' own, a distinct best match too). Only
    images with a match are listed."""
    from cbir.metadata import pixel_digest

    if not exact_only and threshold is None:
        threshold = default_threshold(engine)
    exact = engine.metadata.digests()
    # the engine's own vectors, which the threshold is about (not a search's ranking, which puts copies first)
    near = [] if exact_only else [copies_among(hits, threshold, lead_at(engine, threshold)) for hits in
                                  engine.search_vectors(engine.embed(dataset.images), NEIGHBOURS)]
    found = []
    for i, (id_, path, image) in enumerate(zip(dataset.ids, dataset.paths, dataset.images)):
        same = exact.get(pixel_digest(image), [])
        matches = {m: (1.0, True) for m in same}
        for hit in near[i] if near else ():
            matches.setdefault(hit.id, (round(float(hit.score), 4), False))
        if matches:
            found.append({"query": path or id_, "matches": [
                {"id": m, "path": engine.metadata.path(m), "similarity": score, "exact": is_exact}
                for m, (score, is_exact) in matches.items()]})
    return found


def move_duplicates(groups: Sequence[Group], folder: str | Path) -> list[tuple[str, str]]:
    """Move every image but each group's kept one into `folder` (keeping their folders' names beneath it, and
    never overwriting a file there); returns (from, to) per file moved. Images in zip archives, or without a
    file, stay where they are."""
    paths = [os.path.abspath(m.path) for g in groups for m in g.members[1:]
             if m.path is not None and MEMBER_SEPARATOR not in m.path and os.path.isfile(m.path)]
    if not paths:
        return []
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    moved = []
    for path in paths:
        target = _free(Path(folder) / os.path.relpath(path, root))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append((path, str(target)))
    return moved


def _free(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`, ... when taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate
