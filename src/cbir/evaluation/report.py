"""Evaluation outputs for people: metrics.json, report.md and a precision-recall plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cbir.evaluation.ranking import RECALL_LEVELS

MEASURE_DOCS = {
    "map_cut_100": "trec_eval MAP over the top 100, divided by ALL relevant images (ceiling 100/R; 0.02 on CIFAR-10)",
    "map_at_100_norm": "AP@100 divided by min(R, 100), the hashing-literature convention (ceiling 1)",
    "map": "MAP over the full ranking of the index",
    "P_10": "precision of the top 10",
    "P_100": "precision of the top 100",
    "recip_rank": "1 / rank of the first relevant image",
}
MAIN_MEASURES = ("map_cut_100", "map_at_100_norm", "map", "P_10", "P_100", "recip_rank")


def write_reports(metrics: dict, iprec: np.ndarray, out: Path) -> None:
    """Write metrics.json, report.md and (with the full ranking measured) pr.png into `out`."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if "map" in metrics:
        _plot_pr(iprec, metrics, out / "pr.png")
    (out / "report.md").write_text(_markdown(metrics))


def _plot_pr(iprec: np.ndarray, metrics: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    ax.plot(RECALL_LEVELS, np.nanmean(iprec, axis=0), marker="o", label=metrics["run_tag"])
    ax.axhline(metrics["random_precision"], color="gray", linestyle="--", label="random ranking")
    ax.set(xlabel="recall", ylabel="interpolated precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"{metrics['run_tag']}: full-ranking MAP {metrics['map']:.4f} ({metrics['num_queries']} queries)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(metrics: dict) -> str:
    lines = [f"# Evaluation of `{metrics['run_tag']}`", "",
             f"{metrics['num_queries']} queries against {metrics['index_size']} indexed images, "
             f"top {metrics['k']} per query. Relevant = same label."
             + (f" {metrics['left_out_of_own_ranking']} queries are indexed images: each is left out of its own "
                "ranking and judgements." if metrics.get("left_out_of_own_ranking") else ""), "",
             "| measure | value | meaning |", "|---|---|---|"]
    measures = metrics["measures"]
    lines += [f"| `{m}` | {metrics[m]:.4f} | {MEASURE_DOCS.get(m, 'as ir_measures defines it')} |" for m in measures]
    lines += ["", "## Per class", "", "| class | queries | " + " | ".join(measures) + " |",
              "|---|---|" + "---|" * len(measures)]
    for label, row in metrics["per_class"].items():
        lines.append(f"| {label} | {row['num_queries']} | " + " | ".join(f"{row[m]:.4f}" for m in measures) + " |")
    lines += ["", "![precision-recall](pr.png)" if "map" in metrics else "(Full ranking not measured: no "
              "precision-recall curve.)", ""]
    if metrics.get("trec_files"):
        lines += [f"Reproduce the top-{metrics['k']} measures with trec_eval: "
                  f"`trec_eval -M{metrics['k']} -m all_trec qrels.txt run.txt`", ""]
    return "\n".join(lines)
