"""`cbir index --ray`: Ray Data on this machine (2 CPUs) gives the same engine as the single-process path."""

import subprocess
import sys

import numpy as np
import pytest

from cbir import Engine
from cbir.cli import main


def sorted_vectors(engine):
    ids, vectors = engine.index.vectors()
    order = np.argsort(ids)
    return [ids[i] for i in order], vectors[order]


@pytest.mark.parametrize("features", ["hog-gch", "cnn"])  # cnn: the shipped model, int8 (rebuilt in workers)
def test_ray_extraction_matches_the_single_process_path(tiny_collection, tmp_path, features):
    import shutil

    from PIL import Image
    from skimage import data

    collection = tmp_path / "collection"
    shutil.copytree(tiny_collection / "train", collection / "train")
    Image.fromarray(data.astronaut()).resize((900, 600)).save(collection / "train" / "blobs" / "photo.jpg")  # > 256 px
    args = ["index", "--dataset", f"{collection}:train", "--features", features, "--batch-size", "16"]
    assert main([*args, "--factory", "Flat", "--out", str(tmp_path / "plain")]) == 0  # float32, as Milvus keeps them
    # its own process, as a user runs it: this one may hold a live Milvus gRPC client (an earlier
    # parameter's engine), and Ray forks its processes at startup
    ray = subprocess.run([sys.executable, "-m", "cbir.cli", *args, "--ray", "--backend", "milvus",
                          "--out", str(tmp_path / "ray")], capture_output=True, text=True, timeout=600)
    assert ray.returncode == 0, ray.stderr[-3000:]
    plain, distributed = Engine.load(tmp_path / "plain"), Engine.load(tmp_path / "ray")
    ids, vectors = sorted_vectors(plain)
    ray_ids, ray_vectors = sorted_vectors(distributed)
    assert ray_ids == ids and len(ids) == 61
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-5)
    assert distributed.metadata.label(ids[0]) == plain.metadata.label(ids[0]) is not None
