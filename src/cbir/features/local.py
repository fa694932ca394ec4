"""Local descriptors: OpenCV SIFT on a dense grid or at detected keypoints, optionally RootSIFT.

Extraction runs in parallel over image chunks (joblib processes, one OpenCV thread each)
with a progress bar. Each image gives an (n_i, 128) float32 array and the (n_i, 2)
keypoint positions scaled to [0, 1) (for spatial pooling).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from cbir.errors import MissingDependencyError

SERIAL_CHUNK = 256  # images between progress-bar updates when describing in this process


@dataclass(frozen=True)
class SiftConfig:
    """How descriptors are taken: `dense` grid (`step`, `patch` in pixels of the upscaled image) or `detect`."""

    sampling: str = "dense"
    step: int = 4
    patch: int = 8
    upscale: int = 2
    rootsift: bool = True

    def __post_init__(self):
        if self.sampling not in ("dense", "detect"):
            raise ValueError(f"sampling must be 'dense' or 'detect', not {self.sampling!r}")
        if self.step < 1 or self.patch < 2 or self.upscale < 1:
            raise ValueError("step >= 1, patch >= 2 and upscale >= 1 are required")

    def to_dict(self) -> dict:
        return asdict(self)


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependencyError("SIFT needs OpenCV: pip install 'cbir[bovw]'") from exc
    return cv2


def describe(images: Sequence[np.ndarray], config: SiftConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """(descriptors (n, 128) float32, positions (n, 2) in [0, 1)) for each image, in this process."""
    cv2 = _cv2()
    cv2.setNumThreads(1)
    sift = cv2.SIFT_create()
    out = []
    grid_cache: dict[tuple[int, int], list] = {}
    for image in images:
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        if config.upscale > 1:
            gray = cv2.resize(gray, None, fx=config.upscale, fy=config.upscale, interpolation=cv2.INTER_LINEAR)
        h, w = gray.shape
        if config.sampling == "dense":
            if (h, w) not in grid_cache:
                half = config.patch / 2
                grid_cache[(h, w)] = [cv2.KeyPoint(float(x), float(y), float(config.patch))
                                      for y in np.arange(half, h - half + 1e-6, config.step)
                                      for x in np.arange(half, w - half + 1e-6, config.step)]
            keypoints, desc = sift.compute(gray, grid_cache[(h, w)])
        else:
            keypoints, desc = sift.detectAndCompute(gray, None)
        if desc is None or len(keypoints) == 0:
            out.append((np.zeros((0, 128), np.float32), np.zeros((0, 2), np.float32)))
            continue
        desc = desc.astype(np.float32)
        if config.rootsift:
            desc /= np.maximum(desc.sum(axis=1, keepdims=True), 1e-7)
            np.sqrt(desc, out=desc)
        positions = np.array([kp.pt for kp in keypoints], np.float32) / np.array([w, h], np.float32)
        out.append((desc, np.clip(positions, 0, 0.999999)))
    return out


def balanced_chunk(n: int, workers: int, most: int) -> int:
    """Images per chunk (at most `most`) so that `n` images make a number of chunks the workers divide
    evenly: none waits idle while another describes a last chunk."""
    chunks = workers * -(-n // (workers * most))
    return -(-n // chunks)


def describe_parallel(images: Sequence[np.ndarray], config: SiftConfig, n_jobs: int | None = None,
                      chunk: int = 500, progress: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """`describe` over chunks of at most `chunk` images (`balanced_chunk`) in `n_jobs` worker processes (default:
    every core; in this process for one job or under 256 images)."""
    from joblib import Parallel, delayed

    n_jobs = n_jobs or os.cpu_count() or 1
    serial = n_jobs == 1 or len(images) < 256
    chunk = SERIAL_CHUNK if serial else balanced_chunk(len(images), n_jobs, chunk)
    chunks = [np.asarray(images[s: s + chunk]) if isinstance(images, np.ndarray) else list(images[s: s + chunk])
              for s in range(0, len(images), chunk)]
    parts = (describe(c, config) for c in chunks) if serial else (
        Parallel(n_jobs=n_jobs, return_as="generator")(delayed(describe)(c, config) for c in chunks))
    results = []
    with tqdm(total=len(images), desc="SIFT descriptors", unit="img", disable=not progress, mininterval=0.5) as bar:
        for part in parts:
            results.extend(part)
            bar.update(len(part))
    return results
