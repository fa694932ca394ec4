"""trec_eval semantics: our files and numbers agree with pytrec_eval (trec_eval's C code)."""

import json

import numpy as np
import pytest
import pytrec_eval
from PIL import Image

from cbir import Engine
from cbir.datasets import load_folder
from cbir.errors import CbirError
from cbir.evaluation import evaluate
from cbir.evaluation.ranking import full_ranking
from cbir.evaluation.report import _plot_examples, _plot_retrieved, measure_text
from cbir.evaluation.trec import trec_order
from cbir.features import l2_normalise, make_extractor
from cbir.types import Hit

pytestmark = pytest.mark.filterwarnings("ignore:a run of 10 per query")  # tiny runs; the CLI test checks the warning


def test_full_ranking_map_equals_pytrec_eval_map_with_ties():
    rng = np.random.default_rng(3)
    n_index, n_query, dim = 120, 15, 4
    index = l2_normalise(rng.integers(-2, 3, size=(n_index, dim)).astype(np.float32))  # many exact ties
    queries = l2_normalise(rng.integers(-2, 3, size=(n_query, dim)).astype(np.float32))
    ids = [f"d{rng.integers(0, 10**6):07d}-{i}" for i in range(n_index)]
    labels = [str(x) for x in rng.integers(0, 4, n_index)]
    qlabels = [str(x) for x in rng.integers(0, 5, n_query)]  # label "4" has no relevant image
    ap, iprec = full_ranking(queries, qlabels, ids, index, labels, chunk=4)
    scores = queries @ index.T
    run = {f"q{i}": {d: float(s) for d, s in zip(ids, scores[i])} for i in range(n_query)}
    qrels = {f"q{i}": {d: 1 for d, lab in zip(ids, labels) if lab == qlabels[i]} for i in range(n_query)}
    qrels = {q: docs for q, docs in qrels.items() if docs}
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"map", "iprec_at_recall"}).evaluate(run)
    for i in range(n_query):
        if f"q{i}" not in qrels:
            assert np.isnan(ap[i])
            continue
        assert ap[i] == pytest.approx(measured[f"q{i}"]["map"], abs=1e-9)
        expected = [measured[f"q{i}"][f"iprec_at_recall_{r:.2f}"] for r in np.linspace(0, 1, 11)]
        np.testing.assert_allclose(iprec[i], expected, atol=1e-9)


def test_full_ranking_leaves_an_excluded_image_out_of_its_query_ranking():
    rng = np.random.default_rng(5)
    index = l2_normalise(rng.normal(size=(80, 6)).astype(np.float32))
    ids = [f"d{i:03d}" for i in range(80)]
    labels = [str(x) for x in rng.integers(0, 3, 80)]
    queries, qlabels = index[:10], labels[:10]  # the first ten indexed images are also the queries
    exclude = list(range(10))
    ap, _ = full_ranking(queries, qlabels, ids, index, labels, chunk=3, exclude=exclude)
    scores = queries @ index.T
    run = {f"q{i}": {d: float(v) for j, (d, v) in enumerate(zip(ids, scores[i])) if j != i} for i in range(10)}
    qrels = {f"q{i}": {d: 1 for j, (d, lab) in enumerate(zip(ids, labels)) if lab == qlabels[i] and j != i}
             for i in range(10)}
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"map"}).evaluate(run)
    np.testing.assert_allclose(ap, [measured[f"q{i}"]["map"] for i in range(10)], atol=1e-9)
    assert not np.allclose(ap, full_ranking(queries, qlabels, ids, index, labels)[0])  # with themselves: higher


def test_trec_order_breaks_ties_by_docno_descending():
    assert trec_order({"a": 0.5, "c": 0.5, "b": 0.9}) == ["b", "c", "a"]


@pytest.fixture(scope="module")
def evaluated(tiny_collection, tmp_path_factory):
    train = load_folder(tiny_collection, split="train", progress=False, cache=False)
    test = load_folder(tiny_collection, split="test", progress=False, cache=False)
    engine = Engine.build(train, make_extractor("hog-gch"), progress=False)
    out = tmp_path_factory.mktemp("results")
    return engine, test, evaluate(engine, test, out=out, k=10, progress=False), out


def read_trec_files(out):
    run, qrels = {}, {}
    for line in (out / "run.txt").read_text().splitlines():
        qid, _, doc, _, score, _ = line.split()
        run.setdefault(qid, {})[doc] = float(score)
    for line in (out / "qrels.txt").read_text().splitlines():
        qid, _, doc, rel = line.split()
        qrels.setdefault(qid, {})[doc] = int(rel)
    return run, qrels


