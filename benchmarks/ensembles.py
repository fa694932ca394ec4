"""Validation accuracy of trained networks alone and in pairs (averaged class probabilities).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/ensembles.py MODEL_DIR MODEL_DIR [MODEL_DIR ...]

Every model must have held out the same training images (`--val-images`, `--val-seed`); the
script rebuilds that split from CIFAR-10's train split and checks each network's flip-TTA accuracy
against its model card before trusting it. Prints, per network and per pair (the mean of the networks'
softmax probabilities, each from its logits averaged over the views), the accuracy with one view,
with flip TTA and with flip TTA over views also moved `TTA_SHIFT` pixels (six views), and the
multiply-accumulates per view that bound the embedding time.
The test split is never read.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from cbir.datasets import load_cifar10
from cbir.features.cnn.model import SIZE, TTA_SHIFT
from cbir.features.cnn.store import load_model
from cbir.training.validation import predict, split_validation

VIEWS = ((False, 0), (True, 0), (True, TTA_SHIFT))  # (tta, shift) of each column: one view, flip, flip + moved


def macs_per_view(model: torch.nn.Module) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one 32x32 image."""
    total = 0

    def count(module, _, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * module.in_channels // module.groups * kernel
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    with torch.inference_mode():
        model.eval()(torch.zeros(1, 3, *SIZE))
    for hook in hooks:
        hook.remove()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    cards = {m: json.loads((Path(m) / "model_card.json").read_text()) for m in args.models}
    splits = {(c["recipe"]["val_images"], c["recipe"].get("val_seed", 0)) for c in cards.values()}  # 0: older cards
    if len(splits) != 1 or next(iter(splits))[0] == 0:
        raise SystemExit(f"the models must hold out the same images (val_images, val_seed): {sorted(splits)}")
    n_val, seed = splits.pop()
    _, held_out = split_validation(load_cifar10("train", progress=False), n_val, seed)
    probabilities, macs, truth = {}, {}, None
    for name in args.models:
        model, classes = load_model(name)
        labels = np.array([classes.index(label) for label in held_out.labels])
        if truth is not None and not np.array_equal(labels, truth):
            raise SystemExit(f"{name}: another class order than {args.models[0]}")
        truth = labels
        logits = [predict(model, held_out.images, torch.device("cpu"), bf16=True, tta=tta, shift=shift)
                  for tta, shift in VIEWS]
        probabilities[name] = [view.softmax(1) for view in logits]
        macs[name] = macs_per_view(model)
        measured = float((logits[1].argmax(1).numpy() == truth).mean())
        recorded = cards[name]["validation_accuracy_tta"]
        if abs(measured - recorded) > 0.002:
            raise SystemExit(f"{name}: {measured:.4f} with flip TTA here, {recorded} in its card: another split?")
    print(f"{len(held_out)} held-out training images (val_images {n_val}, val_seed {seed})\n")
    print("| networks | M MACs / view | one view | flip TTA | flip TTA, views also moved |\n|---|---|---|---|---|")
    for group in [(m,) for m in args.models] + list(itertools.combinations(args.models, 2)):
        accuracy = [float((sum(probabilities[m][view] for m in group).argmax(1).numpy() == truth).mean())
                    for view in range(len(VIEWS))]
        print(f"| {' + '.join(Path(m).name for m in group)} | {sum(macs[m] for m in group) / 1e6:.0f} | "
              + " | ".join(f"{a:.4f}" for a in accuracy) + " |", flush=True)


if __name__ == "__main__":
    main()
