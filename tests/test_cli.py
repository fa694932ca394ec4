"""The `cbir` command line end to end on a tiny collection (in-process and as a real console script)."""

import dataclasses
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from cbir.cli import main


@pytest.fixture(scope="module")
def built(tiny_collection, tmp_path_factory):
    engine = tmp_path_factory.mktemp("cli") / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "hog-gch", "--out", str(engine)]) == 0
    return engine


def test_index_info_search_json(built, tiny_collection, capsys):
    capsys.readouterr()
    assert main(["info", str(built), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 60 and info["extractor"]["name"] == "hog-gch" and info["extractor"]["learned"] is None
    assert info["folders"] == {str(tiny_collection.resolve()): 60}
    assert main(["info", str(built)]) == 0
    assert "learned" not in capsys.readouterr().out
    query = tiny_collection / "test" / "stripes" / "000.png"
    assert main(["search", str(built), str(query), "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["query"] == str(query) and len(out[0]["hits"]) == 3
    assert set(out[0]["hits"][0]) == {"id", "score", "label", "path", "copy", "date", "place", "position", "tags",
                                      "rating", "people", "camera", "albums", "caption", "text", "alike"}
    assert out[0]["hits"][0]["label"] == "stripes"
    assert main(["search", str(built), str(query)]) == 0
    assert "stripes" in capsys.readouterr().out


def test_search_a_folder_of_queries(built, tiny_collection, tmp_path, capsys):
    folder = tmp_path / "queries"
    shutil.copytree(tiny_collection / "test" / "stripes", folder)
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not an image name")
    single = tiny_collection / "test" / "blobs" / "000.png"
    capsys.readouterr()
    assert main(["search", str(built), str(folder), str(single), "-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [r["query"] for r in out] == [str(folder / f"{i:03d}.png") for i in range(5)] + [str(single)]
    assert all(r["hits"][0]["label"] == "stripes" for r in out[:5]) and out[5]["hits"][0]["label"] == "blobs"
    assert "cbir: warning: skipped 1 unreadable file(s)" in captured.err and "broken.png" in captured.err
    (tmp_path / "empty").mkdir()
    assert main(["search", str(built), str(tmp_path / "empty")]) == 2
    assert "no readable images in" in capsys.readouterr().err


def test_evaluate_writes_results(built, tiny_collection, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["evaluate", str(built), "--queries", f"{tiny_collection}:test", "-k", "20", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "AP@100" in captured.out and "(map_cut_100)" in captured.out
    assert "cbir: warning: a run of 20 per query: P@100 and AP@100 count the ranks below 20" in captured.err
    assert {p.name for p in out.iterdir()} >= {"qrels.txt", "run.txt", "metrics.json", "report.md", "pr.png"}
    assert "trec_eval -M20 -m all_trec qrels.txt run.txt" in (out / "report.md").read_text()
    lean = tmp_path / "lean"
    assert main(["evaluate", str(built), "--queries", f"{tiny_collection}:test", "-k", "20", "--no-trec-files",
                 "--measure", "nDCG@10", "--out", str(lean)]) == 0
    printed = capsys.readouterr().out
    assert "nDCG@10" in printed and "pr.png, retrieved.png)\n" in printed
    assert {p.name for p in lean.iterdir()} == {"metrics.json", "report.md", "pr.png", "examples.png", "retrieved.png"}
    assert main(["evaluate", str(built), "--queries", f"{tiny_collection}:test", "-k", "20", "--no-full",
                 "--out", str(out)]) == 0  # again into the first folder: none of its earlier files is left behind
    assert {p.name for p in out.iterdir()} == {"metrics.json", "report.md", "examples.png", "retrieved.png",
                                               "run.txt", "qrels.txt"}
    assert "qrels.txt" not in (lean / "report.md").read_text()
    assert main(["evaluate", str(built), "--queries", f"{tiny_collection}:test", "--no-full", "--measure", "P@500",
                 "--out", str(tmp_path / "x")]) == 2
    assert "measure P@500 reads the top 500, deeper than the run's 100: raise -k" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert json.loads((lean / "metrics.json").read_text())["AP@100"] == json.loads(
        (out / "metrics.json").read_text())["AP@100"]


def test_max_index_takes_a_stratified_subset(tiny_collection, tmp_path, capsys):
    from cbir import Engine

    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--max-index", "9",
                 "--out", str(tmp_path / "e")]) == 0
    labels = list(Engine.load(tmp_path / "e").metadata.labels().values())
    assert sorted(labels) == ["blobs"] * 3 + ["gradient"] * 3 + ["stripes"] * 3


def test_a_folder_is_indexed_with_the_imagenet_network_unless_told_otherwise(tiny_collection, tmp_path, capsys,
                                                                            monkeypatch):
    """Not told which features: a folder of photos gets `effnet`, CIFAR-10 and a trained model the CNN; without
    PyTorch, hog-gch and a warning that says how to install it."""
    import importlib.util

    from cbir.cli.engines import default_features

    assert main(["index", "--dataset", f"{tiny_collection}:test", "--out", str(tmp_path / "e")]) == 0
    assert "with 'effnet'" in capsys.readouterr().out
    assert default_features("cifar10", None) == "cnn" and default_features("cifar10:test", None) == "cnn"
    assert default_features(str(tiny_collection), "models/pets") == "cnn"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.warns(UserWarning, match=r"needs PyTorch \(pip install 'cbir\[cnn\]'\): indexing with 'hog-gch'"):
        assert default_features(str(tiny_collection), None) == "hog-gch"


def test_search_with_several_images_together(built, tiny_collection, capsys):
    stripes, gradient = (tiny_collection / "test" / c / "000.png" for c in ("stripes", "gradient"))
    capsys.readouterr()
    assert main(["search", str(built), str(stripes), str(gradient), "-k", "6", "--together", "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert found["query"] == f"{stripes} + {gradient}" and len(found["hits"]) == 6
    from cbir import Engine
    from cbir.datasets import decode_image

    images = [decode_image(path.read_bytes(), max_side=256) for path in (stripes, gradient)]
    assert [hit["id"] for hit in found["hits"]] == [h.id for h in Engine.load(built).search_together(images, 6).hits]
    assert "blobs" not in {hit["label"] for hit in found["hits"]}


def test_search_away_from_images_marked_unlike(built, tiny_collection, capsys):
    """`--unlike IMAGE` (repeatable): the images given searched with together, and less like those."""
    stripes, gradient, other = (tiny_collection / "test" / c for c in ("stripes/000.png", "gradient/000.png",
                                                                        "gradient/001.png"))
    capsys.readouterr()
    assert main(["search", str(built), str(stripes), str(gradient), "-k", "6", "--unlike", str(other), "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert found["query"] == f"{stripes} + {gradient} - {other}" and len(found["hits"]) == 6
    from cbir import Engine
    from cbir.datasets import decode_image

    read = [decode_image(path.read_bytes(), max_side=256) for path in (stripes, gradient, other)]
    expected = Engine.load(built).search_together(read[:2], 6, unlike=read[2:]).hits
    assert [hit["id"] for hit in found["hits"]] == [h.id for h in expected]
    assert main(["search", str(built), str(stripes), "--unlike", str(tiny_collection / "nope.png")]) == 2
    assert "nope.png" in capsys.readouterr().err


def test_search_more_like_indexed_images_by_their_ids(built, tiny_collection, capsys):
    """`--like ID` (repeatable): indexed images searched with by their vectors, alone or with image files."""
    from cbir import Engine
    from cbir.datasets import decode_image

    engine, stripes = Engine.load(built), tiny_collection / "test" / "stripes" / "000.png"
    liked = [id_ for id_, label in engine.metadata.labels().items() if label == "gradient"][:2]
    capsys.readouterr()
    assert main(["search", str(built), "--like", liked[0], "-k", "4", "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert found["query"] == liked[0] and [h["id"] for h in found["hits"]] == [
        h.id for h in engine.search_like(liked[0], 4).hits] and liked[0] not in {h["id"] for h in found["hits"]}
    assert {h["label"] for h in found["hits"]} == {"gradient"}
    assert main(["search", str(built), str(stripes), "--like", liked[0], "--like", liked[1], "-k", "5", "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    expected = engine.search_together([decode_image(stripes.read_bytes(), max_side=256)], 5, liked_ids=liked).hits
    assert found["query"] == f"{stripes} + {liked[0]} + {liked[1]}"
    assert [h["id"] for h in found["hits"]] == [h.id for h in expected] and not set(liked) & {
        h["id"] for h in found["hits"]}
    for wrong, message in ((["--like", "nope.png"], "no indexed image with id 'nope.png'"),
                           (["--like", liked[0], "--words", "dog"], "not both"),
                           (["--like", liked[0], "--crop", "0,0,0.5,0.5"], "--crop")):
        assert main(["search", str(built), *wrong]) == 2
        assert message in capsys.readouterr().err


def test_errors_are_messages_not_tracebacks(built, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    assert main(["search", str(built), str(bad)]) == 2
    assert "cannot read query image" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "no engine" in capsys.readouterr().err
    assert main(["index", "--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    with pytest.raises(SystemExit):
        main(["search", str(built), str(bad), "-k", "0"])


def test_console_script_is_installed(built):
    exe = shutil.which("cbir")
    assert exe, "the cbir console script is not on PATH"
    proc = subprocess.run([exe, "info", str(built)], capture_output=True, text=True)
    assert proc.returncode == 0 and "hog-gch" in proc.stdout


def test_train_then_distil_a_deeper_student_from_it(tiny_collection, tmp_path, capsys):
    tiny = ["--dataset", str(tiny_collection), "--split", "train", "--widths", "8", "16", "16", "--embedding-dim",
            "16", "--batch-size", "15", "--val-images", "15"]
    assert main(["train", *tiny, "--epochs", "2", "--out", str(tmp_path / "teacher")]) == 0
    teacher = json.loads((tmp_path / "teacher" / "model_card.json").read_text())
    assert capsys.readouterr().out.endswith(f"trained 2 epochs in {teacher['minutes']:.1f} min; held-out validation "
                                            f"accuracy {teacher['validation_accuracy_tta']:.4f} (flip TTA) -> "
                                            f"{tmp_path / 'teacher'}\n")
    assert main(["train", *tiny, "--epochs", "1", "--out", str(tmp_path / "student"), "--teacher",
                 str(tmp_path / "teacher"), "--distill", "0.5", "--distill-temperature", "2", "--depth", "3",
                 "--residual", "--int8-weights", "--val-images", "0"]) == 0
    card = json.loads((tmp_path / "student" / "model_card.json").read_text())
    assert capsys.readouterr().out.endswith(f"trained 1 epoch in {card['minutes']:.1f} min; no images held out "
                                            f"(--val-images 0) -> {tmp_path / 'student'}\n")
    assert card["recipe"]["teachers"] == [str(tmp_path / "teacher")] and card["recipe"]["distill"] == 0.5
    assert card["model"]["depth"] == 3 and card["model"]["residual"] and card["recipe"]["int8_weights"]


def test_train_to_a_time_budget_says_how_many_epochs_fit_and_trains_them(tiny_collection, tmp_path, capsys,
                                                                        monkeypatch):
    import itertools
    import types

    from cbir.training import loop as training

    ticks = itertools.count()  # a clock that moves 0.02 s each time it is read: the same plan on any machine
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=lambda: 0.02 * next(ticks)))
    assert main(["train", "--dataset", str(tiny_collection), "--split", "train", "--widths", "8", "16", "16",
                 "--embedding-dim", "16", "--batch-size", "15", "--val-images", "15", "--minutes", "0.02",
                 "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "time budget 0.02 min: timing a few training steps ...\n" in out
    assert "the final validation ~0 s: so 3.67 epochs (planned again as epochs are timed)\n" in out
    # planned again on the first epoch and on the first with the whitening bias frozen (the fourth)
    assert re.findall(r"epoch (\d+) took \d+ s: (\d+(?:\.\d+)?) epochs in all", out) == [("1", "9.33"),
                                                                                       ("4", "10.67")]
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["epochs"] == 10.67 and card["recipe"]["minutes"] == 0.02
    assert len(card["history"]) == card["recipe"]["epochs"] == 11
    assert "trained 10.67 epochs in " in out


def test_a_bad_training_option_is_a_clear_error(tiny_collection, tmp_path, capsys):
    assert main(["train", "--dataset", str(tiny_collection), "--split", "train", "--sam", "-0.1",
                 "--out", str(tmp_path / "m")]) == 2
    assert "SAM radius" in capsys.readouterr().err
    assert main(["train", "--dataset", str(tiny_collection), "--split", "train", "--depth", "1", "--residual",
                 "--out", str(tmp_path / "m")]) == 2
    assert "--depth 2 or more" in capsys.readouterr().err
    assert main(["train", "--dataset", str(tiny_collection), "--split", "train", "--minutes", "0",
                 "--out", str(tmp_path / "m")]) == 2
    assert "time budget (--minutes) must be positive, got 0" in capsys.readouterr().err


def test_warnings_are_one_line(tiny_collection, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_collection / "train", data)
    (data / "stripes" / "broken.png").write_bytes(b"not an image")
    assert main(["index", "--dataset", str(data), "--features", "gch", "--out", str(tmp_path / "e")]) == 0
    err = capsys.readouterr().err
    assert "cbir: warning: skipped 1 unreadable file(s)" in err and "stripes/broken.png" in err
    assert "UserWarning" not in err and "load_folder(" not in err


def test_index_with_a_model_trained_here(tiny_collection, tmp_path, capsys):
    from cbir.features.cnn import int8
    from cbir.features.cnn.model import fast_bf16
    from cbir.features.cnn.store import load_model, weights_digest

    data = ["--dataset", f"{tiny_collection}:train"]
    assert main(["train", *data, "--widths", "8", "16", "16", "--embedding-dim", "16", "--batch-size", "15",
                 "--val-images", "15", "--epochs", "2", "--out", str(tmp_path / "model")]) == 0
    assert main(["index", *data, "--features", "cnn", "--model", str(tmp_path / "model"),
                 "--out", str(tmp_path / "e")]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "e"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dim"] == 16 and info["extractor"]["config"]["weights"] == weights_digest(tmp_path / "model")
    assert info["extractor"]["config"]["index_tta"] is False  # the `cnn` default: indexed images in one view
    card = json.loads((tmp_path / "model" / "model_card.json").read_text())
    params = sum(p.numel() for p in load_model(tmp_path / "model")[0].parameters())
    precision = "int8" if int8.supported() else "bf16" if fast_bf16() else "float32"  # `cnn` asks for int8
    assert info["extractor"]["learned"] == (f"CNN: {params:,} parameters; 2 epochs on {card['data']} in "
                                            f"{card['minutes']:.1f} min ({card['machine']}); validation accuracy "
                                            f"{card['validation_accuracy_tta']:.4f}; runs in {precision} here")
    assert main(["info", str(tmp_path / "e")]) == 0
    assert f"\nlearned    CNN: {params:,} parameters; 2 epochs on" in capsys.readouterr().out
    query = tiny_collection / "test" / "blobs" / "000.png"
    assert main(["search", str(tmp_path / "e"), str(query), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["hits"]) == 10
    assert main(["index", *data, "--features", "cnn", "--model", str(tmp_path / "model"), "--set", "index_tta=true",
                 "--set", "pca=8", "--out", str(tmp_path / "flipped")]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "flipped"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dim"] == 8 and info["extractor"]["config"]["index_tta"] is True
    assert info["extractor"]["config"]["weights"] == weights_digest(tmp_path / "model")
    assert main(["index", *data, "--features", "cnn", "--set", "index_views=1", "--out", str(tmp_path / "x")]) == 2
    assert "features 'cnn' have no option index_views; they take: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["index", *data, "--features", "cnn", "--set", "index_tta", "--out", str(tmp_path / "x")])
    assert "expected KEY=VALUE, got 'index_tta'" in capsys.readouterr().err
    assert main(["index", *data, "--features", "hog", "--model", str(tmp_path / "model"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "applies to the CNN features (cnn, cnn-supervised), not to 'hog'" in capsys.readouterr().err
    assert main(["index", *data, "--features", "cnn", "--model", str(tmp_path / "none"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "no trained model at" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_fine_tune_the_shipped_network_on_a_collection_of_other_classes(tiny_collection, tmp_path):
    from cbir.features.cnn.extractor import SHIPPED
    from cbir.features.cnn.model import ModelConfig

    assert main(["train", "--dataset", f"{tiny_collection}:train", "--init", "shipped", "--epochs", "3",
                 "--batch-size", "15", "--lr", "0.01", "--out", str(tmp_path / "tuned")]) == 0
    card = json.loads((tmp_path / "tuned" / "model_card.json").read_text())
    assert card["recipe"]["init"] == str(SHIPPED) and card["classes"] == ["blobs", "gradient", "stripes"]
    shipped = ModelConfig.from_dict(json.loads((SHIPPED / "config.json").read_text())["model"])
    tuned = ModelConfig.from_dict(card["model"])
    assert dataclasses.replace(tuned, num_classes=10) == shipped and tuned.num_classes == 3
    assert card["validation_accuracy_tta"] >= 0.8  # CIFAR-10 features, an imprinted classifier, 9 steps


def test_add_and_remove_keep_an_engine_in_step_with_a_growing_folder(tiny_collection, tmp_path, capsys,
                                                                      folder_decodes):
    from cbir import Engine

    folder, engine = tmp_path / "photos", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "hog-gch", "--out", engine]) == 0
    shutil.copytree(tiny_collection / "train" / "stripes", folder / "stripes")
    capsys.readouterr()
    assert main(["add", engine, "--dataset", str(folder)]) == 0
    assert "added 20 images (20 already indexed)" in capsys.readouterr().out
    assert main(["add", engine, "--dataset", str(folder)]) == 0
    assert "added 0 images (40 already indexed)" in capsys.readouterr().out
    loaded = Engine.load(engine)
    assert len(loaded) == 40 and loaded.metadata.label("stripes/003.png") == "stripes"
    assert loaded.search([np.asarray(Image.open(folder / "stripes" / "003.png").convert("RGB"))],
                        k=1)[0].hits[0].id == "stripes/003.png"

    for name in ("001.png", "002.png"):
        (folder / "blobs" / name).unlink()
    assert main(["remove", engine, "--missing", "stripes/000.png", "nope.png"]) == 0  # either order
    out = capsys.readouterr().out
    assert "removed 3 images" in out and "(1 of the given ids were not indexed)" in out
    ids = set(Engine.load(engine).metadata.labels())
    assert len(ids) == 37 and not ids & {"blobs/001.png", "blobs/002.png", "stripes/000.png"}

    (tmp_path / "photos").rename(tmp_path / "elsewhere")  # a folder moved, or a drive not mounted
    assert main(["remove", engine, "--missing"]) == 2
    err = capsys.readouterr().err
    assert f"kept 37 images whose files are missing from {folder.resolve()}" in err
    assert "nothing was removed" in err and len(Engine.load(engine)) == 37
    (tmp_path / "elsewhere").rename(folder)

    shutil.copytree(folder, tmp_path / "copy")
    assert main(["add", engine, "--dataset", str(tmp_path / "copy")]) == 2  # the same ids, other files
    assert "already indexed from another file" in capsys.readouterr().err

    folder.rename(tmp_path / "moved")  # the whole folder moved: its images found there, not read again
    decoded = folder_decodes
    decoded.clear()
    assert main(["add", engine, "--dataset", str(tmp_path / "moved")]) == 0
    assert "added 1 images (37 already indexed)" in (out := capsys.readouterr().out)
    assert "37 indexed images were found where their folder moved" in out
    assert len(decoded) == 1  # stripes/000.png, removed by its id above, is new
    moved = Engine.load(engine)
    assert len(moved) == 38 and moved.metadata.path("stripes/003.png") == str(tmp_path / "moved" / "stripes" / "003.png")
    assert moved.search([np.asarray(Image.open(tmp_path / "moved" / "stripes" / "003.png").convert("RGB"))],
                        k=1)[0].hits[0].id == "stripes/003.png"
    assert main(["remove", engine]) == 2 and "--missing or --under" in capsys.readouterr().err


def test_add_decodes_only_the_files_that_are_new_or_changed(tiny_collection, tmp_path, capsys, folder_decodes):
    folder, engine = tmp_path / "photos", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "hog-gch", "--out", engine]) == 0
    decoded = folder_decodes
    decoded.clear()
    shutil.copy(tiny_collection / "train" / "stripes" / "000.png", folder / "blobs" / "new.png")
    shutil.copy(tiny_collection / "train" / "stripes" / "001.png", folder / "blobs" / "003.png")  # another picture
    os.utime(folder / "blobs" / "004.png", ns=(1, 1))  # only touched
    capsys.readouterr()
    assert main(["add", engine, "--dataset", str(folder)]) == 0
    assert len(decoded) == 3
    assert ("added 1 images (20 already indexed, 1 described again: their files show another picture now)"
            in capsys.readouterr().out)
    decoded.clear()
    assert main(["add", engine, "--dataset", str(folder)]) == 0  # the touched file was restamped
    assert not decoded and "added 0 images (21 already indexed)" in capsys.readouterr().out


def test_add_takes_a_file_for_a_moved_one_only_when_that_is_gone_and_alone_with_its_stamp(tmp_path, capsys,
                                                                                          folder_decodes):
    from cbir import Engine

    photos, engine = tmp_path / "photos", str(tmp_path / "engine")
    (photos / "a").mkdir(parents=True)
    for name, value in (("x", 40), ("y", 200), ("z", 120)):  # BMPs of one size: the same byte count
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(photos / "a" / f"{name}.bmp")
        os.utime(photos / "a" / f"{name}.bmp", ns=(10**18, 10**18 if name != "z" else 2 * 10**18))
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", engine]) == 0
    decoded = folder_decodes
    decoded.clear()
    (photos / "b").mkdir()
    for name in ("x", "y"):  # both gone with one stamp: which is which cannot be told without reading them
        (photos / "a" / f"{name}.bmp").rename(photos / "b" / f"{name}.bmp")
    shutil.copy2(photos / "a" / "z.bmp", photos / "b" / "z.bmp")  # a copy, its stamp kept, of a file still there
    capsys.readouterr()
    assert main(["add", engine, "--dataset", str(photos)]) == 0
    assert len(decoded) == 3 and "moved or renamed" not in capsys.readouterr().out
    loaded = Engine.load(engine)
    assert loaded.metadata.digest("b/x.bmp") == loaded.metadata.digest("a/x.bmp") != loaded.metadata.digest("b/y.bmp")


def test_sync_adds_and_removes_in_one_and_watch_follows_the_folder(tiny_collection, tmp_path, capsys, monkeypatch):
    from cbir import Engine
    from cbir.cli import engines as engines_mod

    folder, engine = tmp_path / "photos", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "gch", "--out", engine]) == 0
    (folder / "blobs" / "000.png").unlink()
    (folder / "blobs" / "001.png").rename(folder / "blobs" / "first.png")
    shutil.copy(tiny_collection / "train" / "stripes" / "000.png", folder / "blobs" / "new.png")
    capsys.readouterr()
    assert main(["sync", engine, "--dataset", str(folder)]) == 0
    assert re.search(r"added 2 \(1 moved or renamed\), removed 2 -> .*: 20 images$", capsys.readouterr().out.strip())
    assert {"blobs/first.png", "blobs/new.png"} <= set(Engine.load(engine).metadata.labels())

    rounds = []

    def sleep(seconds):  # the user's folder between rounds; stopped with Ctrl-C after the last
        assert seconds == 30
        rounds.append(len(rounds))
        if len(rounds) == 1:
            shutil.copy(tiny_collection / "train" / "stripes" / "001.png", folder / "blobs" / "later.png")
        elif len(rounds) == 2:
            folder.rename(tmp_path / "unmounted")
        elif len(rounds) == 4:
            (tmp_path / "unmounted").rename(folder)
        elif len(rounds) == 6:
            raise KeyboardInterrupt

    monkeypatch.setattr(engines_mod.time, "sleep", sleep)
    loaded, real_add = [], engines_mod.add_collection
    monkeypatch.setattr(engines_mod, "add_collection", lambda *a: loaded.append(len(rounds)) or real_add(*a))
    assert main(["sync", engine, "--dataset", str(folder), "--watch", "30"]) == 0
    assert loaded == [0, 1]  # the folder missing, then back as it was, the engine unchanged: nothing loaded
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("added 1, removed 0 -> " + engine + ": 21 images")  # quiet rounds
    assert captured.err.count("no such folder or archive") == 1 and "looking again every 30 s" in captured.err
    assert "stopped watching" in captured.err and len(Engine.load(engine)) == 21
    assert main(["sync", engine, "--dataset", str(tmp_path / "nowhere"), "--watch", "30"]) == 2  # a typo: said at once


def test_sync_without_a_collection_follows_every_folder_the_engine_holds(tiny_collection, tmp_path, capsys,
                                                                         monkeypatch):
    """Photos in two places and a zip: `sync ENGINE` brings both folders in step (the zip does not change), says
    once that one is missing while watching, and keeps its images."""
    import zipfile

    from cbir import Engine
    from cbir.cli import engines as engines_mod

    home, drive, engine = tmp_path / "photos", tmp_path / "drive", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", home / "blobs")
    shutil.copytree(tiny_collection / "train" / "gradient", drive / "gradient")
    with zipfile.ZipFile(tmp_path / "old.zip", "w") as zf:
        zf.write(tiny_collection / "train" / "stripes" / "000.png", "stripes/000.png")
    assert main(["index", "--dataset", str(home), "--features", "gch", "--out", engine]) == 0
    assert main(["add", engine, "--dataset", str(drive)]) == 0
    assert main(["add", engine, "--dataset", str(tmp_path / "old.zip")]) == 0
    assert engines_mod.engine_folders(engine) == sorted([str(home.resolve()), str(drive.resolve())])
    shutil.copy(tiny_collection / "train" / "stripes" / "001.png", home / "blobs" / "new.png")
    shutil.copy(tiny_collection / "train" / "stripes" / "002.png", drive / "gradient" / "new.png")
    (drive / "gradient" / "000.png").unlink()
    capsys.readouterr()
    assert main(["sync", engine]) == 0
    assert re.search(r"added 2, removed 1 -> .*: 42 images$", capsys.readouterr().out.strip())

    rounds = []

    def sleep(seconds):
        rounds.append(seconds)
        if len(rounds) == 1:
            drive.rename(tmp_path / "unmounted")  # a drive taken away: the other folder still followed
            shutil.copy(tiny_collection / "train" / "stripes" / "003.png", home / "blobs" / "later.png")
        elif len(rounds) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(engines_mod.time, "sleep", sleep)
    assert main(["sync", engine, "--watch", "5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("added 1, removed 0 -> " + engine + ": 43 images")
    assert captured.err.count(f"no such folder or archive: {drive.resolve()}; looking again every 5 s") == 1
    assert f"stopped watching the folders of {engine}" in captured.err and len(Engine.load(engine)) == 43
    cifar = str(tmp_path / "zip-only")
    assert main(["index", "--dataset", str(tmp_path / "old.zip"), "--features", "gch", "--out", cifar]) == 0
    assert main(["sync", cifar]) == 2 and "holds no images from a folder" in capsys.readouterr().err
    assert main(["sync", str(tmp_path / "none"), "--watch", "5"]) == 2 and "no engine at" in capsys.readouterr().err


def test_remove_missing_keeps_a_folder_gone_whole_and_under_removes_it(tiny_collection, tmp_path, capsys,
                                                                       monkeypatch):
    from cbir import Engine

    photos, drive, engine = tmp_path / "photos", tmp_path / "drive" / "pictures", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", photos / "blobs")
    shutil.copytree(tiny_collection / "train" / "gradient", photos / "gradient")
    shutil.copytree(tiny_collection / "train" / "stripes", drive / "stripes")
    assert main(["index", "--dataset", str(photos), "--features", "hog-gch", "--out", engine]) == 0
    assert main(["add", engine, "--dataset", str(drive)]) == 0
    capsys.readouterr()
    assert main(["info", engine]) == 0  # where its images come from
    out = capsys.readouterr().out
    assert f"from       {photos.resolve()} (40 images)\n" in out and f"           {drive.resolve()} (20 images)\n" in out
    shutil.rmtree(photos / "gradient")  # a sub-folder deleted on purpose: the collection around it is still there
    (photos / "blobs" / "000.png").unlink()
    (tmp_path / "drive").rename(tmp_path / "unmounted")
    capsys.readouterr()

    assert main(["remove", engine, "--missing"]) == 0
    captured = capsys.readouterr()
    assert "removed 21 images" in captured.out and ": 39 images" in captured.out
    assert f"kept 20 images whose files are missing from {drive.resolve()}" in captured.err
    assert f"--under {drive.resolve()}" in captured.err
    ids = set(Engine.load(engine).metadata.labels())
    assert {f"stripes/{i:03d}.png" for i in range(20)} <= ids and "blobs/000.png" not in ids
    assert not any(i.startswith("gradient/") for i in ids)

    assert main(["remove", engine, "--under", str(tmp_path / "nowhere")]) == 2
    monkeypatch.chdir(tmp_path)
    assert main(["remove", engine, "--under", ""]) == 2  # "$UNSET" is not the current folder
    assert "no indexed image lies under" in capsys.readouterr().err and len(Engine.load(engine)) == 39
    assert main(["remove", engine, "--missing", "--under", str(drive)]) == 0  # gone for good
    captured = capsys.readouterr()
    assert "removed 20 images" in captured.out and not captured.err
    assert not any(i.startswith("stripes/") for i in Engine.load(engine).metadata.labels())


def test_unknown_arguments_are_still_refused(built, capsys):
    with pytest.raises(SystemExit):
        main(["info", str(built), "--nope"])
    assert "unrecognized arguments: --nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["remove", str(built), "x.png", "--missing", "--nope"])


def test_cbir_train_defaults_are_the_training_recipe_defaults():
    from cbir.cli import build_parser
    from cbir.cli.models import train_config
    from cbir.training.config import TrainConfig

    assert train_config(build_parser().parse_args(["train", "--out", "m"])) == TrainConfig()
    fast = TrainConfig()  # the fast-training recipes' settings, the defaults since 2026-12-04
    assert (fast.norm_scales, fast.lr, fast.momentum, fast.weight_decay, fast.whiten_bias_epochs,
            fast.norm_bias_lr) == (False, 0.37, 0.92, 1.5e-3, 3, 64)
    previous = train_config(build_parser().parse_args(["train", "--out", "m", "--lr", "0.2", "--momentum", "0.9",
                                                       "--weight-decay", "5e-4", "--norm-scales",
                                                       "--norm-bias-lr", "1"]))
    assert previous == dataclasses.replace(fast, lr=0.2, momentum=0.9, weight_decay=5e-4, norm_scales=True,
                                           norm_bias_lr=1.0)
    assert train_config(build_parser().parse_args(["train", "--out", "m", "--whiten-bias-epochs", "all"])
                        ).whiten_bias_epochs is None
    cropped = train_config(build_parser().parse_args(["train", "--out", "m", "--small-crop", "24", "--small-share",
                                                      "0.4"]))
    assert cropped == dataclasses.replace(fast, small_crop=24, small_share=0.4) and fast.small_crop == 0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--out", "m", "--whiten-bias-epochs", "-1"])


@pytest.mark.parametrize("features, value, message", [
    ("cnn", "0", "pca is a number of dimensions"), ("cnn", "100000", "cannot exceed the 256 dimensions"),
    ("cnn", "61", "needs at least 61 images, got 60"), ("cnn-supervised", "-3", "pca is a number of dimensions"),
    ("kmeans-triangle", "0", "pca is a number of dimensions"),
    ("kmeans-triangle", "true", "option pca takes"),
])
def test_a_bad_pca_is_refused_before_any_image_is_described(tiny_collection, tmp_path, capsys, monkeypatch,
                                                             features, value, message):
    from cbir.features.base import FeatureExtractor

    monkeypatch.setattr(FeatureExtractor, "transform", lambda *a, **k: pytest.fail("described images first"))
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", features, "--set", f"pca={value}",
                 "--out", str(tmp_path / "engine")]) == 2
    assert message in capsys.readouterr().err


def test_add_describes_again_a_file_that_shows_another_picture(tiny_collection, tmp_path, capsys):
    import os

    from cbir import Engine

    folder, engine = tmp_path / "photos", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "hog-gch", "--out", engine]) == 0
    stripes = tiny_collection / "train" / "stripes" / "007.png"
    shutil.copy(stripes, folder / "blobs" / "003.png")  # edited: another picture under the same path
    os.utime(folder / "blobs" / "004.png", ns=(1, 10**18))  # touched: the same picture, a new time
    same = Image.open(folder / "blobs" / "005.png")
    same.save(folder / "blobs" / "005.png", compress_level=0)  # re-saved: other bytes, the same pixels
    capsys.readouterr()
    assert main(["add", engine, "--dataset", str(folder)]) == 0
    assert "added 0 images (20 already indexed, 1 described again: their files show another picture now)" \
        in capsys.readouterr().out
    query = np.asarray(Image.open(stripes).convert("RGB"))
    hit = Engine.load(engine).search([query], k=1)[0].hits[0]
    assert hit.id == "blobs/003.png" and hit.score > 0.999 and len(Engine.load(engine)) == 20
    assert main(["add", engine, "--dataset", str(folder)]) == 0  # the new stamps were kept: nothing again
    assert "added 0 images (20 already indexed) ->" in capsys.readouterr().out


def test_search_with_filters_and_a_score_cut_off(built, tiny_collection, capsys):
    query = str(tiny_collection / "test" / "stripes" / "000.png")
    capsys.readouterr()
    assert main(["search", str(built), query, "-k", "4", "--label", "blobs", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert len(hits) == 4 and {h["label"] for h in hits} == {"blobs"}
    assert main(["search", str(built), query, "-k", "40", "--folder", "train/gradient/00", "--json"]) == 0
    assert sorted(h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]) == \
        [f"train/gradient/{i:03d}.png" for i in range(10)]
    assert main(["search", str(built), query, "-k", "10", "--min-score", "0.999", "--json"]) == 0
    assert all(h["score"] >= 0.999 for h in json.loads(capsys.readouterr().out)[0]["hits"])


def test_search_by_the_date_a_photo_was_taken(tiny_collection, tmp_path, capsys):
    folder = tmp_path / "photos" / "blobs"
    folder.mkdir(parents=True)
    for i, taken in enumerate(["2018:12:31 23:59:59", "2019:01:01 00:00:00", "2019:06:30 12:00:00",
                               "2020:01:01 00:00:00"]):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = taken
        Image.open(tiny_collection / "train" / "blobs" / f"{i:03d}.png").convert("RGB").save(
            folder / f"{i}.jpg", exif=exif)
    engine = str(tmp_path / "engine")
    assert main(["index", "--dataset", str(folder.parent), "--features", "gch", "--out", engine]) == 0
    query = str(folder / "0.jpg")
    capsys.readouterr()
    assert main(["search", engine, query, "-k", "9", "--since", "2019", "--until", "2019", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert sorted((h["id"], h["date"]) for h in hits) == [("blobs/1.jpg", "2019-01-01T00:00:00"),
                                                          ("blobs/2.jpg", "2019-06-30T12:00:00")]  # when taken
    assert main(["search", engine, query, "--until", "2019-06-29", "--json"]) == 0
    assert sorted(h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]) == ["blobs/0.jpg", "blobs/1.jpg"]
    assert main(["search", engine, query, "--since", "2019-02-30"]) == 2
    assert "not a real date" in capsys.readouterr().err
    clock_put_right = (folder / "3.jpg").read_bytes().replace(b"2020:01:01 00:00:00", b"2020:01:02 08:30:00")
    (folder / "3.jpg").write_bytes(clock_put_right)  # the date fixed in a photo manager: the picture untouched
    (folder / "2.jpg").write_bytes((folder / "2.jpg").read_bytes())  # only written again: no date of its own changed
    assert main(["sync", engine]) == 0
    capsys.readouterr()
    assert main(["search", engine, "--json", "-k", "4"]) == 0  # the newest first
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert [(h["id"], h["date"]) for h in hits][:2] == [("blobs/3.jpg", "2020-01-02T08:30:00"),
                                                        ("blobs/2.jpg", "2019-06-30T12:00:00")]
    on_server = str(tmp_path / "milvus-engine")  # a server's documents hold the dates: written again
    assert main(["index", "--dataset", str(folder.parent), "--features", "gch", "--backend", "milvus",
                 "--milvus-uri", str(tmp_path / "milvus.db"), "--out", on_server]) == 0
    (folder / "3.jpg").write_bytes(clock_put_right.replace(b"2020:01:02 08:30:00", b"2020:01:03 09:00:00"))
    assert main(["sync", on_server]) == 0
    capsys.readouterr()
    assert main(["search", on_server, query, "--since", "2020-01-03", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]] == ["blobs/3.jpg"]


def test_an_image_whose_name_is_not_utf8_is_left_out_of_an_engine_with_a_warning(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for value, name in ((40, b"caf\xe9.png"), (200, b"tea.png")):
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(photos / os.fsdecode(name))
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(tmp_path / "e")]) == 0
    assert "caf\\xe9.png: its name is not valid UTF-8" in capsys.readouterr().err
    assert main(["add", str(tmp_path / "e"), "--dataset", str(photos)]) == 0
    assert main(["search", str(tmp_path / "e"), str(photos / os.fsdecode(b"caf\xe9.png"))]) == 0
    assert "tea.png" in capsys.readouterr().out


def test_search_with_a_part_of_an_image(built, tiny_collection, tmp_path, capsys):
    halves = [np.asarray(Image.open(tiny_collection / "train" / name).convert("RGB"))
              for name in ("blobs/000.png", "stripes/003.png")]
    Image.fromarray(np.concatenate(halves, axis=1)).save(tmp_path / "both.png")
    capsys.readouterr()
    assert main(["search", str(built), str(tmp_path / "both.png"), "-k", "1", "--crop", "0.5,0,0.5,1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["id"] == "train/stripes/003.png"
    assert main(["search", str(built), str(tmp_path / "both.png"), "--crop", "0.5,0,0.6,1"]) == 2
    assert "a crop lies within the image" in capsys.readouterr().err


def test_a_file_whose_name_holds_the_archive_separator_is_a_file(tmp_path, capsys):
    """`ARCHIVE.zip::member` names an image in an archive; a file called `a::b.png` is a file all the same."""
    from cbir import Engine
    from cbir.web import create_app

    photos = tmp_path / "photos"
    photos.mkdir()
    for value, name in ((40, "2019::beach.png"), (200, "tea.png")):
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(photos / name)
    engine = str(tmp_path / "e")
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", engine]) == 0
    assert "skipped" not in capsys.readouterr().err
    assert main(["search", engine, str(photos / "2019::beach.png"), "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["id"] == "2019::beach.png"
    assert main(["remove", engine, "--missing"]) == 0 and "removed 0 images" in capsys.readouterr().out
    client = create_app({"ENGINES": {"e": Engine.load(engine)}}).test_client()
    assert client.get("/api/v1/images/2019::beach.png").status_code == 200
    assert client.get("/api/v1/images/2019::beach.png?size=thumb").status_code == 200
