"""Engine folders: one writer at a time, and nothing deleted that cbir did not write."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cbir import Engine
from cbir.cli import main
from cbir.storage import LOCK, current_version, write_version, writer_lock


def cbir(*args: str, **kwargs) -> subprocess.Popen:
    """`cbir ARGS...` in a process of its own."""
    return subprocess.Popen([sys.executable, "-c", "import sys; from cbir.cli import main; sys.exit(main())", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_two_adds_at_once_both_land(tiny_collection, tmp_path):
    engine = str(tmp_path / "engine")
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--max-index", "20", "--features", "gch",
                 "--out", engine]) == 0
    folders = []
    for kind in ("stripes", "gradient"):
        shutil.copytree(tiny_collection / "train" / kind, tmp_path / kind / kind)
        folders.append(str(tmp_path / kind))
    with writer_lock(engine):  # both writers start while the folder is held, so they surely overlap
        procs = [cbir("add", engine, "--dataset", folder) for folder in folders]
        for proc in procs:  # each says it waits, naming the holder
            assert f"waiting for another cbir (pid {os.getpid()})" in proc.stderr.readline()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "added 20 images" in out
    labels = Engine.load(engine).metadata.labels()
    added = [id_.split("/")[0] for id_ in labels if not id_.startswith("train/")]
    assert len(labels) == 60 and sorted(added) == ["gradient"] * 20 + ["stripes"] * 20


def test_a_killed_writer_releases_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from cbir.storage import writer_lock
        with writer_lock({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    assert (tmp_path / LOCK).read_text().strip() == str(holder.pid)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with writer_lock(tmp_path):  # returns at once: the dead holder's lock went with it
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
        with writer_lock(tmp_path):  # the holder may take it again (a save inside `Engine.editing`)
            pass


def test_only_what_cbir_wrote_is_ever_deleted(tmp_path):
    folder = tmp_path / "out"
    mine = [folder / "v-2019", folder / ".tmp-holiday", folder / "v-20260101T000000-1-2"]
    for path in mine:
        path.mkdir(parents=True)
        (path / "photo.jpg").write_bytes(b"precious")
    (folder / "notes.txt").write_text("mine too")
    first = write_version(folder, lambda tmp: (tmp / "a").write_text("1"))
    interrupted = folder / ".tmp-crashed"  # a save that died half-way leaves a marked temporary folder
    interrupted.mkdir()
    (interrupted / ".cbir-version").touch()
    second = write_version(folder, lambda tmp: (tmp / "a").write_text("2"))
    assert current_version(folder) == second and not first.exists() and not interrupted.exists()
    assert all((path / "photo.jpg").read_bytes() == b"precious" for path in mine)
    assert (folder / "notes.txt").read_text() == "mine too"


def test_an_engine_written_by_an_older_cbir_drops_its_old_version(tmp_path):
    folder = tmp_path / "engine"
    old = folder / "v-20250101T000000-1-2"  # written before versions carried the marker
    old.mkdir(parents=True)
    (folder / "CURRENT").write_text(old.name)
    new = write_version(folder, lambda tmp: (tmp / "a").write_text("1"))
    assert current_version(folder) == new and not old.exists()


def test_index_refuses_an_out_that_is_a_file_before_reading_anything(tmp_path, capsys):
    out = tmp_path / "engine"
    out.write_text("a file")
    assert main(["index", "--dataset", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_add_to_an_engine_it_cannot_write_fails_before_reading_images(tiny_collection, tmp_path, capsys,
                                                                      monkeypatch):
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tiny_collection / "train" / "blobs"), "--features", "gch",
                 "--out", str(engine)]) == 0
    real_open = os.open

    def read_only(path, flags, *args):  # what a read-only folder does to a non-root user
        if str(path).endswith(LOCK):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr("cbir.storage.os.open", read_only)
    monkeypatch.setattr("cbir.datasets.load_dataset", lambda *a, **k: pytest.fail("read images first"))
    capsys.readouterr()
    assert main(["add", str(engine), "--dataset", str(tiny_collection)]) == 2
    assert capsys.readouterr().err == f"cbir: error: Permission denied: {engine / LOCK}\n"


def test_os_failures_are_one_line_errors(tiny_collection, tmp_path, capsys, monkeypatch):
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tiny_collection / "train" / "blobs"), "--features", "gch",
                 "--out", str(engine)]) == 0

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(engine / "x"))

    monkeypatch.setattr("cbir.metadata.Metadata.save", full_disk)
    capsys.readouterr()
    assert main(["remove", str(engine), "000.png"]) == 2
    err = capsys.readouterr().err
    assert err == f"cbir: error: No space left on device: {engine / 'x'}\n"
    assert len(Engine.load(engine)) == 20  # nothing lost
    assert not [p for p in engine.iterdir() if p.name.startswith(".tmp-")]


def test_a_damaged_engine_is_a_clear_error(tiny_collection, tmp_path, capsys):
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tiny_collection / "train" / "blobs"), "--features", "gch",
                 "--out", str(engine)]) == 0
    version = current_version(engine)
    for damage in ("metadata.sqlite", "index", "manifest.json"):
        saved = tmp_path / "saved"
        shutil.copytree(version, saved)
        target = version / damage
        if target.is_dir():
            for f in target.iterdir():
                f.write_bytes(b"\0garbage")
        else:
            target.write_bytes(np.arange(40, dtype=np.uint8).tobytes())
        capsys.readouterr()
        assert main(["info", str(engine)]) == 2, damage
        err = capsys.readouterr().err
        assert err.startswith(f"cbir: error: the engine at {engine} is damaged") and err.count("\n") == 1, err
        shutil.rmtree(version)
        shutil.move(saved, version)


@pytest.mark.parametrize("features", ["hog-gch", "kmeans-triangle", "effnet-supervised"])
def test_a_stopped_index_resumes_from_what_it_had_described(tiny_collection, tmp_path, capsys, monkeypatch, features):
    from cbir.features.base import FeatureExtractor

    out = tmp_path / "engine"
    options = ["--set", "k=20", "--set", "pca=16", "--set", "sample_patches=3000"] if features == "kmeans-triangle" else []
    command = ["index", "--dataset", f"{tiny_collection}:train", "--features", features, "--batch-size", "16",
               *options, "--out", str(out)]
    described, transform = [], FeatureExtractor.transform

    def stopping(self, images, **kwargs):  # the third batch never finishes: the run is stopped there
        if len(described) == 2:
            raise KeyboardInterrupt
        described.append(len(images))
        return transform(self, images, **kwargs)

    monkeypatch.setattr(FeatureExtractor, "transform", stopping)
    assert main(command) == 130 and current_version(out) is None
    assert sorted(p.name for p in (out / ".partial").iterdir())[:2] == ["batch-000000.npz", "batch-000001.npz"]
    monkeypatch.setattr(FeatureExtractor, "transform", lambda self, images, **kw: described.append(len(images)) or
                        transform(self, images, **kw))
    assert main(command) == 0
    assert described == [16, 16, 16, 12] and not (out / ".partial").exists()  # only the rest described again
    resumed = Engine.load(out)
    monkeypatch.setattr(FeatureExtractor, "transform", transform)
    assert main(command[:-1] + [str(tmp_path / "whole")]) == 0
    whole = Engine.load(tmp_path / "whole")
    ids, vectors = resumed.index.vectors()
    whole_ids, whole_vectors = whole.index.vectors()
    assert ids == whole_ids and np.allclose(vectors, whole_vectors, atol=1e-6)  # the same engine


def test_a_stopped_index_resumes_the_copies_whose_fit_describes_every_image(tiny, tmp_path, monkeypatch):
    """`effnet-copies` fits a PCA on every image's features: a stopped `index --copies` keeps those features batch
    by batch, and run again describes only the rest, for the same engine as a run never stopped."""
    from cbir.features import make_extractor
    from cbir.features.pretrained.extractor import PretrainedExtractor

    def copies():
        return make_extractor("effnet-copies").with_options({"resolution": 64, "pca": 8})

    described, rows = [], PretrainedExtractor.fit_rows

    def stopping(self, images, progress=False):  # the copies' third batch never finishes
        if len(described) == 2:
            raise KeyboardInterrupt
        described.append(len(images))
        return rows(self, images, progress)

    monkeypatch.setattr(PretrainedExtractor, "fit_rows", stopping)
    with pytest.raises(KeyboardInterrupt):
        Engine.build(tiny, make_extractor("gch"), batch_size=16, progress=False, resume_in=tmp_path, copies=copies())
    assert copies().fit_resumes and len(list((tmp_path / ".partial-copies").glob("batch-*.npz"))) == 2
    monkeypatch.setattr(PretrainedExtractor, "fit_rows", lambda self, images, progress=False: described.append(
        len(images)) or rows(self, images, progress))
    resumed = Engine.build(tiny, make_extractor("gch"), batch_size=16, progress=False, resume_in=tmp_path,
                           copies=copies())
    assert len(tiny) == 60 and described == [16, 16, 16, 12]  # the first two batches described once
    whole = Engine.build(tiny, make_extractor("gch"), progress=False, copies=copies())
    ids, vectors = resumed.copies.index.vectors()
    whole_ids, whole_vectors = whole.copies.index.vectors()
    assert ids == whole_ids == tiny.ids and np.allclose(vectors, whole_vectors, atol=1e-3)  # float16 in the index


def test_a_stopped_index_of_a_supervised_variant_fits_its_base_once_and_resumes_the_rest(tiny, tmp_path,
                                                                                           monkeypatch):
    """A supervised variant whose base fits a vocabulary first: a stopped index keeps the fitted base and the base's
    features batch by batch; run again, it neither fits the base again nor describes those batches again."""
    from cbir.features import make_extractor
    from cbir.features.base import FeatureExtractor
    from cbir.features.supervised import SupervisedExtractor

    def features():
        base = make_extractor("kmeans-triangle").with_options({"k": 20, "pca": 16, "sample_patches": 3000})
        return SupervisedExtractor(base, cs=(1.0,), folds=2)

    described, fitted, transform, fit = [], [], FeatureExtractor.transform, FeatureExtractor.fit

    def stopping(self, images, **kwargs):  # the third batch never finishes
        if len(described) == 2:
            raise KeyboardInterrupt
        described.append(len(images))
        return transform(self, images, **kwargs)

    monkeypatch.setattr(FeatureExtractor, "fit", lambda self, *a, **kw: fitted.append(self.name) or fit(self, *a, **kw))
    monkeypatch.setattr(FeatureExtractor, "transform", stopping)
    assert features().fit_resumes and not features().base.fitted_
    with pytest.raises(KeyboardInterrupt):
        Engine.build(tiny, features(), batch_size=16, progress=False, resume_in=tmp_path)
    assert (tmp_path / ".partial" / "base" / "config.json").exists() and fitted == ["kmeans-triangle"]
    assert len(list((tmp_path / ".partial").glob("batch-*.npz"))) == 2
    monkeypatch.setattr(FeatureExtractor, "transform", lambda self, images, **kw: described.append(len(images)) or
                        transform(self, images, **kw))
    resumed = Engine.build(tiny, features(), batch_size=16, progress=False, resume_in=tmp_path)
    assert described == [16, 16, 16, 12] and fitted == ["kmeans-triangle"]  # the base fitted once, by the first run
    monkeypatch.undo()
    whole = Engine.build(tiny, features(), progress=False)
    ids, vectors = resumed.index.vectors()
    whole_ids, whole_vectors = whole.index.vectors()
    assert ids == whole_ids and np.allclose(vectors, whole_vectors, atol=1e-5)  # the same engine


def test_a_stopped_index_of_the_cnn_with_a_pca_resumes_its_embeddings(tiny, tmp_path, monkeypatch):
    """`cnn --set pca=N` fits its PCA on every image's embedding: a stopped index keeps the embeddings batch by batch
    (the int8 calibration, a few seconds, is done again) and gives the same engine as a run never stopped."""
    from cbir.features import make_extractor
    from cbir.features.cnn.extractor import CnnExtractor

    def features():
        return make_extractor("cnn").with_options({"pca": 8})

    described, rows = [], CnnExtractor.fit_rows

    def stopping(self, images, progress=False):  # the third batch never finishes
        if len(described) == 2:
            raise KeyboardInterrupt
        described.append(len(images))
        return rows(self, images, progress)

    monkeypatch.setattr(CnnExtractor, "fit_rows", stopping)
    assert features().fit_resumes
    with pytest.raises(KeyboardInterrupt):
        Engine.build(tiny, features(), batch_size=16, progress=False, resume_in=tmp_path)
    monkeypatch.setattr(CnnExtractor, "fit_rows", lambda self, images, progress=False: described.append(
        len(images)) or rows(self, images, progress))
    resumed = Engine.build(tiny, features(), batch_size=16, progress=False, resume_in=tmp_path)
    assert described == [16, 16, 16, 12]  # the first two batches described once
    monkeypatch.undo()
    whole = Engine.build(tiny, features(), progress=False)
    ids, vectors = resumed.index.vectors()
    whole_ids, whole_vectors = whole.index.vectors()
    assert ids == whole_ids and np.allclose(vectors, whole_vectors, atol=1e-5) and vectors.shape[1] == 8


def test_a_checkpoint_of_another_run_is_not_used(tiny_collection, tmp_path):
    from cbir.datasets import load_folder
    from cbir.features import make_extractor
    from cbir.resume import Checkpoint

    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    kept = Checkpoint(tmp_path, make_extractor("gch"), data)
    kept.keep(data.ids[:2], np.ones((2, 64), np.float32))
    assert Checkpoint(tmp_path, make_extractor("gch"), data).described(data.ids[:2]) is not None
    assert Checkpoint(tmp_path, make_extractor("hog"), data).described(data.ids[:2]) is None  # other features
    assert Checkpoint(tmp_path, make_extractor("gch"), data.subset(range(5))).described(data.ids[:2]) is None


def test_a_stopped_add_resumes_too(tiny_collection, tmp_path, monkeypatch):
    from cbir.features.base import FeatureExtractor

    folder, engine = tmp_path / "photos", str(tmp_path / "engine")
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "gch", "--out", engine]) == 0
    shutil.copytree(tiny_collection / "train" / "stripes", folder / "stripes")
    described, transform = [], FeatureExtractor.transform

    def stopping(self, images, **kwargs):
        if len(described) == 1:
            raise KeyboardInterrupt
        described.append(len(images))
        return transform(self, images, **kwargs)

    monkeypatch.setattr(FeatureExtractor, "transform", stopping)
    assert main(["add", engine, "--dataset", str(folder), "--batch-size", "8"]) == 130
    assert len(Engine.load(engine)) == 20  # nothing saved yet
    monkeypatch.setattr(FeatureExtractor, "transform", lambda self, images, **kw: described.append(len(images)) or
                        transform(self, images, **kw))
    assert main(["add", engine, "--dataset", str(folder), "--batch-size", "8"]) == 0
    assert described == [8, 8, 4] and len(Engine.load(engine)) == 40 and not (Path(engine) / ".partial").exists()
