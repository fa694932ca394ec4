"""Evaluation outputs for people: metrics.json, report.md and a precision-recall plot."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cbir.errors import CbirError
from cbir.evaluation.trec import FULL_RANKING, TREC_NAMES
from cbir.plots import heat_map, saved_figure

MEASURE_DOCS = {
    "AP@100": "mean AP over the top 100, divided by ALL relevant images (ceiling 100/R; 0.02 on CIFAR-10)",
    "AP@100/min(R,100)": "AP@100 divided by min(R, 100), the hashing-literature convention (ceiling 1)",
    "AP": "mean AP over the full ranking of the index",
    "P@10": "precision of the top 10",
    "P@100": "precision of the top 100",
    "RR": "mean reciprocal rank of the first relevant image",
}
_MISSING = np.full((32, 32, 3), 200, dtype=np.uint8)  # an example hit whose file is gone
MOST_CLASSES_DRAWN = 60  # beyond, the matrix stays in metrics.json only
MAIN_MEASURES = tuple(TREC_NAMES)


def claim_outputs(out: str | Path, names: Sequence[str], verb: str, written_here: Callable[[Path], bool]) -> Path:
    """`out` as a folder to write `names` into, refused before any work when it holds some of them that an earlier
    `cbir VERB` did not write (`written_here(out)`): nothing of a user's is overwritten or deleted."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CbirError(f"{out} is a file: give --out a folder")
    found = sorted(name for name in names if (out / name).exists())
    if found and not written_here(out):
        raise CbirError(f"{out} holds {', '.join(found)}, not written by an earlier `cbir {verb}`: give --out a "
                        f"new or empty folder (nothing was changed)")
    return out


