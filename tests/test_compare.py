"""`cbir compare`: evaluations side by side, from the metrics.json files `cbir evaluate` writes."""

import json
import shutil

import pytest
from PIL import Image

from cbir import Engine
from cbir.cli import main
from cbir.datasets import load_folder
from cbir.errors import CbirError
from cbir.evaluation import evaluate
from cbir.evaluation.compare import compare
from cbir.features import make_extractor

pytestmark = pytest.mark.filterwarnings("ignore:a run of 20 per query")


@pytest.fixture(scope="module")
def results(tiny_collection, tmp_path_factory):
    """Results folders of two features (full ranking) and of one without the full ranking."""
    train = load_folder(tiny_collection, split="train", progress=False, cache=False)
    test = load_folder(tiny_collection, split="test", progress=False, cache=False)
    root = tmp_path_factory.mktemp("results")
    for name, full in (("hog-gch", True), ("gch", True), ("hog", False)):
        engine = Engine.build(train, make_extractor(name), progress=False)
        evaluate(engine, test, out=root / name, k=20, full=full, write_trec_files=False, progress=False)
    return root


def metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_a_table_row_per_result_with_the_best_of_each_measure_in_bold(results):
    table = compare([results / "hog-gch", results / "gch", results / "hog"]).splitlines()
    assert table[0].startswith("| results | features | queries | index | `AP@100` | `AP@100/min(R,100)` | `AP` |")
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in table[2:]}
    assert list(rows) == ["hog-gch", "gch", "hog"]
    assert rows["hog"][6] == "-"  # no full-ranking map without the full ranking
    for column, measure in ((4, "AP@100"), (6, "AP"), (7, "P@10")):
        values = {name: metrics(results / name).get(measure) for name in rows}
        best = max(v for v in values.values() if v is not None)
        for name, value in values.items():
            if value is not None:
                cell = f"{value:#.4g}"
                assert rows[name][column] == (f"**{cell}**" if value == best else cell)


def test_the_written_comparison_draws_curves_and_a_per_class_heat_map(results, tmp_path):
    out = tmp_path / "cmp"
    compare([results / "hog-gch", results / "gch", results / "hog"], out=out, measure="P@10")
    doc = (out / "comparison.md").read_text()
    assert "![precision-recall over the full ranking](pr.png)" in doc
    assert "No precision-recall curve for hog: full ranking not measured" in doc
    assert "## `P@10` per class" in doc and "warning" not in doc
    assert Image.open(out / "pr.png").size == (840, 648)  # the legend below grows with the curves (2)
    # a column per class (3) and a row per result (3): (2.5 + 0.75 x 3) x (1.2 + 0.45 x 3) inches at 120 dpi
    assert Image.open(out / "per_class.png").size == (570, 306)
    compare([results / "hog"], out=out, measure="P@10")  # again, with no curve to draw: no stale pr.png
    assert not (out / "pr.png").exists() and "No precision-recall curve for hog" in (out / "comparison.md").read_text()


def test_results_of_another_protocol_are_compared_with_a_warning(results, tiny_collection, tmp_path):
    train = load_folder(tiny_collection, split="train", progress=False, cache=False)
    engine = Engine.build(train, make_extractor("gch"), progress=False)
    test = load_folder(tiny_collection, split="test", progress=False, cache=False).stratified(6)
    evaluate(engine, test, out=tmp_path / "few", k=20, full=False, write_trec_files=False, progress=False)
    with pytest.warns(UserWarning, match="not the same queries: hog-gch 15, few 6"):
        compare([results / "hog-gch", tmp_path / "few"], out=tmp_path / "cmp")
    assert "- warning: not the same queries: hog-gch 15, few 6" in (tmp_path / "cmp" / "comparison.md").read_text()


def test_bad_folders_and_measures_are_clear_errors(results, tmp_path):
    with pytest.raises(CbirError, match="no metrics.json"):
        compare([results / "hog-gch", tmp_path])
    with pytest.raises(CbirError, match="is given twice"):
        compare([results / "gch", results / "gch"])
    with pytest.raises(CbirError, match=r"hog did not measure AP \(measured by all: AP@100, AP@100/min\(R,100\), "
                                        r"P@10, P@100, RR\)"):
        compare([results / "gch", results / "hog"], out=tmp_path / "x", measure="map")
    assert not (tmp_path / "x").exists()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{")
    with pytest.raises(CbirError, match="unreadable"):
        compare([tmp_path / "broken"])
    compare([results / "gch", results / "hog"], out=tmp_path / "y", measure="P_10")  # trec_eval's name: P@10
    assert (tmp_path / "y" / "per_class.png").exists()
    shutil.copytree(results / "gch", tmp_path / "a" / "gch")  # the same name twice: told apart by path
    assert f"| {tmp_path / 'a' / 'gch'} |" in compare([results / "gch", tmp_path / "a" / "gch"])


def test_a_comparison_is_not_written_over_an_evaluations_folder(results, tmp_path):
    target = tmp_path / "gch"
    shutil.copytree(results / "gch", target)
    before = (target / "pr.png").read_bytes()
    with pytest.raises(CbirError, match="holds pr.png, not written by an earlier `cbir compare`"):
        compare([results / "gch", results / "hog"], out=target)
    assert (target / "pr.png").read_bytes() == before and not (target / "comparison.md").exists()
    compare([results / "gch", results / "hog"], out=tmp_path / "c")
    compare([results / "gch", results / "hog-gch"], out=tmp_path / "c")  # its own earlier comparison: replaced
    assert "hog-gch" in (tmp_path / "c" / "comparison.md").read_text()


def test_the_command_prints_the_table_and_writes_the_files(results, tmp_path, capsys):
    assert main(["compare", str(results / "hog-gch"), str(results / "gch"), "--out", str(tmp_path / "c")]) == 0
    printed = capsys.readouterr().out
    assert "| hog-gch | `hog-gch` | 15 | 60 |" in printed and "comparison in" in printed
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"comparison.md", "pr.png", "per_class.png"}
    assert main(["compare", str(tmp_path / "nothing")]) == 2
    assert "cbir: error:" in capsys.readouterr().err


def test_results_written_with_trec_eval_names_compare_under_ir_measures_names(results, tmp_path):
    from cbir.evaluation.trec import TREC_NAMES

    old = metrics(results / "gch")  # as `cbir evaluate` wrote it before 0.4.0
    rename = lambda values: {TREC_NAMES.get(k, k): v for k, v in values.items()}  # noqa: E731
    old = rename(old) | {"measures": [TREC_NAMES[m] for m in old["measures"]],
                         "per_class": {c: rename(row) for c, row in old["per_class"].items()}}
    assert "map_cut_100" in old and "AP@100" not in old
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.json").write_text(json.dumps(old))
    table = compare([results / "gch", tmp_path / "old"], out=tmp_path / "cmp", measure="map_cut_100").splitlines()
    assert table[2].split(" | ")[4:] == table[3].split(" | ")[4:]  # the same measures, in the same columns
