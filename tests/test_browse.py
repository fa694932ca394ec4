"""Looking through an engine's images without a query: newest first (by when they were taken), filters applied; on
the page, the API and the command line."""

import json
import os
import shutil

import pytest

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.datasets.folder import image_facts
from cbir.engine import Engine
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.metadata import Metadata
from cbir.web import create_app


def test_newest_first_by_when_taken_undated_last():
    metadata = Metadata([("b", None, None, None, None, None, "2019-07-01T10:00:00"),
                         ("a", None, None, None, None, None, "2021-01-02T08:00:00"),
                         ("d", None, None, None, None, None, None),
                         ("c", None, None, None, None, None, "2019-07-01T10:00:00"),
                         ("e", None, None, None, None, None, None)])
    assert metadata.newest_first() == ["a", "b", "c", "d", "e"]  # ties and the undated in id order
    assert metadata.newest_first(["e", "c", "a"]) == ["a", "c", "e"]
    metadata.update(Metadata([("f", None, None, None, None, None, "2020-01-01T00:00:00")]))  # kept order: renewed
    metadata.discard(["a"])
    assert metadata.newest_first() == ["f", "b", "c", "d", "e"]


def dated_folder(tiny_collection, tmp_path):
    """A copy of the tiny collection's training images, their files' times a day apart, the first newest."""
    shutil.copytree(tiny_collection / "train", tmp_path / "photos")
    dataset = load_folder(tmp_path / "photos", progress=False, cache=False)
    for n, path in enumerate(dataset.paths):
        os.utime(path, (1_600_000_000 - n * 86_400,) * 2)
    return load_folder(tmp_path / "photos", progress=False, cache=False)


def test_an_engine_is_looked_through_newest_first_within_its_filters(tiny_collection, tmp_path):
    dataset = dated_folder(tiny_collection, tmp_path)
    engine = Engine.build(dataset, make_extractor("gch"), progress=False)
    newest = engine.browse(5)
    assert [h.id for h in newest.hits] == dataset.ids[:5] and {h.score for h in newest.hits} == {1.0}
    dates = [h.date for h in newest.hits]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == 5
    stripes = engine.browse(100, Filter.of(labels=["stripes"]))
    assert len(stripes.hits) == 20 and {h.label for h in stripes.hits} == {"stripes"}
    from cbir.web import create_app

    client = create_app({"ENGINES": {"tiny": engine}}).test_client()
    listed = client.get("/api/v1/images?k=3&offset=2&label=blobs").get_json()
    blobs = [id_ for id_ in dataset.ids if id_.startswith("blobs/")]
    assert [h["id"] for h in listed["hits"]] == blobs[2:5]
    page = client.get("/?browse=1&k=4").get_data(as_text=True)
    assert 'Query: <span class="name">all images, newest first</span>' in page
    assert f'title="when it was taken">{dates[0][:10]}</span>' in page
    assert '<input type="hidden" name="browse" value="1">' in page  # the next ones: still newest first
    assert 'id="browse-all"' in client.get("/").get_data(as_text=True)


def test_the_cli_looks_through_an_engine_without_a_query(tiny_collection, tmp_path, capsys):
    dataset = dated_folder(tiny_collection, tmp_path)
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "gch", "--out", str(engine)]) == 0
    capsys.readouterr()
    assert main(["search", str(engine), "-k", "2", "--label", "gradient"]) == 0
    lines = capsys.readouterr().out.splitlines()
    gradient = next(i for i, id_ in enumerate(dataset.ids) if id_.startswith("gradient/"))
    assert lines[0] == "newest first:" and lines[1].split()[1] == image_facts(dataset.paths[gradient])[0][:10]
    assert main(["info", str(engine)]) == 0
    dates = sorted(image_facts(path)[0][:10] for path in dataset.paths)
    assert f"taken      {dates[0]} to {dates[-1]}\n" in capsys.readouterr().out
    assert lines[1].endswith(dataset.ids[gradient])
    assert main(["search", str(engine), "-k", "3", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]] == dataset.ids[:3]


def test_when_pictures_were_taken_is_drawn_a_bar_a_month_or_a_year():
    from cbir.web.timeline import HEIGHT, timeline

    drawn = timeline(["2019-11-03T10:00:00", "2020-01-30T08:00:00", "2020-01-02T09:00:00", None])
    assert [(bar.period, bar.count) for bar in drawn.bars] == [("2019-11", 1), ("2019-12", 0), ("2020-01", 2)]
    assert (drawn.first, drawn.last, drawn.undated) == ("2019-11", "2020-01", 1)
    assert drawn.bars[2].height == HEIGHT and drawn.bars[1].height == 0 and drawn.bars[0].y == HEIGHT / 2
    long = timeline(["2010-05-01T00:00:00", "2016-02-01T00:00:00", "2016-03-01T00:00:00"])
    assert [(bar.period, bar.count) for bar in long.bars] == [(str(y), {2010: 1, 2016: 2}.get(y, 0))
                                                              for y in range(2010, 2017)]
    assert timeline(["2019-11-03T10:00:00", "2019-11-20T10:00:00", None]) is None  # one month: nothing to compare


