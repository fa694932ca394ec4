"""Figures written to PNG files: the headless backend, layout, saving and closing in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


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


def heat_map(fig, ax, values: np.ndarray, rows: list[str], columns: list[str], label: str,
             annotate_up_to: int = 25) -> None:
    """`values` (rows x columns) as colours with a colour bar named `label`, each cell's value written
    in it while there are at most `annotate_up_to` columns; NaN cells stay blank."""
    low, high = np.nanmin(values), np.nanmax(values)
    image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=low, vmax=high)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    if len(columns) <= annotate_up_to:
        for (row, col), value in np.ndenumerate(values):
            if not np.isnan(value):
                ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if value > (low + high) / 2 else "white")
    fig.colorbar(image, ax=ax, label=label)
