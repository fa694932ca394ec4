"""Faces in photos and the people they show, found offline with dlib's public-domain models (the `faces` extra:
`dlib-bin`, and `face-recognition-models` for the model files). A photo is read at `FACE_SIDE` pixels on its longer
side; dlib's HOG detector finds the faces of 80 pixels and more there (1/20 of that side; a smaller picture is
looked at twice as large) scoring `MIN_SCORE` or more; each face is described by dlib's ResNet face descriptor, 128
numbers in which two faces of one person lie closer than 0.6 (99.38% of the pairs of Labeled Faces in the Wild told
right, by dlib's own measure). Faces closer than `SAME_PERSON` are linked and the links grouped by Chinese whispers
(dlib's clustering for faces): a group found in `MIN_PHOTOS` photos or more, or with a face named, is a person, numbered
from 1 by how many photos show them. Names given to faces (a photo manager's, or by hand) overrule the grouping: a face
named otherwise than most of its group's named faces is that other person's, and one said to be nobody's (`NOBODY`)
is no one's.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.folder import in_order
from cbir.datasets.regions import Region
from cbir.errors import CbirError, MissingDependencyError
from cbir.places import fold
from cbir.pool import Pool
from cbir.resume import write_batch
from cbir.tags import Box

FACE_SIDE = 1600  # pixels on a photo's longer side when its faces are looked for
MIN_SCORE = 0.3  # the detector's least score for a face (its own threshold is 0: patches and prints pass it)
SAME_PERSON = 0.5  # the descriptor distance under which two faces are linked as one person's (dlib's for grouping)
MIN_PHOTOS = 2  # a group of faces is a person when it is in this many photos
MATCH = 0.6  # a search by a face finds the faces closer than this (dlib's distance for "the same person")
MIN_OVERLAP = 1 / 3  # a photo manager's named face names the face found that overlaps it this much (of their union)
DESCRIPTOR = 128
NOBODY = "\t"  # the name of a face said to be none of the people (no name can be this: names are spaced words)
LONGEST_NAME = 100  # characters
THREADS = 2  # photos read and looked at at once
_MODELS = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


class Face(NamedTuple):
    """A face: the image it is in, where (left, top, right, bottom, as fractions of the picture's width and height),
    and the person it is (0: none, a face seen in fewer than `MIN_PHOTOS` photos)."""

    image: str
    box: Box
    person: int

    @property
    def crop(self) -> str:
        """The face with a little around it, as a `crop` for its thumbnail (`face_crop`)."""
        return face_crop(self.box)


def face_crop(box: Box) -> str:
    """A face's box with a little around it, as a `crop` (LEFT,TOP,WIDTH,HEIGHT fractions: `cbir.datasets.regions`)."""
    left, top, right, bottom = box
    margin_x, margin_y = (right - left) / 4, (bottom - top) / 4
    x0, y0 = max(0.0, left - margin_x), max(0.0, top - margin_y)
    return str(Region(x0, y0, min(1.0, right + margin_x) - x0, min(1.0, bottom + margin_y) - y0))


class Person(NamedTuple):
    """A person: their number, their name (the one most of their named faces have: a photo manager's, or given with
    `cbir faces --name`; "" where none is), how many photos show them, and their face most like the others."""

    person: int
    name: str
    images: int
    face: Face

    @property
    def called(self) -> str:
        """How people are shown: their name, else "person N"."""
        return shown_as(self.person, self.name)

    def to_dict(self) -> dict:
        return {"person": self.person, "name": self.name, "images": self.images,
                "face": {"image": self.face.image, "box": list(self.face.box)}}


class Seen(NamedTuple):
    """A face as `Faces.in_image` lists an image's: its number there (from 0, left to right), its box, its person
    (0: none), how they are shown (`Person.called`; "" for none), whether it was said to be nobody's, and, for a
    face that is no one's yet, the named person it may be (a face of theirs closer than `MATCH`; "" for none)."""

    face: int
    box: Box
    person: int
    who: str
    nobody: bool
    maybe: str = ""

    @property
    def crop(self) -> str:
        return face_crop(self.box)

    def to_dict(self) -> dict:
        return self._asdict() | {"box": list(self.box)}


class Faces:
    """The faces found in an engine's images: for each image looked at, its faces' boxes, descriptors and names
    ("" where none is given); the people they group into (`group`); and the names given to the faces of edited
    photos, waiting for the faces found in them when they are looked at again (`waiting`: image -> (name, box))."""

    def __init__(self, owners: Iterable[str] = (), boxes: np.ndarray | None = None,
                 descriptors: np.ndarray | None = None, persons: np.ndarray | None = None,
                 scanned: Iterable[str] = (), names: Iterable[str] | None = None,
                 waiting: Mapping[str, list[tuple[str, Box]]] | None = None):
        self.owners = list(owners)
        self._boxes = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(boxes, np.float32)
        self._descriptors = (np.zeros((0, DESCRIPTOR), np.float32) if descriptors is None
                             else np.asarray(descriptors, np.float32))
        self._persons = np.zeros(len(self.owners), np.int32) if persons is None else np.asarray(persons, np.int32)
        self._new: list[tuple[np.ndarray, np.ndarray]] = []  # faces added since the arrays were last joined
        self.names = [""] * len(self.owners) if names is None else list(names)
        self.scanned = set(scanned) | set(self.owners)  # the images looked at, with faces or without
        self.waiting = dict(waiting or {})

    def __len__(self) -> int:
        return len(self.owners)

    def copy(self) -> Faces:
        """Faces to change without changing these (their arrays are never changed in place: shared)."""
        return Faces(self.owners, self.boxes, self.descriptors, self.persons, self.scanned, self.names, self.waiting)

    def summary(self) -> dict:
        """How many images were looked at, faces found, images with a face, people: an engine's manifest says."""
        return {"looked_at": len(self.scanned), "faces": len(self), "in": len(set(self.owners)),
                "people": int(self.persons.max(initial=0))}

    @property
    def boxes(self) -> np.ndarray:
        """(n, 4): each face's box (left, top, right, bottom: fractions of its picture's width and height)."""
        return self._joined()[0]

    @property
    def descriptors(self) -> np.ndarray:
        """(n, 128): each face's descriptor."""
        return self._joined()[1]

    @property
    def persons(self) -> np.ndarray:
        """(n,): each face's person (0: none)."""
        return self._joined()[2]

    def _joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The arrays with the faces added since (joined once, not at each image: a library's faces are many)."""
        if self._new:
            boxes, descriptors = zip(*self._new)
            self._boxes = np.concatenate([self._boxes, *boxes])
            self._descriptors = np.concatenate([self._descriptors, *descriptors])
            self._persons = np.concatenate([self._persons, np.zeros(sum(map(len, boxes)), np.int32)])
            self._new = []
        return self._boxes, self._descriptors, self._persons

    def add(self, image: str, boxes: np.ndarray, descriptors: np.ndarray) -> None:
        """The faces found in `image` (which was looked at, even when it has none); group again to name them."""
        self.scanned.add(image)
        if len(boxes):
            self.owners += [image] * len(boxes)
            self._new.append((np.asarray(boxes, np.float32).reshape(-1, 4),
                              np.asarray(descriptors, np.float32).reshape(-1, DESCRIPTOR)))
            self.names += [""] * len(boxes)

    def label(self, named: Mapping[str, Iterable[tuple[str, Box]]]) -> int:
        """Name images' faces after the faces named in them (image -> (name, box): a photo manager's, `cbir.tags`,
        or those named before): each named box the face of its image it overlaps most, if a third of their union or
        more; returns how many faces were named."""
        rows_of: dict[str, list[int]] = {}
        for row, owner in enumerate(self.owners):
            if owner in named:
                rows_of.setdefault(owner, []).append(row)
        boxes, done = self.boxes, 0
        for image, rows in rows_of.items():
            given = list(named[image])
            pairs = sorted(((_overlap(boxes[i], box), i, n) for n, (_, box) in enumerate(given) for i in rows),
                           reverse=True)
            faces, used = set(), set()
            for overlap, row, n in pairs:
                if overlap >= MIN_OVERLAP and row not in faces and n not in used:
                    self.names[row] = given[n][0]
                    faces.add(row)
                    used.add(n)
            done += len(faces)
        return done

    def name_the_rest(self, said: Mapping[str, Iterable[str]]) -> int:
        """Name faces after the people said to be in their images, without saying where (image -> names: a Google
        Photos Takeout's, `cbir.takeout`): where all the people said to be in an image but one are the people its
        faces already are, and one face of it is nobody's yet, it is that one's; grouped again after each round, as
        long as it names more (a face named in a portrait makes its person known in a group photo, where the face
        left is then the other person's). Returns how many faces were named."""
        rows_of: dict[str, list[int]] = {}
        for row, owner in enumerate(self.owners):
            if owner in said:
                rows_of.setdefault(owner, []).append(row)
        done = 0
        while True:
            called = {number: fold(name) for number, name, _ in self._groups() if name}
            named = 0
            for image, rows in rows_of.items():
                who = {fold(self.names[row]) if self.names[row] else called.get(int(self.persons[row])) for row in rows}
                left = [name for name in dict.fromkeys(said[image]) if fold(name) not in who]
                free = [row for row in rows if not self.names[row] and int(self.persons[row]) not in called]
                if len(left) == len(free) == 1:
                    self.names[free[0]], named = left[0], named + 1
            if not named:
                return done
            done += named
            self.group()

    def named(self) -> dict[str, list[tuple[str, Box]]]:
        """The faces with a name, image by image: (name, box) as `label` takes them."""
        found: dict[str, list] = {}
        for owner, name, box in zip(self.owners, self.names, self.boxes.tolist()):
            if name:
                found.setdefault(owner, []).append((name, tuple(box)))
        return found

    def in_images(self) -> dict[str, tuple[str, ...]]:
        """The people in each image they are in (`Person.called`), left to right."""
        called = self._called()
        found: dict[str, dict[str, None]] = {}
        for row in sorted(np.flatnonzero(self.persons > 0), key=lambda row: self.boxes[row, 0]):
            found.setdefault(self.owners[row], {})[called[int(self.persons[row])]] = None
        return {image: tuple(people) for image, people in found.items()}

    def rename(self, person: int | str, name: str) -> None:
        """Give a person (as `showing` takes them) a name: their faces all take it ("" takes it away)."""
        name = _name(name)
        for row in np.flatnonzero(np.isin(self.persons, list(self._numbers(person)))):
            self.names[row] = name
        self._persons = self._numbered(self._regrouped(self.persons))

    def in_image(self, image: str) -> list[Seen]:
        """The faces found in an image, left to right."""
        name_of = {number: name for number, name, _ in self._groups()}
        called = self._called(name_of)
        rows = [row for row, owner in enumerate(self.owners) if owner == image]
        named = np.isin(self.persons, [number for number, name in name_of.items() if name])
        seen = []
        for n, row in enumerate(rows):
            person, maybe = int(self.persons[row]), ""
            if not person and self.names[row] != NOBODY and named.any():  # no one's yet: whose it may be
                distances = np.linalg.norm(self.descriptors[named] - self.descriptors[row], axis=1)
                if distances.min() < MATCH:
                    maybe = name_of[int(self.persons[named][np.argmin(distances)])]
            seen.append(Seen(n, self._face(row).box, person, called.get(person, ""), self.names[row] == NOBODY, maybe))
        return seen

    def row(self, image: str, face: int | None = None) -> int:
        """Where an image's `face`-th face is (from 0, left to right, as `in_image` lists them; None: its largest)."""
        rows = [row for row, owner in enumerate(self.owners) if owner == image]
        if face is None and rows:
            return rows[largest(self.boxes[rows])]
        if face is None or not 0 <= face < len(rows):
            raise CbirError(f"{image} has no face {face}: " + (f"its faces are 0 to {len(rows) - 1}, left to right"
                                                                if rows else "no face was found in it"))
        return rows[face]

    def name_face(self, image: str, face: int, name: str) -> None:
        """Say whose the `face`-th face of an image is (from 0, left to right, as `in_image` lists them): a name
        (that person's now, whatever the grouping said), `NOBODY` (none of the people), or "" (the grouping's)."""
        self.names[self.row(image, face)] = name if name == NOBODY else _name(name)
        self._persons = self._numbered(self._regrouped(self.persons))

    def not_in(self, person: str | int, image: str) -> str | None:
        """Say that a person (as `showing` takes them) is not in an image after all: their faces there are nobody's
        (`NOBODY`). Returns how the person is found now (their name, else their number, which may have changed; None
        where they are no one's any more)."""
        rows = np.flatnonzero(np.isin(self.persons, list(self._numbers(person))))
        gone = [row for row in rows if self.owners[row] == image]
        if not gone:
            raise CbirError(f"no face of {person} was found in {image}")
        for row in gone:
            self.names[row] = NOBODY
        self._persons = self._numbered(self._regrouped(self.persons))
        left = [int(self.persons[row]) for row in rows if row not in gone and self.persons[row]]
        if not left:
            return None
        return next(name for number, name, _ in self._groups() if number == left[0]) or str(left[0])

    def discard(self, images: Iterable[str]) -> None:
        """Forget these images' faces (the images were removed, or are to be looked at again)."""
        images = set(images)
        for image in images & set(self.waiting):
            del self.waiting[image]
        gone = images & self.scanned
        if gone:
            self.scanned -= gone
            self._keep([i for i, owner in enumerate(self.owners) if owner not in gone])
            self._persons = self._numbered(self._persons)  # a person in fewer photos now: numbered again

    def kept(self, images: Mapping[str, str]) -> None:
        """Only the faces of these images (old id -> new id), under their new ids: an engine indexed again keeps the
        faces of the photos it still holds as they were."""
        self.discard((self.scanned | set(self.waiting)) - set(images))
        self.owners = [images[owner] for owner in self.owners]
        self.scanned = {images[image] for image in self.scanned}
        self.waiting = {images[image]: named for image, named in self.waiting.items()}

    def set_aside(self, images: Iterable[str]) -> None:
        """Forget these images' faces but for the names given to them, which wait for the faces found there when the
        images are looked at again (`waiting`): the images were edited."""
        images = set(images)
        named = {image: found for image, found in self.named().items() if image in images}
        self.discard(images)
        self.waiting |= named

    def moved(self, moves: Iterable[tuple[str, str, str]]) -> None:
        """Images indexed under new ids with their old ids' descriptions (`Engine.add_moved`: (new, path, old)):
        their faces go with them."""
        renamed = {old: new for new, _, old in moves if old in self.scanned}
        self.owners = [renamed.get(owner, owner) for owner in self.owners]
        self.scanned |= set(renamed.values())
        self.waiting |= {new: self.waiting[old] for new, _, old in moves if old in self.waiting}

    def _keep(self, rows: list[int]) -> None:
        boxes, descriptors, persons = self._joined()
        self.owners, self.names = [self.owners[i] for i in rows], [self.names[i] for i in rows]
        self._boxes, self._descriptors, self._persons = boxes[rows], descriptors[rows], persons[rows]

    def group(self) -> None:
        """Number the people: faces closer than `SAME_PERSON` linked, the links grouped by Chinese whispers; groups
        in `MIN_PHOTOS` photos or more numbered from 1 by how many photos (then by their first image), others 0."""
        import faiss

        self._joined()
        self._persons = np.zeros(len(self), np.int32)
        if not len(self):
            return
        index = faiss.IndexFlatL2(DESCRIPTOR)
        index.add(self.descriptors)
        limits, _, neighbours = index.range_search(self.descriptors, SAME_PERSON ** 2)
        edges = [(i, int(j)) for i in range(len(self)) for j in neighbours[limits[i]: limits[i + 1]] if j >= i]
        self._persons = self._numbered(self._regrouped(np.asarray(_dlib().chinese_whispers(edges), np.int32) + 1))

    def _regrouped(self, groups: np.ndarray) -> np.ndarray:
        """Groups (0: none) that keep to the names given: the groups whose named faces mostly have one name are one
        group; a face named otherwise than most of its group's is in its name's group (a new one where no group has
        that name); a face said to be nobody's is alone."""
        groups = np.array(groups, np.int32)
        if not any(self.names):
            return groups
        counted: dict[int, Counter] = {}
        for group, name in zip(groups.tolist(), self.names):
            if group and name and name != NOBODY:
                counted.setdefault(group, Counter())[fold(name)] += 1
        most = {group: names.most_common(1)[0][0] for group, names in counted.items()}
        home: dict[str, int] = {}  # a name -> the group its faces gather in
        for group, name in most.items():
            home.setdefault(name, group)
        free = int(groups.max(initial=0)) + 1
        for row, name in enumerate(self.names):
            if name == NOBODY:
                groups[row], free = free, free + 1
            elif name:
                groups[row] = home.setdefault(fold(name), free)
                free = max(free, groups[row] + 1)
            elif groups[row] in most:
                groups[row] = home[most[int(groups[row])]]
        return groups

    def _numbered(self, groups: np.ndarray) -> np.ndarray:
        """Each face's person from its group (0: none): groups in `MIN_PHOTOS` photos or more, or with a named face,
        numbered from 1 by how many photos (then by their first image), others 0."""
        photos: dict[int, set[str]] = {}
        named = set()
        for group, owner, name in zip(groups.tolist(), self.owners, self.names):
            if group:
                photos.setdefault(group, set()).add(owner)
                if name and name != NOBODY:
                    named.add(group)
        people = sorted((group for group, images in photos.items() if len(images) >= MIN_PHOTOS or group in named),
                        key=lambda group: (-len(photos[group]), min(photos[group])))
        numbers = np.zeros(int(groups.max(initial=0)) + 1, np.int32)
        numbers[people] = np.arange(1, len(people) + 1)
        return numbers[groups]

    def like(self, descriptor: np.ndarray, among: Collection[str] | None = None
             ) -> tuple[list[tuple[str, float]], str | None]:
        """The images with a face closer than `MATCH` to a face's descriptor (of those `among`, when given), each with
        its nearest face's distance, the nearest first; and whose the face is (`Person.called`), where the nearest
        face found is someone's and closer than `SAME_PERSON` (None otherwise)."""
        distances = np.linalg.norm(self.descriptors - np.asarray(descriptor, np.float32), axis=1)
        nearest: dict[str, float] = {}
        order = np.argsort(distances, kind="stable")
        for row in order:
            if distances[row] >= MATCH:
                break
            if among is None or self.owners[row] in among:
                nearest.setdefault(self.owners[row], float(distances[row]))
        closest = int(order[0]) if len(order) else None
        who = (self._called().get(int(self.persons[closest]))
               if closest is not None and distances[closest] < SAME_PERSON else None)
        return list(nearest.items()), who

    def _face(self, row: int) -> Face:
        return Face(self.owners[row], tuple(round(float(v), 4) for v in self.boxes[row]), int(self.persons[row]))

    def people(self) -> list[Person]:
        """The people, the most photographed first: each group of faces (`group`; those of one name are one) with
        the name most of its named faces have, and its face nearest the mean of its faces."""
        found = []
        for number, name, rows in self._groups():
            mean = self.descriptors[rows].mean(axis=0)
            typical = rows[int(np.argmin(np.linalg.norm(self.descriptors[rows] - mean, axis=1)))]
            found.append(Person(number, name, len({self.owners[i] for i in rows}), self._face(typical)))
        return sorted(found, key=lambda person: (-person.images, person.person))

    def alike(self, person: str | int) -> list[tuple[Person, float]]:
        """The other people who may be this one, the likeliest first, each with the distance between their nearest
        faces: a face of theirs closer than `MATCH` to one of this person's (what dlib takes for one person; the
        grouping links faces under `SAME_PERSON` only), never in a photo with them, not named otherwise."""
        import faiss

        numbers = self._numbers(person)
        mine = np.flatnonzero(np.isin(self.persons, list(numbers)))
        others = np.flatnonzero((self.persons > 0) & ~np.isin(self.persons, list(numbers)))
        if not len(mine) or not len(others):
            return []
        index = faiss.IndexFlatL2(DESCRIPTOR)
        index.add(self.descriptors[mine])
        nearest = np.sqrt(np.maximum(index.search(self.descriptors[others], 1)[0][:, 0], 0))
        people = {p.person: p for p in self.people()}
        name = fold(people[min(numbers)].name)
        with_them = {self.owners[i] for i in mine}
        closest: dict[int, float] = {}
        for row, distance in zip(others.tolist(), nearest.tolist()):
            number = int(self.persons[row])
            closest[number] = min(distance, closest.get(number, distance))
        apart = {int(self.persons[row]) for row in others if self.owners[row] in with_them}
        return sorted(((people[number], round(distance, 4)) for number, distance in closest.items()
                       if distance < MATCH and number not in apart
                       and not (name and people[number].name and fold(people[number].name) != name)),
                      key=lambda found: found[1])

    def _called(self, name_of: Mapping[int, str] | None = None) -> dict[int, str]:
        """Each group's number -> how its person is shown (`shown_as`), from each group's name (`name_of`: number ->
        name, as `_groups` says; worked out when not given)."""
        if name_of is None:
            name_of = {number: name for number, name, _ in self._groups()}
        return {number: shown_as(number, name) for number, name in name_of.items()}

    def _groups(self) -> Iterator[tuple[int, str, np.ndarray]]:
        """Each group of faces: its number, the name most of its named faces have ("" for none), its rows."""
        persons = self.persons
        order = np.argsort(persons, kind="stable")  # each group's rows together, in order: one pass, not one a group
        bounds = np.searchsorted(persons[order], np.arange(1, int(persons.max(initial=0)) + 2))
        given = np.asarray(self.names, dtype=object)
        for number, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]), 1):
            rows = order[start:end]
            names = Counter(name for name in given[rows].tolist() if name and name != NOBODY)
            yield number, names.most_common(1)[0][0] if names else "", rows

    def showing(self, person: str | int) -> frozenset[str]:
        """The images in which a person's face was found: the person by number ("3", or "person 3" as
        `Person.called` says it), or by name (case and accents ignored). Where no one has that name, people joined:
        "Anna and Bob" (or "&": the photos of both together), "Anna, Bob" (or "or": of either); "and" binds first
        ("Anna and Bob, Carl": of Anna and Bob together, and Carl's); a name with a comma in it is read whole."""
        try:
            return self._showing(person)
        except CbirError:
            pieces = [piece.strip() for piece in re.split(r"(,|\bor\b|\band\b|&)", str(person), flags=re.IGNORECASE)]
            if len(pieces) == 1:
                raise
        names = {fold(name) for _, name, _ in self._groups() if name}
        terms: list[list[str]] = [[pieces[0]]]
        for join, piece in zip(pieces[1::2], pieces[2::2]):
            if join == "," and fold(f"{terms[-1][-1]}, {piece}") in names:  # "Hopper, Grace"
                terms[-1][-1] = f"{terms[-1][-1]}, {piece}"
            elif join.casefold() in ("and", "&"):
                terms[-1].append(piece)
            else:
                terms.append([piece])
        return frozenset().union(*(frozenset.intersection(*map(self._showing, term)) for term in terms))

    def _showing(self, person: str | int) -> frozenset[str]:
        return frozenset(self.owners[i] for i in np.flatnonzero(np.isin(self.persons, list(self._numbers(person)))))

    def _numbers(self, person: str | int) -> set[int]:
        """The numbers of the groups a person is (as `showing` takes them), checked."""
        if number := re.fullmatch(r"(?:person )?(\d+)", str(person).strip().casefold()):
            numbers = {self._number(int(number[1]))}
        else:
            numbers = {number for number, name, _ in self._groups() if name and fold(name) == fold(str(person))}
            if not numbers:
                named = sorted({name for _, name, _ in self._groups() if name})
                raise CbirError(f"nobody is named '{person}'" + (f": the people named are {', '.join(named[:10])}"
                                                                 + (" and more" if len(named) > 10 else "")
                                                                 if named else "; `cbir faces --name N=NAME` names "
                                                                               "person N"))
        return numbers

    def _number(self, person: int) -> int:
        """A person's number, checked."""
        known = int(self.persons.max(initial=0))
        if not 1 <= person <= known:
            raise CbirError(f"there is no person {person}: the faces found show "
                            + (f"people 1 to {known}" if known else "nobody twice (`cbir faces` looks for them)"))
        return person

    def save(self, path: Path) -> None:
        np.savez(path, owners=np.asarray(self.owners, dtype=str), boxes=self.boxes, descriptors=self.descriptors,
                 persons=self.persons, scanned=np.asarray(sorted(self.scanned), dtype=str),
                 names=np.asarray(self.names, dtype=str), waiting=np.asarray(json.dumps(self.waiting)))

    @classmethod
    def load(cls, path: Path) -> Faces:
        with np.load(path) as saved:
            waiting = json.loads(str(saved["waiting"])) if "waiting" in saved.files else {}  # none before 0.4.13
            return cls(saved["owners"].tolist(), saved["boxes"], saved["descriptors"], saved["persons"],
                       saved["scanned"].tolist(), saved["names"].tolist(),
                       {image: [(name, tuple(box)) for name, box in named] for image, named in waiting.items()})


