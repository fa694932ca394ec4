"""How fast the CNN extractor embeds images here, by precision, batch size and flip TTA.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/cnn_speed.py --images 6000 --batch-sizes 500 256 128 64 [--model DIR]

Times `CnnExtractor.transform` (decoding excluded: the images are decoded first) on CIFAR-10
test images with the shipped checkpoint (or the model folder `--model`), the float network (bf16
where the CPU computes it natively, else float32) and int8 (calibrated on the training images, as
`fit` does), and prints the network's
multiply-accumulates per view, so the throughput can be read against the arithmetic the 60,000
images need, and each precision's test accuracy with and without flip TTA.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, CnnExtractor
from cbir.features.cnn.store import load_model
from cbir.training.loop import cpu_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 256, 128, 64])
    parser.add_argument("--model", default=SHIPPED, help="a model folder (default: the shipped one)")
    args = parser.parse_args()
    test = load_cifar10("test", progress=False)
    train = load_cifar10("train", progress=False)
    images = [np.asarray(im) for im in test.images[: args.images]]
    net, _ = load_model(args.model)
    with FlopCounterMode(display=False) as counter:
        net.embed(torch.zeros(1, 3, 32, 32))
    macs = counter.get_total_flops() / 2
    print(f"{macs / 1e6:.1f} M multiply-accumulates per view; {len(images)} images, torch threads "
          f"{torch.get_num_threads()}, {cpu_name()}\n")
    print("| precision | batch size | flip TTA | images/s | 60,000 images s | GMAC/s |\n|---|---|---|---|---|---|")
    accuracy = {}
    for int8 in (False, True):
        extractor = CnnExtractor(args.model, int8=int8).fit(train)  # calibrates on 1,024 images spread over it
        precision = extractor.precision
        for tta in (True, False):
            extractor.tta = tta
            predicted = np.asarray(extractor.classes_)[extractor.predict_proba(test.images).argmax(axis=1)]
            accuracy[f"{precision}{'' if tta else ' single-view'}"] = np.mean(
                predicted == np.asarray(test.labels))
            for batch_size in args.batch_sizes:
                extractor.batch_size, extractor.tta = batch_size, tta
                extractor.transform(images[:batch_size])  # warm-up
                started = time.perf_counter()
                extractor.transform(images)
                rate = len(images) / (time.perf_counter() - started)
                print(f"| {precision} | {batch_size} | {'yes' if tta else 'no'} | {rate:.0f} | "
                      f"{60_000 / rate:.0f} | {rate * macs * (2 if tta else 1) / 1e9:.0f} |", flush=True)
    print("\ntest accuracy (10,000 images; flip TTA unless single-view): "
          + ", ".join(f"{name} {value:.4f}" for name, value in accuracy.items()))


if __name__ == "__main__":
    main()
