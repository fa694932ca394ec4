"""CIFAR-10 from the official `cifar-10-python.tar.gz` or from an image folder / zip of it.

Where the data comes from: the `data` argument (`--data`) > `CBIR_CIFAR10` > the cache
folder (`CBIR_HOME`) > a download from the official address, checked against its MD5.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.config import cache_dir, setting
from cbir.datasets.cache import cached_dataset
from cbir.datasets.collection import Dataset
from cbir.datasets.folder import load_folder
from cbir.datasets.spool import PixelSpool
from cbir.errors import ChecksumError, DatasetError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, md5: str, progress: bool = True) -> Path:
    """Download `url` to `dest` through a temporary file, verify its MD5, then move it into place.

    A failed download or a checksum mismatch raises and leaves nothing at `dest`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}",
                      disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        actual = md5sum(tmp)
        if actual != md5:
            raise ChecksumError(f"{url} has MD5 {actual}, expected {md5}: download discarded")
        os.replace(tmp, dest)
        return dest
    except OSError as exc:
        raise DatasetError(f"could not download {url}: {exc}. Download it by hand and pass --data PATH "
                           f"or set CBIR_CIFAR10") from exc
    finally:
        tmp.unlink(missing_ok=True)


def resolve_source(data: str | Path | None = None, download_missing: bool = True, url: str = URL,
                   md5: str = MD5) -> Path:
    """The CIFAR-10 source to read: `data` > `CBIR_CIFAR10` > the cache folder > a download."""
    explicit = setting("CBIR_CIFAR10", data)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.exists():
            origin = "--data" if data else "CBIR_CIFAR10"
            raise DatasetError(f"CIFAR-10 not found at {path} (from {origin})")
        return path
    cached = cache_dir() / ARCHIVE_NAME
    if cached.exists():
        return cached
    if not download_missing:
        raise DatasetError(f"CIFAR-10 not found: pass --data PATH, set CBIR_CIFAR10, or put {ARCHIVE_NAME} "
                           f"in {cache_dir()}")
    return download(url, cached, md5)


def is_official_archive(path: Path) -> bool:
    return path.is_file() and tarfile.is_tarfile(path)


def read_official(archive: Path, split: str) -> Dataset:
    """Decode one split of the official python-pickle archive."""
    images, labels, ids = [], [], []
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            names = _load_pickle(tar, members, "batches.meta")[b"label_names"]
            classes = [n.decode() for n in names]
            for batch in _BATCHES[split]:
                content = _load_pickle(tar, members, batch)
                data = np.asarray(content[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                images.append(data.transpose(0, 2, 3, 1))
                labels.extend(classes[int(i)] for i in content[b"labels"])
    except (tarfile.TarError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
        raise DatasetError(f"{archive} is not a valid cifar-10-python archive: {exc}") from exc
    counters: dict[str, int] = {}
    for label in labels:
        counters[label] = counters.get(label, 0) + 1
        ids.append(f"{split}/{label}/{counters[label]:04d}")
    n = len(ids)
    return Dataset(ids, np.ascontiguousarray(np.concatenate(images)), labels,
                   [f"{archive}::{i}" for i in ids], [split] * n, f"cifar10-{split}")


def _load_pickle(tar: tarfile.TarFile, members: dict, name: str) -> dict:
    if name not in members:
        raise KeyError(f"member {name} missing")
    with tar.extractfile(members[name]) as f:
        return pickle.load(f, encoding="bytes")


def load_cifar10(split: str = "train", data: str | Path | None = None, progress: bool = True) -> Dataset:
    """One split of CIFAR-10 ("train": 50,000 images, "test": 10,000), labelled with class names."""
    if split not in SPLITS:
        raise DatasetError(f"CIFAR-10 has splits {', '.join(SPLITS)}, not '{split}'")
    source = resolve_source(data)
    if is_official_archive(source):
        def build(spool: PixelSpool) -> Dataset:
            read = read_official(source, split)
            spool.extend(read.images)
            return read

        dataset = cached_dataset(source, ["cifar10-official", split], build)
    else:
        dataset = load_folder(source, split=split, progress=progress)
    unknown = set(dataset.classes) - set(CLASSES)
    if unknown:
        raise DatasetError(f"{source} does not look like CIFAR-10: unexpected classes {sorted(unknown)[:5]}")
    dataset.name = f"cifar10-{split}"
    return dataset