def test_written_files_reproduce_the_reported_measures(evaluated):
    engine, test, metrics, out = evaluated
    run, qrels = read_trec_files(out)
    assert len(run) == len(qrels) == 15 and all(len(d) == 10 for d in run.values())
    assert all(len(d) == 20 for d in qrels.values())
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"map_cut_10", "P_10", "recip_rank"}).evaluate(run)
    mean = lambda m: np.mean([v[m] for v in measured.values()])  # noqa: E731
    assert metrics["P@10"] == pytest.approx(mean("P_10"))
    assert metrics["RR"] == pytest.approx(mean("recip_rank"))
    assert metrics["AP@100/min(R,100)"] == pytest.approx(mean("map_cut_10") * 20 / 10)
    assert json.loads((out / "metrics.json").read_text())["P@10"] == metrics["P@10"]


def test_extra_measures_by_their_ir_measures_names_agree_with_trec_eval(evaluated, tmp_path):
    engine, test, _, out = evaluated
    run, qrels = read_trec_files(out)
    metrics = evaluate(engine, test, out=tmp_path, k=10, progress=False, full=False,
                       extra_measures=["P@5", "nDCG@10", "R@10", "P@5"])
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"P_5", "ndcg_cut_10", "recall_10"}).evaluate(run)
    for ours, trec in (("P@5", "P_5"), ("nDCG@10", "ndcg_cut_10"), ("R@10", "recall_10")):
        assert metrics[ours] == pytest.approx(np.mean([v[trec] for v in measured.values()]))
        assert all(ours in row for row in metrics["per_class"].values())
    assert metrics["measures"] == ["AP@100", "AP@100/min(R,100)", "P@10", "P@100", "RR", "P@5", "nDCG@10", "R@10"]
    report = (tmp_path / "report.md").read_text()  # without the full ranking: no map, no curve, no crash
    assert "| `nDCG@10` |" in report and "| `AP` |" not in report and not (tmp_path / "pr.png").exists()
    with pytest.raises(CbirError, match="unknown or unsupported measure 'Prec@5'"):
        evaluate(engine, test, k=10, progress=False, extra_measures=["Prec@5"])
    with pytest.raises(CbirError, match="reads the top 20, deeper than the run's 10: raise -k"):
        evaluate(engine, test, k=10, progress=False, extra_measures=["nDCG@20"])


def test_an_out_folder_with_files_an_evaluation_did_not_write_is_refused_before_any_work(evaluated, tmp_path):
    engine, test, _, _ = evaluated
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.txt").write_text("a run of another system\n")
    (mine / "report.md").write_text("my notes\n")
    with pytest.raises(CbirError, match=r"holds report.md, run.txt.*new or empty folder"):
        evaluate(engine, test, out=mine, k=10, progress=False, write_trec_files=False)
    assert (mine / "run.txt").read_text() == "a run of another system\n" and len(list(mine.iterdir())) == 2
    again = tmp_path / "again"  # an earlier evaluation's folder: its files are replaced, the stale ones removed
    evaluate(engine, test, out=again, k=10, progress=False)
    evaluate(engine, test, out=again, k=10, progress=False, write_trec_files=False)
    assert not (again / "run.txt").exists() and (again / "metrics.json").exists()


def test_the_report_shows_one_example_query_per_class(evaluated, tmp_path):
    engine, test, metrics, out = evaluated
    assert Image.open(out / "examples.png").size == (1089, 313)  # 3 classes: 3 rows of a query and its top 10
    assert "![example queries](examples.png)" in (out / "report.md").read_text()
    gone = [Hit("x", 0.5, "blobs", str(tmp_path / "deleted.png")), Hit("y", 0.4, "stripes", None)]
    rows = [(np.asarray(test.images[0]), test.labels[0], gone)]  # files moved since indexing: grey cells
    _plot_examples(rows, "t", tmp_path / "e.png")
    assert Image.open(tmp_path / "e.png").size == (1089, 104)


def test_run_file_is_the_engine_search_result(evaluated):
    engine, test, _, out = evaluated
    run, _ = read_trec_files(out)
    hits = engine.search(test.images[:1], k=10)[0].hits
    assert trec_order(run[test.ids[0]]) == [h.id for h in sorted(hits, key=lambda h: (h.score, h.id), reverse=True)]


def test_metrics_reports_and_per_class(evaluated):
    _, _, metrics, out = evaluated
    assert metrics["num_queries"] == 15 and metrics["index_size"] == 60
    assert set(metrics["per_class"]) == {"blobs", "gradient", "stripes"}
    assert metrics["per_class"]["blobs"]["num_queries"] == 5
    assert np.mean([row["P@10"] for row in metrics["per_class"].values()]) == pytest.approx(metrics["P@10"])
    assert 0 < metrics["AP"] <= 1 and metrics["P@10"] > 0.5
    assert (out / "pr.png").read_bytes()[:4] == b"\x89PNG"
    assert f"| `AP@100` | `map_cut_100` | {measure_text(metrics['AP@100'])} |" in (out / "report.md").read_text()


def test_measures_are_shown_to_four_significant_digits_so_small_ones_keep_theirs():
    assert [measure_text(v) for v in (0.0184993, 0.018457, 0.94343, 1.0, 0.0019)] == [
        "0.01850", "0.01846", "0.9434", "1.000", "0.001900"]


