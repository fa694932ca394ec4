"""End to end on a small stratified slice of the real CIFAR-10 (skipped without CBIR_CIFAR10)."""

import json

import pytest

from cbir.cli import main

pytestmark = pytest.mark.cifar10


def test_index_and_evaluate_a_cifar10_slice(real_cifar10, tmp_path):
    engine, out = tmp_path / "engine", tmp_path / "results"
    assert main(["index", "--dataset", "cifar10", "--data", str(real_cifar10), "--features", "hog",
                 "--max-index", "1000", "--out", str(engine)]) == 0
    assert main(["evaluate", str(engine), "--data", str(real_cifar10), "--max-queries", "200",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_queries"] == 200 and metrics["index_size"] == 1000
    assert len(metrics["per_class"]) == 10
    # random ranking gives P_10 = 0.1; HOG is clearly better than chance on CIFAR-10
    assert metrics["P@10"] > 0.18
    # 100 relevant images per query class here, so dividing by R or by min(R, 100) agrees
    assert metrics["AP@100"] == pytest.approx(metrics["AP@100/min(R,100)"])
