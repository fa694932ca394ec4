"""Text in the pictures: what is written in them (a screenshot's, a document's, a sign's, a ticket's), read by
PP-OCR's networks (through RapidOCR and ONNX Runtime: `pip install 'cbir[ocr]'`; the networks come inside its wheel,
nothing is downloaded), kept per image in the engine (`Texts`) and found by the words it holds (`Texts.holding`).

Each picture is read with its longer side at `TEXT_SIDE` pixels: text a hundredth of that side high or more (a phone
screenshot's smallest print, a sign across a street) is read whole; a page of small print photographed whole may not
be (`benchmarks/reading_text.py`).
Lines read with less confidence than `MIN_SCORE`, or without two letters or digits, are left out (a stray "0" in
a cat's fur)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.folder import in_order
from cbir.errors import CbirError, MissingDependencyError
from cbir.pool import Pool
from cbir.tags import caption_words

TEXT_SIDE = 960  # pixels on a picture's longer side when its text is read (also the text detector's own limit)
MIN_SCORE = 0.8  # a line read less surely is left out
THREADS = 2  # pictures read at once, each by a reader of its own on one core
PREFIX = 3  # characters from which a word looked for also finds the words written that start with it
_LETTERS = re.compile(r"\w\w")
_MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Rec": "PP-OCRv6_rec_small.onnx",
           "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}


class Texts:
    """The text read in an engine's images: for each image read, its lines joined by newlines ("" where it holds
    none); and the kind of images read (`cbir.filters.KINDS`; "" for all), which images added later are read as."""

    def __init__(self, read: Mapping[str, str] | None = None, kind: str = ""):
        self.read, self.kind = dict(read or {}), kind
        self._words: dict[str, frozenset[str]] | None = None

    def __len__(self) -> int:
        return len(self.read)

    def summary(self) -> dict:
        """How many images were read, how many of them hold text, and of what kind: an engine's manifest says."""
        return {"read": len(self.read), "with_text": sum(map(bool, self.read.values())), "kind": self.kind}

    def of(self, image: str) -> str | None:
        """The text read in an image; None where it holds none or was not read."""
        return self.read.get(image) or None

    def add(self, image: str, text: str) -> None:
        self.read[image] = text
        self._words = None

    def holding(self, words: str) -> frozenset[str]:
        """The images whose text holds each of the words (case and accents ignored: `caption_words`): whole, or as
        the start of a word written there where it has `PREFIX` characters or more ("sunflower" finds
        "sunflower42", "pass" "password"; "to" only "to")."""
        wanted = caption_words(words)
        if self._words is None:
            self._words = {id_: caption_words(text) for id_, text in self.read.items() if text}
        return frozenset(id_ for id_, held in self._words.items()
                         if wanted and all(_holds(held, word) for word in wanted))

    def discard(self, images: Iterable[str]) -> None:
        """Forget the text of images removed, or edited (read again next time)."""
        for image in images:
            self.read.pop(image, None)
        self._words = None

    def moved(self, moves: Iterable[tuple[str, str, str]]) -> None:
        """Files moved or renamed ((new id, path, old id)): the same pictures, their text under their new ids."""
        for new, _, old in moves:
            if old in self.read:
                self.read[new] = self.read[old]
        self._words = None

    def kept(self, images: Mapping[str, str]) -> Texts:
        """The text of these images (old id -> new id: the same file indexed again), under their new ids."""
        return Texts({new: self.read[old] for old, new in images.items() if old in self.read}, self.kind)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"kind": self.kind, "read": self.read}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Texts:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(saved["read"], saved["kind"])


def _holds(held: frozenset[str], word: str) -> bool:
    """Whether words written hold a word looked for (`Texts.holding`)."""
    return word in held or len(word) >= PREFIX and any(h.startswith(word) for h in held)


def line_with(text: str, words: str) -> str:
    """The first line of a text read that holds the most of the words (each of them, where one does)."""
    wanted = caption_words(words)
    return max(text.splitlines() or [""],
               key=lambda line: sum(_holds(held, word) for held in [caption_words(line)] for word in wanted))


def lines_of(found, min_score: float = MIN_SCORE) -> str:
    """The lines of a RapidOCR result worth keeping, top to bottom, joined by newlines."""
    return "\n".join(" ".join(text.split()) for text, score in zip(found.txts or (), found.scores or ())
                     if score >= min_score and _LETTERS.search(text))


