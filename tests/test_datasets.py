"""Folders, zips, the decoded cache, stratified subsets, and both CIFAR-10 formats."""

import hashlib
import io
import os
import pickle
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import NOISE_PIXELS, traced_peak

from cbir.datasets import load_dataset, load_folder, read_bytes
from cbir.datasets import cifar10 as cifar
from cbir.datasets import folder as folder_mod
from cbir.datasets import cache
from cbir.datasets.cache import source_fingerprint
from cbir.errors import CbirError, ChecksumError, DatasetError


def test_folder_labels_and_splits(tiny_collection):
    ds = load_folder(tiny_collection, progress=False)
    assert len(ds) == 75 and ds.labelled
    assert ds.classes == ["blobs", "gradient", "stripes"]
    assert set(ds.splits) == {"train", "test"}
    assert ds.images.shape == (75, 32, 32, 3) and ds.images.dtype == np.uint8
    test = load_folder(tiny_collection, split="test", progress=False)
    assert len(test) == 15 and set(test.splits) == {"test"}
    assert test.ids[0] == "test/blobs/000.png"


def test_layouts_without_split_or_label(tmp_path, tiny_collection):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.png").write_bytes((tiny_collection / "train/blobs/000.png").read_bytes())
    (tmp_path / "loose.png").write_bytes((tiny_collection / "train/blobs/001.png").read_bytes())
    ds = load_folder(tmp_path, progress=False)
    records = {s.id: (s.label, s.split) for s in ds}
    assert records == {"cats/a.png": ("cats", None), "loose.png": (None, None)}
    assert not ds.labelled


def test_zip_members_read_right_from_many_threads_and_after_the_archive_changes(tmp_path, tiny_collection):
    archive = tmp_path / "photos.zip"
    files = sorted(tiny_collection.rglob("*.png"))
    names = [p.relative_to(tiny_collection).as_posix() for p in files]
    with zipfile.ZipFile(archive, "w") as zf:
        for p, name in zip(files, names):
            zf.write(p, name)
    paths = [f"{archive}::{name}" for name in names]
    with ThreadPoolExecutor(8) as pool:  # a server's threads share one open archive
        assert list(pool.map(read_bytes, paths * 4)) == [p.read_bytes() for p in files] * 4
    with zipfile.ZipFile(archive, "w") as zf:  # the archive rewritten: the same member, other bytes
        zf.writestr(names[0], b"replaced")
    assert read_bytes(paths[0]) == b"replaced"
    with pytest.raises(KeyError):
        read_bytes(paths[1])


def test_zip_matches_folder_and_paths_are_readable(tmp_path, tiny_collection):
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(tiny_collection.rglob("*.png")):
            zf.write(p, "top/" + p.relative_to(tiny_collection).as_posix())
    from_zip = load_folder(archive, split="train", progress=False)
    from_dir = load_folder(tiny_collection, split="train", progress=False)
    assert from_zip.labels == from_dir.labels
    np.testing.assert_array_equal(from_zip.images, from_dir.images)
    assert read_bytes(from_zip.paths[0]) == (tiny_collection / from_dir.ids[0]).read_bytes()


