"""How `effnet-supervised` describes CIFAR-10 thumbnails: the input resolution, flip averaging and the last stages'
features, each judged by a logistic regression's accuracy on held-out training images (the test split is not read).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/pretrained_probe.py [--fit 5000 --held-out 2500]

The classifier reads the features z-scored (as `SupervisedExtractor(standardise=True)`), for C in 0.001-0.01.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from cbir.datasets import load_cifar10
from cbir.features.pretrained import FEATURES
from cbir.features.pretrained.extractor import PretrainedExtractor

CS = (0.001, 0.003, 0.01)


def accuracies(fit: np.ndarray, fit_labels, held: np.ndarray, held_labels) -> dict[float, float]:
    mean, scale = fit.mean(axis=0), fit.std(axis=0) + 1e-3
    return {c: LogisticRegression(C=c, max_iter=2000).fit((fit - mean) / scale, fit_labels)
            .score((held - mean) / scale, held_labels) for c in CS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", type=int, default=5000, help="training images the classifier fits on")
    parser.add_argument("--held-out", type=int, default=2500, help="other training images it is judged on")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 160, 224])
    args = parser.parse_args()
    train = load_cifar10("train", progress=False)
    fit = train.stratified(args.fit, seed=0)
    rest = train.subset([i for i, id_ in enumerate(train.ids) if id_ not in set(fit.ids)])
    held = rest.stratified(args.held_out, seed=1)
    print(f"fit on {len(fit)} training images, judged on {len(held)} others\n")
    print("| resolution | features | images/s (2 views) | " + " | ".join(f"C={c}" for c in CS) + " |")
    print("|---|---|---|" + "---|" * len(CS))
    for resolution in args.resolutions:
        extractor = PretrainedExtractor(resolution=resolution, stages=True)
        started = time.perf_counter()
        views = [(extractor.features(d.images), extractor.features([np.asarray(im)[:, ::-1] for im in d.images]))
                 for d in (fit, held)]
        rate = (len(fit) + len(held)) / (time.perf_counter() - started)
        variants = {"penultimate": lambda a, b: a[:, :FEATURES],
                    "penultimate, flip-averaged": lambda a, b: (a[:, :FEATURES] + b[:, :FEATURES]) / 2,
                    "+ last stages, flip-averaged": lambda a, b: (a + b) / 2}
        for name, pick in variants.items():
            scores = accuracies(pick(*views[0]), fit.labels, pick(*views[1]), held.labels)
            print(f"| {resolution} | {name} | {rate:.0f} | " + " | ".join(f"{s:.4f}" for s in scores.values()) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
