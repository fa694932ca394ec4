"""`cbir tune`: Ray Tune with ASHA runs two tiny trials end to end and writes its results."""

import json

import pytest
from PIL import Image

from cbir.datasets import load_folder

pytest.importorskip("ray.tune", reason="Ray Tune not installed (pip install 'cbir[tune]')")


def test_two_tiny_trials(tiny_collection, tmp_path):
    from cbir.training.tune import run_tune

    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    best = run_tune(data, tmp_path, samples=2, epochs=3, batch_size=15, val_images=15, cpus=2,
                    widths={"tiny": (8, 16, 16), "small": (8, 16, 32)})
    assert set(best) == {"lr", "weight_decay", "width", "embedding_dim", "label_smoothing"}
    assert json.loads((tmp_path / "best_config.json").read_text()) == best
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_accuracy" in rows[0]
    column = rows[0].split(",").index("val_accuracy")
    assert max(float(row.split(",")[column]) for row in rows[1:]) > 0.5  # three easy classes: above chance
    assert (tmp_path / "results.md").read_text().startswith("| lr")
    assert "![validation accuracy of each trial](trials.png)" in (tmp_path / "results.md").read_text()
    assert Image.open(tmp_path / "trials.png").size == (770, 495)


def test_a_hold_out_as_large_as_the_data_is_refused_before_ray_starts(tiny_collection, tmp_path):
    import ray

    from cbir.errors import TrainingError
    from cbir.training.tune import run_tune

    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    with pytest.raises(TrainingError, match="leaves none to train on: the collection has 60"):
        run_tune(data, tmp_path, val_images=1000)
    with pytest.raises(TrainingError, match="tuning learns to tell classes apart"):
        run_tune(data.subset([i for i, label in enumerate(data.labels) if label == data.labels[0]]), tmp_path)
    assert not ray.is_initialized()
