"""A retrieval example grid: one CIFAR-10 test query per class and its top 10 (green = same class).

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/example_grid.py engines/cifar10-NAME --out docs/NAME-examples.png
"""

from __future__ import annotations

import argparse

import numpy as np

from cbir import Engine
from cbir.datasets import load_cifar10
from cbir.datasets.sources import load_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engine = Engine.load(args.engine)
    test = load_cifar10("test", progress=False)
    rng = np.random.default_rng(args.seed)
    labels = np.asarray(test.labels)
    picks = [int(rng.choice(np.flatnonzero(labels == c))) for c in test.classes]
    results = engine.search([test.images[i] for i in picks], k=10)
    fig, axes = plt.subplots(len(picks), 11, figsize=(11 * 0.9, len(picks) * 0.95), dpi=110)
    for row, (i, result) in enumerate(zip(picks, results)):
        cells = [(np.asarray(test.images[i]), f"query: {test.labels[i]}", "black")]
        cells += [(load_image(h.path), f"{h.score:.2f}", "green" if h.label == test.labels[i] else "red")
                  for h in result.hits]
        for col, (image, title, colour) in enumerate(cells):
            ax = axes[row, col]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(title, fontsize=6, color=colour, pad=2)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2 if col else 1)
    fig.suptitle(f"{engine.extractor.name}: top 10 for one test query per class (green = same class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
