"""Search by words: "dog", "beach", "car, truck". A word names those of a network's classes that it names itself, as a
synonym or as a more general noun above them (WordNet 3.0's nouns above ImageNet's classes, `wordnet-nouns.txt`:
"dog" names 118 breeds), and the images ranked first are those the network finds most probably of one of them
(`LikelyClasses`: each indexed image's probable classes, from its vector as indexed — nothing is read or described
again)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from cbir.errors import CbirError, UnknownWordsError

TOP = 20  # the most probable classes kept per image (an image's probability beyond them is negligible)
SHOWS = 0.5  # an image shows what words name when the network's probability of their classes is at least this
# everyday words that name ImageNet's classes, which a collection's overview counts (`overview`)
EVERYDAY = ("dog", "cat", "bird", "fish", "insect", "butterfly", "spider", "snake", "lizard", "turtle", "frog",
            "monkey", "bear", "elephant", "horse", "cattle", "sheep", "pig", "rabbit", "squirrel", "fox", "wolf",
            "lion", "tiger", "zebra", "whale", "shark", "crab", "flower", "mushroom", "fruit", "vegetable", "food",
            "dessert", "bread", "pizza", "drink", "car", "truck", "bus", "train", "bicycle", "boat", "ship",
            "aircraft", "beach", "mountain", "lakeside", "valley", "volcano", "cliff", "coral reef", "building",
            "church", "bridge", "castle", "fountain", "computer", "telephone", "clock", "chair", "table", "bottle",
            "cup", "ball", "musical instrument", "guitar", "piano", "camera", "shoe", "hat", "bag", "sunglasses",
            "umbrella", "tent", "furniture", "bed", "sofa", "lamp", "television", "keyboard", "swimsuit", "watch")
CHUNK = 4096  # vectors turned into class probabilities at once
SHOWN = 4  # classes named when saying what words found
# plural endings and the singular's, tried in order; and the plurals no rule makes
ENDINGS = (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
           ("shes", "sh"), ("men", "man"), ("s", ""))
IRREGULAR = {"mice": "mouse", "geese": "goose", "people": "person", "children": "child", "teeth": "tooth",
             "feet": "foot", "oxen": "ox", "women": "woman", "men": "man", "fish": "fish", "sheep": "sheep"}


class Nouns:
    """WordNet's nouns above ImageNet's classes: each one's synonyms and the nouns it is a kind of (by position;
    the first 1,000 are ImageNet's classes in the network's order)."""

    def __init__(self, synonyms: list[tuple[str, ...]], parents: list[tuple[int, ...]]):
        self.synonyms, self.parents = synonyms, parents
        self.named: dict[str, list[int]] = {}  # the nouns each word (lower case) is a synonym of
        for noun, words in enumerate(synonyms):
            for word in words:
                self.named.setdefault(word.lower(), []).append(noun)
        self._above: dict[int, frozenset[int]] = {}

    @classmethod
    @cache
    def load(cls) -> Nouns:
        lines = [line.split("\t") for line in Path(__file__).with_name("wordnet-nouns.txt").read_text().splitlines()
                 if not line.startswith("#")]
        return cls([tuple(words.split(",")) for words, _ in lines],
                   [tuple(int(p) for p in parents.split()) for _, parents in lines])

    def above(self, noun: int) -> frozenset[int]:
        """The noun and every noun it is a kind of."""
        if noun not in self._above:
            self._above[noun] = frozenset({noun}).union(*(self.above(parent) for parent in self.parents[noun]))
        return self._above[noun]


@lru_cache(maxsize=8192)  # every search names each of a network's classes' forms: worked out once
def forms(text: str) -> frozenset[str]:
    """A word or phrase in lower case with single spaces, and the singulars it may be the plural of."""
    text = " ".join(text.replace("_", " ").lower().split())
    last = text.rsplit(" ", 1)[-1]
    stems = {IRREGULAR[last]} if last in IRREGULAR else {last[:-len(end)] + new for end, new in ENDINGS
                                                          if last.endswith(end) and len(last) > len(end) + 1}
    return frozenset({text} | {text[:len(text) - len(last)] + stem for stem in stems})


def terms(text: str) -> list[str]:
    """The words or phrases a search names, any of which will do: "cat, dog" or "cat or dog"."""
    found = [term.strip() for term in re.split(r",|\bor\b|\|", text, flags=re.IGNORECASE) if term.strip()]
    if not found:
        raise CbirError("name what to find in words, e.g. dog, beach or car")
    return found


def classes_named(text: str, classes: Sequence[str]) -> list[int]:
    """The positions in `classes` (a network's class names: ImageNet's 1,000 in its order, or a collection's) of
    those that the words name: by their own name, a synonym, or a more general noun ("dog", "animal"); an error
    saying which term names none, with the closest words known."""
    nouns, imagenet = Nouns.load(), _is_imagenet(classes)
    kinds = [nouns.above(i) if imagenet else frozenset().union(
        *(nouns.above(n) for form in forms(name) for n in nouns.named.get(form, ()))) for i, name in enumerate(classes)]

    def named(term: str) -> set[int]:
        asked = forms(term)
        meant = {n for form in asked for n in nouns.named.get(form, ())}
        found = {i for i, name in enumerate(classes) if asked & forms(name) or kinds[i] & meant}
        parts = [part for part in re.split(r"\band\b", term, flags=re.IGNORECASE) if part.strip()]
        if not found and len(parts) > 1:  # "cats and dogs" (where no class is named so: "mortar and pestle" is)
            return set().union(*map(named, parts))
        if not found:
            raise _unknown(term.strip(), classes, nouns, bool(meant))
        return found

    return sorted(set().union(*map(named, terms(text))))


def _is_imagenet(classes: Sequence[str]) -> bool:
    from cbir.features.pretrained.extractor import imagenet_classes

    return len(classes) == 1000 and list(classes) == imagenet_classes()


def _unknown(term: str, classes: Sequence[str], nouns: Nouns, known: bool) -> UnknownWordsError:
    """Why `term` names none of `classes`, and the words it may have meant."""
    imagenet = _is_imagenet(classes)
    what = "the network's 1,000 ImageNet classes" if imagenet else \
        f"the {len(classes)} classes the features know ({', '.join(classes[:12])}{', ...' * (len(classes) > 12)})"
    if known:
        return UnknownWordsError(f"'{term}' names none of {what}: none of them is a kind of {term}")
    words = dict.fromkeys([*(nouns.named if imagenet else ()), *(name.lower() for name in classes)])
    close = difflib.get_close_matches(term.lower(), list(words), n=3, cutoff=0.75)
    meant = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return UnknownWordsError(f"'{term}' names none of {what}{meant}", close)


def naming(found: Sequence[int], classes: Sequence[str]) -> str:
    """What words found, for people: "Chihuahua, Japanese spaniel, Maltese dog and 115 more classes"."""
    names = list(dict.fromkeys(classes[i] for i in found))  # ImageNet names two classes "sunglasses"
    if len(names) <= SHOWN:
        return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return f"{', '.join(names[:SHOWN])} and {len(names) - SHOWN} more classes"


class Shown(NamedTuple):
    """Words a collection's images show: how many images show what they name, and the one most probably of it."""

    words: str
    images: int
    example: str


def overview(likely: LikelyClasses, classes: Sequence[str]) -> list[Shown]:
    """What a collection's images show most often: words, how many images show what each names (`SHOWS`) and an
    example, most first, none left out that shows nothing. For ImageNet's classes, `EVERYDAY`'s words; for others,
    the classes' own names."""
    if _is_imagenet(classes):
        counts = [(word, likely.scores(classes_named(word, classes))) for word in EVERYDAY]
    else:
        counts = [(name, likely.scores([i])) for i, name in enumerate(classes)]
    found = [Shown(word, int(np.count_nonzero(scores >= SHOWS)), likely.ids[int(np.argmax(scores))])
             for word, scores in counts if len(scores)]
    return sorted([shown for shown in found if shown.images], key=lambda shown: -shown.images)


class LikelyClasses:
    """Each indexed image's `TOP` most probable classes and their probabilities, from its vector as indexed."""

    def __init__(self, ids: list[str], classes: np.ndarray, probabilities: np.ndarray):
        self.ids, self.classes, self.probabilities = ids, classes, probabilities

    @classmethod
    def of(cls, ids: list[str], proba: Callable[[list[str]], np.ndarray], progress: bool = False) -> LikelyClasses:
        """From a function giving images' class probabilities by their ids, asked `CHUNK` images at a time (the
        vectors of 100,000 photos are never all in memory at once)."""
        tops, probabilities = [], []
        for start in tqdm(range(0, len(ids), CHUNK), desc="classes of the indexed images", unit="chunk",
                          disable=not progress or len(ids) <= CHUNK, mininterval=0.5):
            chunk = proba(ids[start: start + CHUNK])
            top = min(TOP, chunk.shape[1])
            best = np.argpartition(-chunk, top - 1, axis=1)[:, :top]
            tops.append(best.astype(np.int16))
            probabilities.append(np.take_along_axis(chunk, best, axis=1).astype(np.float32))
        width = min(TOP, len(tops[0][0])) if tops else 1
        return cls(ids, np.concatenate(tops) if tops else np.zeros((0, width), np.int16),
                   np.concatenate(probabilities) if probabilities else np.zeros((0, width), np.float32))

    def best(self, rows: np.ndarray, found: Sequence[int]) -> np.ndarray:
        """For these images (rows), the most probable of the classes `found`."""
        wanted = np.isin(self.classes[rows], list(found))
        return self.classes[rows, np.argmax(np.where(wanted, self.probabilities[rows], -1.0), axis=1)]

    def scores(self, found: Sequence[int]) -> np.ndarray:
        """(n,) each image's probability of showing one of the classes `found`."""
        wanted = np.zeros(max(int(self.classes.max(initial=0)), max(found, default=0)) + 1, bool)
        wanted[list(found)] = True
        return (self.probabilities * wanted[self.classes]).sum(axis=1)
