"""What the page and the API share: engines by name, request parsing, searching, image serving."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np

from cbir.albums import Album, Albums, Link, last_day
from cbir.datasets.folder import DEFAULT_MAX_SIDE, archive_member, file_stamp
from cbir.datasets.heif import is_heif, thumbnail_file
from cbir.datasets.images import decode_image
from cbir.datasets.raw import is_raw_name, might_be_raw
from cbir.datasets.regions import Region, read_side
from cbir.datasets.sources import load_image, original_bytes
from cbir.datasets.video import is_video_name
from cbir.distinct import check_distinct
from cbir.engine import Engine
from cbir.faces import NOBODY, Faces, Person, Seen
from cbir.storage import current_version, writer_lock
from cbir.taken import moment
from cbir.places import located
from cbir.errors import BusyError, CbirError, DatasetError, ImageDecodeError
from cbir.filters import Filter
from cbir.metadata import ORDERS
from cbir.types import SearchResult
from cbir.web.grouping import Grouping
from cbir.words import Shown
from cbir.web.pictures import browser_type, encode_jpeg, encode_png, thumbnail
from cbir.web.unplaced import Blanked, jpeg_without_places, video_places
from cbir.web.collection import Collection

MAX_TOGETHER = 20  # images one search "more like these" takes (and as many "not like these")
MAX_WORDS = 200  # characters of a search by words
MAX_DEPTH = 1000  # how far down a ranking pages of results go (`offset` + `k`)
CONVERTED_KEPT = 8  # full views of images a browser does not show, kept converted (a 12-MP photo's JPEG: ~4 MB)


T = TypeVar("T")


class RequestError(CbirError):
    """A bad request: shown to the user with an HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400, suggestions: Sequence[str] = (), field: str = "words"):
        super().__init__(message)
        self.status = status
        self.suggestions = list(suggestions)  # what the user may have meant, for the page to offer
        self.field = field  # the request value they would replace


@dataclass
class Searched:
    engine: str
    result: SearchResult
    took_ms: float
    query_label: str | None = None


@dataclass
class Duplicates:
    engine: str
    threshold: float | None
    exact_only: bool
    groups: list | None  # None while they are being found: `compared` of `pictures` so far
    took_ms: float
    compared: int = 0
    pictures: int = 0