def shown_as(person: int, name: str) -> str:
    """How a person is shown: their name, else "person N"."""
    return name or f"person {person}"


def largest(boxes) -> int:
    """Which of these boxes (left, top, right, bottom; an (n, 4) array or a sequence of them) is the largest."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def _name(name: str) -> str:
    """A name as given by hand, spaces tidied; one too long is an error."""
    name = " ".join(name.split())
    if len(name) > LONGEST_NAME:
        raise CbirError(f"a name is at most {LONGEST_NAME} characters; this one has {len(name)}")
    return name


def _overlap(a, b) -> float:
    """How much two boxes (left, top, right, bottom) overlap: their intersection over their union."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return float(width * height / union) if union > 0 else 0.0


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise MissingDependencyError("finding faces needs dlib and its face models: pip install 'cbir[faces]'") \
            from exc
    return dlib


def _model_files() -> list[str]:
    """The paths of dlib's landmark and face descriptor models, from the `face-recognition-models` package (found
    without importing it: it imports setuptools' `pkg_resources`)."""
    spec = importlib.util.find_spec("face_recognition_models")
    folder = Path(next(iter(spec.submodule_search_locations or [])) if spec else "") / "models"
    if spec is None or not all((folder / name).is_file() for name in _MODELS):
        raise MissingDependencyError("finding faces needs dlib's face models: pip install 'cbir[faces]'")
    return [str(folder / name) for name in _MODELS]


