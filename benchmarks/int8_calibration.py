"""How closely the int8 network follows the float one, by calibration choice (no test image is used).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/int8_calibration.py

Calibrates on 1,024 CIFAR-10 training images spread over the split (as `CnnExtractor.fit` does)
and compares flip-averaged embeddings of other training images (every tenth from the fifth on)
with the float32 network's: mean cosine similarity, and how often the predicted class agrees.
bf16 (the former default) is the yardstick.
"""

from __future__ import annotations

import argparse

import torch
from torch.nn import functional as F

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, calibration_sample
from cbir.features.cnn.int8 import FLOOR, Int8Net, calibrate, folded
from cbir.features.cnn.model import compact_input
from cbir.features.cnn.store import load_model


def flip_averaged(embed, x: torch.Tensor, batch: int = 250) -> torch.Tensor:
    return torch.cat([(embed(x[s: s + batch]).float() + embed(x[s: s + batch].flip(3)).float()) / 2
                      for s in range(0, len(x), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args()
    net, _ = load_model(SHIPPED)
    train = load_cifar10("train", progress=False)
    calibration = compact_input(calibration_sample(train).images)
    held = compact_input(train.subset(range(5, len(train), 10)[: args.images]).images)
    with torch.inference_mode():
        reference = flip_averaged(net.embed, held)
        classes = net.head(reference).argmax(1)

        def row(name: str, embeddings: torch.Tensor) -> None:
            cosine = F.cosine_similarity(embeddings, reference).mean().item()
            agree = (net.head(embeddings).argmax(1) == classes).float().mean().item()
            print(f"| {name} | {cosine:.5f} | {1 - cosine:.1e} | {agree:.4f} |", flush=True)

        print("| precision, calibration | mean cosine to float32 | 1 - cosine | same class |\n|---|---|---|---|")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            row("bf16", flip_averaged(net.embed, held))
        layers = folded(net)
        for name, floor in [("min-max ranges", -float("inf")), (f"outputs from {FLOOR:g} (default)", FLOOR)]:
            ranges = calibrate(net, calibration, floor, layers)
            row(f"int8, {name}", flip_averaged(Int8Net(net, ranges, layers).embed, held))


if __name__ == "__main__":
    main()
