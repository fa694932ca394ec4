"""Exact and near duplicates among an engine's images, and new images that an engine already holds.

- **Exact**: the same decoded pixels (the metadata's `digest`): the same picture, whatever its file format,
  name or folder.
- **Near**: the engine's vectors (its copies' when it has them: `picture_engine`) at cosine similarity `threshold`
  or more (each image against its `NEIGHBOURS` nearest). The threshold means what the engine's features mean:
  `FeatureExtractor.duplicate_threshold` gives each family's measured default (docs/duplicates.md); features that
  describe a class rather than a picture have none. At that default, an image's best match that stands out from its
  next (`FeatureExtractor.copy_lead`) is a near duplicate too, and else one of its best two whose pixels are the
  image's (`cbir.copies`, read from the files): the rules by which a search puts copies first.
- **Groups**: every two pictures of a near group are near duplicates of each other (complete linkage), so a
  look-alike of one member does not chain a group of strangers together.

In each group one image is kept: one not marked rejected, with the most pixels, then the best rated, then the most
tagged (the copy its owner curated: `cbir.tags`), then the largest file, then the first id (`keeper_order`).
Nothing here deletes anything: `cbir.aside` moves the others to a folder, and back.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.folder import archive_member, file_part, file_stamp, read_bytes
from cbir.datasets.raw import is_raw_name, raw_pixels
from cbir.datasets.video import is_video_name, video_pixels
from cbir.copies import copies_among, copies_of, file_picture, first_verified, grey_picture
from cbir.errors import CbirError
from cbir.tags import REJECTED
from cbir.types import Hit

NEIGHBOURS = 10  # nearest images each image is compared with (a near group of more pictures than this is rare)
BATCH = 1024
VERIFY_THREADS = 2  # pixel comparisons at once: OpenCV and the decoders release the GIL


@dataclass
class Member:
    id: str
    path: str | None
    similarity: float  # cosine similarity to the kept image (1.0 for itself and exact copies)
    pixels: int | None = None  # width x height of the file (None when it cannot be read)
    bytes: int | None = None
    changed: bool = False  # its file changed since it was indexed (`cbir add` describes it again)
    rating: int | None = None  # its stars (`cbir.tags`; -1: rejected)
    tags: tuple[str, ...] = ()


@dataclass
class Group:
    kind: str  # "exact" (all the same pixels) or "near"
    members: list[Member] = field(default_factory=list)  # the kept image first

    @property
    def keep(self) -> Member:
        return self.members[0]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "keep": self.keep.id, "members": [asdict(m) for m in self.members]}


def picture_engine(engine):
    """What near duplicates are found with: an engine's copies (`cbir index --copies`: features of the picture
    itself, `cbir.copies`) when it has them, else the engine."""
    return engine.copies if engine.copies is not None else engine


def default_threshold(engine) -> float:
    """The measured near-duplicate threshold of the features near duplicates are found with; an error for features
    without one."""
    features = picture_engine(engine).extractor
    if features.duplicate_threshold is None:
        raise CbirError(f"features '{features.name}' describe what class an image shows, not the picture: near "
                        "duplicates need an engine indexed with --features effnet or with --copies (or give "
                        "--threshold to use these features anyway); exact duplicates need no threshold: --exact-only")
    return features.duplicate_threshold


def file_facts(path: str | None) -> tuple[int | None, int | None]:
    """(width x height, bytes) of an image file or zip member; (None, None) when it cannot be read."""
    from PIL import Image

    if path is None:
        return None, None
    try:
        if archive_member(path):
            data = read_bytes(path)
            size, source = len(data), io.BytesIO(data)
        else:
            size, source = os.path.getsize(path), path
        if is_raw_name(path):  # its first image is the camera's small picture, if Pillow reads it at all
            return raw_pixels(source), size
        if is_video_name(path):
            return video_pixels(path) if source is path else None, size
        with Image.open(source) as im:
            return im.width * im.height, size
    except (OSError, ValueError, CbirError):
        return None, None


def keeper_order(member: Member) -> tuple:
    """Sort key putting the image to keep first: not rejected, most pixels, best rated, most tagged, largest file,
    then the first id."""
    return (member.rating == REJECTED, -(member.pixels or 0), -max(member.rating or 0, 0), -len(member.tags),
            -(member.bytes or 0), member.id)


def find_duplicates(engine, threshold: float | None = None, exact_only: bool = False, progress: bool = False,
                    report: Callable[[int, int], None] | None = None) -> list[Group]:
    """Groups of two or more images that are the same picture, largest first: exact copies, and unless `exact_only`
    near duplicates at `threshold` (the features' default when None: with distinct best matches and matches their
    pixels verify), every two pictures of a group near duplicates of each other (`_cliques`). `report`: called with
    the distinct pictures compared so far and their number, as they are."""
    engine = picture_engine(engine)
    if not exact_only and threshold is None:
        threshold = default_threshold(engine)
    ids, vectors = engine.index.vectors()
    pictures = _pictures(engine, ids)
    clusters = [[p] for p in range(len(pictures))]
    if not exact_only:
        lead = lead_at(engine, threshold)
        firsts = [rows[0] for rows in pictures]
        verify = _pixel_check(engine, [ids[row] for row in firsts], lead[0]) if lead else None
        clusters = _cliques(_near_pairs(vectors[firsts], threshold, lead, progress, verify, report),
                            vectors[firsts], len(firsts))
    groups = []
    for cluster in clusters:
        rows = [row for p in cluster for row in pictures[p]]
        if len(rows) > 1:
            groups.append(_group(engine, [ids[row] for row in rows], vectors[rows],
                                 "exact" if len(cluster) == 1 and engine.metadata.digest(ids[rows[0]]) else "near"))
    return sorted(groups, key=lambda g: (-len(g.members), g.keep.id))


def lead_at(engine, threshold: float | None) -> tuple[float, float] | None:
    """The features' copy lead when `threshold` is their own duplicate threshold (another threshold alone decides)."""
    features = picture_engine(engine).extractor
    return features.copy_lead if threshold is not None and threshold == features.duplicate_threshold else None


