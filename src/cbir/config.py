"""Settings resolved once: explicit argument > CBIR_* environment variable > default."""

from __future__ import annotations

import os
from pathlib import Path


def cbir_home() -> Path:
    """The cache folder: `CBIR_HOME`, default `~/.cache/cbir`."""
    return Path(os.environ.get("CBIR_HOME") or Path.home() / ".cache" / "cbir").expanduser()


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache folder, created on demand."""
    path = cbir_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def setting(name: str, value=None, default=None):
    """`value` when given, else the environment variable `name`, else `default`."""
    if value is not None:
        return value
    return os.environ.get(name) or default
