"""Evaluate an engine with trec_eval semantics: qrels + run in TREC format, measures, reports.

A query's relevant images are the indexed images with the same label. A query that is itself
an indexed image (same id and file) is left out of its own ranking and judgements
(leave-one-out), else it would find itself first and count it.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.copies import copies_first
from cbir.datasets.collection import Dataset
from cbir.engine import Engine
from cbir.errors import CbirError
from cbir.evaluation.ranking import RECALL_LEVELS, full_ranking
from cbir.evaluation.report import MAIN_MEASURES, claim_outputs, evaluation_folder, write_reports
from cbir.evaluation.trec import TREC_NAMES, parse_measures, trec_measures, write_qrels, write_run

__all__ = ["evaluate", "retrieved_classes", "MAIN_MEASURES"]

OUTPUTS = ("metrics.json", "report.md", "pr.png", "retrieved.png", "examples.png", "run.txt", "qrels.txt")


def evaluate(engine: Engine, queries: Dataset, out: str | Path | None = None, k: int = 100,
             full: bool = True, write_trec_files: bool = True, progress: bool = True,
             extra_measures: Sequence[str] = ()) -> dict:
    """Search every query through `Engine.search`, measure, and (with `out`) write the result files.

    Returns the metrics dict (also written to `out/metrics.json`): means over the
    queries that have at least one relevant image, plus a per-class breakdown. `extra_measures`:
    more measures of the top k by their ir_measures names (`nDCG@10`, `R@100`, ...).
    """
    if not queries.labelled:
        raise CbirError("evaluation needs labelled queries (e.g. <class>/<file> folders or cifar10:test)")
    if out is not None:
        out = claim_outputs(out, OUTPUTS, "evaluate", evaluation_folder)
    main = [m for m in MAIN_MEASURES if full or m != "AP"]  # AP: over the full ranking
    extra = parse_measures(extra_measures, k, measured=main)
    if k < 100:
        warnings.warn(f"a run of {k} per query: P@100 and AP@100 count the ranks below {k} as misses "
                      f"(trec_eval semantics); use -k 100 to compare with the published numbers", stacklevel=2)
    started = time.perf_counter()
    relevant: dict[str, list[str]] = defaultdict(list)
    for id_, label in engine.metadata.labels().items():
        if label is not None:
            relevant[label].append(id_)
    itself = {q for q, path in zip(queries.ids, queries.paths) if path and engine.metadata.path(q) == path}
    query_vectors = engine.embed(queries.images, progress=progress)
    exclude = [q if q in itself else None for q in queries.ids]
    copies = engine.copies_of(queries.images, k, exclude)
    hits = copies_first(engine.search_vectors(query_vectors, k, exclude=exclude), copies, k)  # as `Engine.search`
    run = {qid: {h.id: h.score for h in row} for qid, row in zip(queries.ids, hits)}
    query_labels = dict(zip(queries.ids, queries.labels))
    per_query = trec_measures(run, query_labels, relevant, itself=itself, extra=extra)
    if not per_query:
        raise CbirError("no query has a relevant image in the index: do the labels match?")
    for q, values in per_query.items():  # trec_eval's measures under their ir_measures names
        r = values["num_rel"]
        values.update({name: values[trec] for name, trec in TREC_NAMES.items() if trec in values},
                      **{"AP@100/min(R,100)": values["map_cut_100"] * r / min(r, k)})
    pr_curve = None
    if full:
        index_ids, index_vectors = engine.index.vectors()
        position = {id_: i for i, id_ in enumerate(index_ids)}
        ap, iprec = full_ranking(query_vectors, queries.labels, index_ids, index_vectors,
                                 [engine.metadata.label(i) for i in index_ids], progress=progress,
                                 exclude=[position[q] if q in itself else -1 for q in queries.ids],
                                 first=[[position[h.id] for h in row] for row in copies])
        for q, value in zip(queries.ids, ap):
            if q in per_query:
                per_query[q]["AP"] = float(value)
        pr_curve = {"recall": RECALL_LEVELS.round(2).tolist(), "precision": np.nanmean(iprec, axis=0).tolist()}
    measures = list(dict.fromkeys(main + [str(m) for m in extra]))
    metrics = {m: float(np.mean([v[m] for v in per_query.values()])) for m in measures}
    by_class: dict[str, list[dict]] = defaultdict(list)
    for q, values in per_query.items():
        by_class[query_labels[q]].append(values)
    metrics.update({
        "run_tag": engine.extractor.name, "k": k, "measures": measures, "num_queries": len(per_query),
        "index_size": len(engine),
        "left_out_of_own_ranking": len(itself), "trec_files": write_trec_files and out is not None,
        "random_precision": float(np.mean([v["num_rel"] for v in per_query.values()]) / len(engine)),
        "per_class": {label: {"num_queries": len(rows), **{m: float(np.mean([r[m] for r in rows])) for m in measures}}
                      for label, rows in sorted(by_class.items())},
        "seconds": round(time.perf_counter() - started, 2),
    })
    metrics["retrieved_classes"] = retrieved_classes(queries.labels, hits)
    if pr_curve:
        metrics["pr_curve"] = pr_curve
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:  # an earlier run's files in the same folder would not match these metrics
            (out / name).unlink(missing_ok=True)
        if write_trec_files:
            write_run(run, out / "run.txt", tag=engine.extractor.name)
            write_qrels(((q, query_labels[q]) for q in queries.ids), relevant, out / "qrels.txt", itself=itself)
        write_reports(metrics, out, examples=_examples(queries, hits))
    return metrics


def retrieved_classes(query_labels: Sequence[str], hits: Sequence[Sequence]) -> dict:
    """Which classes each query class retrieves: per query class (row), the mean fraction of a
    query's hits with each label (column; unlabelled hits under None). The diagonal is the
    class's mean precision of the top k."""
    rows = sorted(set(query_labels))
    row_of = {label: i for i, label in enumerate(rows)}
    columns = sorted({h.label for row in hits for h in row}, key=lambda label: (label is None, label or ""))
    column_of = {label: i for i, label in enumerate(columns)}
    fraction, queries = np.zeros((len(rows), len(columns))), np.zeros(len(rows))
    for row, label in zip(hits, query_labels):
        if row:
            queries[row_of[label]] += 1
            np.add.at(fraction[row_of[label]], [column_of[h.label] for h in row], 1 / len(row))
    fraction /= np.maximum(queries, 1)[:, None]
    return {"query_classes": rows, "retrieved": columns, "fraction": fraction.round(6).tolist()}


def _examples(queries: Dataset, hits: list, per_class: int = 1, classes: int = 10, seed: int = 0) -> list:
    """(query image, label, top hits) for one query drawn from each of up to `classes` classes."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(queries.labels, dtype=object)
    names = sorted(set(queries.labels))
    chosen = [names[i] for i in np.linspace(0, len(names) - 1, min(classes, len(names))).round().astype(int)]
    picks = [int(i) for label in chosen for i in rng.choice(np.flatnonzero(labels == label), per_class, replace=False)]
    return [(np.asarray(queries.images[i]), queries.labels[i], hits[i]) for i in picks]
