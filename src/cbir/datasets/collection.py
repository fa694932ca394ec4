"""`Dataset`: an ordered collection of images with ids, labels, paths and splits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from cbir.errors import CbirError
from cbir.types import Sample


@dataclass
class Dataset:
    """Images (an (n, H, W, 3) uint8 array, or a list of (H, W, 3) arrays) and their records.

    `labels`, `paths` and `splits` hold one entry per image (None where unknown).
    `skipped` lists the files that could not be read.
    """

    ids: list[str]
    images: np.ndarray | Sequence[np.ndarray]
    labels: list[str | None]
    paths: list[str | None]
    splits: list[str | None]
    name: str = "images"
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ids)
        for attr in ("images", "labels", "paths", "splits"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"Dataset.{attr} has {len(getattr(self, attr))} entries for {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Sample:
        return Sample(self.ids[i], np.asarray(self.images[i]), self.labels[i], self.paths[i], self.splits[i])

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self)))

    @property
    def labelled(self) -> bool:
        """True when every image has a label."""
        return len(self) > 0 and all(label is not None for label in self.labels)

    @property
    def classes(self) -> list[str]:
        """The sorted distinct labels."""
        return sorted({label for label in self.labels if label is not None})

    def require_classes(self, learner: str, error: type[Exception] = CbirError) -> None:
        """Raise `error` unless every image is labelled and there are two or more classes, which
        `learner` (a phrase naming what learns from them) needs."""
        if not self.labelled:
            raise error(f"{learner} learns from labels: it needs a labelled collection (<class>/<file> folders "
                        f"or cifar10)")
        if len(self.classes) < 2:
            raise error(f"{learner} learns to tell classes apart: the collection has one class "
                        f"('{self.classes[0]}'), it needs two or more (a folder of images for each class)")

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """A new Dataset with the images at `indices`, in that order (a run of consecutive ones shares this one's
        pixels, as a view: a part of a memory-mapped collection stays on disk)."""
        idx = np.asarray(indices, dtype=np.int64)
        if isinstance(self.images, np.ndarray):
            run = len(idx) > 0 and (idx == np.arange(idx[0], idx[0] + len(idx))).all() and idx[0] >= 0
            images = self.images[idx[0]: idx[0] + len(idx)] if run else self.images[idx]
        else:
            images = [self.images[i] for i in idx]
        pick = lambda values: [values[i] for i in idx]  # noqa: E731
        return Dataset(pick(self.ids), images, pick(self.labels), pick(self.paths), pick(self.splits),
                       self.name, list(self.skipped))

    def select_split(self, split: str) -> Dataset:
        """Only the images of one split (e.g. "train")."""
        return self.subset([i for i, s in enumerate(self.splits) if s == split])

    def stratified(self, n: int | None, seed: int = 0) -> Dataset:
        """A subset of about `n` images with the class proportions kept (first n when unlabelled).

        Deterministic for a given seed; the original order is kept.
        """
        if n is None or n >= len(self):
            return self
        if not self.labelled:
            return self.subset(np.arange(n))
        rng = np.random.default_rng(seed)
        labels = np.asarray(self.labels, dtype=object)
        classes = self.classes
        counts = np.array([(labels == c).sum() for c in classes])
        quota = np.floor(counts * n / len(self)).astype(int)
        for j in np.argsort(-(counts * n / len(self) - quota), kind="stable")[: n - quota.sum()]:
            quota[j] += 1
        chosen = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
        return self.subset(np.sort(np.concatenate(chosen)))