def rule(engine, threshold: float | None) -> str:
    """What makes two images near duplicates at `threshold`, for people."""
    lead = lead_at(engine, threshold)
    return f"cosine similarity {threshold:g} or more" + (
        f", or an image's best match when it scores {lead[0]:g} or more and leads the next by {lead[1]:g}, "
        "or one of its two best at that score when their pixels match" if lead else "")


def _pictures(engine, ids: Sequence[str]) -> list[list[int]]:
    """The rows of the index by distinct picture: those with the same decoded pixels together (an image without
    a pixel digest alone), in the order of their first row."""
    found: dict[str | int, list[int]] = {}
    for row, id_ in enumerate(ids):
        found.setdefault(engine.metadata.digest(id_) or row, []).append(row)
    return list(found.values())


def _pixel_check(engine, ids: Sequence[str], floor: float) -> Callable[[int, list[Hit]], list[Hit]]:
    """For an image (by row of `ids`) and its best matches (their ids are rows too), the first match whose pixels
    are the image's (`cbir.copies.first_verified`); each image's grey picture is read from its file once."""
    kept: dict[int, np.ndarray | None] = {}  # grey levels are whole numbers: kept as uint8, a quarter of the memory

    def picture(row: int) -> np.ndarray | None:
        if row not in kept:
            grey = file_picture(engine.metadata.path(ids[row]))
            kept[row] = None if grey is None else grey.astype(np.uint8)
        return None if kept[row] is None else kept[row].astype(np.float32)

    return lambda row, hits: first_verified(lambda: picture(row), hits, floor, lambda hit: picture(int(hit.id)))


