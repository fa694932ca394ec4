"""The cache folder: what it holds, what of it is of no use any more, `cbir cache --prune` and `--clear`."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from cbir.cli import main
from cbir.datasets import housekeeping, load_folder
from cbir.datasets.cifar10 import ARCHIVE_NAME

HEIC = Path(__file__).parent / "data" / "astronaut.heic"
HOUR = 3600


def filled(root: Path, home: Path, collection: Path) -> dict[str, Path]:
    """A cache folder holding one of each kind of thing, in use or of no use any more."""
    made = {}
    for name in ("kept", "gone", "changed"):
        shutil.copytree(collection / "train" / "blobs", root / name)
        load_folder(root / name, progress=False)
    (root / "photos").mkdir()
    for name in ("kept", "gone"):
        shutil.copy(HEIC, root / "photos" / f"{name}.heic")
    load_folder(root / "photos", progress=False, cache=False)  # read at index size: their previews are kept
    shutil.rmtree(root / "gone")
    (root / "photos" / "gone.heic").unlink()
    (root / "changed" / "000.png").unlink()
    made["old entry"] = home / "decoded" / "0123456789abcdef01234567"  # as versions before 0.4.5 wrote them
    made["old entry"].mkdir()
    (made["old entry"] / "meta.json").write_text(json.dumps({"ids": ["a"], "name": "x"}))
    made["old preview"] = home / "previews" / "0123456789abcdef0123456789abcdef.jpg"
    shutil.copy(next(home.glob("previews/*/*.jpg")), made["old preview"])
    for name, age in (("left", 2 * HOUR), ("writing", 0)):  # an interrupted write's folder, and one in progress
        made[name] = home / "decoded" / f".tmp-{name}"
        made[name].mkdir()
        (made[name] / "pixels.npy").write_bytes(b"\0" * 100)
        for path in (made[name], made[name] / "pixels.npy"):
            os.utime(path, (time.time() - age, time.time() - age))
    (home / ARCHIVE_NAME).write_bytes(b"\0" * 1000)
    return made


def test_what_is_of_no_use_is_told_and_pruned_and_the_rest_still_serves(tmp_path, cbir_home, tiny_collection,
                                                                         folder_decodes):
    made = filled(tmp_path, cbir_home, tiny_collection)
    items = housekeeping.inventory(now=time.time() + 60)
    why = sorted((item.kind, item.useless, Path(item.about.split(",")[0]).name) for item in items if item.useless)
    assert why == [("decoded", "an earlier version's format", ""),
                   ("decoded", "its collection changed since", "changed"),
                   ("decoded", "its collection is gone (or not mounted)", "gone"),
                   ("decoded", "left by an interrupted write", ""),
                   ("previews", "an earlier version's format", ""),
                   ("previews", "its file changed or is gone", "gone.heic")]
    in_use = {(item.kind, Path(item.about.split(",")[0]).name) for item in items if not item.useless}
    assert in_use == {("download", "CIFAR-10"), ("decoded", "kept"), ("decoded", "a collection being written"),
                      ("previews", "kept.heic")}
    freed = housekeeping.prune(items)
    assert freed == sum(item.size for item in items if item.useless) > 0
    assert not made["old entry"].exists() and not made["left"].exists() and not made["old preview"].exists()
    assert made["writing"].exists() and (cbir_home / ARCHIVE_NAME).exists()
    assert not [item for item in housekeeping.inventory(now=time.time() + 60) if item.useless]
    assert len(list(cbir_home.glob("previews/*"))) == 1  # the gone photo's folder went with its preview
    folder_decodes.clear()
    load_folder(tmp_path / "kept", progress=False)
    assert not folder_decodes  # what is in use was kept


def test_the_command_shows_prunes_and_clears_only_what_cbir_put_there(tmp_path, cbir_home, tiny_collection, capsys):
    filled(tmp_path, cbir_home, tiny_collection)
    (cbir_home / "notes.txt").write_text("mine")  # CBIR_HOME may be a folder of the user's
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert f"decoded pixels of {tmp_path / 'kept'}, 20 images" in shown
    assert "1 collection's decoded pixels: its collection is gone (or not mounted)" in shown
    assert "1 preview of a HEIC/AVIF photo or raw file: its file changed or is gone" in shown
    assert "decoded pixels kept up to 10.00 GB (CBIR_CACHE_GB)" in shown
    assert f"{ARCHIVE_NAME} (CIFAR-10, downloaded)" in shown and "`cbir cache --prune` removes those" in shown
    assert main(["cache", "--prune"]) == 0
    assert "removed 6 item(s) of no use" in capsys.readouterr().out  # not the write in progress
    assert main(["cache", "--clear"]) == 0
    assert "freed" in capsys.readouterr().out
    assert sorted(p.name for p in cbir_home.iterdir()) == ["notes.txt"]
    assert main(["cache"]) == 0 and "cache folder" in capsys.readouterr().out
