"""Copies first: an engine can index its images a second time with features that describe the picture itself
(`effnet-copies`), and every search then puts the indexed copies of the query — the same picture re-saved, resized,
cropped a little, recoloured, with text over it — before the rest of its ranking.

A copy is an image at the copy features' duplicate threshold or more (`FeatureExtractor.duplicate_threshold`); below
it, the best match alone is still a copy when it is distinct (`FeatureExtractor.copy_lead`): it scores a floor or more
and leads the next match by a margin, as Lowe's ratio test asks of a local feature's match. An altered copy stands
out from everything else in the collection; a picture that merely looks like the query has others close behind it.
A best match at the floor that does not lead is a copy when its pixels say so (`same_picture`): the query, in grey,
aligned to it by a rotation and a shift, matches it block by block where nothing covers it. That finds the copies
whose features moved most (rotated, grey and blurred, with text over them) without taking look-alikes for them.
A copy takes the score of the ranking's best hit (a hair above it, so the order holds wherever hits are sorted by
score, as `trec_eval` sorts a run) and keeps its own similarity as `Hit.copy`; the ranking's other hits follow in their
order, each once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from cbir.datasets.sources import load_image
from cbir.errors import DatasetError, ImageDecodeError
from cbir.types import Hit

EPSILON = 1e-6  # how far above the ranking's best score the copies go, one step per copy
# `same_picture`, chosen on benchmarks/copies.py's hardest alterations against CIFAR-10 images that are not copies
# (docs/duplicates.md): both pictures in grey at 32x32, in 8x8 blocks; a block matches at a correlation of 0.8; a copy
# matches in half its blocks with texture (a grey-level deviation over 1)
SIDE, BLOCK, BLOCK_MATCH, MATCHED_SHARE, TEXTURE = 32, 8, 0.8, 0.5, 1.0
HOPELESS_SHARE = 0.2  # matched by the first alignment, below which a second is not tried (0.1% of the copies are)
OUTLIER = 1.0  # a pixel whose standardised difference after alignment is larger is left out of the second one
VERIFIED = 2  # how many of a query's best matches `verified_copy` looks at


def copies_among(hits: Sequence[Hit], threshold: float, lead: tuple[float, float] | None = None) -> list[Hit]:
    """The copies of a query among its best matches, best first (two or more of them, for the lead): those at
    `threshold` or more, else the best one alone when it scores lead[0] or more and leads the next by lead[1]."""
    found = [h for h in hits if h.score >= threshold]
    if not found and lead and hits and hits[0].score >= lead[0] and (
            len(hits) == 1 or hits[0].score - hits[1].score >= lead[1]):
        found = list(hits[:1])
    return found


def copies_of(query: Callable[[], np.ndarray | None], hits: Sequence[Hit], threshold: float,
              lead: tuple[float, float] | None) -> list[Hit]:
    """`copies_among`, else (with a lead) the match `verified_copy` finds: all the rules of a copy (`query`: the
    query's grey picture, `grey_picture`, asked for only when a match is verified)."""
    return copies_among(hits, threshold, lead) or (verified_copy(query, hits, lead[0]) if lead else [])


def verified_copy(query: Callable[[], np.ndarray | None], hits: Sequence[Hit], floor: float) -> list[Hit]:
    """The first of the best VERIFIED matches that scores `floor` or more and whose picture, read from its file, is
    the query's (`same_picture`; `query`: its grey picture, None when it cannot be had); else none (a match without
    a readable file verifies nothing)."""
    return first_verified(query, hits, floor, lambda hit: file_picture(hit.path))


def first_verified(query: Callable[[], np.ndarray | None], hits: Sequence[Hit], floor: float,
                   picture: Callable[[Hit], np.ndarray | None]) -> list[Hit]:
    """`verified_copy` with the grey pictures (`grey_picture`) given by callables: the query's (asked for once, when
    a match is looked at) and each match's; None for a picture that cannot be had."""
    views = None  # the query's grey picture, as it is and mirrored
    for hit in hits[:VERIFIED]:
        if hit.score < floor:
            break
        candidate = picture(hit)
        if candidate is None:
            continue
        if views is None:
            grey = query()
            if grey is None:
                return []
            views = (grey, np.ascontiguousarray(grey[:, ::-1]))
        if any(_same_grey(view, candidate) for view in views):
            return [hit]
    return []


def file_picture(path: str | None) -> np.ndarray | None:
    """The grey picture (`grey_picture`) of the image file at `path`; None without a path or a readable image."""
    if not path:
        return None
    try:
        return grey_picture(load_image(path, max_side=4 * SIDE))
    except (DatasetError, ImageDecodeError):
        return None


def copies_first(hits: Sequence[list[Hit]], copies: Sequence[list[Hit]], k: int) -> list[list[Hit]]:
    """Per query, its copies (best first) and then its ranked hits without them, at most k."""
    merged = []
    for row, found in zip(hits, copies):
        if not found:
            merged.append(row)
            continue
        top = row[0].score if row else 1.0
        promoted = [h._replace(score=top + EPSILON * (len(found) - i), copy=h.score) for i, h in enumerate(found)]
        taken = {h.id for h in promoted}
        merged.append((promoted + [h for h in row if h.id not in taken])[:k])
    return merged


def grey_picture(image: np.ndarray) -> np.ndarray:
    """An image in grey at SIDE x SIDE, float32 grey levels (what `same_picture` compares)."""
    im = Image.fromarray(np.asarray(image))
    return np.asarray(im.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float32)


def same_picture(query: np.ndarray, candidate: np.ndarray) -> bool:
    """Whether `query` shows `candidate`'s picture, rotated or moved a little, recoloured, blurred or partly covered:
    the query's grey picture aligned to the candidate's (OpenCV's enhanced correlation, rotation and shift), compared
    block by block, then aligned once more without the pixels that differ most (a caption, a logo) and compared
    again. A first comparison far from a match ends it (for nine in ten pictures that are not copies)."""
    return _same_grey(grey_picture(query), grey_picture(candidate))


def _same_grey(query: np.ndarray, candidate: np.ndarray) -> bool:
    """`same_picture` of two grey pictures (`grey_picture`)."""
    import cv2

    aligned, warp = _aligned(query, candidate, np.eye(2, 3, dtype=np.float32), None)
    if aligned is None or _matched_share(aligned, candidate) < HOPELESS_SHARE:
        return False
    inliers = np.abs(_standardised(aligned) - _standardised(candidate)) < OUTLIER
    mask = cv2.warpAffine(inliers.astype(np.uint8), warp, (SIDE, SIDE), flags=cv2.INTER_NEAREST)
    aligned, _ = _aligned(query, candidate, warp, mask)
    return aligned is not None and _matched_share(aligned, candidate) >= MATCHED_SHARE


def _aligned(query: np.ndarray, candidate: np.ndarray, warp: np.ndarray,
             mask: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    """(the query turned and moved onto the candidate, or None when no alignment is found: a flat picture, no
    convergence; the rotation and shift), from `warp` and with the query's pixels outside `mask` left out."""
    import cv2

    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
    try:
        _, warp = cv2.findTransformECC(candidate, query, warp, cv2.MOTION_EUCLIDEAN, criteria, mask, 3)
    except cv2.error:
        return None, warp
    return cv2.warpAffine(query, warp, (SIDE, SIDE), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE), warp


def _matched_share(aligned: np.ndarray, candidate: np.ndarray) -> float:
    """The share of the BLOCK x BLOCK blocks with texture in both whose correlation is BLOCK_MATCH or more."""
    n = SIDE // BLOCK
    a, b = (x.reshape(n, BLOCK, n, BLOCK).transpose(0, 2, 1, 3).reshape(n * n, BLOCK * BLOCK) for x in
            (aligned, candidate))
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    spread_a, spread_b = np.sqrt((a * a).mean(axis=1)), np.sqrt((b * b).mean(axis=1))
    textured = (spread_a > TEXTURE) & (spread_b > TEXTURE)
    if not textured.any():
        return 0.0
    correlation = (a * b).mean(axis=1)[textured] / (spread_a * spread_b)[textured]
    return float(np.mean(correlation >= BLOCK_MATCH))


def _standardised(picture: np.ndarray) -> np.ndarray:
    return (picture - picture.mean()) / (picture.std() + 1e-6)
