"""The web page and JSON API through Flask's test client: every route and every kind of bad input."""

import io
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote_plus

import numpy as np
import pytest
from conftest import red_and_blue, write_dng
from PIL import Image
from skimage import data as pictures

from cbir import Engine
from cbir.datasets import load_folder
from cbir.features import make_extractor
from cbir.web import create_app

XSS_NAME = "<img src=x onerror=alert(1)>.png"


@pytest.fixture(scope="module")
def collection(tiny_collection, tmp_path_factory):
    root = tmp_path_factory.mktemp("web") / "photos"
    shutil.copytree(tiny_collection / "train", root)
    shutil.copy(tiny_collection / "test" / "blobs" / "000.png", root / "blobs" / XSS_NAME)
    Image.fromarray(np.full((20, 20), 40000, np.uint16)).save(root / "blobs" / "deep.tiff")
    return root


@pytest.fixture(scope="module")
def engines(collection):
    data = load_folder(collection, progress=False, cache=False)
    return {"hog-gch": Engine.build(data, make_extractor("hog-gch"), progress=False),
            "gch": Engine.build(data, make_extractor("gch"), progress=False)}


@pytest.fixture
def client(engines):
    limits = {"MAX_CONTENT_LENGTH": 1 << 20, "MAX_FORM_MEMORY_SIZE": 1 << 20}
    return create_app({"ENGINES": engines, **limits}).test_client()


def png(image=None, mode="RGB", size=(32, 32), fmt="PNG", **kw) -> bytes:
    im = image if image is not None else Image.new(mode, size, "red" if mode == "RGB" else 128)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def query_bytes(collection, name="stripes/003.png"):
    return (collection / name).read_bytes()


def upload(client, data, url="/api/v1/search", filename="q.png", **fields):
    return client.post(url, data={"image": (io.BytesIO(data), filename), **fields},
                       content_type="multipart/form-data")


# --- API ---------------------------------------------------------------------------------

def test_api_search_multipart_and_raw(client, collection):
    data = query_bytes(collection)
    body = upload(client, data, k="5").get_json()
    assert set(body) == {"took_ms", "engine", "hits"} and body["engine"] == "hog-gch"
    assert len(body["hits"]) == 5 and set(body["hits"][0]) == {"id", "score", "label", "url", "copy", "date", "place",
                                                               "position", "tags", "rating", "people", "camera",
                                                               "albums", "caption", "text", "alike"}
    assert body["hits"][0]["id"] == "stripes/003.png"
    assert body["hits"][0]["score"] == pytest.approx(1, abs=1e-4)  # 836 dimensions: float16
    raw = client.post("/api/v1/search?k=3&engine=gch", data=data, content_type="application/octet-stream")
    assert raw.status_code == 200 and raw.get_json()["engine"] == "gch" and len(raw.get_json()["hits"]) == 3