@cache
def finder() -> FaceFinder:
    """The process's face finder (its sets of models loaded as searches at once need them)."""
    return FaceFinder()


class FaceFinder:
    """Finds the faces in pictures: where they are and their descriptors. dlib's networks hold state, so each search
    borrows a set of models of its own: as many sets are loaded as searches ever ran at once (~30 MB each)."""

    def __init__(self):
        self._dlib = _dlib()
        self._files = _model_files()
        self.models = Pool(self._loaded)

    def _loaded(self) -> tuple:
        landmarks, descriptor = self._files
        return (self._dlib.get_frontal_face_detector(), self._dlib.shape_predictor(landmarks),
                self._dlib.face_recognition_model_v1(descriptor))

    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The faces in an RGB uint8 picture: (n, 4) boxes as fractions of its width and height, left to right, and
        their (n, 128) descriptors."""
        with self.models.lent() as models:
            return self._found(np.ascontiguousarray(image), *models)

    @staticmethod
    def _found(image: np.ndarray, detector, landmarks, describe) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        found, _, _ = detector.run(image, 1 if max(height, width) <= FACE_SIDE // 2 else 0, MIN_SCORE)
        found = sorted(found, key=lambda r: r.left())
        boxes = np.array([[max(r.left(), 0) / width, max(r.top(), 0) / height, min(r.right(), width) / width,
                           min(r.bottom(), height) / height] for r in found], np.float32).reshape(-1, 4)
        descriptors = np.array([describe.compute_face_descriptor(image, landmarks(image, r)) for r in found],
                               np.float32).reshape(-1, DESCRIPTOR)
        return boxes, descriptors

    def scan(self, paths: Mapping[str, str], read, progress: bool = True
             ) -> Iterator[tuple[str, np.ndarray, np.ndarray] | tuple[str, str]]:
        """For each image (id -> path), read at `FACE_SIDE` by `read(path, side)`: (id, boxes, descriptors), or
        (id, why) where it cannot be read; `THREADS` at a time (and no more started than taken soon: a run stopped
        stops at once), with a progress bar."""
        def look(id_: str, path: str):
            try:
                return (id_, *self.find(read(path, FACE_SIDE)))
            except (CbirError, OSError) as exc:
                return id_, str(exc)

        with ThreadPoolExecutor(THREADS) as pool, tqdm(total=len(paths), desc="finding faces", unit="img",
                                                       disable=not progress, mininterval=0.5) as bar:
            for done in in_order(pool, look, list(paths.items()), ahead=2 * THREADS):
                bar.update(1)
                yield done


class FaceSpool:
    """What a `find_faces` run found, kept in `ENGINE/.partial-faces/` `BATCH` images at a time, so that a stopped run
    started again looks only at the rest (an image changed since is looked at again); gone once the engine is saved
    (`discard`)."""

    FOLDER = ".partial-faces"
    BATCH = 50

    def __init__(self, engine_folder: str | Path, stamps: Mapping[str, str | None]):
        self.folder, self.stamps = Path(engine_folder) / self.FOLDER, stamps
        self.folder.mkdir(parents=True, exist_ok=True)
        self._batch: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._written = len(list(self.folder.glob("batch-*.npz")))

    def fill(self, faces: Faces, todo: Mapping[str, str]) -> int:
        """Add to `faces` what an earlier run found in the images of `todo` as they are now; returns how many."""
        filled = 0
        for batch in sorted(self.folder.glob("batch-*.npz")):
            with np.load(batch) as saved:
                rows = np.cumsum([0, *saved["counts"]])
                for n, (id_, stamp) in enumerate(zip(saved["ids"].tolist(), saved["stamps"].tolist())):
                    if id_ in todo and id_ not in faces.scanned and (self.stamps.get(id_) or "") == stamp:
                        faces.add(id_, saved["boxes"][rows[n]: rows[n + 1]], saved["descriptors"][rows[n]: rows[n + 1]])
                        filled += 1
        return filled

    def keep(self, id_: str, boxes: np.ndarray, descriptors: np.ndarray) -> None:
        self._batch.append((id_, boxes, descriptors))
        if len(self._batch) >= self.BATCH:
            ids, boxes, descriptors = zip(*self._batch)
            write_batch(self.folder, self._written, ids=np.asarray(ids, dtype=str),
                        counts=np.asarray([len(b) for b in boxes], np.int64),
                        stamps=np.asarray([self.stamps.get(i) or "" for i in ids], dtype=str),
                        boxes=np.concatenate(boxes).reshape(-1, 4),
                        descriptors=np.concatenate(descriptors).reshape(-1, DESCRIPTOR))
            self._written += 1
            self._batch = []

    @classmethod
    def discard(cls, engine_folder: str | Path) -> None:
        """The engine is saved with the faces: nothing to resume."""
        shutil.rmtree(Path(engine_folder) / cls.FOLDER, ignore_errors=True)
