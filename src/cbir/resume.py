"""Runs that stop and start again: `cbir index` and `cbir add` keep the vectors they have described, batch
by batch, in `ENGINE/.partial/` (an engine's copies in `ENGINE/.partial-copies/`), so that the same command run
again (the same features, options and images) describes only the rest. Features that describe every image while
fitting keep what their fit needs of each (`FeatureExtractor.fit_resumes`: a PCA's input, a classifier's) instead of
vectors, and what must be fitted before that, once fitted (`FeatureExtractor.fit_before_rows`: a supervised variant's
base). The folder goes once the engine is saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.features.base import FeatureExtractor

FOLDER = ".partial"
COPIES_FOLDER = ".partial-copies"  # the same for an engine's copies (`cbir.copies`)


class Checkpoint:
    """The vectors described so far for one dataset and one extractor, and the extractor as fitted for them."""

    def __init__(self, engine_folder: str | Path, extractor: FeatureExtractor, dataset: Dataset,
                 folder: str = FOLDER):
        self.engine_folder, self.folder = Path(engine_folder), Path(engine_folder) / folder
        digest = hashlib.sha256()
        for id_, path in zip(dataset.ids, dataset.paths):
            digest.update(f"{id_}\0{path}\n".encode())
        self.spec = {"extractor": extractor.name, "config": extractor.config_hash(), "images": digest.hexdigest(),
                     "rows": "fit" if extractor.fit_resumes and not extractor.fitted_ else "vectors"}
        if self.folder.exists() and self._recorded() != self.spec:
            shutil.rmtree(self.folder)  # another run's: of no use to this one
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "spec.json").write_text(json.dumps(self.spec))
        self._known: dict[str, np.ndarray] = {}
        self._batches = 0
        for batch in sorted(self.folder.glob("batch-*.npz")):
            with np.load(batch) as saved:
                self._known.update(zip(saved["ids"].tolist(), saved["vectors"]))
            self._batches += 1

    def _recorded(self) -> dict | None:
        try:
            return json.loads((self.folder / "spec.json").read_text())
        except (OSError, ValueError):
            return None

    def __len__(self) -> int:
        return len(self._known)

    def fitted(self, extractor: FeatureExtractor, dataset: Dataset, progress: bool,
               name: str = "extractor") -> FeatureExtractor:
        """The extractor fitted on `dataset`: as an earlier run fitted it, else fitted now and kept (as `name`)."""
        saved = self.folder / name
        if (saved / "config.json").exists():
            return FeatureExtractor.load(saved)
        extractor.fit(dataset, progress=progress)
        tmp = self.folder / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        extractor.save(tmp)
        os.replace(tmp, saved)
        return extractor

    def for_copies(self, extractor: FeatureExtractor, dataset: Dataset) -> Checkpoint:
        """The checkpoint of the same engine's copies, described with `extractor`."""
        return Checkpoint(self.engine_folder, extractor, dataset, COPIES_FOLDER)

    def described(self, ids: list[str]) -> np.ndarray | None:
        """The vectors of these images when an earlier run described all of them, else None."""
        if not all(id_ in self._known for id_ in ids):
            return None
        return np.stack([self._known[id_] for id_ in ids])

    def keep(self, ids: list[str], vectors: np.ndarray) -> None:
        """Keep a described batch (written whole or not at all)."""
        write_batch(self.folder, self._batches, ids=np.asarray(ids), vectors=vectors)
        self._batches += 1
        self._known.update(zip(ids, vectors))


def write_batch(folder: Path, number: int, **arrays: np.ndarray) -> None:
    """Arrays kept as `folder/batch-NNNNNN.npz`, written whole or not at all (a run stopped mid-write leaves none)."""
    tmp = folder / f"batch-{number:06d}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, folder / f"batch-{number:06d}.npz")


def described_batches(dataset: Dataset, describe: Callable[[list[np.ndarray]], np.ndarray], batch_size: int,
                      checkpoint: Checkpoint | None, desc: str, progress: bool) -> Iterator[tuple[Dataset, np.ndarray]]:
    """(part, its rows) for the dataset's batches in order: those a checkpoint holds taken from it, the others
    described now (and kept in it); a progress bar `desc` when `progress`, saying how many were described before."""
    with tqdm(total=len(dataset), desc=desc, unit="img", disable=not progress, mininterval=0.5) as bar:
        if checkpoint is not None and len(checkpoint):
            bar.set_postfix_str(f"{len(checkpoint)} described before", refresh=False)
        for start in range(0, len(dataset), batch_size):
            part = dataset.subset(np.arange(start, min(start + batch_size, len(dataset))))
            rows = checkpoint.described(part.ids) if checkpoint is not None else None
            if rows is None:
                rows = describe(part.images)
                if checkpoint is not None:
                    checkpoint.keep(part.ids, rows)
            yield part, rows
            bar.update(len(part))


def discard(engine_folder: str | Path) -> None:
    """The engine is saved: nothing to resume."""
    for folder in (FOLDER, COPIES_FOLDER):
        shutil.rmtree(Path(engine_folder) / folder, ignore_errors=True)