def test_the_classes_each_query_class_retrieves(evaluated):
    from cbir.evaluation import retrieved_classes

    _, _, metrics, out = evaluated
    table = json.loads((out / "metrics.json").read_text())["retrieved_classes"]
    assert table["query_classes"] == table["retrieved"] == ["blobs", "gradient", "stripes"]
    fraction = np.asarray(table["fraction"])
    np.testing.assert_allclose(fraction.sum(axis=1), 1)
    np.testing.assert_allclose(np.diag(fraction), [metrics["per_class"][c]["P@10"] for c in table["query_classes"]],
                               atol=1e-6)
    assert Image.open(out / "retrieved.png").size == (516, 324)  # (2.5 + 0.6 x 3) x (1.5 + 0.4 x 3) in at 120 dpi
    assert "![classes of the top hits per query class](retrieved.png)" in (out / "report.md").read_text()
    hits = [[Hit("a", 1, "cat"), Hit("b", 1, None)], [], [Hit("c", 1, "dog")] * 4, [Hit("d", 1, "cat")]]
    assert retrieved_classes(["cat", "cat", "dog", "cat"], hits) == {  # a query without hits counts for nothing
        "query_classes": ["cat", "dog"], "retrieved": ["cat", "dog", None], "fraction": [[0.75, 0, 0.25], [0, 1, 0]]}
    many = [str(i) for i in range(61)]  # too many classes to draw: the matrix stays in metrics.json only
    table = {"query_classes": many, "retrieved": many, "fraction": np.eye(61).tolist()}
    assert not _plot_retrieved({"retrieved_classes": table, "run_tag": "t", "k": 10}, out / "many.png")
    assert not (out / "many.png").exists()


def test_the_precision_recall_curve_is_kept_in_the_metrics(evaluated):
    engine, test, metrics, out = evaluated
    ids, vectors = engine.index.vectors()
    _, iprec = full_ranking(engine.embed(test.images), test.labels, ids, vectors,
                            [engine.metadata.label(i) for i in ids])
    curve = json.loads((out / "metrics.json").read_text())["pr_curve"]
    assert curve["recall"] == [round(0.1 * i, 1) for i in range(11)]
    np.testing.assert_allclose(curve["precision"], iprec.mean(axis=0))
    assert curve["precision"][-1] > metrics["random_precision"]


def test_unlabelled_queries_are_refused(evaluated, tmp_path):
    from cbir.errors import CbirError

    engine, test, _, _ = evaluated
    copy = test.subset(range(len(test)))
    copy.labels[0] = None
    with pytest.raises(CbirError, match="labelled"):
        evaluate(engine, copy, progress=False)


def test_queries_that_are_indexed_images_do_not_find_themselves(evaluated, tiny_collection, tmp_path):
    import shutil

    engine, _, _, _ = evaluated
    train = load_folder(tiny_collection, split="train", progress=False, cache=False)
    metrics = evaluate(engine, train, out=tmp_path / "loo", k=10, progress=False)
    assert metrics["left_out_of_own_ranking"] == 60
    run, qrels = read_trec_files(tmp_path / "loo")
    assert all(q not in docs and len(docs) == 10 for q, docs in run.items())
    assert all(q not in docs and len(docs) == 19 for q, docs in qrels.items())
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"P_10"}).evaluate(run)
    assert metrics["P@10"] == pytest.approx(np.mean([v["P_10"] for v in measured.values()]))
    assert "left out of its own ranking" in (tmp_path / "loo" / "report.md").read_text()
    shutil.copytree(tiny_collection / "train", tmp_path / "copy" / "train")  # the same ids, other files
    copy = load_folder(tmp_path / "copy", split="train", progress=False, cache=False)
    assert copy.ids == train.ids
    assert evaluate(engine, copy, k=10, full=False, progress=False)["left_out_of_own_ranking"] == 0


def test_measures_are_named_in_either_vocabulary(evaluated, tmp_path):
    from cbir.evaluation.trec import measure_key, parse_measures

    engine, test = evaluated[0], evaluated[1]
    metrics = evaluate(engine, test, k=10, progress=False, extra_measures=["P_5", "ndcg_cut_10", "P@10", "P_10",
                                                                           "AP"])
    # trec_eval's names are read as ir_measures'; those already measured (P_10 = P@10; AP, over the whole ranking)
    # are not measured twice
    assert metrics["measures"] == ["AP@100", "AP@100/min(R,100)", "AP", "P@10", "P@100", "RR", "P@5", "nDCG@10"]
    assert metrics["P@5"] == pytest.approx(evaluate(engine, test, k=10, progress=False,
                                                    extra_measures=["P@5"])["P@5"])
    keys = metrics["measures"]
    assert [measure_key(n, keys) for n in ("P@100", "P_100", "AP@100", "map_cut_100", "ndcg_cut_10", "map", "AP",
                                           "recip_rank", "P@7")] == \
           ["P@100", "P@100", "AP@100", "AP@100", "nDCG@10", "AP", "AP", "RR", None]
    with pytest.raises(CbirError, match="or trec_eval's"):
        parse_measures(["P_five"], 10)
