"""Per-image metadata (id, path, label, split) kept in memory and stored in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from cbir.datasets.collection import Dataset

_SCHEMA = "CREATE TABLE images (id TEXT PRIMARY KEY, path TEXT, label TEXT, split TEXT)"


class Metadata:
    """A mapping id -> (path, label, split)."""

    def __init__(self, rows: Iterable[tuple[str, str | None, str | None, str | None]] = ()):
        self._rows = {row[0]: row[1:] for row in rows}

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Metadata:
        return cls(zip(dataset.ids, dataset.paths, dataset.labels, dataset.splits))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, id_: str) -> bool:
        return id_ in self._rows

    def path(self, id_: str) -> str | None:
        return self._rows.get(id_, (None, None, None))[0]

    def label(self, id_: str) -> str | None:
        return self._rows.get(id_, (None, None, None))[1]

    def label_path(self, id_: str) -> tuple[str | None, str | None]:
        path, label, _split = self._rows.get(id_, (None, None, None))
        return label, path

    def labels(self) -> dict[str, str | None]:
        """id -> label for every image."""
        return {id_: row[1] for id_, row in self._rows.items()}

    def update(self, other: Metadata) -> None:
        self._rows.update(other._rows)

    def discard(self, ids: Iterable[str]) -> None:
        for id_ in ids:
            self._rows.pop(id_, None)

    def save(self, path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(_SCHEMA)
            db.executemany("INSERT INTO images VALUES (?, ?, ?, ?)",
                           ((id_, *row) for id_, row in self._rows.items()))
        db.close()

    @classmethod
    def load(cls, path: Path) -> Metadata:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return cls(db.execute("SELECT id, path, label, split FROM images"))
        finally:
            db.close()
