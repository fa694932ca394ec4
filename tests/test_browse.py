"""Looking through an engine's images without a query: newest first (by when they were taken), filters applied; on
the page, the API and the command line."""

import json
import os
import shutil

from cbir.cli import main
from cbir.datasets import load_folder
from cbir.datasets.folder import image_date
from cbir.engine import Engine
from cbir.features import make_extractor
from cbir.filters import Filter
from cbir.metadata import Metadata


def test_newest_first_by_when_taken_undated_last():
    metadata = Metadata([("b", None, None, None, None, None, "2019-07-01T10:00:00"),
                         ("a", None, None, None, None, None, "2021-01-02T08:00:00"),
                         ("d", None, None, None, None, None, None),
                         ("c", None, None, None, None, None, "2019-07-01T10:00:00"),
                         ("e", None, None, None, None, None, None)])
    assert metadata.newest_first() == ["a", "b", "c", "d", "e"]  # ties and the undated in id order
    assert metadata.newest_first(["e", "c", "a"]) == ["a", "c", "e"]


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
    assert lines[0] == "newest first:" and lines[1].split()[1] == image_date(dataset.paths[gradient])[:10]
    assert lines[1].endswith(dataset.ids[gradient])
    assert main(["search", str(engine), "-k", "3", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)[0]["hits"]] == dataset.ids[:3]