def _near_pairs(vectors: np.ndarray, threshold: float, lead: tuple[float, float] | None, progress: bool,
                verify: Callable[[int, list[Hit]], list[Hit]] | None = None,
                report: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(n, 2) rows of every image and each of its `NEIGHBOURS` nearest that `copies_among` finds a copy, or else
    that `verify` does; `report` is told how many images are done, and of how many, after each batch."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    k = min(NEIGHBOURS + 1, len(vectors))
    pairs: list[tuple[int, int]] = []
    with ThreadPoolExecutor(VERIFY_THREADS) as pool, tqdm(total=len(vectors), desc="near duplicates", unit="image",
                                                         disable=not progress, mininterval=0.5) as bar:
        for start in range(0, len(vectors), BATCH):
            scores, positions = index.search(vectors[start: start + BATCH], k)
            rows = range(start, start + len(scores))
            best = [[Hit(int(p), float(score)) for p, score in zip(at, found) if 0 <= p != row]
                    for row, found, at in zip(rows, scores, positions)]
            copies = [copies_among(hits, threshold, lead) for hits in best]
            unfound = [i for i, found in enumerate(copies) if not found] if verify else []
            for i, verified in zip(unfound, pool.map(lambda i: verify(rows[i], best[i]), unfound)):
                copies[i] = verified
            pairs += [(row, int(h.id)) for row, found in zip(rows, copies) for h in found]
            bar.update(len(scores))
            if report:
                report(start + len(scores), len(vectors))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _cliques(pairs: np.ndarray, vectors: np.ndarray, count: int) -> list[list[int]]:
    """The `count` rows in groups in which every two members are a pair: pairs are taken from the most similar down,
    and two groups merge only when each member of one pairs with each member of the other (complete linkage: a
    look-alike of one member does not chain in through it)."""
    linked = {(int(a), int(b)) for a, b in pairs} | {(int(b), int(a)) for a, b in pairs}
    group: dict[int, list[int]] = {row: [row] for row in range(count)}
    for a, b in sorted({(a, b) for a, b in linked if a < b}, key=lambda p: -float(vectors[p[0]] @ vectors[p[1]])):
        first, second = group[a], group[b]
        if first is not second and all((x, y) in linked for x in first for y in second):
            first.extend(second)
            for row in second:
                group[row] = first
    return list({id(members): members for members in group.values()}.values())


def _group(engine, ids: Sequence[str], vectors: np.ndarray, kind: str) -> Group:
    members, known = [], engine.metadata_now
    for id_ in ids:
        path, hit = engine.metadata.path(id_), known.hit(id_, 1.0)
        members.append(Member(id_, path, 1.0, *file_facts(path),
                              changed=changed_since_indexed(id_, path, known), rating=hit.rating, tags=hit.tags))
    order = sorted(range(len(members)), key=lambda i: keeper_order(members[i]))
    kept = vectors[order[0]]
    for i in order:
        members[i].similarity = round(float(np.clip(vectors[i] @ kept, -1, 1)), 4)
    return Group(kind, [members[i] for i in order])


def check_new(engine, dataset, threshold: float | None = None, exact_only: bool = False) -> list[dict]:
    """For each image of `dataset` (new photos), the engine's images it duplicates: exact copies (same pixels)
    and, unless `exact_only`, near duplicates by `find_duplicates`' rules. Only images with a match are listed."""
    from cbir.metadata import pixel_digest

    engine = picture_engine(engine)
    if not exact_only and threshold is None:
        threshold = default_threshold(engine)
    exact = engine.metadata.digests()
    # the engine's own vectors, which the threshold is about (not a search's ranking, which puts copies first)
    near = [] if exact_only else _copies_of(engine, dataset.images, threshold)
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


def _copies_of(engine, images: Sequence[np.ndarray], threshold: float) -> list[list[Hit]]:
    """Per image, the engine's images it is a near duplicate of, by `find_duplicates`' rules."""
    lead = lead_at(engine, threshold)
    return [copies_of(partial(grey_picture, image), hits, threshold, lead)
            for image, hits in zip(images, engine.search_vectors(engine.embed(images), NEIGHBOURS))]


def changed_since_indexed(id_: str, path: str | None, metadata) -> bool:
    """Whether the file of image `id_` at `path` is not as it was indexed (gone, or another size or time); an engine
    that recorded no stamp for it cannot tell, and says no."""
    recorded = metadata.stamp(id_) if path is not None else None
    return recorded is not None and file_stamp(path) != file_part(recorded)  # its picture's file: not its XMP