def evaluation_folder(folder: Path) -> bool:
    """Whether `folder` holds the metrics.json of a `cbir evaluate`."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(metrics, dict) and {"run_tag", "measures", "per_class"} <= metrics.keys()


def trec_alias(measure: str) -> str:
    """trec_eval's name of a main measure, as a report's alias column shows it ("-" for cbir's own)."""
    name = TREC_NAMES.get(measure)
    return f"`{name}`" if name and measure not in FULL_RANKING else "-"


def measure_text(value: float) -> str:
    """A measure to 4 significant digits (0.9434, 0.01846), so small ones such as `AP@100` keep theirs."""
    return f"{value:#.4g}"


def write_reports(metrics: dict, out: Path, examples: list = ()) -> None:
    """Write metrics.json, report.md, retrieved.png (the classes of the top hits), examples.png
    (`examples`: (query image, label, hits) rows) and, with the full ranking measured, pr.png into `out`."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if "pr_curve" in metrics:
        plot_pr_curves({metrics["run_tag"]: metrics}, out / "pr.png",
                       title=f"{metrics['run_tag']}, {metrics['num_queries']} queries")
    figures = []
    if _plot_retrieved(metrics, out / "retrieved.png"):
        figures.append(("classes of the top hits per query class", "retrieved.png"))
    if examples:
        _plot_examples(examples, metrics["run_tag"], out / "examples.png")
        figures.append(("example queries", "examples.png"))
    (out / "report.md").write_text(_markdown(metrics) + "".join(f"\n![{alt}]({file})\n" for alt, file in figures))


def plot_pr_curves(results: dict[str, dict], path: Path,
                   title: str = "precision-recall over the full ranking") -> None:
    """Each result's interpolated precision-recall curve over its full ranking, overlaid, with its
    random ranking's precision dashed."""
    with saved_figure(path, figsize=(7, 5.2 + 0.1 * len(results)), dpi=120) as (_, ax):
        for name, r in results.items():
            curve = r["pr_curve"]
            ax.plot(curve["recall"], curve["precision"], marker="o", markersize=3,
                    label=f"{name} (AP {r['AP']:.3f})" if "AP" in r else name)
        for level in sorted({r["random_precision"] for r in results.values() if "random_precision" in r}):
            ax.axhline(level, color="gray", linestyle="--", linewidth=1)
        ax.set(xlabel="recall", ylabel="interpolated precision", xlim=(0, 1), ylim=(0, 1.02),
               title=f"{title} (dashed: random ranking)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)  # below: clear of the curves


def _plot_retrieved(metrics: dict, path: Path, most: int = MOST_CLASSES_DRAWN) -> bool:
    """A heat map of which classes each query class's top hits belong to; False (nothing drawn)
    beyond `most` classes either way."""
    table = metrics["retrieved_classes"]
    rows, columns = table["query_classes"], [str(c) if c is not None else "(unlabelled)" for c in table["retrieved"]]
    if not rows or not columns or max(len(rows), len(columns)) > most:
        return False
    with saved_figure(path, figsize=(2.5 + 0.6 * len(columns), 1.5 + 0.4 * len(rows)), dpi=120) as (fig, ax):
        heat_map(fig, ax, np.asarray(table["fraction"]), rows, columns, "fraction of the top hits")
        ax.set(xlabel="class of the hit", ylabel="class of the query",
               title=f"{metrics['run_tag']}: classes of each query's top {metrics['k']} (rows sum to 1)")
    return True


def _plot_examples(rows: list, run_tag: str, path: Path, k: int = 10) -> None:
    """A grid: each query, then its top `k` framed green (same label) or red; grey where an indexed
    image's file is no longer there."""
    from cbir.datasets.sources import load_image
    from cbir.errors import CbirError

    def pixels(path: str | None) -> np.ndarray:
        try:
            return load_image(path) if path else _MISSING
        except CbirError:
            return _MISSING

    with saved_figure(path, len(rows), k + 1, figsize=((k + 1) * 0.9, len(rows) * 0.95), dpi=110,
                      squeeze=False) as (fig, axes):
        for row, (image, label, hits) in enumerate(rows):
            cells = [(image, f"query: {label}", "black")]
            cells += [(pixels(h.path), f"{h.score:.2f}", "green" if h.label == label else "red") for h in hits[:k]]
            for col in range(k + 1):
                ax = axes[row, col]
                ax.set_xticks([]), ax.set_yticks([])
                if col >= len(cells):
                    ax.axis("off")
                    continue
                picture, title, colour = cells[col]
                ax.imshow(picture, interpolation="nearest")
                ax.set_title(title, fontsize=6, color=colour, pad=2)
                for spine in ax.spines.values():
                    spine.set_edgecolor(colour)
                    spine.set_linewidth(2 if col else 1)
        fig.suptitle(f"{run_tag}: top {k} for one query per class (green = same class)", fontsize=9)


def _markdown(metrics: dict) -> str:
    lines = [f"# Evaluation of `{metrics['run_tag']}`", "",
             f"{metrics['num_queries']} queries against {metrics['index_size']} indexed images, "
             f"top {metrics['k']} per query. Relevant = same label."
             + (f" {metrics['left_out_of_own_ranking']} queries are indexed images: each is left out of its own "
                "ranking and judgements." if metrics.get("left_out_of_own_ranking") else ""), "",
             "| measure | trec_eval | value | meaning |", "|---|---|---|---|"]
    measures = metrics["measures"]
    lines += [f"| `{m}` | {trec_alias(m)} | {measure_text(metrics[m])} | "
              f"{MEASURE_DOCS.get(m, 'as ir_measures defines it')} |" for m in measures]
    lines += ["", "## Per class", "", "| class | queries | " + " | ".join(measures) + " |",
              "|---|---|" + "---|" * len(measures)]
    for label, row in metrics["per_class"].items():
        lines.append(f"| {label} | {row['num_queries']} | " + " | ".join(measure_text(row[m]) for m in measures) + " |")
    lines += ["", "![precision-recall](pr.png)" if "AP" in metrics else "(Full ranking not measured: no "
              "precision-recall curve.)", ""]
    if metrics.get("trec_files"):
        lines += [f"Reproduce the top-{metrics['k']} measures with trec_eval: "
                  f"`trec_eval -M{metrics['k']} -m all_trec qrels.txt run.txt`", ""]
    return "\n".join(lines)
