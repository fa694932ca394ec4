"""TREC run and qrels files, and trec_eval measures through pytrec_eval (trec_eval's own C code).

A run maps query id -> {doc id: score}. trec_eval ranks by score, then by doc id
descending; the rank column in run.txt is informational only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import ir_measures
import pytrec_eval

from cbir.errors import CbirError

TREC_MEASURES = ("map_cut_100", "P_10", "P_100", "recip_rank", "num_rel", "num_rel_ret")

Run = dict[str, dict[str, float]]


def trec_order(docs: Mapping[str, float]) -> list[str]:
    """Doc ids in trec_eval's order: score descending, then doc id descending."""
    return sorted(docs, key=lambda d: (docs[d], d), reverse=True)


def write_run(run: Run, path: Path, tag: str) -> None:
    """Write `qid Q0 docid rank score tag` lines, ranks in trec_eval's order."""
    with open(path, "w") as f:
        for qid, docs in run.items():
            f.writelines(f"{qid} Q0 {doc} {rank} {docs[doc]!r} {tag}\n"
                         for rank, doc in enumerate(trec_order(docs), 1))


def judged_docs(qid: str, docs: Iterable[str], itself: Collection[str]) -> list[str]:
    """The relevant docs of a query, less the query itself when it is an indexed image (in `itself`)."""
    return [d for d in docs if d != qid] if qid in itself else list(docs)


def write_qrels(queries: Iterable[tuple[str, str]], relevant: Mapping[str, list[str]], path: Path,
                itself: Collection[str] = ()) -> None:
    """Write `qid 0 docid 1` for every (query, label) and every indexed doc sharing that label (less
    the query itself for the queries in `itself`)."""
    with open(path, "w") as f:
        for qid, label in queries:
            docs = judged_docs(qid, relevant.get(label, []), itself)
            if docs:
                f.write(f"{qid} 0 " + f" 1\n{qid} 0 ".join(docs) + " 1\n")


def to_ir_measure(name: str):
    """The ir_measures measure for a name in either vocabulary: ir_measures' (`P@100`, `nDCG@10`) or
    trec_eval's (`P_100`, `ndcg_cut_10`); None when it is neither."""
    try:
        return ir_measures.parse_measure(name)
    except Exception:  # noqa: BLE001 - ir_measures raises NameError, ValueError, ... for a name it lacks
        pass
    try:
        parsed = ir_measures.parse_trec_measure(name)
    except Exception:  # noqa: BLE001
        return None
    return parsed[0] if len(parsed) == 1 else None


# the main measures by their ir_measures names, and trec_eval's names for them (a TREC file's tools, metrics.json
# before 0.4.0); AP@100 / min(R, 100) is cbir's own, with no trec_eval name
TREC_NAMES = {"AP@100": "map_cut_100", "AP@100/min(R,100)": "map_at_100_norm", "AP": "map", "P@10": "P_10",
              "P@100": "P_100", "RR": "recip_rank"}
IR_NAMES = {trec: name for name, trec in TREC_NAMES.items()}
# cbir's own, known by these names only: AP over the whole ranking of the index (not ir_measures' AP of the run's
# top k) and AP@100 / min(R, 100)
FULL_RANKING = frozenset({"AP", "AP@100/min(R,100)"})


def measure_key(name: str, keys: Collection[str]) -> str | None:
    """Which of the measures in `keys` (ir_measures names, as results store them) `name` means, in either
    vocabulary; None when none. The main measures' trec_eval names (`map`, `map_cut_100`, ...) mean them."""
    name = IR_NAMES.get(name, name)
    if name in keys:
        return name
    measure = to_ir_measure(name)
    return next((key for key in keys if measure is not None and key not in FULL_RANKING
                 and str(to_ir_measure(key)) == str(measure)), None)


def parse_measures(names: Iterable[str], depth: int, measured: Collection[str] = ()) -> list:
    """ir_measures measures by name, in either vocabulary (`P@5` or `P_5`, `nDCG@10` or `ndcg_cut_10`),
    checked before any work: known, computable here, and reading no deeper than the run's `depth`; those
    that are already among the `measured` ones are left out."""
    measures = []
    for name in names:
        measure = to_ir_measure(name)
        try:
            list(ir_measures.iter_calc([measure], {"q": {"d": 1}}, {"q": {"d": 1.0}}))
        except Exception:  # noqa: BLE001 - ir_measures raises NameError, ValueError, ... for what it cannot compute
            raise CbirError(f"unknown or unsupported measure '{name}'; give ir_measures names, e.g. P@5, "
                            f"nDCG@10, R@100, AP@100 (or trec_eval's: P_5, ndcg_cut_10, recall_100)") from None
        cutoff = measure.params.get("cutoff")
        if cutoff and cutoff > depth:
            raise CbirError(f"measure {name} reads the top {cutoff}, deeper than the run's {depth}: raise -k")
        if measure_key(str(measure), measured) is None:
            measures.append(measure)
    return measures


def trec_measures(run: Run, query_labels: Mapping[str, str], relevant: Mapping[str, list[str]],
                  measures: Iterable[str] = TREC_MEASURES, chunk: int = 500,
                  itself: Collection[str] = (), extra: Sequence = ()) -> dict[str, dict[str, float]]:
    """Per-query trec_eval measures (queries with no relevant document are left out, as trec_eval does),
    plus the `extra` ir_measures measures (from `parse_measures`) under their names; a query in
    `itself` is an indexed image, not judged relevant to itself."""
    judged = {label: dict.fromkeys(docs, 1) for label, docs in relevant.items() if docs}
    qrels = {q: judged[query_labels[q]] for q in run if query_labels.get(q) in judged}
    for q in [q for q in qrels if q in itself]:
        qrels[q] = dict.fromkeys(judged_docs(q, qrels[q], itself), 1)
    qids = [q for q in run if qrels.get(q)]
    results: dict[str, dict[str, float]] = {}
    for start in range(0, len(qids), chunk):
        part = qids[start: start + chunk]
        part_qrels, part_run = {q: qrels[q] for q in part}, {q: run[q] for q in part}
        results.update(pytrec_eval.RelevanceEvaluator(part_qrels, set(measures)).evaluate(part_run))
        for metric in ir_measures.iter_calc(extra, part_qrels, part_run) if extra else ():
            results[metric.query_id][str(metric.measure)] = metric.value
    return results