def test_the_start_page_draws_when_the_pictures_were_taken(tiny_collection, tmp_path):
    from cbir.web import create_app

    dataset = dated_folder(tiny_collection, tmp_path)
    engine = Engine.build(dataset, make_extractor("gch"), progress=False)
    client = create_app({"ENGINES": {"tiny": engine}}).test_client()
    page = client.get("/").get_data(as_text=True)
    months = sorted({image_facts(path)[0][:7] for path in dataset.paths})
    assert 'id="timeline"' in page and f"When they were taken, {months[0]} to {months[-1]}" in page
    assert f'href="/?browse=1&amp;since={months[-1]}&amp;until={months[-1]}&amp;engine=tiny&amp;k=10"' in page
    looking = client.get(f"/?browse=1&label=blobs&since={months[0]}&until={months[0]}").get_data(as_text=True)
    assert 'id="timeline"' in looking and f"until={months[-1]}&amp;engine=tiny&amp;k=10&amp;label=blobs" in looking


def test_on_this_day_remembers_the_pictures_of_today_s_date_in_earlier_years():
    from datetime import date

    from cbir.memories import on_this_day

    dated = [("a", "2023-05-10T09:00:00"), ("b", "2023-05-10T08:00:00"), ("c", "2021-05-10T20:00:00"),
             ("d", "2025-05-10T10:00:00"), ("e", "2023-05-11T10:00:00"), ("f", None), ("g", "2020-02-29T10:00:00")]
    found = on_this_day(dated, date(2025, 5, 10))
    assert [(m.day, m.images, m.example) for m in found] == [("2023-05-10", 2, "b"), ("2021-05-10", 1, "c")]
    assert on_this_day(dated, date(2025, 5, 12)) == []  # today's own photos are no memory; nor are other days
    assert [m.day for m in on_this_day(dated, date(2023, 2, 28))] == ["2020-02-29"]  # no 29th this year
    assert on_this_day(dated, date(2024, 2, 28)) == []  # a leap year: remembered on the 29th
    assert [m.day for m in on_this_day(dated, date(2024, 2, 29))] == ["2020-02-29"]


def test_the_start_page_offers_the_pictures_of_this_day_by_its_clock(tiny_collection, tmp_path):
    from datetime import date, datetime

    from cbir.web import create_app

    dataset = dated_folder(tiny_collection, tmp_path)
    engine = Engine.build(dataset, make_extractor("gch"), progress=False)
    taken = datetime.fromtimestamp(1_600_000_000 - 3 * 86_400)  # the fourth image's file time
    today = date(taken.year + 2, taken.month, taken.day)
    client = create_app({"ENGINES": {"tiny": engine}, "TODAY": lambda: today}).test_client()
    start = client.get("/").get_data(as_text=True)
    day = taken.date().isoformat()
    assert 'id="memories"' in start and f'title="1 picture taken on {day}"' in start
    assert f'href="/?browse=1&amp;since={day}&amp;until={day}&amp;engine=tiny&amp;k=10"' in start
    assert f'src="/api/v1/images/{dataset.ids[3]}?size=thumb"' in start
    assert client.get("/api/v1/memories").get_json() == {"engine": "tiny", "today": today.isoformat(), "memories": [
        {"day": day, "images": 1, "example": dataset.ids[3]}]}
    later = create_app({"ENGINES": {"tiny": engine}, "TODAY": lambda: date(2100, 1, 1)}).test_client()
    assert 'id="memories"' not in later.get("/").get_data(as_text=True)


def test_the_images_added_lately_come_first_and_stay_so_when_indexed_again(tiny_collection, tmp_path, capsys,
                                                                           monkeypatch):
    import cbir.metadata
    from datetime import datetime

    shutil.copytree(tiny_collection / "train" / "blobs", tmp_path / "photos" / "blobs")
    monkeypatch.setattr(cbir.metadata, "clock", lambda: datetime(2026, 1, 1, 12, 0))
    engine = str(tmp_path / "engine")
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "gch", "--out", engine]) == 0
    shutil.copytree(tiny_collection / "train" / "stripes", tmp_path / "photos" / "stripes")  # a sync brings more
    monkeypatch.setattr(cbir.metadata, "clock", lambda: datetime(2026, 2, 1, 12, 0))
    assert main(["sync", engine]) == 0
    stripes = len(os.listdir(tmp_path / "photos" / "stripes"))
    capsys.readouterr()
    assert main(["search", engine, "--latest-added", "-k", str(stripes + 1), "--json"]) == 0
    hits = [h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]]
    assert {h.split("/")[0] for h in hits[:stripes]} == {"stripes"} and hits[-1].startswith("blobs/")
    with pytest.raises(SystemExit):  # one order
        main(["search", engine, "--latest-added", "--oldest-first"])
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "hog-gch", "--out", engine]) == 0
    assert Engine.load(engine).browse(stripes + 1, order="added").hits[-1].id.startswith("blobs/")  # kept
    client = create_app({"ENGINES": {"photos": engine}}).test_client()
    assert 'id="browse-added">the latest added first' in client.get("/").get_data(as_text=True)
    page = client.get("/?browse=1&order=added").get_data(as_text=True)
    assert "all images, latest added first" in page and "oldest first</a>" in page and "newest first</a>" in page
    body = client.get(f"/api/v1/images?order=added&k={stripes}").get_json()
    assert [h["id"] for h in body["hits"]] == hits[:stripes]
    assert client.get("/api/v1/images?order=random").status_code == 400
