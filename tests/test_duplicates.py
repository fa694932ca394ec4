"""`cbir duplicates`: planted exact and near copies among real photos found (precision and recall), the kept
image chosen by the stated rule, new photos checked, reports written, files moved and never deleted."""

import csv
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter
from skimage import data

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.duplicates import _cliques, _near_pairs, check_new, default_threshold, find_duplicates, lead_at
from cbir.engine import Engine
from cbir.features import make_extractor

pytest.importorskip("torch")

PHOTOS = ("astronaut", "brick", "camera", "chelsea", "checkerboard", "clock", "coffee", "coins", "colorwheel",
          "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
          "text", "cell", "shepp_logan_phantom")


def photo(name: str) -> Image.Image:
    pixels = getattr(data, name)()
    if pixels.dtype != np.uint8:
        pixels = pixels.astype(np.float64)
        pixels = (255 * (pixels - pixels.min()) / max(float(np.ptp(pixels)), 1e-9)).astype(np.uint8)
    im = Image.fromarray(pixels).convert("RGB")
    im.thumbnail((256, 256))
    return im


def overlay(im: Image.Image) -> Image.Image:
    im = im.copy()
    ImageDraw.Draw(im).text((8, im.height - 20), "(c) holiday 2026", fill=(255, 255, 0))
    return im


def hard_edit(im: Image.Image) -> Image.Image:
    """Rotated 8 degrees, grey, blurred and captioned: the features alone no longer single the original out."""
    return overlay(im.rotate(8, resample=Image.Resampling.BILINEAR).convert("L").convert("RGB")
                   .filter(ImageFilter.GaussianBlur(2)))