@cache
def reader() -> TextReader:
    """The process's text reader (its readers loaded as threads need them)."""
    return TextReader()


class TextReader:
    """Reads the text in pictures; each thread that reads borrows a reader of its own (RapidOCR's pipeline keeps
    state between calls; ~60 MB each), on one core."""

    def __init__(self):
        self._rapidocr = _rapidocr()
        self.readers = Pool(self._new)

    def read(self, image: np.ndarray) -> str:
        """The text in an RGB uint8 picture, its lines top to bottom joined by newlines; "" for none."""
        with self.readers.lent() as reader:
            return lines_of(reader(np.ascontiguousarray(image[..., ::-1])))  # RapidOCR takes OpenCV's BGR

    def _new(self):
        module, folder = self._rapidocr
        params = {f"{part}.model_path": str(folder / name) for part, name in _MODELS.items()}
        return module.RapidOCR(params=params | {"Global.log_level": "error",
                                                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                                                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                                                "Det.limit_type": "max", "Det.limit_side_len": TEXT_SIDE})

    def scan(self, paths: Mapping[str, str], read_image, progress: bool = True) -> Iterator[tuple[str, str, bool]]:
        """For each image (id -> path), read at `TEXT_SIDE` by `read_image(path, side)`: (id, its text, True), or (id,
        why, False) where it cannot be read; `THREADS` at a time (no more started than taken soon: a run stopped
        stops at once), with a progress bar."""
        def look(id_: str, path: str) -> tuple[str, str, bool]:
            try:
                return id_, self.read(read_image(path, TEXT_SIDE)), True
            except (CbirError, OSError) as exc:
                return id_, str(exc), False

        with ThreadPoolExecutor(THREADS) as pool, tqdm(total=len(paths), desc="reading text", unit="img",
                                                       disable=not progress, mininterval=0.5) as bar:
            for done in in_order(pool, look, list(paths.items()), ahead=2 * THREADS):
                bar.update(1)
                yield done


def _rapidocr():
    """RapidOCR's module and the folder of the networks its wheel holds, or how to install them."""
    spec = importlib.util.find_spec("rapidocr")
    folder = Path(next(iter(spec.submodule_search_locations or [])) if spec else "") / "models"
    if spec is None or importlib.util.find_spec("onnxruntime") is None \
            or not all((folder / name).is_file() for name in _MODELS.values()):
        raise MissingDependencyError("reading the text in pictures needs RapidOCR and ONNX Runtime: "
                                     "pip install 'cbir[ocr]'")
    import rapidocr

    return rapidocr, folder


class TextSpool:
    """What a `read_text` run read, kept in `ENGINE/.partial-text/read.jsonl` a line an image as it goes, so that a
    stopped run started again reads only the rest (an image changed since is read again); gone once the engine is
    saved (`discard`)."""

    FOLDER = ".partial-text"

    def __init__(self, engine_folder: str | Path, stamps: Mapping[str, str | None]):
        self.folder, self.stamps = Path(engine_folder) / self.FOLDER, stamps
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.folder / "read.jsonl"

    def fill(self, texts: Texts, todo: Mapping[str, str]) -> int:
        """Add to `texts` what an earlier run read in the images of `todo` as they are now; returns how many."""
        filled = 0
        if self.file.exists():
            for line in self.file.read_text(encoding="utf-8").splitlines():
                try:
                    id_, stamp, text = json.loads(line)
                except (ValueError, TypeError):  # the line a stopped run was writing
                    continue
                if id_ in todo and id_ not in texts.read and (self.stamps.get(id_) or "") == stamp:
                    texts.add(id_, text)
                    filled += 1
        return filled

    def keep(self, id_: str, text: str) -> None:
        with self.file.open("a", encoding="utf-8") as out:
            out.write(json.dumps([id_, self.stamps.get(id_) or "", text], ensure_ascii=False) + "\n")

    @classmethod
    def discard(cls, engine_folder: str | Path) -> None:
        """The engine is saved with the text: nothing to resume."""
        shutil.rmtree(Path(engine_folder) / cls.FOLDER, ignore_errors=True)
