"""Vocabulary size for `sift-bovw`: Davies-Bouldin index (as the original chose k) vs retrieval quality.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/vocabulary_size.py --out docs/bovw-vocabulary-size.png

Validation only: index 10,000 training images, queries 1,000 other training images.
For each k: MiniBatchKMeans on 200,000 dense RootSIFT descriptors, the Davies-Bouldin
index on 20,000 of them (lower = tighter clusters), and P_100 / map_cut_100 of the
resulting TF-IDF pyramid histograms. Prints a table and writes the plot.
"""

from __future__ import annotations

import argparse

import numpy as np

from common import mean_measures, validation_split

from cbir.features import l2_normalise
from cbir.features.bovw import SiftBoVW, fit_vocabulary, nearest
from cbir.features.local import describe_parallel
from cbir.plots import saved_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ks", default="100,250,500,1000,2000,4000")
    parser.add_argument("--out", default="docs/bovw-vocabulary-size.png")
    args = parser.parse_args()
    from sklearn.metrics import davies_bouldin_score

    index_set, queries = validation_split(10_000, 1_000)
    extractor = SiftBoVW()
    described = {"index": describe_parallel(index_set.images, extractor.sift, progress=True),
                 "queries": describe_parallel(queries.images, extractor.sift, progress=True)}
    pool = np.concatenate([d for d, _ in described["index"]])
    rng = np.random.default_rng(0)
    sample = pool[rng.permutation(len(pool))[:200_000]]
    db_sample = sample[:20_000]
    rows = []
    print("| k | Davies-Bouldin | P_100 | map_cut_100 |\n|---|---|---|---|")
    for k in map(int, args.ks.split(",")):
        bovw = SiftBoVW(k=k)
        bovw.vocabulary_ = fit_vocabulary(sample, k)
        bovw.learn_idf(described["index"])
        vectors = {name: l2_normalise(bovw._weighted(bovw._counts(d))) for name, d in described.items()}
        m = mean_measures(index_set, vectors["index"], queries, vectors["queries"])
        p100, mapc = m["P_100"], m["map_cut_100"]
        db = davies_bouldin_score(db_sample, nearest(db_sample, bovw.vocabulary_))
        rows.append((k, db, p100, mapc))
        print(f"| {k} | {db:.3f} | {p100:.4f} | {mapc:.5f} |", flush=True)
    plot(rows, args.out)


def plot(rows, path: str) -> None:
    ks, db, p100, _ = map(np.asarray, zip(*rows))
    with saved_figure(path, figsize=(7, 4.2), dpi=120) as (_, left):
        left.plot(ks, db, "o-", color="tab:red", label="Davies-Bouldin (lower is tighter)")
        left.set(xscale="log", xlabel="vocabulary size k", ylabel="Davies-Bouldin index")
        right = left.twinx()
        right.plot(ks, p100, "s-", color="tab:blue", label="retrieval P_100 (validation)")
        right.set_ylabel("P_100")
        handles = left.get_lines() + right.get_lines()
        left.legend(handles, [h.get_label() for h in handles], loc="center left", fontsize=8)
        left.set_title("sift-bovw: cluster quality vs retrieval quality")


if __name__ == "__main__":
    main()