def cropped(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((w // 12, h // 12, w - w // 12, h - h // 12))


# near copies as people make them: (original, alteration)
NEAR = {"chelsea": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "coffee": cropped,
        "rocket": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
        "astronaut": lambda im: im.convert("L").convert("RGB"),
        "clock": lambda im: im.rotate(5, resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)),
        "colorwheel": overlay,
        "retina": lambda im: im.resize((im.width * 3 // 2, im.height * 3 // 2), Image.Resampling.LANCZOS)}
EXACT = ("coins", "moon")  # saved again as PNG under another name: the same pixels


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted") / "photos"
    (root / "copies").mkdir(parents=True)
    for name in PHOTOS:
        photo(name).save(root / f"{name}.jpg", quality=92)
    for name, alter in NEAR.items():
        alter(Image.open(root / f"{name}.jpg").convert("RGB")).save(root / "copies" / f"{name}-edit.jpg", quality=60)
    for name in EXACT:
        Image.open(root / f"{name}.jpg").save(root / "copies" / f"{name}.png")
    engine = root.parent / "engine"
    assert main(["index", "--dataset", str(root), "--features", "effnet", "--out", str(engine)]) == 0
    return root, engine


def pairs(groups) -> set[frozenset]:
    return {frozenset((a.id.split("/")[-1].split(".")[0].removesuffix("-edit"), b.id))
            for g in groups for a in g.members for b in g.members if a.id < b.id}


def test_planted_copies_are_found_with_no_false_pair(planted):
    root, engine_dir = planted
    groups = find_duplicates(Engine.load(engine_dir))
    found = {frozenset(m.id for m in g.members) for g in groups}
    planted_groups = {frozenset({f"{n}.jpg", f"copies/{n}-edit.jpg"}) for n in NEAR} | {
        frozenset({f"{n}.jpg", f"copies/{n}.png"}) for n in EXACT}
    true = found & planted_groups
    assert len(true) / len(planted_groups) >= 6 / 9  # recall of the planted pairs on a handful of photos
    assert true == found  # precision: every pair found is a planted one
    kinds = {frozenset(m.id for m in g.members): g.kind for g in groups}
    assert all(kinds[frozenset({f"{n}.jpg", f"copies/{n}.png"})] == "exact" for n in EXACT)


def test_each_group_keeps_the_largest_picture_then_the_largest_file(planted):
    root, engine_dir = planted
    groups = {g.keep.id.split("/")[-1].split(".")[0].removesuffix("-edit"): g
              for g in find_duplicates(Engine.load(engine_dir), exact_only=True)}
    assert set(groups) == set(EXACT)
    for name in EXACT:  # same pixels: the PNG is the larger file
        assert groups[name].keep.id == f"copies/{name}.png" and groups[name].kind == "exact"
    near = {g.keep.id: g for g in find_duplicates(Engine.load(engine_dir), threshold=0.5)}
    retina = next(g for g in near.values() if "retina.jpg" in {m.id for m in g.members})
    assert retina.keep.id == "copies/retina-edit.jpg"  # the 1.5x larger copy has more pixels


def test_of_exact_copies_the_one_its_owner_rated_or_tagged_is_kept_and_never_a_rejected_one(tmp_path, capsys):
    from test_tags import xmp

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        photo("coffee").save(folder / f"{name}.png")  # four copies of one picture: the same size
    photo("coffee").save(folder / "big.png", compress_level=0)  # the largest file, but marked rejected
    (folder / "big.png.xmp").write_bytes(xmp(rating=-1))
    (folder / "c.png.xmp").write_bytes(xmp(["holiday", "Anna"], 3))
    (folder / "d.png.xmp").write_bytes(xmp(["holiday"], 3))
    out = tmp_path / "engine"
    assert main(["index", "--dataset", str(folder), "--features", "gch", "--out", str(out)]) == 0
    (group,) = find_duplicates(Engine.load(out), exact_only=True)
    assert [m.id for m in group.members][0] == "c.png" and group.members[-1].id == "big.png"  # the best curated
    assert (group.keep.rating, group.keep.tags) == (3, ("holiday", "Anna"))
    capsys.readouterr()
    assert main(["duplicates", str(out), "--exact-only"]) == 0
    assert f"keep  {folder / 'c.png'}  (" in capsys.readouterr().out
    assert main(["duplicates", str(out), "--exact-only", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(",False,3,holiday; Anna")
    assert main(["duplicates", str(out), "--exact-only", "--html", str(tmp_path / "report.html")]) == 0
    report = (tmp_path / "report.html").read_text()
    assert '<span class="stars">★★★</span> holiday, Anna</span>' in report and ">rejected </span>" in report


def test_a_photo_set_aside_takes_its_own_xmp_file_with_it_and_brings_it_back(tmp_path, capsys):
    from test_tags import xmp

    library = tmp_path / "library"
    library.mkdir()
    for name in ("a", "b", "c"):
        photo("coffee").save(library / f"{name}.png")  # three copies of one picture
    photo("coins").save(library / "c.jpg")  # c.xmp is c.png's and c.jpg's: a RAW+JPEG pair's, say
    (library / "a.png.xmp").write_bytes(xmp(["first"], 1))  # darktable's: a.png's own
    (library / "b.xmp").write_bytes(xmp(["best"], 5))  # Lightroom's: b.png's own, the copy kept
    (library / "c.xmp").write_bytes(xmp(["pair"], 2))
    before = sorted(p.name for p in library.iterdir())
    out, aside = tmp_path / "engine", tmp_path / "aside"
    assert main(["index", "--dataset", str(library), "--features", "gch", "--out", str(out)]) == 0
    assert main(["duplicates", str(out), "--exact-only", "--move-to", str(aside)]) == 0
    assert sorted(p.name for p in aside.iterdir() if p.name != "cbir-moved.jsonl") == ["a.png", "a.png.xmp", "c.png"]
    assert sorted(p.name for p in library.iterdir()) == ["b.png", "b.xmp", "c.jpg", "c.xmp"]  # the pair's stays
    capsys.readouterr()
    assert main(["duplicates", str(out), "--restore", str(aside)]) == 0
    assert "put 3 files back" in capsys.readouterr().out
    assert sorted(p.name for p in library.iterdir()) == before


def test_a_camera_raw_file_counts_the_pixels_of_its_photo_not_of_its_small_picture(tmp_path):
    """A raw file beside its JPEG export: the raw file, the photo as shot, is the one a group keeps."""
    import zipfile

    from conftest import red_and_blue, write_dng

    from cbir.duplicates import file_facts

    raw = write_dng(tmp_path / "DSC_0001.NEF", red_and_blue(64, 96), np.zeros((8, 12, 3), np.uint8))
    assert file_facts(str(raw)) == (64 * 96, raw.stat().st_size)
    with zipfile.ZipFile(tmp_path / "shots.zip", "w") as zf:
        zf.write(raw, "DSC_0001.NEF")
    assert file_facts(f"{tmp_path / 'shots.zip'}::DSC_0001.NEF") == (64 * 96, raw.stat().st_size)


def test_cli_lists_reports_and_moves_without_deleting(planted, tmp_path, capsys):
    root, engine_dir = planted
    capsys.readouterr()
    assert main(["duplicates", str(engine_dir), "--exact-only", "--format", "json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert sorted(g["keep"] for g in groups) == ["copies/coins.png", "copies/moon.png"]
    assert main(["duplicates", str(engine_dir), "--format", "csv", "--out", str(tmp_path / "d.csv"),
                 "--html", str(tmp_path / "d.html")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text())))
    assert {"group", "kind", "keep", "id", "path", "similarity"} <= set(rows[0])
    html = (tmp_path / "d.html").read_text()
    assert html.count("data:image/jpeg;base64,") == len(rows) and "keep" in html  # photos: JPEG thumbnails
    assert sorted(re.findall(r'<a class="open" href="([^"]+)"', html)) == sorted(Path(r["path"]).as_uri() for r in rows)
    assert ("(near duplicates: cosine similarity 0.9 or more, or an image's best match when it scores 0.6 or more and "
            "leads the next by 0.08, or one of its two best at that score when their pixels match)") in html.replace(
                "&#39;", "'")  # effnet's threshold, lead and pixel verification
    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    trash = tmp_path / "set-aside"
    assert main(["duplicates", str(engine_dir), "--exact-only", "--move-to", str(trash)]) == 0
    moved = sorted(p.relative_to(trash) for p in trash.rglob("*.jpg"))
    assert sorted(p.name for p in moved) == ["coins.jpg", "moon.jpg"]
    after = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert len(after) + len(moved) == len(before)  # moved, none deleted
    capsys.readouterr()
    assert main(["duplicates", str(engine_dir), "--restore", str(trash)]) == 0  # and put back (the other tests too)
    assert "put 2 files back where they were" in capsys.readouterr().out
    assert sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) == before
    assert not list(trash.rglob("*.*"))  # the log of the moves went with them


def test_moving_leaves_a_group_whose_files_changed_since_indexing(tmp_path, capsys):
    """A kept file overwritten with another picture (or gone) since indexing: moving its copies away would leave
    the collection without that picture, so its group stays; the others' groups move."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, picture in (("a", data.astronaut()), ("b", data.astronaut()), ("c", data.coffee()),
                          ("d", data.coffee()), ("e", data.chelsea()), ("f", data.chelsea())):
        Image.fromarray(picture).save(photos / f"{name}.png")
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(engine)]) == 0
    capsys.readouterr()
    assert main(["duplicates", str(engine), "--exact-only", "--format", "json"]) == 0
    keep = {m["id"]: g["keep"] for g in json.loads(capsys.readouterr().out) for m in g["members"]}
    assert len(keep) == 6 and len(set(keep.values())) == 3
    Image.fromarray(data.rocket()).save(photos / keep["a.png"])  # the astronaut kept is now a rocket
    (photos / keep["c.png"]).unlink()  # and the coffee kept is gone
    assert main(["duplicates", str(engine), "--exact-only", "--format", "json"]) == 0
    assert sorted(m["id"] for g in json.loads(capsys.readouterr().out) for m in g["members"] if m["changed"]) == sorted(
        [keep["a.png"], keep["c.png"]])  # the report says which, and so does the page
    from cbir.web import create_app

    client = create_app({"ENGINES": {"photos": Engine.load(engine)}, "GROUPING_WAIT_S": None}).test_client()
    page = client.get("/duplicates").get_data(as_text=True)
    assert page.count(">changed since indexed<") == 2
    assert sorted(re.findall(r'<a class="open" href="/api/v1/images/([^"]+)"', page)) == sorted(keep)  # each photo
    aside = tmp_path / "aside"
    assert main(["duplicates", str(engine), "--exact-only", "--move-to", str(aside)]) == 0
    assert [p.name for p in aside.glob("*.png")] == list({"e.png", "f.png"} - {keep["e.png"]})  # only the cat's copy
    assert {"a.png", "b.png", "c.png", "d.png"} - {keep["c.png"]} == {p.name for p in photos.iterdir()} - {
        "e.png", "f.png"}
    assert "2 files changed since they were indexed" in capsys.readouterr().err


def test_moving_never_takes_away_the_file_a_kept_link_points_to(tmp_path, capsys):
    """A picture linked from another folder is one file under two names: the group keeps the first name (the
    link), and moving the other one would leave the link dangling and the picture out of the collection."""
    photos = tmp_path / "photos"
    (photos / "all").mkdir(parents=True)
    (photos / "favourites").mkdir()
    Image.fromarray(data.astronaut()).save(photos / "all" / "astronaut.png")
    (photos / "favourites" / "astronaut.png").symlink_to(Path("..") / "all" / "astronaut.png")
    Image.fromarray(data.coffee()).save(photos / "all" / "coffee.png")
    Image.fromarray(data.coffee()).save(photos / "favourites" / "coffee.png")  # a real copy
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(engine)]) == 0
    aside = tmp_path / "aside"
    capsys.readouterr()
    assert main(["duplicates", str(engine), "--exact-only", "--move-to", str(aside)]) == 0
    assert [p.name for p in aside.rglob("*.png")] == ["coffee.png"]
    assert np.array_equal(np.asarray(Image.open(photos / "favourites" / "astronaut.png").convert("RGB")),
                          data.astronaut())
    assert "1 file is the kept one under another name" in capsys.readouterr().err


def test_moving_into_the_collection_itself_is_refused_before_anything_moves(tmp_path, capsys):
    """Files set aside inside a folder the engine indexes would be indexed again by the next `add` or `sync` (as
    files moved: with their descriptions), the duplicates back in every search."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a", "b"):
        Image.fromarray(data.coffee()).save(photos / f"{name}.png")
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(engine)]) == 0
    capsys.readouterr()
    for inside in (photos / "duplicates", photos):
        assert main(["duplicates", str(engine), "--exact-only", "--move-to", str(inside)]) == 2
        error = capsys.readouterr().err
        assert f"{inside} lies in {photos}, a folder the engine indexes" in error and "outside it" in error
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "b.png"]
    assert main(["duplicates", str(engine), "--exact-only", "--move-to", str(tmp_path / "aside")]) == 0
    assert len(list(photos.iterdir())) == 1


def test_a_move_that_fails_half_way_leaves_no_partial_copy_and_says_what_moved(tmp_path, capsys, monkeypatch):
    """Moving to another disk copies, then deletes: a disk filling up leaves a partial copy of a file still in
    place, which is taken away; the files moved before it are said, so that the engine can be told."""
    import errno

    import cbir.aside as aside_mod
    from cbir.aside import LOG

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, picture in (("a", data.astronaut()), ("b", data.astronaut()), ("c", data.coffee()),
                          ("d", data.coffee())):
        Image.fromarray(picture).save(photos / f"{name}.png")
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(engine)]) == 0
    calls, real_move = [], shutil.move

    def move(source, target):
        calls.append(source)
        if len(calls) == 1:
            return real_move(source, target)
        Path(target).write_bytes(Path(source).read_bytes()[:100])  # a copy cut short by a full disk
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    aside = tmp_path / "aside"
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(aside_mod.shutil, "move", move)
        assert main(["duplicates", str(engine), "--exact-only", "--move-to", str(aside)]) == 2
    error = capsys.readouterr().err
    assert f"moving {calls[1]} to {aside}" in error and "No space left on device" in error
    assert f"1 file moved to {aside} before it ({calls[0]})" in error and "--missing" in error
    assert [p.name for p in aside.glob("*.png")] == [Path(calls[0]).name]  # no partial copy left
    assert Path(calls[1]).exists() and not Path(calls[0]).exists()
    Image.fromarray(data.rocket()).save(calls[0])  # another picture at the moved one's place since
    assert main(["duplicates", str(engine), "--restore", str(aside)]) == 0
    out = capsys.readouterr().out
    assert "put 0 files back" in out and f"1 left in {aside}: a file is at their place again" in out
    Path(calls[0]).unlink()
    assert main(["duplicates", str(engine), "--restore", str(aside)]) == 0
    assert "put 1 file back" in capsys.readouterr().out and Path(calls[0]).exists() and not (aside / LOG).exists()
    assert main(["duplicates", str(engine), "--restore", str(aside)]) == 2
    assert f"{aside} holds no {LOG}" in capsys.readouterr().err


def test_one_result_per_group_of_look_alikes(planted, capsys):
    """A photo's copy and edits fold into the best of them (`distinct`), which names them; the results then reach
    further down the ranking instead."""
    root, engine_dir = planted
    engine = Engine.load(engine_dir)
    query = np.asarray(Image.open(root / "coins.jpg").convert("RGB"))
    twins = {"coins.jpg", "copies/coins.png"}
    assert twins <= {h.id for h in engine.search([query], k=4)[0].hits}
    hits = engine.search([query], k=4, distinct=True)[0].hits
    assert len(hits) == 4 and len(twins & {h.id for h in hits}) == 1
    assert set(hits[0].alike) == twins - {hits[0].id}
    vectors = engine.index.vectors_of([h.id for h in hits])
    similar = vectors @ vectors.T
    assert (similar[~np.eye(4, dtype=bool)] < engine.extractor.duplicate_threshold).all()  # no two alike
    assert main(["search", str(engine_dir), str(root / "coins.jpg"), "-k", "2", "--distinct", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["alike"] == [next(iter(twins - {hits[0].id}))]
    from cbir.web import create_app

    client = create_app({"ENGINES": {"photos": engine}, "GROUPING_WAIT_S": None}).test_client()
    with open(root / "coins.jpg", "rb") as f:
        data = f.read()
    answer = client.post("/api/v1/search?k=2&distinct=1", data=data, content_type="image/jpeg").get_json()
    assert answer["hits"][0]["alike"] and not answer["hits"][1]["alike"]
    page = client.post("/", data={"image": (io.BytesIO(data), "coins.jpg"), "distinct": "1", "k": "2"},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "+1 alike" in page and 'name="distinct" value="1" checked' in page and "distinct=1" in page


def test_a_burst_longer_than_the_ranking_searched_still_leaves_k_results(tmp_path):
    """Twelve shots of one scene and k=3: the first ranking (4 x 3 = 12) is all the burst; the search goes deeper."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        ImageEnhance.Brightness(photo("astronaut")).enhance(0.9 + 0.02 * i).save(photos / f"burst-{i:02d}.jpg")
    for name in ("coffee", "rocket", "chelsea"):
        photo(name).save(photos / f"{name}.jpg")
    engine = Engine.build(load_folder(photos, progress=False, cache=False), make_extractor("effnet"), progress=False)
    hits = engine.search([np.asarray(photo("astronaut"))], k=3, distinct=True)[0].hits
    assert len(hits) == 3 and hits[0].id.startswith("burst-") and len(hits[0].alike) == 11
    assert {h.id for h in hits[1:]} <= {"coffee.jpg", "rocket.jpg", "chelsea.jpg"}
    described, real_embed = [], engine.embed
    engine.embed = lambda images, **kw: described.append(len(images)) or real_embed(images, **kw)
    together = engine.search_together([np.asarray(photo("astronaut"))] * 2, k=3, distinct=True).hits
    assert [h.id for h in together] == [h.id for h in hits] and described == [2]  # deeper, described once


def test_one_result_per_group_needs_features_of_the_picture(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.coffee()).save(photos / "a.png")
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(photos), "--features", "gch", "--out", str(engine)]) == 0
    assert main(["search", str(engine), str(photos / "a.png"), "--distinct"]) == 2
    assert "needs features that describe the picture" in capsys.readouterr().err


def test_new_photos_are_checked_against_the_engine(planted, tmp_path, capsys):
    root, engine_dir = planted
    new = tmp_path / "new"
    new.mkdir()
    overlay(Image.open(root / "rocket.jpg").convert("RGB")).save(new / "rocket-again.jpg", quality=70)
    Image.open(root / "page.jpg").save(new / "page.png")
    photo("horse").save(new / "horse.jpg")  # not in the engine
    capsys.readouterr()
    assert main(["duplicates", str(engine_dir), "--query", str(new), "--format", "json"]) == 0
    found = {item["query"].split("/")[-1]: item["matches"] for item in json.loads(capsys.readouterr().out)}
    assert set(found) == {"rocket-again.jpg", "page.png"}
    assert found["page.png"][0] == {"id": "page.jpg", "path": str(root / "page.jpg"), "similarity": 1.0,
                                    "exact": True}
    assert {m["id"] for m in found["rocket-again.jpg"]} == {"rocket.jpg", "copies/rocket-edit.jpg"}
    assert not any(m["exact"] for m in found["rocket-again.jpg"])


def test_class_level_features_ask_for_a_threshold(tiny_collection, capsys):
    from cbir.web import create_app

    engine = Engine.build(load_folder(tiny_collection, split="train"), make_extractor("hog-gch"), progress=False)
    with pytest.raises(Exception, match="describe what class an image shows"):
        find_duplicates(engine)
    assert find_duplicates(engine, exact_only=True) == []
    client = create_app({"ENGINES": {"hog-gch": engine}, "GROUPING_WAIT_S": None}).test_client()
    page = client.get("/duplicates")  # the page shows exact copies, and says why only those
    assert page.status_code == 200 and "Exact copies only: the &#39;hog-gch&#39; features" in page.get_data(as_text=True)
    assert client.get("/api/v1/duplicates").status_code == 400  # the API says so, and how to ask


def test_api_and_page_show_the_groups(planted):
    from cbir.web import create_app

    root, engine_dir = planted
    client = create_app({"ENGINES": {"photos": Engine.load(engine_dir)}, "GROUPING_WAIT_S": None}).test_client()
    body = client.get("/api/v1/duplicates?exact_only=1").get_json()
    assert body["engine"] == "photos" and body["threshold"] is None
    assert sorted(g["keep"] for g in body["groups"]) == ["copies/coins.png", "copies/moon.png"]
    assert client.get("/api/v1/duplicates?threshold=2").status_code == 400
    page = client.get("/duplicates").get_data(as_text=True)
    assert 'class="hit keep"' in page and "near duplicates" in page and "exact copies" in page
    assert "(near duplicates: cosine similarity 0.9 or more, or an image&#39;s best match when" in page
    assert "(near duplicates: cosine similarity 0.95 or more)." in client.get("/duplicates?threshold=0.95").get_data(
        as_text=True)  # another threshold given is the threshold alone


def test_at_the_default_threshold_a_distinct_best_match_is_a_near_duplicate_too():
    def unit(*xs):
        v = np.array(xs, dtype=np.float32)
        return v / np.linalg.norm(v)

    # 0 and 1: similarity 0.5, far from all else (a copy); 2, 3 and 4: 0.5-0.6 apart from each other (look-alikes)
    vectors = np.stack([unit(1, 0, 0, 0, 0), unit(0.5, 0.866, 0, 0, 0), unit(0, 0, 1, 0, 0), unit(0, 0, 0.6, 0.8, 0),
                        unit(0, 0, 0.55, 0.3, 0.78)])
    lead = (0.3, 0.1)
    assert {tuple(p) for p in _near_pairs(vectors, 0.7, None, False)} == set()
    assert {tuple(p) for p in _near_pairs(vectors, 0.7, lead, False)} == {(0, 1), (1, 0)}
    assert {tuple(p) for p in _near_pairs(vectors, 0.56, None, False)} == {(2, 3), (3, 2), (3, 4), (4, 3)}

    class Engine:
        extractor, copies = make_extractor("effnet-copies"), None

    assert lead_at(Engine, 0.7) == lead and lead_at(Engine, 0.75) is None  # another threshold is the threshold alone


def test_a_group_is_near_duplicates_two_by_two():
    def unit(*xs):
        v = np.array(xs, dtype=np.float32)
        return v / np.linalg.norm(v)

    # 0 and 1 a copy (0.98); 2 a look-alike of 0 (0.93) less like 1 (0.85); 3 and 4 copies of each other
    vectors = np.stack([unit(1, 0, 0, 0), unit(0.98, 0.199, 0, 0), unit(0.93, -0.2, 0.307, 0), unit(0, 0, 0, 1),
                        unit(0, 0, 0.1, 1)])
    assert np.isclose(vectors[1] @ vectors[2], 0.87, atol=0.02)
    pairs = _near_pairs(vectors, 0.9, None, False)
    assert {tuple(p) for p in pairs} == {(0, 1), (1, 0), (0, 2), (2, 0), (3, 4), (4, 3)}
    groups = sorted(sorted(g) for g in _cliques(pairs, vectors, len(vectors)))
    assert groups == [[0, 1], [2], [3, 4]]  # 2 does not chain in through 0: it is no near duplicate of 1
    vectors[2] = unit(0.97, 0.1, 0.2, 0)  # now 0.9 or more with both: a group of three
    assert sorted(sorted(g) for g in _cliques(_near_pairs(vectors, 0.9, None, False), vectors, 5)) == [
        [0, 1, 2], [3, 4]]


def test_pixels_make_a_near_duplicate_of_a_copy_the_vectors_miss(tmp_path, monkeypatch):
    from cbir.features.pretrained.extractor import PretrainedExtractor

    root = tmp_path / "photos"
    (root / "edits").mkdir(parents=True)
    for name in PHOTOS:  # but the colour wheel: mirrored, the retina passes for it (both a disc on black at 32 px)
        if name != "colorwheel":
            photo(name).save(root / f"{name}.jpg", quality=92)
    hard_edit(photo("clock")).save(root / "edits" / "clock.png")
    engine = Engine.build(load_folder(root, cache=False), make_extractor("effnet"), progress=False)
    edited = {frozenset({"clock.jpg", "edits/clock.png"})}
    monkeypatch.setattr(PretrainedExtractor, "copy_lead", (0.3, 0.5))  # a lead no match has: only pixels decide
    groups = {frozenset(m.id for m in g.members) for g in find_duplicates(engine)}
    assert groups == edited  # verified by the pixels, and no other pair (grass and gravel look alike)
    assert find_duplicates(engine, threshold=0.85) == []  # another threshold: the threshold alone
    (tmp_path / "new").mkdir()
    hard_edit(photo("astronaut")).save(tmp_path / "new" / "astronaut.png")
    found = check_new(engine, load_folder(tmp_path / "new", cache=False))
    assert [[m["id"] for m in f["matches"]] for f in found] == [["astronaut.jpg"]]  # a new photo's copy: by pixels
    (root / "clock.jpg").unlink()
    assert find_duplicates(engine) == []  # its file gone: nothing to verify with, and no error


def test_a_long_grouping_answers_with_how_far_it_has_got_until_the_groups_are_there(planted, monkeypatch):
    import threading

    import cbir.duplicates
    from cbir.web import create_app

    _, engine_dir = planted
    halfway, release, find = threading.Event(), threading.Event(), cbir.duplicates.find_duplicates

    def slow(engine, threshold=None, exact_only=False, progress=False, report=None):
        report(11, 27)
        halfway.set()
        assert release.wait(60)
        return find(engine, threshold, exact_only, progress, report)

    monkeypatch.setattr(cbir.duplicates, "find_duplicates", slow)
    app = create_app({"ENGINES": {"photos": Engine.load(engine_dir)}, "GROUPING_WAIT_S": 0})
    client = app.test_client()
    assert client.get("/api/v1/duplicates").status_code == 202  # started, not waited for
    assert halfway.wait(60)
    answer = client.get("/api/v1/duplicates")
    assert answer.status_code == 202 and answer.headers["Retry-After"] == "2"
    assert answer.get_json()["grouping"] == {"compared": 11, "pictures": 27} and "groups" not in answer.get_json()
    page = client.get("/duplicates")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '<meta http-equiv="refresh" content="2">' in text
    assert "11 of 27 pictures compared" in text and 'class="group"' not in text
    release.set()
    app.extensions["cbir"].grouping_wait_s = None  # the next request waits for the one grouping started
    done = client.get("/api/v1/duplicates").get_json()
    assert {frozenset(m["id"] for m in g["members"]) for g in done["groups"]} >= {
        frozenset({"coins.jpg", "copies/coins.png"})}
    assert 'http-equiv="refresh"' not in client.get("/duplicates").get_data(as_text=True)
    told = []
    find(Engine.load(engine_dir), report=lambda done, pictures: told.append((done, pictures)))
    assert told[-1] == (27, 27)  # 29 images, two of them exact copies: 27 distinct pictures compared


def test_an_engine_with_copies_finds_near_duplicates_with_them(planted):
    from cbir.web import create_app

    root, engine_dir = planted
    engine = Engine.build(load_folder(root, cache=False), make_extractor("gch"), progress=False,
                          copies=make_extractor("effnet"))  # grey levels, and the picture itself beside them
    assert default_threshold(engine) == 0.9  # the copies' features', not gch's (which has none)
    groups = {frozenset(m.id for m in g.members) for g in find_duplicates(engine)}
    assert groups == {frozenset(m.id for m in g.members) for g in find_duplicates(Engine.load(engine_dir))}
    page = create_app({"ENGINES": {"gch": engine}, "GROUPING_WAIT_S": None}).test_client().get("/duplicates")
    text = page.get_data(as_text=True)
    assert "Exact copies only" not in text and "near duplicates: cosine similarity 0.9 or more" in text
