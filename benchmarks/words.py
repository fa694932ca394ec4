"""How well does a search by words find what they name? On an engine of CIFAR-10 images, each class is searched for
by its name (and a synonym or two a user might type), as `cbir search --words` does; relevant: the images of that
class.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/words.py engines/cifar10-cnn

Prints, per word: the classes it names, P@10, P@100 and AP (trec_eval's `map` for a run that retrieves the images
with a probability above 0: the others are not found), the time of the first search by words (every indexed image's
probable classes worked out from its vector) and of a search for 10 after it. With `--queries N`, also image
searches with N test images of each class, alone and filtered by the class's name (`showing`): P@10.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cbir import Engine
from cbir.errors import CbirError
from cbir.words import classes_named, naming

WORDS = {"airplane": ["airplane", "plane"], "automobile": ["automobile", "car"], "bird": ["bird"], "cat": ["cat"],
         "deer": ["deer"], "dog": ["dog"], "frog": ["frog"], "horse": ["horse"], "ship": ["ship", "boat"],
         "truck": ["truck"]}


def average_precision(labels: list[str | None], label: str, relevant: int) -> float:
    """trec_eval's AP of a ranking's labels, `relevant` images of `label` in all."""
    hits = np.array([found == label for found in labels])
    if not hits.any():
        return 0.0
    return float(np.sum(np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)) / relevant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine")
    parser.add_argument("--queries", type=int, default=0, help="test images per class searched with, alone and "
                                                                "filtered by the class's name")
    args = parser.parse_args()
    engine = Engine.load(args.engine)
    labels = engine.metadata.labels()
    counts = {label: sum(found == label for found in labels.values()) for label in WORDS}
    started = time.perf_counter()
    engine.likely_classes(progress=True)
    first = time.perf_counter() - started
    print(f"{args.engine}: {len(engine)} images, '{engine.extractor.name}'; every image's probable classes in "
          f"{first:.2f} s\n")
    print(f"{'class':<11} {'words':<10} {'P@10':>5} {'P@100':>6} {'AP':>6} {'found':>6}  classes named")
    rows, took = [], []
    for label, words in WORDS.items():
        for word in words:
            try:
                found = classes_named(word, engine.extractor.classes_)
            except CbirError as exc:
                print(f"{label:<11} {word:<10} {'-':>5} {'-':>6} {'-':>6} {'-':>6}  {exc}")
                if word == label:
                    rows.append((0.0, 0.0, 0.0))
                continue
            started = time.perf_counter()
            engine.search_words(word, k=10)
            took.append(time.perf_counter() - started)
            hits = engine.search_words(word, k=len(engine)).hits
            ranked = [hit.label for hit in hits]
            row = (np.mean([x == label for x in ranked[:10]]), np.mean([x == label for x in ranked[:100]]),
                   average_precision(ranked, label, counts[label]))
            if word == label:
                rows.append(row)
            print(f"{label:<11} {word:<10} {row[0]:>5.2f} {row[1]:>6.3f} {row[2]:>6.3f} {len(hits):>6}  "
                  f"{naming(found, engine.extractor.classes_)}")
    mean = np.mean(rows, axis=0)
    print(f"\nmean over the 10 class names (a class no word finds counts 0): P@10 {mean[0]:.3f}, P@100 {mean[1]:.3f}, "
          f"AP {mean[2]:.3f}; a search for 10 after the first: {1000 * np.median(took):.1f} ms (median)")
    if args.queries:
        filtered(engine, args.queries)


def filtered(engine: Engine, per_class: int) -> None:
    """P@10 of image searches with test images of each class, alone and with `showing` the class's name."""
    from cbir.datasets import load_dataset
    from cbir.filters import Filter

    test = load_dataset("cifar10:test", progress=False)
    print(f"\n{'class':<11} {'P@10 alone':>10} {'showing it':>10} {'passing':>8}")
    for label, words in WORDS.items():
        picked = [i for i, found in enumerate(test.labels) if found == label][:per_class]
        images = test.subset(picked).images
        alone = engine.search(images, 10)
        try:
            where = Filter.of(showing=words[0])
            passing = len(engine.select(where).ids)
            shown = engine.search(images, 10, where=where)
        except CbirError:
            print(f"{label:<11} {precision(alone, label):>10.3f} {'-':>10} {0:>8}")
            continue
        print(f"{label:<11} {precision(alone, label):>10.3f} {precision(shown, label):>10.3f} {passing:>8}")


def precision(results, label: str) -> float:
    """Mean P@10 of results (fewer than 10 hits count as misses)."""
    return float(np.mean([sum(hit.label == label for hit in result.hits) / 10 for result in results]))


if __name__ == "__main__":
    main()
