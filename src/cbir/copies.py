"""Copies first: an engine can index its images a second time with features that describe the picture itself
(`effnet-copies`), and every search then puts the indexed copies of the query — the same picture re-saved, resized,
cropped a little, recoloured, with text over it — before the rest of its ranking.

A copy is an image at the copy features' duplicate threshold or more (`FeatureExtractor.duplicate_threshold`); below
it, the best match alone is still a copy when it is distinct (`FeatureExtractor.copy_lead`): it scores a floor or more
and leads the next match by a margin, as Lowe's ratio test asks of a local feature's match. An altered copy stands
out from everything else in the collection; a picture that merely looks like the query has others close behind it.
A copy takes the score of the ranking's best hit (a hair above it, so the order holds wherever hits are sorted by
score, as `trec_eval` sorts a run) and keeps its own similarity as `Hit.copy`; the ranking's other hits follow in their
order, each once.
"""

from __future__ import annotations

from collections.abc import Sequence

from cbir.types import Hit

EPSILON = 1e-6  # how far above the ranking's best score the copies go, one step per copy


def copies_among(hits: Sequence[Hit], threshold: float, lead: tuple[float, float] | None = None) -> list[Hit]:
    """The copies of a query among its best matches, best first (two or more of them, for the lead): those at
    `threshold` or more, else the best one alone when it scores lead[0] or more and leads the next by lead[1]."""
    found = [h for h in hits if h.score >= threshold]
    if not found and lead and hits and hits[0].score >= lead[0] and (
            len(hits) == 1 or hits[0].score - hits[1].score >= lead[1]):
        found = list(hits[:1])
    return found


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
