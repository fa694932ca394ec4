"""Which indexed images a search may return: by class label, by split, by folder (a prefix of the
image id, its path relative to the collection). Each index applies a filter inside its own search
(FAISS id selection, a mask on the exact matrix, a Milvus filter expression, an Elasticsearch
filter), so a filtered search returns k hits whenever k images pass: never k searched, then some
dropped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Filter:
    """Images pass when each condition given holds: their label is one of `labels`, their split one of
    `splits`, their id starts with `folder`."""

    labels: frozenset[str] = frozenset()
    splits: frozenset[str] = frozenset()
    folder: str = ""

    @classmethod
    def of(cls, labels: Iterable[str] = (), splits: Iterable[str] = (), folder: str | None = None) -> Filter | None:
        """A filter from what a user gave (empty values ignored), or None when nothing was."""
        made = cls(frozenset(v for v in labels if v), frozenset(v for v in splits if v), folder or "")
        return made if made else None

    def __bool__(self) -> bool:
        return bool(self.labels or self.splits or self.folder)

    def passes(self, id_: str, label: str | None, split: str | None) -> bool:
        return ((not self.labels or label in self.labels) and (not self.splits or split in self.splits)
                and id_.startswith(self.folder))

    def describe(self) -> str:
        """For people: "label cat or dog, folder 2019/"."""
        parts = ([f"label {' or '.join(sorted(self.labels))}"] if self.labels else []) + (
            [f"split {' or '.join(sorted(self.splits))}"] if self.splits else []) + (
            [f"folder {self.folder}"] if self.folder else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class Selection:
    """A filter and the indexed ids that pass it (the embedded indexes select by id; the servers, which
    store each image's attributes, by the filter itself)."""

    filter: Filter
    ids: frozenset[str] = field(repr=False)
