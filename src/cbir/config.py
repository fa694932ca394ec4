"""Settings resolved once: explicit argument > CBIR_* environment variable > default."""

from __future__ import annotations

import os
from pathlib import Path

from cbir.errors import CbirError


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


DEFAULT_CACHE_GB = 10.0


def cache_limit() -> int:
    """The most bytes of decoded pixels the cache folder keeps: `CBIR_CACHE_GB` gigabytes (default 10)."""
    text = os.environ.get("CBIR_CACHE_GB") or str(DEFAULT_CACHE_GB)
    try:
        gigabytes = float(text)
    except ValueError:
        gigabytes = -1.0
    if not gigabytes >= 0:
        raise CbirError(f"CBIR_CACHE_GB must be a number of gigabytes (0 or more), not '{text}'")
    return int(gigabytes * 1e9)