def test_api_images_only_serves_indexed_ids(client, collection):
    hit = upload(client, query_bytes(collection)).get_json()["hits"][0]
    image = client.get(hit["url"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data == query_bytes(collection, hit["id"])
    assert "max-age" in image.headers["Cache-Control"] and image.headers["ETag"]
    assert client.get(hit["url"], headers={"If-None-Match": image.headers["ETag"]}).status_code == 304
    thumb = client.get(hit["url"] + "?size=thumb")  # a 32x32 image: enlarged 6 times without blur, a PNG
    assert thumb.mimetype == "image/png" and Image.open(io.BytesIO(thumb.data)).size == (192, 192)
    for bad in ["../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "stripes", "stripes/", "nope.png",
                str(collection), str(collection / "stripes" / "003.png")]:
        response = client.get(f"/api/v1/images/{bad}", follow_redirects=True)
        assert response.status_code == 404 and "error" in response.get_json(), bad


def test_tiff_is_served_as_png(client):
    response = client.get("/api/v1/images/blobs/deep.tiff")
    assert response.status_code == 200 and response.mimetype == "image/png"


def test_photos_thumbnails_are_decoded_small_and_originals_shown_compactly(tmp_path, monkeypatch):
    from cbir.datasets import folder, sources

    (tmp_path / "photos").mkdir()
    Image.fromarray(pictures.astronaut()).resize((3000, 3000)).save(tmp_path / "photos" / "big.jpg", quality=90)
    Image.fromarray(pictures.coffee()).save(tmp_path / "photos" / "coffee.avif")
    shutil.copy(Path(__file__).parent / "data" / "astronaut.heic", tmp_path / "photos")
    engine = Engine.build(load_folder(tmp_path / "photos", progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    client = create_app({"ENGINES": {"photos": engine}}).test_client()
    decoded, real_decode = [], sources.decode_image

    def decode(raw, **kw):
        image = real_decode(raw, **kw)
        decoded.append(image.shape)
        return image

    monkeypatch.setattr(sources, "decode_image", decode)  # a preview's decoding
    monkeypatch.setattr(folder, "decode_image", decode)  # a file's (`folder.decode_file`)
    thumb = client.get("/api/v1/images/big.jpg?size=thumb")  # sharp on a screen of 2 pixels a point; a JPEG
    assert thumb.mimetype == "image/jpeg" and Image.open(io.BytesIO(thumb.data)).size == (192, 192)
    assert max(decoded[0]) <= 192  # not 3000x3000 pixels for a 192-pixel thumbnail
    assert client.get("/api/v1/similar/big.jpg").status_code == 200
    assert len(decoded) == 1  # "more like this": by its vector as indexed, nothing read
    assert client.get("/api/v1/similar/big.jpg?crop=0.25,0.25,0.5,0.5").status_code == 200
    assert max(decoded[1]) <= 512  # a part of it: read large enough for that part, not at 9 megapixels
    original = client.get("/api/v1/images/coffee.avif")
    assert original.mimetype == "image/avif" and original.data == (tmp_path / "photos" / "coffee.avif").read_bytes()
    phone = client.get("/api/v1/images/astronaut.heic")  # no browser but Safari shows HEIC: a JPEG of it
    assert phone.mimetype == "image/jpeg" and Image.open(io.BytesIO(phone.data)).size == (96, 64)


def test_a_changed_file_is_shown_as_it_is_now_and_a_converted_photo_is_kept(tmp_path, monkeypatch):
    """A thumbnail (and a full view converted for the browser) is kept by its file's stamp: `cbir sync` describing
    a changed file again shows its new picture; a HEIC opened twice is decoded once."""
    from cbir.datasets import folder, sources

    (tmp_path / "photos").mkdir()
    Image.fromarray(pictures.coffee()).save(tmp_path / "photos" / "a.png")
    shutil.copy(Path(__file__).parent / "data" / "astronaut.heic", tmp_path / "photos")
    engine = Engine.build(load_folder(tmp_path / "photos", progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    client = create_app({"ENGINES": {"photos": engine}}).test_client()
    before = client.get("/api/v1/images/a.png?size=thumb").data
    Image.fromarray(pictures.astronaut()).save(tmp_path / "photos" / "a.png")
    os.utime(tmp_path / "photos" / "a.png", ns=(1, 1))
    after = client.get("/api/v1/images/a.png?size=thumb").data
    assert after != before and after == client.get("/api/v1/images/a.png?size=thumb").data
    decoded, real_decode = [], sources.decode_image
    for module in (sources, folder):  # a preview's decoding, a file's (`folder.decode_file`)
        monkeypatch.setattr(module, "decode_image", lambda data, **kw: decoded.append(1) or real_decode(data, **kw))
    first, again = (client.get("/api/v1/images/astronaut.heic") for _ in range(2))
    assert first.mimetype == "image/jpeg" and first.data == again.data and len(decoded) == 1


def test_a_folder_of_camera_raw_files_is_indexed_shown_and_searched_with(tmp_path, cbir_home):
    """A raw file is indexed (the one beside a JPEG of the same name is not: one shot saved twice), shown as a JPEG
    of the camera's picture, its thumbnail kept when it was indexed, and can be uploaded as a query."""
    (tmp_path / "photos").mkdir()
    camera = np.asarray(Image.fromarray(pictures.astronaut()).resize((1200, 800)))
    raw = write_dng(tmp_path / "photos" / "DSC_0001.dng", red_and_blue(), camera)
    write_dng(tmp_path / "photos" / "IMG_0002.DNG", red_and_blue())
    Image.fromarray(pictures.coffee()).save(tmp_path / "photos" / "IMG_0002.jpg")
    photos = load_folder(tmp_path / "photos", progress=False)
    assert photos.ids == ["DSC_0001.dng", "IMG_0002.jpg"]
    assert len(list(cbir_home.glob("previews/**/*.jpg"))) == 1  # the raw file's picture at index size
    client = create_app({"ENGINES": {"photos": Engine.build(photos, make_extractor("gch"), progress=False)}}
                        ).test_client()
    shown = client.get("/api/v1/images/DSC_0001.dng")
    assert shown.mimetype == "image/jpeg" and Image.open(io.BytesIO(shown.data)).size == (1200, 800)
    thumb = client.get("/api/v1/images/DSC_0001.dng?size=thumb")
    assert thumb.mimetype == "image/jpeg" and Image.open(io.BytesIO(thumb.data)).size == (192, 128)
    found = client.post("/api/v1/search?k=1", data=raw.read_bytes(), content_type="application/octet-stream")
    assert found.status_code == 200 and found.get_json()["hits"][0]["id"] == "DSC_0001.dng"


def test_more_like_these_searches_with_indexed_images_together(client, collection):
    """The page: each result has a box to tick, and the ticked ones (the query kept ticked) are searched with
    together at `/?id=A&id=B`; the API: `/similar/A?also=B`."""
    page = client.get("/?id=stripes/003.png&engine=hog-gch&k=5").get_data(as_text=True)
    assert len(re.findall(r'name="id"\s+value="[^"]+" form="together"', page)) == 6  # the query and 5 results
    assert 'value="stripes/003.png" form="together" checked' in page
    page = client.get("/?id=stripes/003.png&id=gradient/001.png&engine=hog-gch&k=8").get_data(as_text=True)
    assert "2 images together" in page and 'id="query-set"' in page
    shown = re.findall(r'name="id"\s+value="([^"]+)" form="together">', page.split('id="results"')[1])
    assert len(shown) == 8 and not set(shown) & {"stripes/003.png", "gradient/001.png"}
    body = client.get("/api/v1/similar/stripes/003.png?also=gradient/001.png&k=8&engine=hog-gch").get_json()
    hits = [h["id"] for h in body["hits"]]
    assert hits == shown and {h["label"] for h in body["hits"]} <= {"stripes", "gradient"}
    files = [(io.BytesIO((collection / name).read_bytes()), name.replace("/", "-"))
             for name in ("stripes/003.png", "gradient/001.png")]
    sent = client.post("/api/v1/search?k=8&engine=hog-gch", data={"image": files}).get_json()
    assert [h["id"] for h in sent["hits"]][2:] == hits[:6]  # the same, but the sent images are not left out
    assert {h["id"] for h in sent["hits"][:2]} == {"stripes/003.png", "gradient/001.png"}
    files = [(io.BytesIO((collection / name).read_bytes()), name.replace("/", "-"))
             for name in ("stripes/003.png", "gradient/001.png")]
    page = client.post("/", data={"image": files, "engine": "hog-gch", "k": "8"}).get_data(as_text=True)
    assert "2 images together" in page and page.count('src="data:image/png;base64,') == 2
    assert re.findall(r'name="id"\s+value="([^"]+)" form="together">', page.split('id="results"')[1]) == [
        h["id"] for h in sent["hits"]]
    many = "&".join(f"also=stripes/{i:03d}.png" for i in range(20))
    assert client.get(f"/api/v1/similar/blobs/000.png?{many}").status_code == 400  # at most 20 at once
    assert client.get("/api/v1/similar/blobs/000.png?also=nope.png").status_code == 404
    assert client.get("/api/v1/similar/blobs/000.png?also=blobs/001.png&crop=0,0,0.5,0.5").status_code == 400
    several = "a part (crop) is searched with one image, not with several together"
    assert several in client.get("/?id=blobs/000.png&id=blobs/001.png&crop=0,0,0.5,0.5").get_data(as_text=True)
    files = [(io.BytesIO((collection / "stripes" / "003.png").read_bytes()), f"{i}.png") for i in range(2)]
    assert client.post("/api/v1/search?crop=0,0,0.5,0.5", data={"image": files}).get_json() == {"error": several}


def test_results_marked_not_wanted_are_searched_away_from(client, collection):
    """Each result has a "not" box beside its tick: `/?id=A&unlike=B` searches with A and away from B (both left
    out, B shown marked in the query), as `/api/v1/similar/A?unlike=B` and uploads sent as `unlike` do."""
    page = client.get("/?id=stripes/003.png&engine=hog-gch&k=5").get_data(as_text=True)
    assert len(re.findall(r'name="unlike" value="[^"]+" form="together">not', page)) == 5  # one per result
    assert page.count('aria-label="not like ') == 5 and page.count('aria-label="search with ') == 6  # for readers
    query = "id=stripes/003.png&also=gradient/001.png&engine=hog-gch&k=10"
    before = client.get(f"/api/v1/similar/stripes/003.png?{query}").get_json()["hits"]
    after = client.get(f"/api/v1/similar/stripes/003.png?{query}&unlike=gradient/002.png").get_json()["hits"]
    count = lambda hits, label: sum(hit["label"] == label for hit in hits)  # noqa: E731
    assert count(after, "gradient") < count(before, "gradient") and "gradient/002.png" not in {h["id"] for h in after}
    svc = client.application.extensions["cbir"]
    svc.pixels = lambda *a: pytest.fail("indexed images take part by their vectors, not read and described again")
    page = client.get("/?id=stripes/003.png&id=gradient/001.png&unlike=gradient/002.png&engine=hog-gch&k=10")
    del svc.pixels
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 images together, less like 1 other" in text
    assert re.search(r'name="unlike" value="gradient/002.png" form="together" checked>not', text)  # untick to drop
    assert re.findall(r'name="id"\s+value="([^"]+)" form="together">', text.split('id="results"')[1]) == [
        h["id"] for h in after]
    one = client.get("/?id=stripes/003.png&unlike=gradient/002.png&engine=hog-gch").get_data(as_text=True)
    assert "1 image, less like 1 other" in one
    files = {"image": [(io.BytesIO((collection / name).read_bytes()), name.replace("/", "-"))
                       for name in ("stripes/003.png", "gradient/001.png")],
             "unlike": (io.BytesIO((collection / "gradient/002.png").read_bytes()), "not.png")}
    sent = client.post("/api/v1/search?k=12&engine=hog-gch", data=files).get_json()["hits"]
    assert [h["id"] for h in sent if h["id"] not in ("stripes/003.png", "gradient/001.png", "gradient/002.png")][
        :8] == [h["id"] for h in after][:8]  # the same search, the sent images not left out
    both = client.get("/?id=blobs/000.png&id=blobs/001.png&unlike=blobs/001.png")
    assert both.status_code == 400 and "both as wanted and as not wanted" in both.get_data(as_text=True)
    alone = client.get("/?unlike=blobs/001.png")
    assert alone.status_code == 400 and "at least one image to search with" in alone.get_data(as_text=True)
    many = "&".join(f"unlike=stripes/{i:03d}.png" for i in range(21))
    assert client.get(f"/api/v1/similar/blobs/000.png?{many}").status_code == 400  # at most 20 at once
    assert client.get("/api/v1/similar/blobs/000.png?unlike=nope.png").status_code == 404
    assert client.get("/api/v1/similar/blobs/000.png?unlike=blobs/001.png&crop=0,0,0.5,0.5").status_code == 400


def test_an_uploaded_query_is_searched_again_with_the_results_ticked_and_marked(client, collection):
    """The page sends an upload again with the ids ticked (`id`) and marked "not" (`unlike`) on its results: one
    search with the upload and the ticked images together, away from the marked ones, as the API's."""
    upload = lambda: (io.BytesIO((collection / "stripes/003.png").read_bytes()), "mine.png")  # noqa: E731
    page = client.post("/", data={"image": upload(), "engine": "hog-gch", "k": "6", "id": "gradient/001.png",
                                  "unlike": "gradient/002.png"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 images together, less like 1 other" in text
    query = text.split('id="query-set"')[1].split("</ol>")[0]
    assert query.count('src="data:image/png;base64,') == 1 and 'value="gradient/001.png" form="together" checked' \
        in query and 'name="unlike" value="gradient/002.png" form="together" checked' in query
    assert 'data-files="[&#34;mine.png&#34;]"' in text  # so that the page's script can send it again
    shown = re.findall(r'name="id"\s+value="([^"]+)" form="together">', text.split('id="results"')[1])
    files = {"image": [upload(), (io.BytesIO((collection / "gradient/001.png").read_bytes()), "b.png")],
             "unlike": (io.BytesIO((collection / "gradient/002.png").read_bytes()), "c.png")}
    api = client.post("/api/v1/search?k=9&engine=hog-gch", data=files).get_json()["hits"]
    assert shown == [h["id"] for h in api if h["id"] not in ("gradient/001.png", "gradient/002.png")][:6]
    alone = client.post("/", data={"image": upload(), "engine": "hog-gch", "unlike": "gradient/002.png"})
    assert alone.status_code == 200 and "1 image, less like 1 other" in alone.get_data(as_text=True)
    cropped = client.post("/", data={"image": upload(), "id": "gradient/001.png", "crop": "0,0,0.5,0.5"})
    assert cropped.status_code == 400 and "not with several together" in cropped.get_data(as_text=True)


def test_more_results_are_the_next_page_of_the_same_ranking(client, collection):
    """`offset`: the results from rank offset + 1, of the same ranking (page and API); the page's "More results"
    asks for the next ones while a page is full, an upload's sent again by the page's script."""
    whole = client.get("/api/v1/similar/stripes/003.png?k=12&engine=hog-gch").get_json()["hits"]
    second = client.get("/api/v1/similar/stripes/003.png?k=4&offset=4&engine=hog-gch").get_json()["hits"]
    assert [h["id"] for h in second] == [h["id"] for h in whole[4:8]]
    page = client.get("/?id=stripes/003.png&engine=hog-gch&k=4&offset=4").get_data(as_text=True)
    results = page.split('id="results"')[1]
    assert re.findall(r'name="id"\s+value="([^"]+)" form="together">', results) == [h["id"] for h in second]
    assert re.findall(r'class="rank">#(\d+)<', results) == ["5", "6", "7", "8"]
    more = page.split('id="more"')[1].split("</form>")[0]
    assert 'name="offset" value="8"' in more and 'name="id" value="stripes/003.png"' in more and "hidden>" not in more
    last = client.get("/?id=stripes/003.png&engine=hog-gch&k=4&offset=58").get_data(as_text=True)  # 61 others
    assert last.split('id="results"')[1].count('class="hit"') == 3 and 'id="more"' not in last
    upload = (io.BytesIO((collection / "stripes/003.png").read_bytes()), "mine.png")
    sent = client.post("/", data={"image": upload, "engine": "hog-gch", "k": "4", "offset": "4"}).get_data(as_text=True)
    assert re.findall(r'class="rank">#(\d+)<', sent) == ["5", "6", "7", "8"]
    assert re.search(r'id="more" method="get" action="/" hidden>', sent)  # shown by the script, which sends it again
    several = [(io.BytesIO((collection / name).read_bytes()), name.replace("/", "-"))
               for name in ("stripes/003.png", "gradient/001.png")]
    together = client.post("/", data={"image": several, "k": "4", "offset": "4"}).get_data(as_text=True)
    assert "2 images together" in together and re.findall(r'class="rank">#(\d+)<', together) == ["5", "6", "7", "8"]
    assert re.search(r'id="more" method="get" action="/" hidden>', together)
    for bad, message in (("-1", "between 0 and 996"), ("x", "a whole number"), ("997", "1,000 deep at most")):
        answer = client.get(f"/api/v1/similar/stripes/003.png?k=4&offset={bad}")
        assert answer.status_code == 400 and message in answer.get_json()["error"]


def test_a_heic_upload_with_a_thumbnail_large_enough_is_not_decoded_one_at_a_time(client, monkeypatch):
    """Only a HEIC decoded in full (~1 s, ~280 MB at 6000x6000) waits for the others; one read from the thumbnail
    inside it is as cheap as a JPEG. (Uploads read at 64 pixels here, so that the test file's 96-pixel thumbnail
    is large enough.)"""
    from pathlib import Path

    import cbir.web.service

    svc = client.application.extensions["cbir"]
    lane, taken = svc._decoding_whole, []

    class Counted:
        def __enter__(self):
            taken.append(True)
            return lane.__enter__()

        def __exit__(self, *exc):
            return lane.__exit__(*exc)

    monkeypatch.setattr(svc, "_decoding_whole", Counted())
    monkeypatch.setattr(cbir.web.service, "DEFAULT_MAX_SIDE", 64)
    data = Path(__file__).parent / "data"
    for name, whole in (("astronaut-thumbnail.heic", False), ("astronaut.heic", True)):
        assert svc.decode_upload((data / name).read_bytes()).shape[1] == 64
        assert bool(taken) == whole, name
        taken.clear()
    monkeypatch.setattr(cbir.web.service, "DEFAULT_MAX_SIDE", 256)  # the thumbnail too small: the photo itself
    assert svc.decode_upload((data / "astronaut-thumbnail.heic").read_bytes()).shape[1] == 256 and taken


def test_the_folder_filter_offers_the_folders_images_lie_in():
    from cbir.web.collection import folders_of

    ids = ["2019/trip/a.jpg", "2019/trip/b.jpg", "2019/c.jpg", "2020/d.jpg", "e.jpg"]
    assert folders_of(ids) == ["2019/", "2019/trip/", "2020/"]
    assert folders_of(ids, most=2) == ["2019/", "2019/trip/"]  # those holding the most images


def test_the_folder_filter_on_the_page(client):
    page = client.get("/?engine=hog-gch").get_data(as_text=True)
    assert 'list="folders"' in page and '<option value="stripes/">' in page and '<option value="blobs/">' in page


def test_the_ticked_images_download_as_they_are_stored_in_one_zip(client, collection, engines):
    import zipfile

    page = client.get("/?id=stripes/003.png&engine=hog-gch").get_data(as_text=True)
    assert 'formaction="/api/v1/download"' in page  # the page's button beside "More like the ticked images"
    got = client.get("/api/v1/download?id=stripes/003.png&id=blobs/deep.tiff&engine=hog-gch&k=10")
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert 'filename="cbir-2-images.zip"' in got.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(got.data)) as archive:
        assert archive.namelist() == ["stripes/003.png", "blobs/deep.tiff"]
        assert archive.read("blobs/deep.tiff") == (collection / "blobs" / "deep.tiff").read_bytes()
    assert client.get("/api/v1/download?id=nope.png").status_code == 404
    assert client.get("/api/v1/download").status_code == 400
    many = "&".join(f"id=stripes/{i:03d}.png" for i in range(20)) + "&" + "&".join(
        f"id=blobs/{i:03d}.png" for i in range(20)) + "&" + "&".join(f"id=gradient/{i:03d}.png" for i in range(20))
    small = create_app({"ENGINES": engines, "MAX_K": 50}).test_client()
    assert small.get(f"/api/v1/download?{many}").status_code == 400  # more than k at its most
    (collection / "blobs" / "019.png").rename(collection / "gone.png")
    try:
        with zipfile.ZipFile(io.BytesIO(client.get("/api/v1/download?id=blobs/019.png&id=blobs/018.png").data)) as z:
            assert z.namelist() == ["blobs/018.png", "not-included.txt"] and b"blobs/019.png" in z.read(
                "not-included.txt")
    finally:
        (collection / "gone.png").rename(collection / "blobs" / "019.png")


def test_a_zip_is_sent_without_copying_the_files_in_it():
    from conftest import traced_peak

    from cbir.web.pictures import zipped

    photo = os.urandom(4 << 20)  # a 4 MB file, read before the zip is made
    with traced_peak() as peak:
        sent = sum(len(chunk) for chunk in zipped([("a.jpg", photo), ("b.jpg", photo)]))
    assert sent > 8 << 20 and peak[0] < 1 << 20


def test_a_password_guards_every_route_but_health(engines):
    import base64

    client = create_app({"ENGINES": engines, "PASSWORD": "s3cret"}).test_client()
    page = client.get("/")
    assert page.status_code == 401 and page.headers["WWW-Authenticate"] == "Basic realm=cbir"
    assert page.headers["X-Frame-Options"] == "DENY" and "asks for its password" in page.get_data(as_text=True)
    api = client.get("/api/v1/images/stripes/003.png?size=thumb")
    assert api.status_code == 401 and api.get_json() == {"error": "this server asks for its password (any user name)"}
    assert client.get("/api/v1/health").status_code == 200  # for what watches the server
    for user, password, status in (("me", "s3cret", 200), ("", "s3cret", 200), ("me", "nope", 401)):
        answer = base64.b64encode(f"{user}:{password}".encode()).decode()
        assert client.get("/api/v1/engines", headers={"Authorization": f"Basic {answer}"}).status_code == status
    open_app = create_app({"ENGINES": engines}).test_client()
    assert open_app.get("/api/v1/engines").status_code == 200


def test_similar_to_an_indexed_image_by_id(client, engines, collection):
    body = client.get("/api/v1/similar/stripes/003.png?k=5&engine=hog-gch").get_json()
    assert body["engine"] == "hog-gch" and len(body["hits"]) == 5
    assert "stripes/003.png" not in [h["id"] for h in body["hits"]]
    image = np.asarray(Image.open(collection / "stripes" / "003.png").convert("RGB"))
    described = engines["hog-gch"].search([image], k=5, exclude=["stripes/003.png"])[0]
    assert [h["id"] for h in body["hits"]] == [h.id for h in described.hits]  # its vector: what describing finds
    assert [h["score"] for h in body["hits"]] == pytest.approx([h.score for h in described.hits], abs=1e-3)  # float16
    assert [h["label"] for h in body["hits"]].count("stripes") >= 4
    assert client.get("/api/v1/similar/nope.png").status_code == 404
    assert "error" in client.get("/api/v1/similar/stripes/003.png?k=0").get_json()


def test_health_engines_openapi(client, engines):
    assert client.get("/api/v1/health").get_json() == {"status": "ok", "engines": 2, "images": 2 * 62}
    listed = client.get("/api/v1/engines").get_json()
    assert [e["name"] for e in listed] == ["hog-gch", "gch"]
    assert listed[0] == {"name": "hog-gch", "extractor": "hog-gch", "size": 62, "dim": engines["hog-gch"].extractor.dim,
                         "index": "faiss", "labelled": True, "learned": None}
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    app_rules = {str(r) for r in client.application.url_map.iter_rules() if str(r).startswith("/api/")}
    documented = {p.replace("{image_id}", "<path:image_id>").replace("{person}", "<person>")
                  .replace("{album}", "<path:album>") for p in doc["paths"]} | {"/api/v1/openapi.json"}
    assert documented == app_rules
    schema = doc["components"]["schemas"]
    body = upload(client, png()).get_json()
    assert set(schema["SearchResponse"]["required"]) == set(body)
    assert set(schema["Hit"]["required"]) == set(body["hits"][0])


def bomb_png() -> bytes:
    """A 30000 x 30000 PNG of a few KB: only the header says how big it is."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 30001 * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize("case,status,message", [
    ("empty body", 400, "no image"),
    ("missing field", 400, "no image"),
    ("not an image", 400, "not an image"),
    ("truncated jpeg", 400, "not an image"),
    ("truncated png", 400, "not an image"),
    ("bomb", 422, "pixels"),
    ("too large", 413, "limit"),
    ("bad k", 400, "k must"),
    ("k too big", 400, "k must"),
    ("unknown engine", 404, "unknown engine"),
])
def test_api_bad_input_is_a_clear_4xx(client, collection, case, status, message):
    real = query_bytes(collection)
    jpeg = png(Image.open(io.BytesIO(real)).convert("RGB").resize((64, 64)), fmt="JPEG")
    requests = {
        "empty body": lambda: client.post("/api/v1/search", data=b""),
        "missing field": lambda: client.post("/api/v1/search", data={"other": "x"}, content_type="multipart/form-data"),
        "not an image": lambda: upload(client, b"%PDF-1.4 definitely not an image"),
        "truncated jpeg": lambda: upload(client, jpeg[: len(jpeg) // 3]),
        "truncated png": lambda: upload(client, real[: len(real) // 2]),
        "bomb": lambda: upload(client, bomb_png()),
        "too large": lambda: upload(client, os.urandom((1 << 20) + 10)),
        "bad k": lambda: upload(client, real, k="ten"),
        "k too big": lambda: upload(client, real, k="1000"),
        "unknown engine": lambda: upload(client, real, engine="vgg"),
    }
    response = requests[case]()
    assert response.status_code == status
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("kind", ["animated gif", "cmyk", "16-bit", "alpha", "exif rotated", "grayscale"])
def test_odd_but_valid_images_work(client, kind):
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue")]
    exif = Image.Exif()
    exif[0x0112] = 6
    data = {
        "animated gif": lambda: png(frames[0], fmt="GIF", save_all=True, append_images=frames[1:]),
        "cmyk": lambda: png(Image.new("CMYK", (32, 32), (0, 200, 200, 0)), fmt="JPEG"),
        "16-bit": lambda: png(Image.fromarray(np.arange(1024, dtype=np.uint16).reshape(32, 32) * 60)),
        "alpha": lambda: png(Image.new("RGBA", (32, 32), (0, 0, 255, 100))),
        "exif rotated": lambda: png(Image.new("RGB", (40, 20), "green"), fmt="JPEG", exif=exif),
        "grayscale": lambda: png(Image.new("L", (32, 32), 90)),
    }[kind]()
    response = upload(client, data)
    assert response.status_code == 200 and len(response.get_json()["hits"]) == 10


def test_uploads_leave_nothing_on_disk(client, collection):
    before = set(os.listdir(tempfile.gettempdir()))
    upload(client, query_bytes(collection) + os.urandom(600_000))
    upload(client, os.urandom(900_000))
    upload(client, os.urandom(2 << 20))
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


# --- the page ----------------------------------------------------------------------------

def test_page_upload_shows_results_and_diagnostic(client, collection):
    response = upload(client, query_bytes(collection), url="/", filename="mine.png", k="10")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="hit"') == 10 and "mine.png" in html
    assert "Most results lie in folders named stripes" in html and "data:image/png;base64," in html
    assert 'href="/?id=stripes/003.png' in html
    assert len(re.findall(r'title="[^"]+ · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: more like this"', html)) == 10  # its date


def test_labels_are_called_classes_only_where_the_features_learned_them(collection):
    """A label is the name of the folder an image lies in: a class for features trained on those labels (their
    `classes_`), a folder's name for others (a photo library's `trip/`; a generic network knows ImageNet's classes)."""
    engine = Engine.build(load_folder(collection, progress=False, cache=False), make_extractor("gch"), progress=False)
    folders = create_app({"ENGINES": {"e": engine}}).test_client().get("/?id=blobs/002.png&k=4")
    assert "results lie in folders named blobs, as the query does" in folders.get_data(as_text=True)
    engine.extractor.classes_ = ["blobs", "gradient", "stripes"]  # as a network trained on them has
    classes = create_app({"ENGINES": {"e": engine}}).test_client()
    assert "results share the query&#39;s class, blobs" in classes.get("/?id=blobs/002.png&k=4").get_data(as_text=True)
    engine.extractor.classes_ = ["tench", "goldfish"]  # ImageNet's: not these labels
    imagenet = create_app({"ENGINES": {"e": engine}}).test_client()
    assert "lie in folders named blobs" in imagenet.get("/?id=blobs/002.png&k=4").get_data(as_text=True)


def test_more_like_this_is_a_shareable_url(client):
    response = client.get("/?id=blobs/002.png&engine=gch&k=4")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count('class="hit"') == 4
    assert 'href="/?id=blobs/002.png' not in html  # the query is not among its own results
    assert "results lie in folders named blobs, as the query does" in html
    assert '<option value="gch" selected>' in html
    opened = re.findall(r'<a class="open" href="([^"]+)" target="_blank"', html)  # the query's photo, each result's page
    assert len(opened) == 4 + 1 and opened[0] == "/api/v1/images/blobs/002.png"
    assert client.get(opened[0]).headers["Content-Type"] == "image/png"
    assert all(href.startswith("/photo/") and client.get(href).status_code == 200 for href in opened[1:])
    shown = re.findall(r'data-src="([^"]+)"', html)  # what the large view shows: each photo, in full
    assert len(shown) == 4 and all(client.get(src).headers["Content-Type"] == "image/png" for src in shown)


def test_page_errors_are_shown_not_500(client):
    for response in [client.get("/?id=nope.png"), upload(client, b"junk", url="/"),
                     client.post("/", data={}, content_type="multipart/form-data"),
                     upload(client, os.urandom((1 << 20) + 10), url="/"), client.get("/?id=blobs/000.png&k=-3")]:
        assert 400 <= response.status_code < 500
        assert 'class="error"' in response.get_data(as_text=True)


def test_filenames_are_escaped_and_security_headers_set(client):
    response = client.get("/?id=" + quote("blobs/" + XSS_NAME))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/v1/health").headers["X-Content-Type-Options"] == "nosniff"


def test_the_start_page_offers_indexed_images_to_start_from(client, engines):
    html = client.get("/?engine=gch&k=5").get_data(as_text=True)
    ids = [unquote_plus(i) for i in re.findall(r'href="/\?id=([^&"]+)&amp;engine=gch&amp;k=5"', html)]
    assert len(ids) == 12 and len(set(ids)) == 12 and all(i in engines["gch"].metadata for i in ids)
    assert html.count('src="/api/v1/images/') == 12
    followed = client.get(f"/?id={quote(ids[0])}&engine=gch&k=5")
    assert followed.status_code == 200 and followed.get_data(as_text=True).count('class="hit"') == 5
    unknown = client.get("/?engine=nope")
    assert unknown.status_code == 404 and "unknown engine" in unknown.get_data(as_text=True)


def test_the_engines_page_says_what_each_engine_holds(client):
    html = client.get("/engines").get_data(as_text=True)
    assert '<a href="/?engine=hog-gch">hog-gch</a>' in html and '<a href="/?engine=gch">gch</a>' in html
    assert html.count("<tr>") == 3 and ">62<" in html and 'href="/api/v1/engines"' in html
    assert 'href="/engines"' in client.get("/").get_data(as_text=True)


def test_page_works_without_javascript(client):
    html = client.get("/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html and 'type="submit"' in html
    assert "<script>" not in html.replace('<script src="/static/app.js" defer></script>', "")
    assert "http://" not in html and "https://" not in html  # no CDN or external font


def test_unknown_routes_and_methods(client):
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.put("/api/v1/search").status_code == 405
    assert "error" in client.put("/api/v1/search").get_json()


def test_a_served_engine_folder_follows_cbir_add_and_remove(tiny_collection, tmp_path, monkeypatch):
    import shutil

    from cbir.cli import main
    from cbir.web.service import SearchService

    monkeypatch.setattr(SearchService, "RECHECK_S", 0.0)
    folder, engine = tmp_path / "photos", tmp_path / "engine"
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    assert main(["index", "--dataset", str(folder), "--features", "gch", "--out", str(engine)]) == 0
    app = create_app({"ENGINES": {"photos": engine}})
    client, svc = app.test_client(), app.extensions["cbir"]
    assert client.get("/api/v1/engines").get_json()[0]["size"] == 20
    first = svc.engines["photos"]

    shutil.copytree(tiny_collection / "train" / "stripes", folder / "stripes")
    assert main(["add", str(engine), "--dataset", str(folder)]) == 0
    assert client.get("/api/v1/health").get_json()["images"] == 40  # before any search asks for the engine
    query = (folder / "stripes" / "004.png").read_bytes()
    hits = client.post("/api/v1/search?k=1", data={"image": (io.BytesIO(query), "q.png")}).get_json()["hits"]
    assert hits[0]["id"] == "stripes/004.png"  # the new version answers
    assert client.get("/api/v1/engines").get_json()[0]["size"] == 40
    assert first._batcher.join(timeout=5)  # the old version's batching worker stopped

    assert main(["remove", str(engine), "stripes/004.png"]) == 0
    hits = client.post("/api/v1/search?k=1", data={"image": (io.BytesIO(query), "q.png")}).get_json()["hits"]
    assert hits[0]["id"] != "stripes/004.png" and client.get("/?id=stripes/004.png").status_code == 404


def test_a_new_version_that_fails_to_load_leaves_the_served_one_in_place(tiny_collection, tmp_path, monkeypatch,
                                                                          caplog):
    from cbir.cli import main
    from cbir.web.service import SearchService

    monkeypatch.setattr(SearchService, "RECHECK_S", 0.0)
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--out", str(engine)]) == 0
    client = create_app({"ENGINES": {"e": engine}}).test_client()
    (engine / "v-broken").mkdir()
    (engine / "v-broken" / "manifest.json").write_text("{}")
    (engine / "CURRENT").write_text("v-broken")
    query = (tiny_collection / "test" / "blobs" / "000.png").read_bytes()
    response = client.post("/api/v1/search?k=3", data={"image": (io.BytesIO(query), "q.png")})
    assert response.status_code == 200 and len(response.get_json()["hits"]) == 3
    assert "keeping the loaded 'e'" in caplog.text and "v-broken" in caplog.text


def test_a_wrong_method_says_which_are_allowed(client):
    response = client.delete("/api/v1/search")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS",
                                                                                          "POST"}
    assert response.get_json() == {"error": response.get_json()["error"]} and "X-Frame-Options" in response.headers
    page = client.delete("/")
    assert page.status_code == 405 and "POST" in page.headers["Allow"] and page.mimetype == "text/html"


def test_an_image_gone_from_disk_is_a_404_that_names_no_server_path(tiny_collection, tmp_path):
    import shutil

    folder = tmp_path / "photos"
    shutil.copytree(tiny_collection / "train" / "blobs", folder / "blobs")
    engine = Engine.build(load_folder(folder, progress=False, cache=False), make_extractor("gch"), progress=False)
    client = create_app({"ENGINES": {"e": engine}}).test_client()
    expected = client.get("/api/v1/similar/blobs/001.png?k=3").get_json()["hits"]
    (folder / "blobs" / "001.png").unlink()
    for url in ("/api/v1/images/blobs/001.png", "/api/v1/images/blobs/001.png?size=thumb",
                "/api/v1/similar/blobs/001.png?crop=0,0,0.5,0.5", "/?id=blobs/001.png&crop=0,0,0.5,0.5"):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.get_data(as_text=True)
        assert "not available" in body and str(tmp_path) not in body and "/blobs/001.png" not in body.replace(
            "'blobs/001.png'", "").replace("&#39;blobs/001.png&#39;", ""), (url, body)
    # more like the whole of it: by its vector as indexed, so a drive not mounted leaves it searchable
    assert client.get("/api/v1/similar/blobs/001.png?k=3").get_json()["hits"] == expected
    assert client.get("/?id=blobs/001.png&k=3").status_code == 200


def test_a_file_name_with_a_newline_is_served_and_printed_on_one_line(tiny_collection, tmp_path, capsys):
    from cbir.cli import main

    folder = tmp_path / "photos" / "blobs"
    folder.mkdir(parents=True)
    odd = "two\nlines.png"
    (folder / odd).write_bytes((tiny_collection / "train" / "blobs" / "000.png").read_bytes())
    engine = Engine.build(load_folder(folder.parent, progress=False, cache=False), make_extractor("gch"),
                          progress=False)
    client = create_app({"ENGINES": {"e": engine}}).test_client()
    hit = upload(client, (folder / odd).read_bytes()).get_json()["hits"][0]
    assert hit["id"] == f"blobs/{odd}"
    assert client.get(hit["url"]).status_code == 200 and client.get(hit["url"] + "?size=thumb").status_code == 200
    assert client.get("/api/v1/similar/" + quote(hit["id"])).status_code == 200
    engine.save(tmp_path / "engine")
    capsys.readouterr()
    assert main(["search", str(tmp_path / "engine"), str(folder / odd), "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].endswith("blobs/two\\nlines.png") and len(out.splitlines()) == 2


def test_a_huge_upload_is_decoded_at_the_size_the_search_needs(client):
    big = png(Image.new("RGB", (6000, 4000), "teal"), fmt="JPEG", quality=80)
    svc = client.application.extensions["cbir"]
    assert svc.decode_upload(big).shape == (171, 256, 3)
    assert upload(client, big, filename="big.jpg").status_code == 200


def test_uploads_decode_in_bounded_memory(tmp_path):
    """Decoding a 6000x6000 JPEG upload raises the process's peak memory by far less than the 108 MB that the
    full-size pixels take (peak resident memory, measured in a fresh process)."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 255, (60, 60, 3), dtype=np.uint8)).resize((6000, 6000))
    small.save(tmp_path / "big.jpg", quality=85)
    script = f"""
import resource
from pathlib import Path
from cbir import Engine
from cbir.features import make_extractor
from cbir.web.service import SearchService
import numpy as np
engine = Engine(make_extractor("gch"), __import__("cbir.index.exact", fromlist=["x"]).ExactIndex(64))
svc = SearchService({{"e": engine}})
data = Path({str(tmp_path / "big.jpg")!r}).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = svc.decode_upload(data)
print(image.shape, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["(256,", "256,", "3)"] and int(out[3]) < 30, out


def test_heic_uploads_decode_one_at_a_time(client, monkeypatch):
    """A HEIC photo is decoded at full size (~280 MB at its peak for 6000x6000 pixels): two at once would pass the
    memory a JPEG upload is held to; a JPEG still goes ahead beside one, and HEICs waiting hold no decoder."""
    import threading

    from cbir.web import service as service_mod

    svc = client.application.extensions["cbir"]
    heic = (Path(__file__).parent / "data" / "astronaut.heic").read_bytes()
    running, most, lock = [], {"heic": 0, "all": 0}, threading.Lock()
    heic_inside, jpeg_started = threading.Event(), threading.Event()
    real_decode = service_mod.decode_image

    def decode(data, **kw):
        with lock:
            running.append(data is heic)
            most["heic"], most["all"] = max(most["heic"], sum(running)), max(most["all"], len(running))
        if data is heic:
            heic_inside.set()
            jpeg_started.wait(5)  # the first HEIC stays until the JPEG has come in beside it
        else:
            jpeg_started.set()
        with lock:
            running.remove(data is heic)
        return real_decode(data, **kw)

    monkeypatch.setattr(service_mod, "decode_image", decode)
    threads = [threading.Thread(target=svc.decode_upload, args=(d,)) for d in (heic, heic, heic, png(fmt="JPEG"))]
    for t in threads[:3]:
        t.start()
    heic_inside.wait(5)
    threads[3].start()  # the JPEG, once a HEIC is being decoded
    for t in threads:
        t.join()
    assert most == {"heic": 1, "all": 2}


def test_filters_and_a_score_cut_off_in_the_api_and_on_the_page(client, collection):
    query = query_bytes(collection)  # a stripes image
    hits = upload(client, query, url="/api/v1/search?k=5&label=blobs&label=gradient").get_json()["hits"]
    assert len(hits) == 5 and {h["label"] for h in hits} <= {"blobs", "gradient"}
    hits = upload(client, query, url="/api/v1/search?k=50&folder=gradient/01").get_json()["hits"]
    assert sorted(h["id"] for h in hits) == [f"gradient/{i:03d}.png" for i in range(10, 20)]
    top = upload(client, query, url="/api/v1/search?k=50").get_json()["hits"]
    cut = top[3]["score"]
    kept = upload(client, query, url=f"/api/v1/search?k=50&min_score={cut!r}").get_json()["hits"]
    assert kept == [h for h in top if h["score"] >= cut] and len(kept) >= 4
    similar = client.get("/api/v1/similar/stripes/003.png?k=4&label=blobs").get_json()["hits"]
    assert len(similar) == 4 and {h["label"] for h in similar} == {"blobs"}
    assert upload(client, query, url="/api/v1/search?since=last-year").status_code == 400
    bad = upload(client, query, url="/api/v1/search?min_score=high")
    assert bad.status_code == 400 and "min_score must be a number" in bad.get_json()["error"]
    assert upload(client, query, url="/api/v1/search?min_score=2").status_code == 400
    page = client.post("/", data={"image": (io.BytesIO(query), "q.png"), "label": "blobs", "k": "3"},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Only images labelled blobs." in page and page.count('class="label">blobs<') == 3
    assert "label=blobs" in page  # "more like this" keeps the filter
    params = {p["name"] for p in client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/search"]["post"]
              ["parameters"]}
    assert {"label", "split", "folder", "min_score"} <= params


def side_by_side(collection, left="blobs/000.png", right="stripes/003.png") -> bytes:
    """Two indexed images in one picture, one beside the other."""
    a, b = (np.asarray(Image.open(collection / name).convert("RGB")) for name in (left, right))
    return png(Image.fromarray(np.concatenate([a, b], axis=1)))


def test_a_part_of_an_image_is_searched_with_from_the_api_and_the_page(client, collection):
    both = side_by_side(collection)
    for crop, first in (("0,0,0.5,1", "blobs/000.png"), ("0.5,0,0.5,1", "stripes/003.png")):
        hits = upload(client, both, url=f"/api/v1/search?engine=gch&crop={crop}").get_json()["hits"]
        assert hits[0]["id"] == first and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    rounded = upload(client, both, url="/api/v1/search?engine=gch&crop=0.3334,0,0.6667,1")  # 1.0001: rounding
    assert rounded.status_code == 200
    whole = upload(client, both, url="/api/v1/search?engine=gch").get_json()["hits"]
    assert whole[0]["score"] < 0.99
    similar = client.get("/api/v1/similar/stripes/003.png?engine=gch&k=3&crop=0,0,0.5,0.5")
    assert similar.status_code == 200 and "stripes/003.png" not in [h["id"] for h in similar.get_json()["hits"]]
    page = upload(client, both, url="/", filename="two.png", engine="gch", crop="0.5,0,0.5,1").get_data(as_text=True)
    assert "Query: <span class=\"name\">two.png</span> (a part)" in page and 'href="/?id=stripes/003.png' in page
    page = client.get("/?id=stripes/003.png&engine=gch&crop=0,0,0.5,0.5").get_data(as_text=True)
    assert "(a part)" in page and 'data-crop="0,0,0.5,0.5"' in page
    documented = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert all({"crop", "distinct"} <= {p["name"] for p in documented[route][method]["parameters"]}
               for route, method in (("/api/v1/search", "post"), ("/api/v1/similar/{image_id}", "get")))


def test_an_upload_is_refused_by_the_pixels_it_would_decode(engines):
    """A JPEG is decoded at a fraction of its size: over the limit by its header, it is read; a PNG is not."""
    client = create_app({"ENGINES": engines, "MAX_PIXELS": 1_000_000}).test_client()
    assert upload(client, png(size=(3000, 3000), fmt="JPEG")).status_code == 200
    refused = upload(client, png(size=(3000, 3000)))
    assert refused.status_code == 422 and "3000x3000 = 9,000,000 pixels" in refused.get_json()["error"]


def test_a_small_part_is_cut_from_the_image_read_larger(client, engines, monkeypatch):
    """A quarter of a photo read at index size would be 64 pixels: it is read at 1,024 and the part is 256."""
    from cbir.datasets.regions import Region

    assert Region.parse("0.25,0.1,0.5,0.6").read_side(256) == 427
    assert Region.parse("0,0,0.01,0.01").read_side(256) == 2048  # a tiny part: read at 2,048 at most
    assert Region.parse("0.25,0.1,0.5,0.6").of(np.zeros((100, 200, 3), np.uint8)).shape == (60, 100, 3)
    searched = []
    real = engines["gch"].search
    monkeypatch.setattr(engines["gch"], "search", lambda images, **kw: searched.append(images[0].shape) or
                        real(images, **kw))
    photo = png(Image.fromarray(pictures.astronaut()).resize((3000, 3000)), fmt="JPEG")
    assert upload(client, photo, url="/api/v1/search?engine=gch&crop=0.5,0.5,0.25,0.25").status_code == 200
    assert upload(client, photo, url="/api/v1/search?engine=gch").status_code == 200
    assert searched == [(256, 256, 3), (256, 256, 3)]


@pytest.mark.parametrize("crop, message", [
    ("0,0,1", "a crop is LEFT,TOP,WIDTH,HEIGHT"), ("a,b,c,d", "a crop is LEFT,TOP,WIDTH,HEIGHT"),
    ("0,0,nan,1", "a crop is LEFT,TOP,WIDTH,HEIGHT"), ("0.5,0,0.502,1", "a crop lies within the image"),
    ("0,0,0,1", "a crop lies within the image"), ("-0.1,0,0.5,0.5", "a crop lies within the image"),
    ("0,0,0.1,0.1", "that part of the image is 6x3 pixels")])
def test_a_crop_outside_the_image_or_too_small_is_a_clear_400(client, collection, crop, message):
    response = upload(client, side_by_side(collection), url=f"/api/v1/search?crop={crop}")
    assert response.status_code == 400 and message in response.get_json()["error"]
