"""Evaluations side by side: a table of measures, overlaid precision-recall curves and a per-class heat map.

Reads the `metrics.json` that `cbir evaluate` writes into each results folder, so features
measured at different times (or on different machines) compare under one protocol; results
whose protocol differs (queries, index size, top k) are compared with a warning.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.errors import CbirError
from cbir.evaluation.report import MAIN_MEASURES, claim_outputs, measure_text, plot_pr_curves
from cbir.evaluation.trec import IR_NAMES, measure_key
from cbir.plots import heat_map, saved_figure

OUTPUTS = ("comparison.md", "pr.png", "per_class.png")
PROTOCOL = {"num_queries": "queries", "index_size": "indexed images", "k": "top k"}


def load_results(folders: Sequence[str | Path]) -> dict[str, dict]:
    """Each folder's metrics, by the folder's name (its path where two names repeat)."""
    if not folders:
        raise CbirError("give at least one results folder (the --out of `cbir evaluate`)")
    paths = [Path(f) for f in folders]
    names = [p.resolve().name for p in paths]
    results = {}
    for path, name in zip(paths, names):
        file = path / "metrics.json"
        try:
            metrics = json.loads(file.read_text())
        except FileNotFoundError:
            raise CbirError(f"{path}: no metrics.json (not a results folder of `cbir evaluate`)") from None
        except (OSError, ValueError) as exc:
            raise CbirError(f"{file}: unreadable ({exc})") from None
        if not isinstance(metrics, dict) or "measures" not in metrics or "per_class" not in metrics:
            raise CbirError(f"{file}: not the metrics of `cbir evaluate`")
        key = str(path) if names.count(name) > 1 else name
        if key in results:
            raise CbirError(f"{path} is given twice")
        results[key] = renamed(metrics)
    return results


def renamed(metrics: dict) -> dict:
    """Metrics with the main measures under their ir_measures names (`cbir evaluate` before 0.4.0 wrote
    trec_eval's)."""
    def rename(values: dict) -> dict:
        return {IR_NAMES.get(key, key): value for key, value in values.items()}

    return rename(metrics) | {"measures": [IR_NAMES.get(m, m) for m in metrics["measures"]],
                              "per_class": {label: rename(row) for label, row in metrics["per_class"].items()}}


def protocol_differences(results: dict[str, dict]) -> list[str]:
    """One line for each part of the protocol on which the results disagree."""
    lines = []
    for key, what in PROTOCOL.items():
        values = {name: m.get(key) for name, m in results.items()}
        if len(set(values.values())) > 1:
            lines.append(f"not the same {what}: " + ", ".join(f"{name} {v}" for name, v in values.items()))
    return lines


def measures_of(results: dict[str, dict]) -> list[str]:
    """Every measure any result has: the main ones first, then the others in the order met."""
    seen = list(dict.fromkeys(m for metrics in results.values() for m in metrics["measures"]))
    return [m for m in MAIN_MEASURES if m in seen] + [m for m in seen if m not in MAIN_MEASURES]


def markdown_table(results: dict[str, dict]) -> str:
    """One row per result, one column per measure; the best value of each column in bold."""
    measures = measures_of(results)
    best = {m: max(r[m] for r in results.values() if m in r) for m in measures}
    lines = ["| results | features | queries | index | " + " | ".join(f"`{m}`" for m in measures) + " |",
             "|---|---|---|---|" + "---|" * len(measures)]
    for name, r in results.items():
        cells = [("**{}**" if r[m] == best[m] else "{}").format(measure_text(r[m])) if m in r else "-"
                 for m in measures]
        lines.append(f"| {name} | `{r.get('run_tag', '?')}` | {r.get('num_queries', '?')} | "
                     f"{r.get('index_size', '?')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(folders: Sequence[str | Path], out: str | Path | None = None, measure: str = "P@100") -> str:
    """The comparison as markdown; with `out`, also comparison.md, pr.png and per_class.png there.

    `measure` is the one drawn per class (any measure every result has).
    """
    if out is not None:
        out = claim_outputs(out, OUTPUTS, "compare", _comparison_folder)
    results = load_results(folders)
    measure = measure_key(measure, measures_of(results)) or measure  # P@100, or trec_eval's P_100
    missing = [name for name, r in results.items() if measure not in r["measures"]]
    if missing:
        raise CbirError(f"{', '.join(missing)} did not measure {measure} (measured by all: "
                        f"{', '.join(m for m in measures_of(results) if all(m in r for r in results.values()))})")
    differences = protocol_differences(results)
    for line in differences:
        warnings.warn(line, stacklevel=2)
    text = markdown_table(results)
    if out is None:
        return text
    out.mkdir(parents=True, exist_ok=True)
    curves = {name: r for name, r in results.items() if "pr_curve" in r}
    (out / "pr.png").unlink(missing_ok=True)  # an earlier comparison's
    if curves:
        plot_pr_curves(curves, out / "pr.png")
    _plot_per_class(results, measure, out / "per_class.png")
    doc = ["# Comparison", ""]
    if differences:
        doc += [f"- warning: {line}" for line in differences] + [""]
    doc += [text, ""]
    if curves:
        doc += ["![precision-recall over the full ranking](pr.png)", ""]
    without = [name for name in results if name not in curves]
    if without:
        doc += [f"(No precision-recall curve for {', '.join(without)}: full ranking not measured.)", ""]
    doc += [f"## `{measure}` per class", "", f"![{measure} per class](per_class.png)", ""]
    (out / "comparison.md").write_text("\n".join(doc))
    return text


def _comparison_folder(folder: Path) -> bool:
    """Whether `folder` holds the comparison.md of a `cbir compare`."""
    try:
        return (folder / "comparison.md").read_text().startswith("# Comparison\n")
    except (OSError, ValueError):
        return False


def _plot_per_class(results: dict[str, dict], measure: str, path: Path) -> None:
    """A heat map: a row per result, a column per class, the value written in each cell."""
    classes = sorted({label for r in results.values() for label in r["per_class"]})
    values = np.array([[r["per_class"].get(c, {}).get(measure, np.nan) for c in classes] for r in results.values()])
    with saved_figure(path, figsize=(2.5 + 0.75 * len(classes), 1.2 + 0.45 * len(results)), dpi=120) as (fig, ax):
        heat_map(fig, ax, values, list(results), classes, measure)
        ax.set_title(f"{measure} per query class")
