"""Figures written to PNG files: the headless backend, layout, saving and closing in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def saved_figure(path: str | Path, *grid: int, **subplots) -> Iterator[tuple]:
    """`(figure, axes)` from `plt.subplots(*grid, **subplots)` on the headless backend; when the block
    ends, the figure is laid out and written to `path`, and closed either way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*grid, **subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
