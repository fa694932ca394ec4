"""`Engine` = a fitted extractor + a vector index + image metadata, saved as one folder.

Every caller — CLI, evaluation, web — searches through `Engine.search`.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from cbir.albums import ALBUMS, BEST_OF, RESCORED, Albums
from cbir.batching import MicroBatcher, search_batch
from cbir.cameras import Camera, overview as cameras_overview
from cbir.copies import copies_first, copies_of, file_picture, grey_picture
from cbir.datasets.collection import Dataset
from cbir.datasets.folder import MEMBER_SEPARATOR
from cbir.datasets.images import is_image_name
from cbir.datasets.video import is_video_name
from cbir.distinct import POOL as DISTINCT_POOL, check_distinct, one_per_group
from cbir.errors import CbirError, EngineError, UnknownWordsError
from cbir.faces import Faces, Person, Seen
from cbir.features.base import FeatureExtractor, l2_normalise
from cbir.filters import Filter, Selection
from cbir.index.base import VectorIndex
from cbir.memories import Memory, on_this_day
from cbir.metadata import ORDERS, Metadata
from cbir.places import Place, overview as places_overview, places_named, split_place
from cbir.resume import Checkpoint, described_batches
from cbir.storage import current_version, link_files, write_version, writer_lock
from cbir.takeout import albums_of
from cbir.tags import Tag, overview as tags_overview, tags_named
from cbir.texts import Texts
from cbir.trips import Trip, trips
from cbir.types import Hit, SearchResult
from cbir.words import SHOWS, LikelyClasses, Shown, classes_named, naming, overview

FORMAT_VERSION = 1
T = TypeVar("T")
SELECTIONS = 64  # filters whose passing ids an engine keeps
COPIES = "copies"  # the sub-folder of the copies' engine
FACES = "faces.npz"  # the faces found in the images (`cbir.faces`)
TEXTS = "texts.json"  # the text read in the images (`cbir.texts`)
# how far a search moves away from the images marked "not like these" (relevance feedback):
# the weight of their mean vector against the liked images' mean (`benchmarks/feedback.py` chose it)
UNLIKE_WEIGHT = 0.7


def feedback_query(liked: np.ndarray, unliked: np.ndarray | None = None) -> np.ndarray:
    """The (1, dim) query vector of a search with images liked and, optionally, images not (relevance
    feedback, Rocchio's rule): the mean of the liked images' vectors less `UNLIKE_WEIGHT` times the mean of the
    others', normalised."""
    query = liked.mean(axis=0, keepdims=True)
    if unliked is not None and len(unliked):
        query = query - UNLIKE_WEIGHT * unliked.mean(axis=0, keepdims=True)
    return l2_normalise(query)


def _check_k(k: int) -> None:
    """A search's k, refused below 1."""
    if k < 1:
        raise CbirError(f"k must be at least 1, got {k}")


def _skips(exclude: Sequence[str | None] | None, k: int) -> tuple[list[str | None] | None, int]:
    """(per query the id to leave out, or None when none is; how many hits to ask the index for)."""
    skips = list(exclude) if exclude is not None and any(exclude) else None
    return skips, k + 1 if skips else k


class Engine:
    """Search a collection of images by visual similarity."""

    def __init__(self, extractor: FeatureExtractor, index: VectorIndex, metadata: Metadata | None = None,
                 created: str | None = None, copies: Engine | None = None, faces: Faces | None = None,
                 albums: Albums | None = None, texts: Texts | None = None):
        if index.dim != extractor.dim:
            raise EngineError(f"index dimension {index.dim} does not match extractor "
                              f"'{extractor.name}' dimension {extractor.dim}")
        self.extractor, self.index = extractor, index
        self.metadata = metadata or Metadata()
        self.created = created or time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._batcher: MicroBatcher | None = None
        self._selections: dict[Filter, Selection] = {}
        self._likely: LikelyClasses | None = None  # each image's probable classes, for searches by words
        self._finding_likely = threading.Lock()
        self._changes = 0  # images added or removed so far: what was worked out during one is stale
        self._main: Engine | None = None  # of a copies' engine: the engine whose features say what images show
        # the same images described to find their copies (`cbir.copies`): its hits come first in every search
        self.copies = copies
        self.faces = faces  # the faces found in the images and the people they show (`cbir.faces`), once looked for
        self._know_people()
        self.albums = albums or Albums()
        self.texts = texts
        self.version: Path | None = None  # the engine folder's version it was loaded from or last saved as

    @property
    def albums(self) -> Albums:
        """The albums made of its images (`cbir.albums`), on its hits too (`Hit.albums`)."""
        return self._albums

    @albums.setter
    def albums(self, albums: Albums) -> None:
        self._albums = self.metadata.albums = albums

    @property
    def texts(self) -> Texts | None:
        """The text read in its images (`cbir.texts`), on its hits too (`Hit.text`); None before any was read."""
        return self._texts

    @texts.setter
    def texts(self, texts: Texts | None) -> None:
        self._texts = texts
        self.metadata.texts = texts if texts is not None else Texts()

    @property
    def copies(self) -> Engine | None:
        return self._copies

    @copies.setter
    def copies(self, engine: Engine | None) -> None:
        self._copies = engine
        if engine is not None:
            engine._main = self

    @property
    def metadata_now(self) -> Metadata:
        """What is known of the images now: a copies' engine keeps its metadata from when it described them, its
        engine's is read again (where photos were taken, their tags, since an earlier version or a retagging)."""
        return (self._main or self).metadata

    def enable_micro_batching(self, max_batch: int = 32) -> None:
        """Group concurrent searches from many threads (a server's) into batches (`cbir.batching`): the
        waiting requests' vectors are searched together, and described together first when the extractor
        gains from it (`FeatureExtractor.batch_describes`) — then with the copies' features too, at the same
        time, each network on one core."""
        if self._batcher is None:
            self._batcher = MicroBatcher(partial(search_batch, self), max_batch)
        if self.copies is not None and not self.extractor.batch_describes:
            self.copies.enable_micro_batching(max_batch)

    def stop_micro_batching(self) -> None:
        """Stop the micro-batching worker (requests already queued finish; later ones run unbatched)."""
        if self._batcher is not None:
            self._batcher.close()
        if self.copies is not None:
            self.copies.stop_micro_batching()

    @classmethod
    def build(cls, dataset: Dataset, extractor: FeatureExtractor,
              index: VectorIndex | Callable[[int], VectorIndex] | None = None,
              batch_size: int = 1024, progress: bool = True, resume_in: str | Path | None = None,
              copies: FeatureExtractor | None = None) -> Engine:
        """Fit the extractor on `dataset` if needed, then describe and index every image.

        `index`: an empty index, a function of the dimension that makes one (a learned
        extractor knows its dimension only once fitted), or None for exact FAISS. `resume_in`: the
        engine folder to keep what is described in, batch by batch, so that a stopped run started
        again describes only the rest (`cbir.resume`; of extractors that describe every image while fitting,
        only those whose fit comes in two parts, `FeatureExtractor.fit_resumes`). `copies`: features that
        describe the picture itself (`effnet-copies`), with which the images are indexed a second time so that
        every search puts their copies first (`cbir.copies`).
        """
        checkpoint = Checkpoint(resume_in, extractor, dataset) if resume_in is not None else None
        engine = cls._build(dataset, extractor, index, batch_size, progress, checkpoint, copies)
        engine._put_in_albums(dataset, range(len(dataset)))
        return engine

    @classmethod
    def _build(cls, dataset: Dataset, extractor: FeatureExtractor, index, batch_size: int, progress: bool,
               checkpoint: Checkpoint | None, copies: FeatureExtractor | None) -> Engine:
        from cbir.index.faiss_ import FaissIndex

        vectors = None
        if not extractor.fitted_ and checkpoint is not None and extractor.fit_resumes:
            extractor.fit_before_rows(dataset, lambda part: checkpoint.fitted(part, dataset, progress, "base"))
            rows = [part_rows for _, part_rows in described_batches(
                dataset, extractor.fit_rows, batch_size, checkpoint, f"features {extractor.name}", progress)]
            vectors = extractor.fit_on_rows(np.concatenate(rows), dataset, progress)
        elif not extractor.fitted_ and (checkpoint is None or extractor.fit_describes):
            vectors = extractor.fit_transform(dataset, progress=progress)
        elif not extractor.fitted_:
            extractor = checkpoint.fitted(extractor, dataset, progress)
        if index is None:
            index = FaissIndex(extractor.dim)
        elif not isinstance(index, VectorIndex):
            index = index(extractor.dim)
        engine = cls(extractor, index)
        if vectors is None:
            engine.add(dataset, batch_size=batch_size, progress=progress, checkpoint=checkpoint)
        else:
            engine.add_vectors(dataset, vectors)
        if copies is not None:
            # wide (768 dimensions for effnet-copies): stored as float16 (`FaissIndex`'s default), so that the scan
            # every search makes of them streams half the bytes (2.5x faster, scores within 0.0001)
            engine.copies = cls._build(dataset, copies, FaissIndex, batch_size, progress,
                                       checkpoint and checkpoint.for_copies(copies, dataset), None)
        return engine

    def add(self, dataset: Dataset, batch_size: int = 1024, progress: bool = True,
            checkpoint: Checkpoint | None = None) -> None:
        """Describe and index more images (their ids must be new); with a `checkpoint`, batches an earlier
        run described are taken from it, and each batch described now is kept in it."""
        describe = partial(self.extractor.transform, indexing=True)
        with self.index.loading():
            for part, vectors in described_batches(dataset, describe, batch_size, checkpoint,
                                                   f"indexing with {self.extractor.name}", progress):
                self.add_vectors(part, vectors)
        if self.copies is not None:
            self.copies.add(dataset, batch_size=batch_size, progress=progress, checkpoint=None if checkpoint is None
                            else checkpoint.for_copies(self.copies.extractor, dataset))

    def add_new(self, dataset: Dataset, batch_size: int = 1024, progress: bool = True,
                resume_in: str | Path | None = None) -> tuple[int, int]:
        """Describe and index the images of `dataset` that the engine does not hold yet, and describe again
        those whose file changed under the same path to show another picture (its stamp changed, and its
        pixels' digest with it: an edited photo, which keeps its albums and the names given to its faces; a file
        only touched or re-saved alike is not described again, what its header says read again). Returns
        (added, described again). An id indexed from another file is an error. `resume_in`: as in
        `build`."""
        new, changed = self.metadata.new_and_changed(dataset)
        self.redate()
        ids = [dataset.ids[i] for i in changed]
        dates = {id_: when for id_ in ids if (when := self.metadata.date_set(id_))}
        places = {id_: where for id_ in ids if (where := self.metadata.position_set(id_))}
        if changed:  # the same photo, edited: its albums, the names given to its faces, what was said by hand stay
            self._drop([dataset.ids[i] for i in changed], edited=True)
        if new or changed:
            todo = dataset.subset(sorted(new + changed))
            checkpoint = Checkpoint(resume_in, self.extractor, todo) if resume_in is not None else None
            self.add(todo, batch_size=batch_size, progress=progress, checkpoint=checkpoint)
            self._put_in_albums(dataset, new)
            self.set_taken(dates, places)
        return len(new), len(changed)

    def _put_in_albums(self, dataset: Dataset, indices: Iterable[int]) -> None:
        """Put images just indexed in the albums a Google Photos Takeout has them in (`cbir.takeout.albums_of`)."""
        paths = {dataset.ids[i]: path for i in indices if (path := dataset.paths[i]) and MEMBER_SEPARATOR not in path}
        said = albums_of(paths, lambda name: is_image_name(name) or is_video_name(name))
        for album, ids in said.items():
            self.albums.add(album, ids)
        if said:
            self._filters_changed()

    def redate(self) -> None:
        """Index again, with their vectors as indexed, the images whose date changed as what their files say was read
        again (`Metadata.redated`: the picture untouched): a server index's documents hold the dates its filters
        use."""
        if ids := self.metadata.redated():
            vectors = self.index.vectors_of(ids)
            self.index.remove(ids)
            self.index.add(ids, vectors, [self.metadata.attributes(id_) for id_ in ids])
            self._selections.clear()

    def set_taken(self, dates: Mapping[str, str | None] | None = None, places: Mapping[str, str | None] | None = None
                  ) -> int:
        """Say when and where pictures were taken (id -> ISO 8601, id -> "LAT,LON": `cbir.places.located`; None: as
        their files say again), whatever their files say: kept when they are read again, edited, moved, and through
        `cbir index` over the engine; a server index's documents follow (`redate`). Returns how many changed."""
        dates, places = dates or {}, places or {}
        unknown = [id_ for id_ in [*dates, *places] if id_ not in self.metadata]
        if unknown:
            raise CbirError(f"no indexed image with id '{unknown[0]}'")
        changed = sum(self.metadata.set_date(id_, when) for id_, when in dates.items())
        changed += sum(self.metadata.set_position(id_, where) for id_, where in places.items())
        self.redate()
        self._filters_changed()
        return changed

    def change_taken(self, path: str | Path, dates: Mapping[str, str | None] | None = None,
                     places: Mapping[str, str | None] | None = None) -> int:
        """`set_taken`, kept in the engine folder `path` this engine is the current version of (`_keep_changed`: its
        metadata written, its other files linked). Returns how many changed."""
        return self._keep_changed(path, "metadata.sqlite", lambda: self.set_taken(dates, places), self.metadata.save,
                                  {})

    def add_vectors(self, dataset: Dataset, vectors: np.ndarray) -> None:
        """Index precomputed vectors of `dataset`'s images (one row per image, same order)."""
        self._add_described(Metadata.from_dataset(dataset), dataset.ids, vectors)

    def add_moved(self, moves: Sequence[tuple[str, str, str]]) -> None:
        """Index files moved or renamed since they were described (`KnownFiles.moved`: (new id, path, old id)) under
        their new ids, with their old ids' vectors: the same file, nothing to decode. Other old ids stay (`cbir
        remove --missing` drops them); an id kept from a new path (its folder moved) is indexed again there."""
        if not moves:
            return
        vectors, described = self.index.vectors_of([old for _, _, old in moves]), self.metadata.moved(moves)
        if kept := [new for new, _, old in moves if new == old]:
            self.index.remove(kept)
        self._add_described(described, [new for new, _, _ in moves], vectors)
        if self.faces is not None:
            self.faces.moved(moves)
            self._know_people()
        if self.texts is not None:
            self.texts.moved(moves)
        self.albums.moved(moves)
        if self.copies is not None:
            self.copies.add_moved(moves)

    def _add_described(self, described: Metadata, ids: Sequence[str], vectors: np.ndarray) -> None:
        self.index.add(ids, vectors, [described.attributes(id_) for id_ in ids])
        self.metadata.update(described)
        self._selections.clear()
        self._likely, self._changes = None, self._changes + 1

    def remove(self, ids: Sequence[str]) -> int:
        """Remove images by id (from their albums too); returns how many were in the index."""
        self.albums.discard(ids)
        return self._drop(ids)

    def _drop(self, ids: Sequence[str], edited: bool = False) -> int:
        """Take images out of the index, their metadata, their faces and their text; `edited`: to be described again
        (their files show an edited picture), the names given to their faces kept for the faces found there next
        (`Faces.set_aside`), their text read again."""
        removed = self.index.remove(ids)
        self.metadata.discard(ids)
        if self.texts is not None:
            self.texts.discard(ids)
        if self.faces is not None:
            if edited:
                self.faces.set_aside(ids)
            else:
                self.faces.discard(ids)
            self._know_people()
        self._selections.clear()
        self._likely, self._changes = None, self._changes + 1
        if self.copies is not None:
            self.copies.remove(ids)
        return removed

    def __len__(self) -> int:
        return len(self.index)

    def embed(self, images: Sequence[np.ndarray] | np.ndarray, progress: bool = False) -> np.ndarray:
        """Query vectors for RGB uint8 images, (n, dim) float32."""
        return self.extractor.transform(images, progress=progress)

    def search(self, images: Sequence[np.ndarray] | np.ndarray, k: int = 10,
               names: Sequence[str] | None = None, exclude: Sequence[str | None] | None = None,
               where: Filter | None = None, min_score: float | None = None,
               distinct: bool = False) -> list[SearchResult]:
        """The `k` most similar indexed images for each query image, best first (`exclude`, `where`,
        `min_score`: see `search_vectors`; `distinct`: one image per group of look-alikes, `cbir.distinct`)."""
        _check_k(k)
        if distinct:
            return self._distinct(k, lambda pool: self.search(images, pool, names, exclude, where, min_score))
        skips, wanted = _skips(exclude, k)
        if self._batcher is not None and not where:
            queries = list(images) if self.extractor.batch_describes else self.embed(images)
            found, copies = self._batcher.submit((queries, wanted, exclude))
        else:
            found, copies = self.index.search(self.embed(images), wanted, self.select(where) if where else None), None
        if copies is None:
            copies = self.copies_of(images, k, exclude, where)
        else:  # the batch found the best matches; verifying them by their pixels runs here, in parallel
            copies = self.copies_among(images, copies, k)
        hits = copies_first(self._hits(found, k, skips, min_score), copies, k)
        names = list(names) if names is not None else [None] * len(hits)
        return [SearchResult(h, q) for h, q in zip(hits, names)]

    def search_like(self, image_id: str, k: int = 10, where: Filter | None = None, min_score: float | None = None,
                    distinct: bool = False) -> SearchResult:
        """"More like this": the `k` other indexed images most like the indexed `image_id`, by its vector as
        indexed (nothing read or described, so an image whose drive is not mounted is searched with too); its
        indexed copies first, found by its vector in the copies' engine (its file read only to verify a match that
        the copy rule hesitates over); `where`, `min_score` and `distinct` as in `search`."""
        _check_k(k)
        if image_id not in self.metadata:
            raise CbirError(f"no indexed image with id '{image_id}'")
        vector = self.index.vectors_of([image_id])

        def ranked(depth: int) -> list[SearchResult]:
            hits = self.search_vectors(vector, depth, exclude=[image_id], where=where, min_score=min_score)
            return [SearchResult(row) for row in copies_first(hits, [self._copies_of_indexed(image_id, depth, where)],
                                                              depth)]

        return (self._distinct(k, ranked) if distinct else ranked(k))[0]

    def _copies_of_indexed(self, image_id: str, k: int, where: Filter | None) -> list[Hit]:
        """Up to k indexed copies of the indexed `image_id` (itself left out), by its vector in the copies' engine;
        none without one."""
        if self.copies is None or image_id not in self.copies.metadata:
            return []
        found = self.copies.search_vectors(self.copies.index.vectors_of([image_id]), max(k, 2), exclude=[image_id],
                                           where=where)[0]
        features = self.copies.extractor
        return self._own(copies_of(lambda: file_picture(self.metadata.path(image_id)), found,
                                   features.duplicate_threshold, features.copy_lead)[:k])

    def search_together(self, images: Sequence[np.ndarray] | np.ndarray, k: int = 10, exclude: Sequence[str] = (),
                        where: Filter | None = None, min_score: float | None = None,
                        distinct: bool = False, unlike: Sequence[np.ndarray] = (), liked_ids: Sequence[str] = (),
                        unliked_ids: Sequence[str] = ()) -> SearchResult:
        """The `k` indexed images most like all the query images at once: ranked by the mean of their vectors, so
        that what they share counts and what only one of them shows counts less (a search "more like these");
        and, when `unlike` images are given, less like those ("not like these": `feedback_query`). Indexed images
        take part by their ids (`liked_ids`, `unliked_ids`: their vectors as indexed, nothing read or described)
        and are left out of the results, as are the ids `exclude`; `where`, `min_score` and `distinct` as in
        `search`. No copies are put first: a mean is no one picture."""
        _check_k(k)
        if len(images) + len(liked_ids) == 0:
            raise CbirError("a search together needs at least one image to search with, not only images to avoid")
        if distinct:
            check_distinct(self)  # before the images are described
        given = [*images, *unlike]  # described in one batch; indexed ones by their vectors
        described = self.embed(given) if given else np.zeros((0, self.index.dim), np.float32)
        liked = np.vstack([described[:len(images)], self.index.vectors_of(list(liked_ids))])
        unliked = np.vstack([described[len(images):], self.index.vectors_of(list(unliked_ids))])
        query = feedback_query(liked, unliked)
        left_out = {*exclude, *liked_ids, *unliked_ids}

        def ranked(depth: int) -> list[SearchResult]:  # described once, however deep `distinct` looks
            found = self.search_vectors(query, depth + len(left_out), where=where, min_score=min_score)[0]
            return [SearchResult([hit for hit in found if hit.id not in left_out][:depth])]

        return (self._distinct(k, ranked) if distinct else ranked(k))[0]

    def search_album(self, name: str, k: int = 10, where: Filter | None = None, distinct: bool = False
                     ) -> SearchResult:
        """The images that may belong in an album, those in it left out: of the `RESCORED` x k indexed images most
        like one of its own, the k whose `BEST_OF` best similarities to its images are the highest on average (the
        score), by their vectors as indexed (nothing read or described); `where` and `distinct` as in `search`. An
        album of one trip or one dog finds the rest of them, as each of its photos brings its own look-alikes."""
        _check_k(k)
        members = self.albums.images(name)
        vectors, inside = self.index.vectors_of(members), set(members)
        selection = self.select(where) if where else None

        def ranked(depth: int) -> list[SearchResult]:
            """Each of the album's images searched `depth` deep beyond the album's own among its best, deeper where
            they are more (an image not in its ranking that far is less like it than `depth` others outside it);
            the `RESCORED` x `depth` most like one of them scored by `BEST_OF`."""
            best: dict[str, float] = {}
            queries, deep = list(range(len(members))), min(2 * depth, len(self))
            while queries:
                short = []
                for query, row in zip(queries, self.index.search(vectors[queries], deep, selection)):
                    outside = [hit for hit in row if hit.id not in inside]
                    for hit in outside:
                        best[hit.id] = max(best.get(hit.id, -2.0), hit.score)
                    if len(outside) < depth and len(row) == deep < len(self):
                        short.append(query)
                queries, deep = short, min(2 * deep, len(self))
            pool = sorted(best, key=lambda id_: (-best[id_], id_))[:RESCORED * depth]
            scores = (np.sort(self.index.vectors_of(pool) @ vectors.T, axis=1)[:, -BEST_OF:].mean(axis=1) if pool
                      else np.zeros(0))
            ranking = sorted(zip(pool, scores.tolist()), key=lambda item: (-item[1], item[0]))[:depth]
            return [SearchResult([self.metadata.hit(id_, score) for id_, score in ranking], self.albums.named(name))]

        return (self._distinct(k, ranked) if distinct else ranked(k))[0]

    def search_words(self, text: str, k: int = 10, where: Filter | None = None, min_score: float | None = None,
                     distinct: bool = False, progress: bool = False) -> SearchResult:
        """The `k` indexed images the network finds most probably of a class the words name ("dog", "beach, lakeside":
        any of them; `cbir.words`), best first, each scored with that probability; `where`, `min_score` (here a
        probability) and `distinct` as in `search`. The first search by words works out every indexed image's
        probable classes from its vector (`progress`: a bar), kept until images are added or removed.

        Words may end with a place the pictures were taken near ("dog in Lyon", "beach near Nice": `cbir.places`),
        or be a place alone ("in Lyon", "Lyon" where it names no class): its pictures, the newest first. Words that
        name no class but tags the photos have ("Anna", "wedding": `cbir.tags`) find the photos with those tags,
        else those whose captions hold the words ("birthday cake"), else those in which the words are written
        ("boarding pass": `cbir.texts`), the newest first (near the place they end with, if any)."""
        _check_k(k)
        words, place = split_place(text)
        if place and where and where.place:
            raise CbirError(f"a place in the words ('{place}') and in the filter ('{where.place}'): give one")
        near = replace(where or Filter(), place=place or words)  # the words' place, or the words as one
        try:
            if not words:
                raise UnknownWordsError("no words")
            self._check_words()
            found = classes_named(words, self.extractor.classes_)
        except CbirError:
            def looked_through(field: str, said: str) -> SearchResult:
                """The pictures the words find as `field` of a filter (near the place they end with), the newest
                first, the result saying so (`said`)."""
                narrowed = replace(where or Filter(), **{field: words}, place=place or (where.place if where else ""))
                return replace(self.browse(k, narrowed, distinct), query=text, near=place or None, **{said: words})

            untagged = self._untagged(words) if words else None
            if words and untagged is None:
                if where and where.tag:
                    raise CbirError(f"a tag in the words ('{words}') and in the filter ('{where.tag}'): give one")
                return looked_through("tag", "tagged")
            if words and self.metadata.saying(words):  # words the photos' captions hold
                return looked_through("caption", "captioned")
            if words and self.texts is not None and self.texts.holding(words):  # words written in the pictures
                if where and where.text:
                    raise CbirError(f"words to find in the pictures' text in the words ('{words}') and in the filter "
                                    f"('{where.text}'): give one")
                return looked_through("text", "in_text")
            if words and (place or not self._names_place(words)):
                if untagged.suggestions:  # close to tags the photos have ("Ana"): those, then the rest (" in Lyon")
                    rest = text.strip()[len(words):]
                    raise UnknownWordsError(str(untagged), [meant + rest for meant in untagged.suggestions]) from None
                raise
            return replace(self.browse(k, near, distinct), query=text, near=near.place)
        where = near if place else where
        try:
            passing = self.select(where).ids if where else None
        except UnknownWordsError as exc:  # a place the words end with, misspelt: the words with the places meant
            if not place or exc.field != "place":
                raise
            stem = text.rstrip()[: -len(place)]
            raise UnknownWordsError(str(exc), [stem + meant for meant in exc.suggestions]) from None
        likely = self.likely_classes(progress)
        scores = likely.scores(found)
        if passing is not None:
            scores[[id_ not in passing for id_ in likely.ids]] = 0.0
        scores[scores < (min_score or 0.0)] = 0.0

        def ranked(depth: int) -> list[SearchResult]:  # images of none of the classes (probability 0) are not found
            best = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
            best = best[np.argsort(-scores[best], kind="stable")]
            best = best[scores[best] > 0]
            shows = [self.extractor.classes_[c] for c in likely.best(best, found)]
            hit = self.metadata.hit
            return [SearchResult([hit(likely.ids[i], float(scores[i]))._replace(shows=name)
                                  for i, name in zip(best, shows)], text, naming(found, self.extractor.classes_),
                                 place or None)]

        return (self._distinct(k, ranked) if distinct else ranked(k))[0]

    def _names_place(self, words: str) -> bool:
        """Whether words name a place some indexed pictures were taken near (`cbir.places`)."""
        try:
            return bool(places_named(words, self.metadata.places().values()))
        except UnknownWordsError:
            return False

    def _untagged(self, words: str) -> UnknownWordsError | None:
        """None where words name tags some indexed pictures have (`cbir.tags`), else why not, with the tags they may
        mean."""
        try:
            tags_named(words, self.metadata.tag_names())
        except UnknownWordsError as exc:
            return exc
        return None

    def browse(self, k: int = 10, where: Filter | None = None, distinct: bool = False, order: str = "newest"
               ) -> SearchResult:
        """The first `k` indexed images of those that pass `where`, the newest first (by when they were taken;
        undated ones last): a collection looked through without a query, its hits scored 1; `order` "oldest": the
        oldest first instead (a trip, an album told from its start), "added": those added lately first (what a
        `sync` brought; `ORDERS`); `distinct`: one image per group of look-alikes (a burst's shots), as in
        `search`. Without a filter but dates (the timeline), the images archived are left out (`Albums.archived`)."""
        _check_k(k)
        if order not in ORDERS:
            raise CbirError(f"the order of a look through the images is {', '.join(ORDERS)}, not '{order}'")
        ids = self.metadata.in_order(self.select(where).ids if where else None, order)
        if (where is None or where.timeline) and (archived := self.albums.archived()):
            ids = [id_ for id_ in ids if id_ not in archived]

        def first(depth: int) -> list[SearchResult]:
            return [SearchResult([self.metadata.hit(id_, 1.0) for id_ in ids[:depth]], ORDERS[order])]

        return (self._distinct(k, first) if distinct else first(k))[0]

    def places(self) -> list[Place]:
        """Where the indexed pictures were taken (`cbir.places`: the towns nearest their GPS positions), the most
        photographed first, with how many and the newest picture of each."""
        places = self.metadata.places()
        return places_overview(places, self.metadata.newest_first(places)) if places else []  # no sort of all for none

    def tags(self) -> list[Tag]:
        """The tags of the indexed pictures (`cbir.tags`), the most used first, with how many have each and the newest
        of them."""
        tags = self.metadata.tags()
        return tags_overview(tags, self.metadata.newest_first(tags)) if tags else []

    def cameras(self) -> list[Camera]:
        """The cameras the indexed pictures were taken with (`cbir.cameras`), the most used first, with how many each
        took and the newest of them."""
        cameras = self.metadata.cameras()
        return cameras_overview(cameras, self.metadata.newest_first(cameras)) if cameras else []

    def ratings(self) -> dict[int, int]:
        """How many pictures have each rating (stars; -1: rejected), the best first, of those rated."""
        return dict(sorted(self.metadata.ratings().items(), reverse=True))

    def find_faces(self, progress: bool = True, resume_in: str | Path | None = None, again: bool = False
                   ) -> tuple[int, int, list[str]]:
        """Look for faces in the indexed images not looked at yet (`again`: in all of them, the names given kept;
        `cbir.faces`), name those a photo manager named in them, then group them into people again. `resume_in`:
        the engine folder to keep what is found in, so that a stopped run started again looks only at the rest.
        Returns how many images were looked at, of those how many by a stopped run, and why those that could not be
        read could not."""
        from cbir.datasets.folder import named_faces
        from cbir.datasets.sources import load_image
        from cbir.faces import FaceSpool, finder

        faces = self.faces if self.faces is not None else Faces()
        given = faces.named() if again else {}  # to name the faces found where they were again
        if again:
            faces.discard(list(faces.scanned))
        todo = {id_: path for id_ in self.metadata.labels() if id_ not in faces.scanned
                and (path := self.metadata.path(id_))}
        spool = FaceSpool(resume_in, self.metadata.stamps()) if resume_in is not None else None
        before = spool.fill(faces, todo) if spool is not None else 0
        unreadable = []
        for id_, *found in finder().scan({i: p for i, p in todo.items() if i not in faces.scanned}, load_image,
                                             progress):
            if len(found) == 1:
                unreadable.append(f"{id_}: {found[0]}")
                continue
            faces.add(id_, *found)
            if spool is not None:
                spool.keep(id_, *found)
        with_faces = set(todo) & set(faces.owners)
        named = {id_: named_faces(todo[id_]) for id_ in with_faces}
        faces.label({id_: [(name, box) for name, box in found if box is not None]  # a photo manager named them
                     for id_, found in named.items()})
        faces.label({id_: faces.waiting[id_] for id_ in with_faces if id_ in faces.waiting})  # named before an edit
        faces.label({id_: given[id_] for id_ in with_faces if id_ in given})  # then those named here before
        for id_ in set(todo) & faces.scanned:  # looked at: the names waiting for them are given, or had no face
            faces.waiting.pop(id_, None)
        faces.group()
        faces.name_the_rest({id_: names for id_, found in named.items()  # a Takeout's people, said of a whole photo
                             if (names := [name for name, box in found if box is None])})
        self.faces = faces
        self._know_people()
        return len(todo) - len(unreadable), before, unreadable

    def read_text(self, progress: bool = True, resume_in: str | Path | None = None, again: bool = False,
                  kind: str = "") -> tuple[int, int, list[str]]:
        """Read the text in the indexed images not read yet (`again`: in all of them; `kind`: in those of a kind only,
        e.g. the screenshots, as images added later will be; `cbir.texts`). `resume_in`: the engine folder to keep
        what is read in, so that a stopped run started again reads only the rest. Returns how many images were read,
        of those how many by a stopped run, and why those that could not be read could not."""
        from cbir.datasets.sources import load_image
        from cbir.texts import TextSpool, reader

        scan = reader().scan  # the dependency missing: said before anything is looked at
        passing = self.select(Filter(kind=kind)).ids if kind else None
        texts = Texts(self.texts.read if self.texts is not None else {}, kind)
        if again:
            texts.discard(list(texts.read) if passing is None else passing)
        todo = {id_: path for id_ in self.metadata.labels() if id_ not in texts.read
                and (passing is None or id_ in passing) and (path := self.metadata.path(id_))}
        spool = TextSpool(resume_in, self.metadata.stamps()) if resume_in is not None else None
        before = spool.fill(texts, todo) if spool is not None else 0
        unreadable = []
        for id_, text, read in scan({i: p for i, p in todo.items() if i not in texts.read}, load_image, progress):
            if not read:
                unreadable.append(f"{id_}: {text}")
                continue
            texts.add(id_, text)
            if spool is not None:
                spool.keep(id_, text)
        self.texts = texts
        self._filters_changed()
        return len(todo) - len(unreadable), before, unreadable

    def _read(self) -> Texts:
        """The text read in the images (`read_text`; of a copies' engine, its engine's), or an error saying how to
        read it."""
        texts = (self._main or self).texts
        if texts is None:
            raise CbirError("no text was read in this engine's images: `cbir text ENGINE` reads it")
        return texts

    def name_person(self, person: int | str, name: str) -> None:
        """Give a person (a number, as `people` has them now, or a name) a name, or take it away (`name` "")."""
        self._people().rename(person, name)
        self._know_people()

    def name_face(self, image_id: str, face: int, name: str) -> None:
        """Say whose the `face`-th face of an indexed image is (from 0, left to right): a name (that person's, whatever
        the grouping said), `cbir.faces.NOBODY` (none of the people) or "" (the grouping's to say)."""
        self._people().name_face(image_id, face, name)
        self._know_people()

    def not_in(self, person: str, image_id: str) -> str | None:
        """Say that a person (a number or a name) is not in an indexed image after all (`Faces.not_in`); returns how
        they are found now (a name, else a number; None for no one)."""
        found = self._people().not_in(person, image_id)
        self._know_people()
        return found

    def faces_in(self, image_id: str) -> list[Seen]:
        """The faces found in an indexed image, left to right (none where none was found or looked for)."""
        return self.faces.in_image(image_id) if self.faces is not None else []

    def _know_people(self) -> None:
        """The people in each image, on its hits (`Hit.people`), after the faces changed: the filters kept (`select`)
        are worked out again, those with a person being stale."""
        self.metadata.people = self.faces.in_images() if self.faces is not None else {}
        self._filters_changed()

    def search_faces(self, images: Sequence[np.ndarray], k: int = 10, names: Sequence[str] | None = None,
                     where: Filter | None = None) -> list[SearchResult]:
        """For each picture (read at `cbir.faces.FACE_SIDE`), the indexed images with a face most like its largest
        face, closer than `cbir.faces.MATCH`, the nearest first, scored 1 - distance; each result says whose face it
        is, where it is a person's the engine knows (`cbir.faces`)."""
        from cbir.faces import finder, largest

        _check_k(k)
        self._people()  # no faces looked for: said before any picture is looked at
        among = self.select(where).ids if where else None
        results = []
        for n, image in enumerate(images):
            boxes, descriptors = finder().find(image)
            if not len(boxes):
                raise CbirError(f"no face found in {names[n] if names else 'the picture'}: faces of 80 pixels and "
                                f"more at 1,600 on its longer side, upright and facing the camera, are found")
            face = descriptors[largest(boxes)]
            results.append(self._by_face(face, k, among, names[n] if names else None))
        return results

    def search_face_in(self, image_id: str, k: int = 10, face: int | None = None, where: Filter | None = None
                       ) -> SearchResult:
        """The other indexed images with a face most like one of an indexed image's (its `face`-th, from 0, left to
        right; None: its largest), as `search_faces` finds them: from the face's descriptor as kept, without
        dlib."""
        _check_k(k)
        faces = self._people()
        return self._by_face(faces.descriptors[faces.row(image_id, face)], k,
                             self.select(where).ids if where else None, image_id, leave=image_id)

    def _by_face(self, descriptor: np.ndarray, k: int, among: Collection[str] | None, name: str | None,
                 leave: str | None = None) -> SearchResult:
        """The images with a face closer than `MATCH` to a face's descriptor (of those `among`; not `leave`), the
        nearest first, scored 1 - distance, saying whose face it is where the engine knows."""
        found, who = self._people().like(descriptor, among)
        found = [(id_, distance) for id_, distance in found if id_ != leave][:k]
        return SearchResult([self.metadata.hit(id_, round(1.0 - distance, 4)) for id_, distance in found], name,
                            person=who)

    def _people(self) -> Faces:
        """The faces found (`find_faces`; of a copies' engine, its engine's), or an error saying how to find them."""
        faces = (self._main or self).faces
        if faces is None:
            raise CbirError("no faces were looked for in this engine's images: `cbir faces ENGINE` finds them")
        return faces

    def people(self) -> list[Person]:
        """The people in the indexed photos (`cbir.faces`), the most photographed first; none before faces were
        looked for."""
        return self.faces.people() if self.faces is not None else []

    def alike(self, person: str) -> list[tuple[Person, float]]:
        """The other people who may be this one (a number or a name), the likeliest first (`Faces.alike`)."""
        return self._people().alike(person)

    def trips(self) -> list[Trip]:
        """The runs of photos taken away from home (`cbir.trips`), the latest first."""
        return trips(dict(self.metadata.dated()), self.metadata.places(), self.metadata.positions())

    def on_this_day(self, today: date) -> list[Memory]:
        """The pictures taken on `today`'s date in earlier years (`cbir.memories`), a year at a time, the latest
        first; not those archived."""
        archived = self.albums.archived()
        return on_this_day(((id_, taken) for id_, taken in self.metadata.dated() if id_ not in archived), today)

    def shows(self) -> list[Shown]:
        """What the indexed images show most often, in words to search with, how many show each and an example
        (`cbir.words`: everyday words for ImageNet's classes, else the classes' own names)."""
        self._check_words()
        return overview(self.likely_classes(), self.extractor.classes_)

    def _check_words(self) -> None:
        """The features' error when they cannot say what a picture shows from its vector as indexed."""
        self.extractor.vector_proba(np.zeros((0, self.index.dim), np.float32))

    def likely_classes(self, progress: bool = False) -> LikelyClasses:
        """Each indexed image's probable classes (`cbir.words`), worked out once from the vectors as indexed."""
        with self._finding_likely:
            if self._likely is not None:
                return self._likely
            changes = self._changes
            likely = LikelyClasses.of(list(self.metadata.labels()),
                                      lambda ids: self.extractor.vector_proba(self.index.vectors_of(ids)), progress)
            if changes == self._changes:  # else images came or went meanwhile: worked out again next time
                self._likely = likely
            return likely

    def _distinct(self, k: int, search: Callable[[int], list[SearchResult]]) -> list[SearchResult]:
        """A search (`search(depth)`: its results at that depth) with one image per group of look-alikes
        (`cbir.distinct`): a ranking `DISTINCT_POOL` times as deep, and deeper again while look-alikes leave fewer
        than k of a ranking that had more to give."""
        check_distinct(self)
        pool = k * DISTINCT_POOL
        while True:
            found = search(pool)
            kept = one_per_group(self, [result.hits for result in found], k)
            if pool >= len(self) or all(len(row) == k or len(result.hits) < pool
                                        for row, result in zip(kept, found)):
                return [SearchResult(row, result.query) for row, result in zip(kept, found)]
            pool *= DISTINCT_POOL

    def copies_of(self, images: Sequence[np.ndarray] | np.ndarray, k: int,
                  exclude: Sequence[str | None] | None = None, where: Filter | None = None) -> list[list[Hit]]:
        """Per query image, up to k indexed copies of it, best first (none without a copies' engine)."""
        if self.copies is None:
            return [[] for _ in range(len(images))]
        found = self.copies.search(images, max(k, 2), exclude=exclude, where=where)
        return self.copies_among(images, [result.hits for result in found], k)

    def copies_among(self, images: Sequence[np.ndarray] | np.ndarray, found: Sequence[list[Hit]],
                     k: int) -> list[list[Hit]]:
        """Per query image, up to k copies of it among its best matches in the copies' engine (`found`, two or
        more each): those the copy features' rule takes, else a best match its pixels verify (`cbir.copies`)."""
        features = self.copies.extractor
        return [self._own(copies_of(partial(grey_picture, image), hits, features.duplicate_threshold,
                                    features.copy_lead)[:k]) for image, hits in zip(images, found)]

    def _own(self, hits: list[Hit]) -> list[Hit]:
        """Hits of the copies' engine as this engine knows their images now (date, place, tags read since)."""
        return [self.metadata.hit(h.id, h.score) for h in hits]

    def search_vectors(self, vectors: np.ndarray, k: int, exclude: Sequence[str | None] | None = None,
                       where: Filter | None = None, min_score: float | None = None) -> list[list[Hit]]:
        """Search with precomputed query vectors; hits carry label and path. `exclude`: per query, an
        indexed id left out of its hits (the query image itself, when it is indexed), or None; `where`: only
        images that pass this filter (k of them whenever k pass: the index applies it inside its search);
        `min_score`: no hit scoring less (so fewer than k may come back)."""
        skips, wanted = _skips(exclude, k)
        found = self.index.search(vectors, wanted, self.select(where) if where else None)
        return self._hits(found, k, skips, min_score)

    def select(self, where: Filter) -> Selection:
        """The filter and the indexed ids that pass it (of those, with `showing`, the images that show what its
        words name: `showing`); the last `SELECTIONS` kept until images are added or removed (a page's visitor
        searches many times with the same filter)."""
        selection = self._selections.pop(where, None) or Selection(where, self._passing(where))
        self._selections[where] = selection  # the most recently used last
        while len(self._selections) > SELECTIONS:
            del self._selections[next(iter(self._selections))]
        return selection

    def _passing(self, where: Filter) -> frozenset[str]:
        passing = self.metadata_now.passing(where)
        if where.person:
            passing &= self._people().showing(where.person)
        if where.album:
            passing &= (self._main or self).albums.showing(where.album)
        if where.text:
            passing &= self._read().holding(where.text)
        return passing & (self._main or self).showing(where.showing) if where.showing else passing

    def _filters_changed(self) -> None:
        """Forget the filters kept (`select`), here and in the copies' engine: who is in the images, or what albums
        they are in, changed."""
        self._selections = {}
        if self.copies is not None:
            self.copies._selections = {}

    def showing(self, text: str) -> frozenset[str]:
        """The ids of the indexed images that show what the words name: the network's probability of one of the
        classes they name at least `cbir.words.SHOWS` (what `shows` counts)."""
        self._check_words()
        likely = self.likely_classes()
        shown = likely.scores(classes_named(text, self.extractor.classes_)) >= SHOWS
        return frozenset(id_ for id_, yes in zip(likely.ids, shown) if yes)

    def _hits(self, found: list[list[Hit]], k: int, skips: list[str | None] | None,
              min_score: float | None = None) -> list[list[Hit]]:
        """The index's hits less each query's excluded id and those under `min_score`, at most k, with label,
        path and date."""
        if skips:
            found = [[h for h in row if h.id != skip][:k] for row, skip in zip(found, skips)]
        if min_score is not None:
            found = [[h for h in row if h.score >= min_score] for row in found]
        hit = self.metadata.hit
        return [[hit(h.id, h.score) for h in row] for row in found]

    def info(self) -> dict:
        """A summary for people: extractor, index, size, labels, how many of the images are videos."""
        ids = self.metadata.labels()
        labels = [label for label in ids.values() if label is not None]
        return {"format_version": FORMAT_VERSION, "created": self.created,
                "extractor": {"name": self.extractor.name, "kind": self.extractor.kind,
                              "config_hash": self.extractor.config_hash(), "config": self.extractor.get_config(),
                              "learned": self.extractor.describe()},
                "dim": self.extractor.dim, "count": len(self.index),
                "index": {"kind": self.index.kind, **self.index.get_config()},
                "classes": len(set(labels)), "labelled": len(labels),
                "videos": sum(map(is_video_name, ids)),
                "copies": self.copies.extractor.name if self.copies is not None else None,
                "faces": None if self.faces is None else self.faces.summary(), "albums": len(self.albums),
                "text": None if self.texts is None else self.texts.summary()}

    def save(self, path: str | Path) -> Path:
        """Write the engine folder atomically: a crash mid-save leaves the previous engine loadable.
        Another writer of the folder is waited for (`cbir.storage.writer_lock`)."""
        with writer_lock(path):
            self.version = write_version(path, self._write)
            return self.version

    def change_faces(self, path: str | Path, change: Callable[[Faces], T]) -> T:
        """Change the faces (`change(faces)`, on a copy of them: `Faces.rename`, `name_face`, `not_in`), keep them in
        the engine folder `path` this engine is the current version of (`_keep_changed`), then search with them.
        Returns what `change` returns."""
        faces = self._people().copy()
        changed = self._keep_changed(path, FACES, lambda: change(faces), faces.save, {"faces": faces.summary})
        self.faces = faces
        self._know_people()
        return changed

    def change_albums(self, path: str | Path, change: Callable[[Albums], T]) -> T:
        """Change the albums (`change(albums)`, on a copy of them: `Albums.add`, `remove`, `rename`, `delete`), keep
        them in the engine folder `path` this engine is the current version of (`_keep_changed`), then filter with
        them. Returns what `change` returns."""
        albums = self.albums.copy()
        changed = self._keep_changed(path, ALBUMS, lambda: change(albums), albums.save, {"albums": albums.__len__})
        self.albums = albums
        self._filters_changed()
        return changed

    def _keep_changed(self, path: str | Path, file: str, change: Callable[[], T], save: Callable[[Path], None],
                      manifest: dict[str, Callable[[], object]]) -> T:
        """`change()` what one file of the engine holds, then keep it as a new version of the engine folder `path`
        (`save(file's path)`; the manifest's `manifest` entries worked out again), its other files linked from this
        one's, not written again. Takes the folder's writer lock (waiting for another writer, as `save` does, unless
        the caller holds it); refused where the folder changed since this engine was loaded."""
        with writer_lock(path):
            if current_version(path) != self.version:
                raise EngineError(f"{path} has changed since this engine was loaded from it: load it again")
            changed = change()

            def write(folder: Path) -> None:
                link_files(self.version, folder, {file, "manifest.json"})
                save(folder / file)
                now = {key: summary() for key, summary in manifest.items()}
                (folder / "manifest.json").write_text(json.dumps(self.info() | now, indent=2))

            self.version = write_version(path, write)
        return changed

    def take_over(self, path: str | Path) -> dict[str, int]:
        """Take from the engine at `path` (which this one is to replace) what was found and said about the images
        this one holds: the faces found in those it holds as they were then (the same file, its stamp unchanged),
        the names given to them (to those of files edited since too: `Faces.set_aside`), the text read in them (not
        of those edited: read again), the albums they are in, when they were added, and when and where they were
        taken as said by hand (`set_taken`).
        Indexing again changes how images are described, not who is in them or where they were put. Returns how many
        of each it kept: "looked at" (images looked at for faces), "named" (faces), "read" (for text), "albums",
        "said" (images dated or placed by hand)."""
        version = current_version(path)
        if version is None:
            return {}
        try:
            before = Metadata.load(version / "metadata.sqlite")
            faces, albums, texts = self._said_in(version)
        except Exception as exc:  # noqa: BLE001 - a damaged engine is replaced all the same: said, not kept
            warnings.warn(f"what the engine at {path} holds of its images could not be read, so its faces, albums "
                          f"and text are not kept, nor when its images were added, nor when and where they were "
                          f"taken as said by hand ({type(exc).__name__}: {exc})", stacklevel=2)
            return {}
        now = {(self.metadata.path(id_), self.metadata.stamp(id_)): id_ for id_ in self.metadata.labels()}
        same = {old: now[key] for old in before.labels()
                if (key := (before.path(old), before.stamp(old))) in now and None not in key}
        at = {file: id_ for (file, _), id_ in now.items() if file is not None}
        edited = {old: at[file] for old in before.labels() if old not in same and (file := before.path(old)) in at}
        self.metadata.added_as(before, same | edited)
        kept = {"said": said} if (said := sum(bool(self.metadata.date_set(id_) or self.metadata.position_set(id_))
                                               for id_ in self.metadata.labels())) else {}
        if faces is not None:
            faces.set_aside(edited)  # the names given to their faces wait for the faces found there next
            faces.kept(same | edited)
            self.faces = faces
            self._know_people()
            kept |= {"looked at": len(faces.scanned),
                     "named": sum(map(bool, faces.names)) + sum(map(len, faces.waiting.values()))}
        if texts is not None:  # an edited picture's text is read again
            self.texts = texts.kept(same)
            kept["read"] = len(self.texts)
        if albums is not None:
            albums.kept(same | edited)
            held = set(same.values()) | set(edited.values())
            for album in self.albums.overview():  # a Takeout's albums, of the images new here
                albums.add(album.name, [id_ for id_ in self.albums.images(album.name) if id_ not in held])
            self.albums, kept["albums"] = albums, len(albums)
        return kept

    def _write(self, folder: Path) -> None:
        """Write the engine's files (and its copies' engine, in `copies/`) into a new folder."""
        self.extractor.save(folder / "extractor")
        self.index.save(folder / "index")
        self.metadata.save(folder / "metadata.sqlite")
        if self.faces is not None:
            self.faces.save(folder / FACES)
        if self.albums:
            self.albums.save(folder / ALBUMS)
        if self.texts is not None:
            self.texts.save(folder / TEXTS)
        if self.copies is not None:
            self.copies._write(folder / COPIES)
        (folder / "manifest.json").write_text(json.dumps(self.info(), indent=2))

    @classmethod
    def load(cls, path: str | Path, features: str | None = None) -> Engine:
        """Open an engine folder; `features` (a name), when given, must match its extractor. Damaged or
        unreadable files are an `EngineError` that says which."""
        version = current_version(path)
        if version is None or not (version / "manifest.json").exists():
            raise EngineError(f"no engine at {path}: build one with `cbir index ... --out {path}`")
        try:
            engine = cls._load_version(path, version, features)
        except CbirError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to read a committed version means damage
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            raise EngineError(f"the engine at {path} is damaged or unreadable ({detail}): "
                              f"rebuild it with `cbir index`") from exc
        engine.version = version
        return engine

    @classmethod
    @contextmanager
    def editing(cls, path: str | Path) -> Iterator[Engine]:
        """The engine at `path`, loaded under the folder's writer lock and held until the block ends, so
        that a change saved inside it (`save(path)`) never loses another writer's."""
        if current_version(path) is None:
            cls.load(path)  # the "no engine here" error, before anything is created
        with writer_lock(path):
            yield cls.load(path)

    @classmethod
    def _load_version(cls, path: str | Path, version: Path, features: str | None) -> Engine:
        manifest = json.loads((version / "manifest.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise EngineError(f"{path} has engine format {manifest.get('format_version')}, "
                              f"this cbir reads {FORMAT_VERSION}: rebuild it")
        extractor = FeatureExtractor.load(version / "extractor")
        recorded = manifest["extractor"]
        if extractor.name != recorded["name"] or extractor.config_hash() != recorded["config_hash"]:
            raise EngineError(f"{path}: its extractor '{extractor.name}' ({extractor.config_hash()}) does not "
                              f"match the one its vectors were made with ('{recorded['name']}', "
                              f"{recorded['config_hash']})")
        if features is not None and features != extractor.name:
            raise EngineError(f"{path} was built with features '{extractor.name}', not '{features}'")
        index = VectorIndex.load(version / "index")
        metadata = Metadata.load(version / "metadata.sqlite")
        if not (index.dim == extractor.dim == manifest["dim"]) or len(index) != manifest["count"]:
            raise EngineError(f"{path}: index ({len(index)} x {index.dim}) does not match its manifest "
                              f"({manifest['count']} x {manifest['dim']})")
        copies = cls._load_version(path, version / COPIES, None) if manifest.get("copies") else None
        faces, albums, texts = cls._said_in(version)
        return cls(extractor, index, metadata, created=manifest.get("created"), copies=copies, faces=faces,
                   albums=albums, texts=texts)

    @staticmethod
    def _said_in(version: Path) -> tuple[Faces | None, Albums | None, Texts | None]:
        """What was found and said of the images, as an engine's version folder keeps it: its faces, its albums and
        the text read in them (None where it has none)."""
        return (Faces.load(version / FACES) if (version / FACES).exists() else None,
                Albums.load(version / ALBUMS) if (version / ALBUMS).exists() else None,
                Texts.load(version / TEXTS) if (version / TEXTS).exists() else None)