def test_corrupt_files_are_skipped_with_a_counted_warning(tmp_path, tiny_collection):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "good.png").write_bytes((tiny_collection / "train/blobs/000.png").read_bytes())
    (tmp_path / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        ds = load_folder(tmp_path, progress=False)
    assert ds.ids == ["a/good.png"] and len(ds.skipped) == 2


def test_variable_sizes_and_max_side(tmp_path):
    from PIL import Image

    (tmp_path / "c").mkdir()
    Image.new("RGB", (400, 100), (10, 20, 30)).save(tmp_path / "c" / "wide.png")
    Image.new("RGB", (20, 30), (10, 20, 30)).save(tmp_path / "c" / "small.png")
    ds = load_folder(tmp_path, max_side=64, progress=False)
    assert [im.shape for im in ds.images] == [(30, 20, 3), (16, 64, 3)]


def test_empty_or_missing_collection_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no readable images") as refused:
        load_folder(tmp_path, progress=False)
    assert "heic" in str(refused.value) and "avif" in str(refused.value)  # every format it reads, named
    with pytest.raises(DatasetError, match="no such"):
        load_folder(tmp_path / "nope", progress=False)


def test_cache_is_reused_until_the_source_changes(tmp_path, tiny_collection, monkeypatch, cbir_home):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(tiny_collection, src)
    first = load_folder(src, progress=False)
    with monkeypatch.context() as patch:
        patch.setattr(folder_mod, "decode_image", lambda *a, **k: pytest.fail("decoded again"))
        again = load_folder(src, progress=False)
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(first.images, again.images)
    (src / "train" / "blobs" / "000.png").unlink()
    assert len(load_folder(src, progress=False)) == 74
    load_folder(src, split="test", progress=False)
    assert len(list((cbir_home / "decoded").iterdir())) == 2  # the changed folder's pixels replaced the earlier ones


@pytest.mark.parametrize("cached", [True, False], ids=["index", "add"])
def test_a_folder_is_read_in_the_memory_of_a_few_images_whatever_its_size(noise_photos, cbir_home, cached):
    """Decoded images go to disk as they are read (100,000 photos at 256 px are ~15 GB): the most memory taken
    while reading 80 images is that of a few, the cache's copy or not (`cbir add` reads what it lacks uncached)."""
    from PIL import Image

    with traced_peak() as peak:
        read = load_folder(noise_photos, progress=False, cache=cached)
    assert peak[0] < NOISE_PIXELS / 4
    assert len(read) == 80 and isinstance(read.images, np.memmap)
    np.testing.assert_array_equal(read.images[7], np.asarray(Image.open(noise_photos / "07.png")))
    assert [p.name for p in (cbir_home / "decoded").iterdir() if p.is_file() or p.name.startswith(".")] == []


def test_the_cache_keeps_at_most_its_limit_of_pixels_the_least_recently_read_going_first(
        tmp_path, tiny_collection, cbir_home, monkeypatch, folder_decodes):
    import shutil

    folders = []
    for name in "abcd":  # collections of 20 images of 32x32: 61,440 bytes of pixels each
        shutil.copytree(tiny_collection / "train" / "blobs", tmp_path / name)
        folders.append(tmp_path / name)
    monkeypatch.setenv("CBIR_CACHE_GB", str(130_000 / 1e9))  # room for two
    load_folder(folders[0], progress=False)
    load_folder(folders[1], progress=False)
    load_folder(folders[0], progress=False)  # read again: b is now the least recently read
    load_folder(folders[2], progress=False)
    folder_decodes.clear()
    assert len(load_folder(folders[0], progress=False)) == len(load_folder(folders[2], progress=False)) == 20
    assert folder_decodes == []  # kept
    assert len(load_folder(folders[1], progress=False)) == 20 and len(folder_decodes) == 20  # gone: decoded again
    sources = {cache.meta_of(entry)["source"] for entry in (cbir_home / "decoded").iterdir()}
    assert len(sources) == 2 and str(folders[1].resolve()) in sources

    monkeypatch.setenv("CBIR_CACHE_GB", str(50_000 / 1e9))  # not even room for one: read, used, not kept
    folder_decodes.clear()
    with pytest.warns(UserWarning, match=r"decoded pixels of .*d \(0.00 GB\) are more than the cache folder keeps"):
        read = load_folder(folders[3], progress=False)
    np.testing.assert_array_equal(read.images, load_folder(folders[0], progress=False, cache=False).images)
    assert len(folder_decodes) == 40 and str(folders[3].resolve()) not in {
        cache.meta_of(entry).get("source") for entry in (cbir_home / "decoded").iterdir()}
    monkeypatch.setenv("CBIR_CACHE_GB", "lots")
    with pytest.raises(CbirError, match="CBIR_CACHE_GB must be a number of gigabytes"):
        load_folder(folders[3], progress=False)


def test_a_full_disk_while_decoding_is_one_line_and_leaves_nothing_half_written(noise_photos, cbir_home, capsys,
                                                                               monkeypatch, tmp_path):
    import errno

    from cbir.cli import main
    from cbir.datasets.spool import PixelSpool

    real_append, written = PixelSpool.append, []

    def append(self, image):
        if len(written) == 30:
            raise OSError(errno.ENOSPC, "No space left on device", "pixels.bin")
        written.append(1)
        real_append(self, image)

    monkeypatch.setattr(PixelSpool, "append", append)
    assert main(["index", "--dataset", str(noise_photos), "--features", "gch", "--out", str(tmp_path / "e")]) == 2
    assert capsys.readouterr().err.endswith("\ncbir: error: No space left on device: pixels.bin\n")  # after the bar
    assert list((cbir_home / "decoded").iterdir()) == []


def test_a_run_of_a_collection_is_a_view_of_it_and_other_parts_are_copies(noise_photos, cbir_home):
    read = load_folder(noise_photos, progress=False)
    part = read.subset(range(8, 16))
    assert np.shares_memory(part.images, read.images) and part.ids == read.ids[8:16]
    np.testing.assert_array_equal(part.images[0], read.images[8])
    picked = read.subset([3, 1])
    assert not np.shares_memory(picked.images, read.images) and picked.ids == [read.ids[3], read.ids[1]]
    assert len(read.subset([])) == 0


def test_stratified_keeps_class_proportions(tiny_collection):
    ds = load_folder(tiny_collection, split="train", progress=False)
    sub = ds.stratified(30, seed=1)
    assert len(sub) == 30
    assert {c: sub.labels.count(c) for c in sub.classes} == {"blobs": 10, "gradient": 10, "stripes": 10}
    assert sub.ids == ds.stratified(30, seed=1).ids
    assert ds.stratified(None) is ds


# --- the official cifar-10-python.tar.gz format, built small here -----------------------------

def make_official_archive(path, n_per_batch=6, seed=0):
    rng = np.random.default_rng(seed)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        def add(name, obj):
            data = pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("batches.meta", {b"label_names": [c.encode() for c in cifar.CLASSES]})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
            labels = [int(x) for x in rng.integers(0, 10, size=n_per_batch)]
            batches[name] = (data, labels)
            add(name, {b"data": data, b"labels": labels})
    return batches


def test_official_archive_is_read_exactly(tmp_path):
    archive = tmp_path / cifar.ARCHIVE_NAME
    batches = make_official_archive(archive)
    train = cifar.load_cifar10("train", data=archive)
    test = cifar.load_cifar10("test", data=archive)
    assert len(train) == 30 and len(test) == 6
    data, labels = batches["test_batch"]
    np.testing.assert_array_equal(test.images[0], data[0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert test.labels == [cifar.CLASSES[i] for i in labels]
    assert test.ids[0].startswith("test/") and set(train.splits) == {"train"}


def test_download_verifies_md5_then_moves_into_place(tmp_path):
    archive = tmp_path / "remote.tar.gz"
    make_official_archive(archive)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / cifar.ARCHIVE_NAME
    assert cifar.download(archive.as_uri(), dest, md5, progress=False) == dest
    assert dest.read_bytes() == archive.read_bytes()


def test_bad_checksum_leaves_nothing_behind(tmp_path):
    archive = tmp_path / "remote.tar.gz"
    make_official_archive(archive)
    dest_dir = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="MD5"):
        cifar.download(archive.as_uri(), dest_dir / cifar.ARCHIVE_NAME, "0" * 32, progress=False)
    assert list(dest_dir.iterdir()) == []


def test_source_order_data_then_env_then_cache_then_download(tmp_path, monkeypatch, cbir_home):
    remote = tmp_path / "remote.tar.gz"
    make_official_archive(remote)
    md5 = hashlib.md5(remote.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="not found"):
        cifar.resolve_source(download_missing=False)
    downloaded = cifar.resolve_source(url=remote.as_uri(), md5=md5)
    assert downloaded == cbir_home / cifar.ARCHIVE_NAME
    assert cifar.resolve_source(download_missing=False) == downloaded
    monkeypatch.setenv("CBIR_CIFAR10", str(remote))
    assert cifar.resolve_source() == remote
    assert cifar.resolve_source(data=tmp_path) == tmp_path
    with pytest.raises(DatasetError, match="--data"):
        cifar.resolve_source(data=tmp_path / "missing")


def test_cifar10_spec_and_bad_split(tmp_path):
    archive = tmp_path / cifar.ARCHIVE_NAME
    make_official_archive(archive)
    assert len(load_dataset("cifar10:test", data=archive)) == 6
    with pytest.raises(DatasetError, match="splits"):
        load_dataset("cifar10:val", data=archive)


def test_real_cifar10_zip(real_cifar10):
    test = load_dataset("cifar10:test", data=real_cifar10, progress=False)
    assert len(test) == 10_000 and test.classes == sorted(cifar.CLASSES)
    assert test.images.shape == (10_000, 32, 32, 3)


def test_missing_paths_reads_zip_members_as_the_archive_is_now(tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", b"x")
        zf.writestr("b.png", b"y")
    paths = [f"{archive}::a.png", f"{archive}::b.png", f"{tmp_path / 'gone.zip'}::c.png", str(tmp_path / "d.png")]
    assert folder_mod.missing_paths(paths) == [str(tmp_path / "d.png"), f"{tmp_path / 'gone.zip'}::c.png"]
    with zipfile.ZipFile(archive, "w") as zf:  # rewritten without b.png: the new member list counts
        zf.writestr("a.png", b"x")
    assert f"{archive}::b.png" in folder_mod.missing_paths(paths)


def test_vanished_folders_are_collection_roots_none_of_whose_files_is_left():
    ids = {"/p/2019/a.png": "2019/a.png", "/p/2019/b.png": "2019/b.png", "/p/2020/c.png": "2020/c.png",
           "/d/pics/x.png": "x.png", "/d/pics/y/z.png": "y/z.png", "/z/old.zip::m/1.png": "m/1.png",
           "/z/old.zip::m/2.png": "m/2.png", "/z/cifar.zip::train/cat/3.png": "train/3", "/q/lone.png": "lone.png"}
    deleted_or_gone = ["/p/2019/a.png", "/p/2019/b.png", "/d/pics/x.png", "/d/pics/y/z.png",
                       "/z/old.zip::m/1.png", "/z/old.zip::m/2.png", "/q/lone.png"]
    # /p still holds 2020/c.png: its 2019 files were deleted; a lone file is taken for deleted while others are left
    assert folder_mod.vanished_folders(ids, deleted_or_gone) == {
        Path("/d/pics"): ["/d/pics/x.png", "/d/pics/y/z.png"],
        Path("/z/old.zip"): ["/z/old.zip::m/1.png", "/z/old.zip::m/2.png"]}
    everything = list(ids)
    assert set(folder_mod.vanished_folders(ids, everything)) == {
        Path("/p"), Path("/d/pics"), Path("/z/old.zip"), Path("/z/cifar.zip"), Path("/q")}


def test_a_dangling_symlink_is_a_skipped_file_not_a_crash(tmp_path, tiny_collection):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "good.png").write_bytes((tiny_collection / "train/blobs/000.png").read_bytes())
    (tmp_path / "a" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "a" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.warns(UserWarning, match="skipped 1 unreadable file.*gone.jpg"):
        ds = load_folder(tmp_path, progress=False)
    assert ds.ids == ["a/good.png"]


def test_a_file_whose_name_is_not_utf8_is_skipped_with_its_name_and_the_fix(tmp_path, tiny_collection):
    """Names written by old cameras, Windows zips or shares in Latin-1: an engine keeps ids and paths as text."""
    (tmp_path / "a").mkdir()
    for name in (b"caf\xe9.png", b"good.png"):
        (tmp_path / "a" / os.fsdecode(name)).write_bytes((tiny_collection / "train/blobs/000.png").read_bytes())
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable file.*a/caf\\xe9.png: its name is not valid UTF-8.*"
                                         r"convmv"):
        ds = load_folder(tmp_path, progress=False)
    assert ds.ids == ["a/good.png"]


def test_hidden_and_system_folders_are_not_part_of_a_collection(tmp_path, tiny_collection):
    """A drive's trash, a NAS's thumbnails of every photo, macOS's `._` companions and folders marked `.nomedia`
    hold no photos of the user's (or copies of them): they are left out, without a warning."""
    png = (tiny_collection / "train/blobs/000.png").read_bytes()
    root = tmp_path / "photos"
    for name in ("a/x.png", ".Trash-1000/files/deleted.png", "@eaDir/x.png/SYNOPHOTO_THUMB_M.png", ".hidden.png",
                 "#recycle/r.png", "phone/.thumbnails/t.png", "phone/sent/.nomedia", "phone/sent/s.png",
                 "phone/camera/c.png", "$RECYCLE.BIN/b.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png if not name.endswith(".nomedia") else b"")
    (root / "a" / "._x.png").write_bytes(b"\0\5\26\7 AppleDouble")
    ds = load_folder(root, progress=False)  # a warning (of the `._` file) would fail the test
    assert ds.ids == ["a/x.png", "phone/camera/c.png"] and not ds.skipped
    assert load_folder(root / "phone" / "sent", progress=False).ids == ["s.png"]  # given itself: asked for
    before = source_fingerprint(root)
    (root / ".Trash-1000" / "files" / "more.png").write_bytes(png)  # what changes there changes nothing here
    (root / "phone" / "sent" / "s2.png").write_bytes(png)
    assert source_fingerprint(root) == before
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("a/x.png", "@eaDir/x.png/thumb.png", ".Trashes/501/y.png", "__MACOSX/a/._x.png", "a/._x.png"):
            zf.writestr(name, png)
    assert load_folder(archive, progress=False).ids == ["a/x.png"]


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, tiny_collection, monkeypatch):
    monkeypatch.setattr(folder_mod, "MAX_FILE_BYTES", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/bomb.png", b"\0" * (3 << 20))
        zf.writestr("a/good.png", (tiny_collection / "train/blobs/000.png").read_bytes())
    inflated = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: inflated.append(str(name)) or
                        real_open(self, name, *a, **k))
    with pytest.warns(UserWarning, match="skipped 1 unreadable file.*larger than 1 MB"):
        ds = load_folder(archive, progress=False, cache=False)
    assert ds.ids == ["a/good.png"] and "a/bomb.png" not in inflated
    with pytest.raises(Exception, match="larger than 1 MB"):
        read_bytes(f"{archive}::a/bomb.png")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(Exception, match="larger than 1 MB"):
        read_bytes(str(big))


def test_reading_an_image_takes_the_memory_of_its_bytes_not_of_the_largest_file_allowed(tiny_collection):
    file = tiny_collection / "train/blobs/000.png"
    with traced_peak() as peak:
        assert read_bytes(str(file)) == file.read_bytes()
    assert peak[0] < 10 * file.stat().st_size + 100_000  # not the 256 MB a read up to the limit sets aside


def test_an_image_is_dated_by_its_exif_else_by_its_file(tmp_path):
    import os

    from PIL import Image

    from cbir.datasets.folder import image_facts

    def image_date(path):
        return image_facts(path)[0]

    def jpeg(path, original=None, plain=None):
        exif = Image.Exif()
        if plain:
            exif[306] = plain  # DateTime
        if original:
            exif.get_ifd(0x8769)[36867] = original  # DateTimeOriginal
        Image.new("RGB", (8, 8), "red").save(path, exif=exif)
        os.utime(path, (1_500_000_000, 1_500_000_000))
        return str(path)

    assert image_date(jpeg(tmp_path / "a.jpg", "2018:01:02 03:04:05", "2019:07:14 10:11:12")) == "2018-01-02T03:04:05"
    assert image_date(jpeg(tmp_path / "b.jpg", plain="2019:07:14 10:11:12")) == "2019-07-14T10:11:12"
    from datetime import datetime
    file_time = datetime.fromtimestamp(1_500_000_000).isoformat()
    assert image_date(jpeg(tmp_path / "c.jpg")) == file_time  # no EXIF date: the file's time
    assert image_date(jpeg(tmp_path / "d.jpg", plain="0000:00:00 00:00:00")) == file_time  # a camera's blank
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("x/e.jpg", date_time=(2020, 5, 6, 7, 8, 10)), (tmp_path / "c.jpg").read_bytes())
        zf.write(tmp_path / "a.jpg", "x/f.jpg")
    assert image_date(f"{tmp_path / 'z.zip'}::x/e.jpg") == "2020-05-06T07:08:10"
    assert image_date(f"{tmp_path / 'z.zip'}::x/f.jpg") == "2018-01-02T03:04:05"
    assert image_facts(str(tmp_path / "gone.jpg")) == image_facts(None) == (None,) * 6 + (False,)
    assert image_facts(str(tmp_path / "a.jpg")).own_date and not image_facts(str(tmp_path / "c.jpg")).own_date
    assert image_facts(str(tmp_path / "a.jpg"))[1] == ""  # read: no GPS position
