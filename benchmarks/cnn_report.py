"""Test accuracy of a trained model folder and its accuracy-vs-minutes curve (the test split is used only here).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/cnn_report.py MODEL_DIR --plot docs/cnn-training-curve.png

Adds `test_accuracy` (flip TTA), `test_accuracy_single_view` and `test_accuracy_translate_tta` (flip TTA
with the views also moved `TTA_SHIFT` pixels, `model.tta_views`) to the model card and prints them with
the inference speed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cbir.datasets import load_cifar10
from cbir.features.cnn.model import TTA_SHIFT
from cbir.features.cnn.store import load_model, plot_history, write_card
from cbir.training.validation import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--plot")
    args = parser.parse_args()
    model, classes = load_model(args.model)
    test = load_cifar10("test", progress=False)
    truth = np.array([classes.index(label) for label in test.labels])
    single = float((predict(model, test.images, torch.device("cpu"), bf16=True, tta=False).argmax(1).numpy()
                    == truth).mean())
    started = time.perf_counter()
    logits = predict(model, test.images, torch.device("cpu"), bf16=True, tta=True)
    seconds = time.perf_counter() - started
    acc = float((logits.argmax(1).numpy() == truth).mean())
    moved = float((predict(model, test.images, torch.device("cpu"), bf16=True, shift=TTA_SHIFT).argmax(1).numpy()
                   == truth).mean())
    card_path = Path(args.model) / "model_card.json"
    card = json.loads(card_path.read_text())
    card["test_accuracy"], card["test_accuracy_single_view"] = round(acc, 4), round(single, 4)
    card["test_accuracy_translate_tta"] = round(moved, 4)
    write_card(card, Path(args.model))
    print(f"test accuracy (flip TTA): {acc:.4f}, single view {single:.4f}, flip TTA with the views also moved "
          f"{TTA_SHIFT} pixel: {moved:.4f}; {len(test) / seconds:.0f} images/s with flip TTA")
    if args.plot:
        plot_history(card, args.plot)


if __name__ == "__main__":
    main()
