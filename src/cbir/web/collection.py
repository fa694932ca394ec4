"""What the page says of each engine's images as a whole, worked out as the engine is loaded (`Collection.of`): their
labels and folders, what they show (`Overview`, in a thread of its own), when and where they were taken, the trips;
and, when asked, what to draw for some of them and the pictures of this day in earlier years."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date

from cbir.albums import Album
from cbir.engine import Engine
from cbir.errors import CbirError
from cbir.faces import Person
from cbir.cameras import Camera
from cbir.filters import Filter, kind_of
from cbir.memories import Memory
from cbir.places import Place
from cbir.tags import Tag
from cbir.trips import Trip
from cbir.web.placemap import PlaceMap, place_map
from cbir.web.timeline import Timeline, timeline
from cbir.words import Shown

FOLDERS_OFFERED = 500  # folders the page suggests for its folder filter (those holding the most images)


class Overview:
    """What an engine's images show (`Engine.shows`), worked out in a thread of its own as the engine is loaded
    (every image's probable classes: seconds for 100,000 `effnet` images), so that no page waits for it; `error`:
    why its features cannot say. Not for an engine on a server (Milvus, Elasticsearch), whose every vector it would
    read at each start: nothing is offered there."""

    def __init__(self, engine: Engine):
        self.words: list[Shown] | None = None
        self.error: str | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(engine,), name="cbir-overview", daemon=True).start()

    def _run(self, engine: Engine) -> None:
        try:
            self.words = [] if engine.index.server else engine.shows()
        except CbirError as exc:
            self.error = str(exc)
        except Exception:  # noqa: BLE001 - an overview never fails a page; logged for the server's owner
            logging.getLogger(__name__).exception("cannot say what the images of an engine show")
            self.error = "what the images show could not be worked out (the server's log says why)"
        finally:
            self._done.set()

    def wait(self, seconds: float | None) -> list[Shown] | None:
        """The words and their counts once found, waiting at most `seconds` (None: as long as it takes)."""
        self._done.wait(seconds)
        return self.words


@dataclass
class Collection:
    """An engine's images as a whole: whether they are labelled, and with classes its features learned (labels that
    the features learned, a network or classifier trained on them, are classes; others are the names of folders, a
    photo library's, where a generic network knows ImageNet's classes, not these); their classes, ids and folders;
    what they show; when they were taken; their places, map and trips; their tags and ratings; the cameras that
    took them; the people in them; the albums made of them."""

    engine: Engine
    labelled: bool
    knows_classes: bool
    classes: list[str]
    ids: list[str]
    folders: list[str]
    words: Overview
    timeline: Timeline | None
    places: list[Place]
    map: PlaceMap | None
    trips: list[Trip]
    tags: list[Tag]
    rated: bool
    cameras: list[Camera]
    people: list[Person]
    kinds: Counter[str]  # how many images of each kind (`cbir.filters.kind_of`)
    _memories: tuple[date, list[Memory]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, engine: Engine) -> Collection:
        labels, archived = engine.metadata.labels(), engine.albums.archived()
        ids = list(labels)
        return cls(engine, any(labels.values()),
                   bool(set(getattr(engine.extractor, "classes_", ())) & set(labels.values())),
                   sorted({label for label in labels.values() if label}), ids, folders_of(ids), Overview(engine),
                   timeline(taken for id_, taken in engine.metadata.dated() if id_ not in archived), engine.places(),
                   place_map(engine.metadata.places(), engine.metadata.positions()), engine.trips(), engine.tags(),
                   bool(engine.metadata.ratings()), engine.cameras(), engine.people(), Counter(map(kind_of, ids)))

    @property
    def albums(self) -> list[Album]:
        """The albums made of the images, by name (read from the engine each time: they change while it is served)."""
        return self.engine.albums.overview()

    def drawn(self, where: Filter | None) -> tuple[Timeline | None, PlaceMap | None]:
        """When and where the images that pass `where` were taken: the timeline of those its other filters than the
        dates keep, and the map of those its other filters than the place keep (each drawn to go to another period,
        or place); the whole collection's where it has no other filters."""
        metadata = self.engine.metadata
        undated = replace(where, since="", until="") if where else None
        unplaced = replace(where, place="") if where else None
        drawn = timeline(map(metadata.date, self.engine.select(undated).ids)) if undated else self.timeline
        if not unplaced:
            return drawn, self.map
        places, ids = metadata.places(), self.engine.select(unplaced).ids
        return drawn, place_map({id_: places[id_] for id_ in ids if id_ in places}, metadata.positions())

    def memories(self, today: date) -> list[Memory]:
        """The pictures taken on `today`'s date in earlier years (`Engine.on_this_day`), worked out once a day."""
        kept = self._memories
        if kept is None or kept[0] != today:
            kept = self._memories = (today, self.engine.on_this_day(today))
        return kept[1]


def folders_of(ids: list[str], most: int = FOLDERS_OFFERED) -> list[str]:
    """The folders (id prefixes ending in "/") the indexed images lie in, at every depth: the `most` holding the
    most images, in order, for the page to offer as its folder filter's choices."""
    held: Counter[str] = Counter()
    for id_ in ids:
        parts = id_.split("/")[:-1]
        held.update("/".join(parts[: depth + 1]) + "/" for depth in range(len(parts)))
    return sorted(folder for folder, _ in held.most_common(most))