class SearchService:
    """Engines loaded once per process and shared read-only between requests.

    Engines given as folders (`sources`) are reloaded when a newer version is committed there
    (`cbir add`, `cbir remove`, a new `cbir index`): `refresh`, which the app calls before every request,
    checks at most every `RECHECK_S` seconds; searches in flight finish on the version they started with.
    """

    RECHECK_S = 1.0
    DECODERS = 2  # uploads decoded at once (one per core of a small server); the others wait their turn

    def __init__(self, engines: dict[str, Engine], default_k: int = 10, max_k: int = 100,
                 max_pixels: int = 40_000_000, thumb_size: int = 192, sources: dict[str, Path] | None = None,
                 micro_batching: bool = False, grouping_wait_s: float | None = 2.0,
                 today: Callable[[], date] = date.today):
        if not engines:
            raise CbirError("the web app needs at least one engine")
        self.engines = engines
        self.default_k, self.max_k, self.max_pixels, self.thumb_size = default_k, max_k, max_pixels, thumb_size
        self._thumbnail = lru_cache(maxsize=4096)(self._make_thumbnail)  # ~10-40 KB each
        self._converted = lru_cache(maxsize=CONVERTED_KEPT)(self._convert)
        self._decoding = threading.BoundedSemaphore(self.DECODERS)
        self._decoding_whole = threading.Lock()  # HEVC and raw development decode in full: ~280 MB at 6000x6000
        self.sources, self.micro_batching = sources or {}, micro_batching
        self._versions = {name: current_version(path) for name, path in self.sources.items()}
        self._checked, self._reloading = time.monotonic(), threading.Lock()
        self._groups: dict[tuple, Grouping] = {}  # the latest duplicate searches, found or being found
        self._grouping, self._one_grouping = threading.Lock(), threading.Lock()
        self.grouping_wait_s = grouping_wait_s  # how long a request waits for groups before saying how far they got
        self.today = today  # the clock "on this day" reads
        if micro_batching:
            for engine in engines.values():
                engine.enable_micro_batching()
        self.collections: dict[str, Collection] = {}
        self._describe(self.engines)

    def _describe(self, changed: Iterable[str]) -> None:
        """What the page and `/engines` say of the engines, worked out again for those `changed`."""
        for name in changed:
            self.collections[name] = Collection.of(self.engines[name])
        self.summaries = [{"name": name, "extractor": e.extractor.name, "size": len(e), "dim": e.extractor.dim,
                           "index": e.index.kind, "labelled": self.collections[name].labelled,
                           "learned": e.extractor.describe()} for name, e in self.engines.items()]

    def collection(self, name: str | None) -> Collection:
        """What the page says of an engine's images as a whole (`Collection`); a 404 for an unknown engine."""
        return self.collections[self.engine(name)[0]]

    def examples(self, name: str | None, n: int = 12) -> list[str]:
        """`n` indexed ids of an engine drawn at random: somewhere to start without an image at hand (not one
        archived)."""
        ids, archived = self.collection(name).ids, self.engine(name)[1].albums.archived()
        ids = [id_ for id_ in ids if id_ not in archived] if archived else ids
        return random.sample(ids, min(n, len(ids)))

    @classmethod
    def from_config(cls, config: dict) -> SearchService:
        engines = {name: e if isinstance(e, Engine) else Engine.load(e) for name, e in config["ENGINES"].items()}
        sources = {name: Path(e) for name, e in config["ENGINES"].items() if not isinstance(e, Engine)}
        return cls(engines, config["DEFAULT_K"], config["MAX_K"], config["MAX_PIXELS"], config["THUMB_SIZE"],
                   sources, bool(config.get("MICRO_BATCHING")), config.get("GROUPING_WAIT_S", 2.0),
                   config.get("TODAY", date.today))

    def refresh(self) -> None:
        """Swap in any engine folder's newer version (one request does it; the others go on meanwhile)."""
        if time.monotonic() - self._checked < self.RECHECK_S or not self._reloading.acquire(blocking=False):
            return
        try:
            self._checked, changed = time.monotonic(), []
            for name, path in self.sources.items():
                version = current_version(path)
                if version == self._versions[name]:
                    continue
                self._versions[name] = version  # tried once per version
                try:
                    engine = Engine.load(path)
                except Exception as exc:  # noqa: BLE001 - a failed reload must never fail the search
                    logging.getLogger(__name__).warning("keeping the loaded '%s': its new version %s fails to "
                                                        "load: %s", name, version, exc)
                    continue
                self._install(name, engine)
                changed.append(name)
            if changed:
                self._describe(changed)
        finally:
            self._reloading.release()

    def _install(self, name: str, engine: Engine) -> None:
        """Serve `engine` as `name` from now on (searches in flight finish on the one they started with)."""
        if self.micro_batching:
            engine.enable_micro_batching()
        old, self.engines[name] = self.engines[name], engine
        old.stop_micro_batching()

    def change_faces(self, name: str | None, change: Callable[[Faces], T]) -> T:
        """Change an engine's faces (`Engine.change_faces`; `change` may raise `CbirError` for a change it cannot
        make), kept as `_change` keeps it. Returns what `change` returns."""
        return self._change(name, lambda engine, path: engine.change_faces(path, change), described=True)

    def change_albums(self, name: str | None, change: Callable[[Albums], T]) -> T:
        """Change an engine's albums (`Engine.change_albums`; `change` may raise `CbirError` for a change it cannot
        make), kept as `_change` keeps it. Returns what `change` returns."""
        return self._change(name, lambda engine, path: engine.change_albums(path, change), described=False)

    def _change(self, name: str | None, apply: Callable[[Engine, Path], T], described: bool) -> T:
        """`apply(engine, its folder)` to an engine, kept in its folder, on its latest version, and served at once
        (`described`: what the page says of its images as a whole worked out again: who is in them, when and where
        they were taken). Refused where the engine was given loaded (no folder to keep the change in), or another
        cbir is changing the folder."""
        name, served = self.engine(name)
        if name not in self.sources:
            raise RequestError(f"'{name}' was given to the server loaded, not as a folder: nothing in it can be "
                               "changed here", 409)
        path = self.sources[name]
        try:
            with self._reloading, writer_lock(path, wait=False):
                engine = served if served.version == current_version(path) else Engine.load(path)
                changed = apply(engine, path)
                if engine is not served:
                    self._install(name, engine)
                self._versions[name] = engine.version
                if described or engine is not served:
                    self._describe([name])
            return changed
        except RequestError:
            raise
        except OSError as exc:
            raise RequestError(f"the engine's folder cannot be written ({exc.strerror or exc}): nothing was changed",
                               409) from exc
        except CbirError as exc:
            raise RequestError(str(exc), 409 if isinstance(exc, BusyError) else 400) from exc

    @property
    def default_engine(self) -> str:
        return next(iter(self.engines))

    def indexed(self, name: str | None, image_ids: Sequence[str]) -> tuple[str, Engine]:
        """The engine (as `engine`), with a 404 for the first of `image_ids` it does not index."""
        name, engine = self.engine(name)
        if missing := next((image_id for image_id in image_ids if image_id not in engine.metadata), None):
            raise RequestError(f"no indexed image with id '{missing}' in engine '{name}'", 404)
        return name, engine

    def engine(self, name: str | None) -> tuple[str, Engine]:
        name = name or self.default_engine
        if name not in self.engines:
            raise RequestError(f"unknown engine '{name}'; available: {', '.join(self.engines)}", 404)
        return name, self.engines[name]

    def parse_k(self, value) -> int:
        if value in (None, ""):
            return self.default_k
        try:
            k = int(value)
        except (TypeError, ValueError):
            raise RequestError(f"k must be a whole number between 1 and {self.max_k}, not '{value}'") from None
        if not 1 <= k <= self.max_k:
            raise RequestError(f"k must be between 1 and {self.max_k}, not {k}")
        return k

    def parse_page(self, values) -> tuple[int, int]:
        """(k, offset) from request values: the page of results from rank `offset` + 1 (`paged`), `MAX_DEPTH`
        deep at most."""
        k, text = self.parse_k(values.get("k")), values.get("offset")
        if text in (None, ""):
            return k, 0
        try:
            offset = int(text)
        except (TypeError, ValueError):
            raise RequestError(f"offset must be a whole number, not '{text}'") from None
        if not 0 <= offset <= MAX_DEPTH - k:
            raise RequestError(f"results go {MAX_DEPTH:,} deep at most: offset must be between 0 and {MAX_DEPTH - k} "
                               f"for k={k}, not {offset}")
        return k, offset

    @staticmethod
    def paged(searched: Searched, offset: int) -> Searched:
        """A search `offset` + k deep, less its first `offset` results."""
        return replace(searched, result=replace(searched.result, hits=searched.result.hits[offset:]))

    def decode_upload(self, data: bytes | None, region: Region | None = None, side: int | None = None
                      ) -> np.ndarray:
        """An uploaded image's pixels at the size indexed images are read at (`DEFAULT_MAX_SIDE`; faces are looked
        for at `cbir.faces.FACE_SIDE`), or at the size that gives a `region` of it that size (`part` cuts it out): a
        JPEG is decoded straight at a fraction of its size, and at most `DECODERS` decodes run at once, so memory per
        request follows the work, not the upload (a 6000x6000 photo is 108 MB decoded in full). A HEIC photo cannot
        be decoded small unless it holds a thumbnail large enough, nor a camera's raw file without a preview inside it
        developed small: one at a time (a TIFF too, which may be either)."""
        if not data:
            raise RequestError("no image received: send a file in the 'image' field (or the raw bytes)")
        side = read_side(region, side or DEFAULT_MAX_SIDE)
        try:
            whole = might_be_raw(data) or (is_heif(data) and thumbnail_file(data, side) is None)
            with self._decoding_whole if whole else nullcontext(), self._decoding:  # waiting, holds no slot
                return decode_image(data, max_side=side, max_pixels=self.max_pixels)
        except ImageDecodeError as exc:
            raise RequestError(f"that file is not an image we can read: {exc}", 422 if "pixels" in str(exc) else 400) \
                from None

    @staticmethod
    def part(image: np.ndarray, region: Region | None) -> np.ndarray:
        """The `region` of an image (all of it without one); a part too small is a bad request."""
        if region is None:
            return image
        try:
            return region.of(image)
        except CbirError as exc:
            raise RequestError(str(exc)) from None

    @staticmethod
    def parse_distinct(values) -> bool:
        """Whether to show one image per group of look-alikes (`distinct`)."""
        return values.get("distinct") not in (None, "", "0", "false")

    @staticmethod
    def parse_region(values) -> Region | None:
        """The part of the query image to search with (`crop`: LEFT,TOP,WIDTH,HEIGHT fractions), or None."""
        text = values.get("crop")
        if text in (None, ""):
            return None
        try:
            return Region.parse(text)
        except CbirError as exc:
            raise RequestError(str(exc)) from None

    def parse_narrowing(self, values) -> tuple[Filter | None, float | None]:
        """(filter, minimum score) from request values: `label` and `split` (each repeatable), `folder`,
        `since`, `until`, `showing` (words: checked against the `engine`'s features), `place` (checked against where
        its images were taken), `tag` (checked against their tags), `stars`, `person` (`cbir.faces`), `camera`
        (checked against their cameras), `kind`, `album` (`cbir.albums`), `text` (`cbir.texts`), `min_score`."""
        try:
            where = Filter.of(values.getlist("label"), values.getlist("split"), values.get("folder"),
                              values.get("since"), values.get("until"), (values.get("showing") or "")[:MAX_WORDS],
                              (values.get("place") or "")[:MAX_WORDS], (values.get("tag") or "")[:MAX_WORDS],
                              values.get("stars"), values.get("person"), (values.get("camera") or "")[:MAX_WORDS],
                              values.get("kind"), (values.get("album") or "")[:MAX_WORDS],
                              (values.get("text") or "")[:MAX_WORDS])
            if where and (where.showing or where.place or where.tag or where.person or where.camera or where.album
                          or where.text):
                self.engine(values.get("engine"))[1].select(where)  # kept for the search that follows
        except RequestError:
            raise
        except CbirError as exc:  # a date or rating that is none, words that name nothing the features know, no place
            field = exc.field if getattr(exc, "field", "") in ("place", "tag") else "showing"
            raise RequestError(str(exc), suggestions=getattr(exc, "suggestions", ()), field=field) from None
        text = values.get("min_score")
        if text in (None, ""):
            return where, None
        try:
            min_score = float(text)
        except ValueError:
            raise RequestError(f"min_score must be a number (a cosine similarity, -1 to 1), not '{text}'") from None
        if not -1.0 <= min_score <= 1.0:
            raise RequestError(f"min_score is a cosine similarity, from -1 to 1, not {min_score}")
        return where, min_score

    def search_image(self, image: np.ndarray, engine: str | None, k: int, exclude: str | None = None,
                     where: Filter | None = None, min_score: float | None = None, distinct: bool = False) -> Searched:
        """The k nearest indexed images (less the indexed id `exclude`, when given; of those that pass
        `where`; none under `min_score`; with `distinct`, one per group of look-alikes)."""
        name, eng = self.engine(engine)
        return self._timed(name, eng, distinct, lambda: eng.search([image], k=k, exclude=[exclude], where=where,
                                                                   min_score=min_score, distinct=distinct)[0])

    def search_face(self, image: np.ndarray, engine: str | None, k: int, where: Filter | None = None) -> Searched:
        """The indexed images with a face most like the largest one in `image` (`Engine.search_faces`)."""
        name, eng = self.engine(engine)
        try:
            return self._timed(name, eng, False, lambda: eng.search_faces([image], k=k, where=where)[0])
        except CbirError as exc:  # no face in it, no faces looked for in the engine
            raise RequestError(str(exc)) from None

    @staticmethod
    def parse_face(values) -> bool:
        """Whether to search with the face in the uploaded image (`face`), not the whole picture."""
        return values.get("face") not in (None, "", "0", "false")

    def search_ids(self, image_ids: list[str], engine: str | None, k: int, where: Filter | None = None,
                   min_score: float | None = None, distinct: bool = False, region: Region | None = None,
                   unlike_ids: list[str] = (), uploaded: list[np.ndarray] = ()) -> Searched:
        """"More like these": the k indexed images most like all these indexed ones (and the `uploaded` images)
        at once, and less like the indexed ones `unlike_ids` ("not like these"; `search_together`: all of them left
        out)."""
        name, _ = self.engine(engine)
        image_ids, unlike_ids = list(dict.fromkeys(image_ids)), list(dict.fromkeys(unlike_ids))
        self.check_together(len(uploaded) + len(image_ids), region, len(unlike_ids))
        if both := next((image_id for image_id in image_ids if image_id in unlike_ids), None):
            raise RequestError(f"'{both}' is ticked both as wanted and as not wanted: keep one of the two")
        self.indexed(name, image_ids + unlike_ids)
        return self.search_together(list(uploaded), name, k, where=where, min_score=min_score, distinct=distinct,
                                    liked_ids=image_ids, unliked_ids=unlike_ids)

    def search_together(self, images: list[np.ndarray], engine: str | None, k: int, where: Filter | None = None,
                        min_score: float | None = None, distinct: bool = False, unlike: list[np.ndarray] = (),
                        liked_ids: list[str] = (), unliked_ids: list[str] = ()) -> Searched:
        """The k indexed images most like all these images (and the indexed `liked_ids`) at once, and less like
        those `unlike` (and the indexed `unliked_ids`; `Engine.search_together`), at most `MAX_TOGETHER` of each;
        the indexed ones left out."""
        name, eng = self.engine(engine)
        self.check_together(len(images) + len(liked_ids), unlike=len(unlike) + len(unliked_ids))
        return self._timed(name, eng, distinct, lambda: eng.search_together(
            images, k, where=where, min_score=min_score, distinct=distinct, unlike=unlike, liked_ids=liked_ids,
            unliked_ids=unliked_ids))

    def search_words(self, text: str | None, engine: str | None, k: int, where: Filter | None = None,
                     min_score: float | None = None, distinct: bool = False) -> Searched:
        """The k indexed images the engine's network finds most probably of what the words name (`cbir.words`)."""
        name, eng = self.engine(engine)
        if not text or not text.strip():
            raise RequestError("name what to find in words, e.g. words=dog")
        if len(text) > MAX_WORDS:
            raise RequestError(f"at most {MAX_WORDS} characters of words, not {len(text)}")

        def search() -> SearchResult:
            try:
                return eng.search_words(text, k, where=where, min_score=min_score, distinct=distinct)
            except CbirError as exc:  # words that name nothing known, features that know no classes, no place
                raise RequestError(str(exc), suggestions=getattr(exc, "suggestions", ())) from None

        return self._timed(name, eng, distinct, search)

    def browse(self, engine: str | None, k: int, where: Filter | None = None, distinct: bool = False,
               order: str = "newest") -> Searched:
        """The k first indexed images in an `ORDERS` order of those that pass `where` (`Engine.browse`; `distinct`:
        one per group of look-alikes)."""
        name, eng = self.engine(engine)
        return self._timed(name, eng, distinct, lambda: eng.browse(k, where, distinct, order))

    @staticmethod
    def parse_order(values) -> str:
        """The order to look through the images in (`order=`: `ORDERS`; nothing: the newest taken first)."""
        order = values.get("order") or "newest"
        if order not in ORDERS:
            raise RequestError(f"order is {', '.join(ORDERS)}, not '{order}'")
        return order

    def shows(self, engine: str | None, wait_s: float | None = 0.0) -> list[Shown]:
        """What an engine's images show most often (words, how many images show each, an example); [] while it is being
        worked out after waiting `wait_s` (None: until it is); a bad request for features that cannot say."""
        overview = self.collection(engine).words
        words = overview.wait(wait_s)
        if overview.error is not None:
            raise RequestError(overview.error)
        return words or []

    @staticmethod
    def check_together(count: int, region: Region | None = None, unlike: int = 0) -> None:
        """A bad request when more images than `MAX_TOGETHER` are to be searched with together, or held against a
        search (`unlike`), or none with some to hold against; or a part (`region`) of several, or with some against."""
        if count > MAX_TOGETHER:
            raise RequestError(f"at most {MAX_TOGETHER} images are searched with together, not {count}")
        if unlike > MAX_TOGETHER:
            raise RequestError(f"at most {MAX_TOGETHER} images are marked as not wanted in one search, not {unlike}")
        if unlike and not count:
            raise RequestError("images marked as not wanted need at least one image to search with: tick one")
        if count > 1 and region is not None:
            raise RequestError("a part (crop) is searched with one image, not with several together")
        if unlike and region is not None:
            raise RequestError("a part (crop) is searched with alone, not with images marked as not wanted")

    @classmethod
    def _timed(cls, name: str, engine: Engine, distinct: bool, search: Callable[[], SearchResult]) -> Searched:
        """A search of the engine `name` and how long it took; with `distinct`, refused first where the engine's
        features cannot tell look-alikes."""
        if distinct:
            cls._check_distinct(engine)
        started = time.perf_counter()
        result = search()
        return Searched(name, result, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _check_distinct(engine: Engine) -> None:
        try:
            check_distinct(engine)
        except CbirError as exc:
            raise RequestError(str(exc)) from None

    def predict(self, image: np.ndarray, engine: str | None) -> tuple[str, float] | None:
        """The class an engine's own network (or classifier) finds most probable for an image, with its
        probability; None when its features predict no class."""
        _, eng = self.engine(engine)
        predict_proba = getattr(eng.extractor, "predict_proba", None)
        if predict_proba is None:
            return None
        probabilities = predict_proba([image])[0]
        best = int(probabilities.argmax())
        return str(eng.extractor.classes_[best]), float(probabilities[best])

    def duplicates(self, engine: str | None, threshold: str | None, exact_only: bool) -> Duplicates:
        """Groups of duplicates in an engine (`cbir.duplicates`), at a threshold given as text (the features'
        own when empty), or how far finding them has got after `grouping_wait_s` (`Grouping`: found in a thread of
        their own, one engine at a time); the latest few are kept, so paging back and forth does not search again."""
        from cbir.duplicates import default_threshold

        name, eng = self.engine(engine)
        try:
            value = None if exact_only else default_threshold(eng) if threshold in (None, "") else float(threshold)
        except ValueError:
            raise RequestError(f"threshold is a cosine similarity, from -1 to 1, not '{threshold}'") from None
        except CbirError as exc:
            raise RequestError(str(exc)) from None
        if value is not None and not -1.0 <= value <= 1.0:
            raise RequestError(f"threshold is a cosine similarity, from -1 to 1, not {value}")
        key = (name, id(eng), value, exact_only)
        with self._grouping:
            grouping = self._groups.get(key)
            if grouping is None or grouping.error is not None:  # a failed one is tried again
                grouping = Grouping(eng, value, exact_only, self._one_grouping)
                self._groups = {**dict(list(self._groups.items())[-7:]), key: grouping}
        grouping.wait(self.grouping_wait_s)
        if grouping.error is not None:
            raise grouping.error
        return Duplicates(name, value, exact_only, grouping.groups, grouping.seconds * 1000, grouping.compared,
                          grouping.pictures)

    def search_id(self, image_id: str, engine: str | None, k: int, where: Filter | None = None,
                  min_score: float | None = None, region: Region | None = None, distinct: bool = False) -> Searched:
        """"More like this" for an indexed image: its k nearest other images (itself left out), by its vector as
        indexed (`Engine.search_like`); for a `region` of it, by that part read from its file and described."""
        name, eng = self.indexed(engine, [image_id])
        if region is None:
            searched = self._timed(name, eng, distinct, lambda: eng.search_like(image_id, k, where=where,
                                                                                min_score=min_score, distinct=distinct))
        else:
            image = self.pixels(image_id, read_side(region, DEFAULT_MAX_SIDE))
            searched = self.search_image(self.part(image, region), name, k, exclude=image_id, where=where,
                                         min_score=min_score, distinct=distinct)
        searched.query_label = eng.metadata.label(image_id)
        return searched

    def faces(self, engine: str | None, image_id: str) -> list[Seen]:
        """The faces found in an indexed image, left to right (`Engine.faces_in`); a 404 for an id not indexed."""
        return self.indexed(engine, [image_id])[1].faces_in(image_id)

    def name_face(self, engine: str | None, image_id: str, face, name: str | None = None, nobody: bool = False
                  ) -> list[Seen]:
        """Say whose a face of an indexed image is (`face`, its number there): a name ("" gives it back to the
        grouping) or `nobody`'s; kept in the engine's folder. Returns the image's faces now."""
        if (name is None) == (not nobody) or not isinstance(name, str | None):
            raise RequestError("say whose the face is: name=NAME, or nobody=1 (none of the people)")
        number = self.face_number(face)
        self.indexed(engine, [image_id])
        self.change_faces(engine, lambda faces: faces.name_face(image_id, number, NOBODY if nobody else name))
        return self.faces(engine, image_id)

    def set_date(self, engine: str | None, image_id: str, when: str | None) -> None:
        """Say when an indexed image was taken (`cbir.taken.moment`; None: as its file says again), kept in the
        engine's folder (`Engine.change_taken`)."""
        self.indexed(engine, [image_id])
        self._change(engine, lambda eng, path: eng.change_taken(path, dates={image_id: when and moment(when)}),
                     described=True)  # the timeline, the map, trips, "On this day"

    def set_place(self, engine: str | None, image_id: str, where: str | None) -> None:
        """Say where an indexed image was taken (a town's name or "LAT,LON": `cbir.places.located`; None: as its
        file says again), kept in the engine's folder (`Engine.change_taken`)."""
        self.indexed(engine, [image_id])
        self._change(engine, lambda eng, path: eng.change_taken(path, places={image_id: where and located(where)}),
                     described=True)  # the timeline, the map, trips, "On this day"

    def alike(self, engine: str | None, person: str) -> list[tuple[Person, float]]:
        """The other people who may be this one, the likeliest first (`Engine.alike`)."""
        try:
            return self.engine(engine)[1].alike(person)
        except CbirError as exc:
            raise RequestError(str(exc)) from None

    @staticmethod
    def face_number(value) -> int:
        """A face's number in its image (`face=`), checked."""
        try:
            return int(value)
        except (TypeError, ValueError):
            raise RequestError(f"face= is a face's number in the image (from 0, left to right), not '{value}'") \
                from None

    def search_face_in(self, image_id: str, engine: str | None, k: int, face, where: Filter | None = None
                       ) -> Searched:
        """The other indexed images with a face like one of an indexed image's (`face`: its number there; None or
        "": its largest; `Engine.search_face_in`)."""
        name, eng = self.indexed(engine, [image_id])
        number = None if face in (None, "") else self.face_number(face)
        try:
            searched = self._timed(name, eng, False, lambda: eng.search_face_in(image_id, k, number, where))
        except CbirError as exc:  # no such face, no faces looked for in the engine
            raise RequestError(str(exc)) from None
        searched.query_label = eng.metadata.label(image_id)
        return searched

    def not_in(self, engine: str | None, person: str, image_id: str) -> str | None:
        """Say that a person is not in an indexed image after all (`Faces.not_in`). Returns how they are found now
        (a name, else a number; None for no one)."""
        self.indexed(engine, [image_id])
        return self.change_faces(engine, lambda faces: faces.not_in(person, image_id))

    def name_person(self, engine: str | None, person: str, name: str, image_id: str | None = None) -> None:
        """Give a person (a number or a name) a name ("" takes it away), kept in the engine's folder. `image_id`, an
        image of theirs, makes sure that a number still means who it meant when the page was shown."""
        def change(faces: Faces) -> None:
            if image_id and image_id not in faces.showing(person):
                raise RequestError(f"the people were numbered again since ({image_id} does not show {person} any "
                                   f"more): reload the page", 409)
            faces.rename(person, name)

        self.change_faces(engine, change)

    def albums(self, engine: str | None) -> list[Album]:
        """An engine's albums, by name."""
        return self.engine(engine)[1].albums.overview()

    def change_album(self, engine: str | None, album: str, add: Sequence[str] = (), remove: Sequence[str] = (),
                     name: str | None = None, delete: bool = False, share: bool | None = None,
                     until: str | None = None, places: bool = False) -> str | None:
        """Put indexed images in an album (made if there is none), take some out, share it by a link or stop
        (`share`; a link until a day, giving where the photos were taken or not: `Albums.share`), rename it or delete
        it, kept in the engine's folder; a 404 for an id not indexed, or for an album there is none of (but to add
        to). Returns the album's name now (None where it is gone)."""
        if until is not None and share is not True:
            raise RequestError("until is the last day of a link: with share=1")
        if not (add or remove or name is not None or delete or share is not None):
            raise RequestError("say what to change: add=ID or remove=ID (repeatable), share=1 or 0, name=NEW, or "
                               "delete=1")
        self.indexed(engine, [*add, *remove])
        if (remove or name is not None or delete or share is not None) and (
                self.engine(engine)[1].albums.find(album) is None):
            raise RequestError(f"there is no album '{album}'", 404)

        def change(albums: Albums) -> str | None:
            if add:
                albums.add(album, add)
            if remove:
                albums.remove(album, remove)
            if share is not None and albums.find(album) is not None:
                albums.share(album, last_day(until), places) if share else albums.unshare(album)
            if delete:
                albums.delete(album)
                return None
            return albums.rename(album, name) if name is not None else albums.find(album)

        return self.change_albums(engine, change)

    def passing(self, engine: str | None, where: Filter | None) -> list[str]:
        """The indexed images that pass a filter, the earliest taken first (undated ones last), to put all in an
        album; a bad request without a filter (a whole library is no album)."""
        if not where:
            raise RequestError("narrow the images first (a trip, a place, a person: folder=, since=, place=...) to "
                               "put every image the filters keep in an album")
        eng = self.engine(engine)[1]
        return eng.metadata.oldest_first(eng.select(where).ids)

    def album_images(self, engine: str | None, album: str) -> tuple[str, list[str]]:
        """An album's name as spelt and its images; a 404 where there is no such album."""
        albums = self.engine(engine)[1].albums
        try:
            return albums.named(album), albums.images(album)
        except CbirError as exc:
            raise RequestError(str(exc), 404) from None

    def search_album(self, album: str, engine: str | None, k: int, where: Filter | None = None,
                     distinct: bool = False) -> Searched:
        """The k indexed images that may belong in an album (`Engine.search_album`)."""
        name, eng = self.engine(engine)
        try:
            return self._timed(name, eng, distinct, lambda: eng.search_album(album, k, where, distinct))
        except CbirError as exc:  # no such album
            raise RequestError(str(exc), 404) from None

    def shared(self, secret: str) -> tuple[str, str, list[str], Link]:
        """(engine, album, its images, its link) of the album a link's secret shares; a 404 for a secret no album has
        (one that stopped being shared, or past its last day, or a guess)."""
        for name, engine in self.engines.items():
            if (found := engine.albums.shared_by(secret)) is not None:
                return name, found[0], engine.albums.images(found[0]), found[1]
        raise RequestError("no album is shared at this address (any more)", 404)

    def locate(self, image_id: str, engine: str | None = None) -> str:
        """The stored path of an indexed image (of any engine, or of the one named); only indexed ids are served."""
        for engine in [self.engine(engine)[1]] if engine else self.engines.values():
            if image_id in engine.metadata:
                path = engine.metadata.path(image_id)
                if path:
                    return path
        raise RequestError(f"no indexed image with id '{image_id}'", 404)

    def originals(self, image_ids: list[str], engine: str | None = None) -> Iterator[tuple[str, bytes | BinaryIO]]:
        """(name, bytes or the open file) of indexed images as stored, for a download: their ids as names (the
        folders they were in), a file of its own opened to be read as it is sent (a video of any size), an image of
        CIFAR-10's official archive (pixels, not a file) as a PNG; those unreadable by now left out and named in a
        last file, `not-included.txt`. Every id is checked first (a 404 for one not indexed; of `engine`'s where
        named)."""
        paths = [(image_id, self.locate(image_id, engine)) for image_id in image_ids]

        def read() -> Iterator[tuple[str, bytes | BinaryIO]]:
            missing = []
            for image_id, path in paths:
                try:
                    if archive_member(path) is None and os.path.isfile(path):
                        yield image_id, open(path, "rb")
                        continue
                    data = original_bytes(path)
                    if data is None:  # pixels in an archive of arrays
                        image_id, data = f"{image_id}.png", encode_png(self.pixels(image_id))
                    yield image_id, data
                except (DatasetError, ImageDecodeError, RequestError, OSError) as exc:
                    logging.getLogger(__name__).warning("indexed image '%s' left out of a download: %s", image_id, exc)
                    missing.append(image_id)
            if missing:
                yield "not-included.txt", ("Not included: their files are missing or unreadable.\n"
                                           + "".join(f"{image_id}\n" for image_id in missing)).encode()

        return read()

    def pixels(self, image_id: str, max_side: int | None = None) -> np.ndarray:
        """An indexed image's pixels, at full size or (`max_side`) as its collection was read: a "more like this"
        query is then the very picture that was described, read in a fraction of the time for a photo."""
        path = self.locate(image_id)
        try:
            return load_image(path, max_side=max_side)
        except (DatasetError, ImageDecodeError) as exc:
            raise unavailable(image_id, exc) from None

    def unplaced_originals(self, image_ids: list[str], engine: str | None = None
                           ) -> Iterator[tuple[str, bytes | BinaryIO]]:
        """`originals` without where they were taken (`cbir.web.unplaced`): a JPEG without its GPS position, XMP
        and IPTC, any other picture as its pixels (a HEIC or a raw file as a JPEG, named so: `IMG_1.HEIC.jpg`), a
        video with its positions blanked."""
        pictures = set(image_ids)
        for name, data in self.originals(image_ids, engine):
            if is_video_name(name) and not isinstance(data, bytes):
                yield name, Blanked(data, video_places(data))
            elif name in pictures:
                if not isinstance(data, bytes):
                    data.close()
                try:
                    picture, mimetype = self.image_bytes(name, False, engine=engine, places=False)
                except RequestError:  # unreadable by now: left out
                    continue
                wanted = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}[mimetype]
                yield (name if name.lower().endswith(wanted) else name + wanted[0]), picture
            else:
                yield name, data

    def video_file(self, image_id: str, engine: str | None = None) -> str | None:
        """The file of an indexed video (`cbir.datasets.video`; of `engine` where named), to stream as it is; None
        for an image."""
        path = self.locate(image_id, engine)
        if not is_video_name(path) or archive_member(path) is not None:
            return None
        if not os.path.isfile(path):
            raise unavailable(image_id, FileNotFoundError(path))
        return path

    def image_bytes(self, image_id: str, thumbnail: bool, region: Region | None = None, engine: str | None = None,
                    places: bool = True) -> tuple[bytes, str]:
        """(bytes, mimetype) of an indexed image (of `engine` where named), as stored when a browser can show it,
        else JPEG for a HEIC photo or a camera's raw file and PNG for the rest; its thumbnail (`thumbnail`), or a
        part's (`region`: a face's). Without where it was taken (not `places`: `cbir.web.unplaced`): a JPEG as
        stored less its GPS position, XMP and IPTC, any other picture converted (its pixels alone)."""
        path = self.locate(image_id, engine)
        try:
            if thumbnail:  # kept by the file's stamp: a file changed since is read again
                return self._thumbnail(path, file_stamp(path), region)
            data = original_bytes(path)
            mimetype = browser_type(data)
            if mimetype and places:
                return data, mimetype
            if mimetype == "image/jpeg" and (kept := jpeg_without_places(data)) is not None:
                return kept, mimetype
            return self._converted(path, file_stamp(path), mimetype == "image/jpeg" or is_heif(data)
                                   or is_raw_name(path))
        except (DatasetError, ImageDecodeError) as exc:
            raise unavailable(image_id, exc) from None

    def _make_thumbnail(self, path: str, stamp: str | None, region: Region | None) -> tuple[bytes, str]:
        """A thumbnail and its MIME type, from the image decoded at that size (a photo's JPEG at an eighth of its
        size or less), or at the size that gives its `region` that size."""
        image = load_image(path, max_side=read_side(region, self.thumb_size))
        return thumbnail(self.part(image, region), self.thumb_size)

    @staticmethod
    def _convert(path: str, stamp: str | None, photo: bool) -> tuple[bytes, str]:
        """A stored image a browser does not show, in full, as a browser shows it: a `photo` (HEIC, a camera's raw
        file) as a JPEG, the rest as a PNG; the last few kept by the file's stamp (a HEIC takes a second)."""
        return (encode_jpeg(load_image(path)), "image/jpeg") if photo else (encode_png(load_image(path)), "image/png")



def unavailable(image_id: str, exc: Exception) -> RequestError:
    """A 404 for an indexed image whose file is gone or unreadable: the server's paths stay in its log."""
    logging.getLogger(__name__).warning("indexed image '%s' is unavailable: %s", image_id, exc)
    return RequestError(f"the indexed image '{image_id}' is not available: its file is missing or unreadable", 404)


def engine_names(paths: list[str | Path]) -> dict[str, Path]:
    """Unique display names for engine folders (their folder names, numbered on clashes)."""
    names: dict[str, Path] = {}
    for path in map(Path, paths):
        base, n = path.resolve().name, 2
        name = base
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names[name] = path
    return names
