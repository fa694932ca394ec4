"""Test accuracy of a trained model folder and its accuracy-vs-minutes curve (the test split is used only here).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/cnn_report.py MODEL_DIR --plot docs/cnn-training-curve.png

Adds `test_accuracy` (flip TTA) and `test_accuracy_single_view` to the model card and prints them
with the inference speed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cbir.datasets import load_cifar10
from cbir.features.cnn.store import _markdown, load_model
from cbir.features.cnn.train import predict


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
    card_path = Path(args.model) / "model_card.json"
    card = json.loads(card_path.read_text())
    card["test_accuracy"], card["test_accuracy_single_view"] = round(acc, 4), round(single, 4)
    card_path.write_text(json.dumps(card, indent=2))
    (Path(args.model) / "MODEL_CARD.md").write_text(_markdown(card))
    print(f"test accuracy (flip TTA): {acc:.4f}, single view {single:.4f}; {len(test) / seconds:.0f} images/s "
          f"with TTA")
    if args.plot:
        plot(card, args.plot)


def plot(card: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [h["minutes"] for h in card["history"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(minutes, [h["val_accuracy"] for h in card["history"]], "o-", label="held-out validation (no TTA)")
    ax.plot(minutes, [h["train_accuracy"] for h in card["history"]], "s--", alpha=0.6, label="training batches")
    ax.axhline(card["test_accuracy"], color="green", linestyle=":",
               label=f"final test, flip TTA: {card['test_accuracy']:.4f}")
    ax.axhline(0.90, color="gray", linestyle="--", linewidth=0.8)
    ax.set(xlabel=f"training minutes ({card['machine']})", ylabel="accuracy", ylim=(0.3, 1.0),
           title=f"cbir train: {card['epochs']} epochs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
