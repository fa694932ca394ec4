"""End to end in a real browser: Debian's chromium driven by Playwright against `cbir serve`."""

import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from conftest import red_and_blue, served, write_collection, write_dng
from test_duplicates import planted  # noqa: F401  (a fixture: photos with planted copies, indexed)

from cbir.cli import main
from cbir.engine import Engine

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = pytest.mark.cifar10


@pytest.fixture(scope="module")
def server(real_cifar10, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    engine = tmp_path_factory.mktemp("browser") / "cifar10-hog-gch"
    assert main(["index", "--dataset", "cifar10", "--data", str(real_cifar10), "--features", "hog-gch",
                 "--max-index", "1000", "--out", str(engine)]) == 0
    with served(engine) as url:
        yield url


def launch(pw):
    """Headless Debian chromium, kept off the network it cannot reach."""
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def until(page, script: str, timeout_s: float = 30.0) -> None:
    """Wait until `script` (an expression) is true in the page: asked again and again through the browser's own
    evaluation (Playwright's `wait_for_function` evaluates strings with `eval`, which the page's CSP refuses
    whenever the answer is not there at the first try)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"still not true after {timeout_s:g} s: {script}"
        page.wait_for_timeout(50)


def all_loaded(page, images: str = "#results img") -> None:
    """Wait until every result thumbnail (`images`: which) has been fetched and decoded."""
    until(page, f"[...document.querySelectorAll('{images}')].every(img => img.complete && img.naturalWidth > 0)")


def fits_phones(page, what: str) -> None:
    """The page fits a phone's width: nothing scrolls sideways (ends at the 390 px wide viewport)."""
    for width in (320, 390):
        page.set_viewport_size({"width": width, "height": 844})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{what} is {overflow} px wider than a {width} px screen"


def test_upload_then_click_a_result(server, real_cifar10, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    query = tmp_path / "cat-0007.jpg"
    with zipfile.ZipFile(real_cifar10) as zf:
        query.write_bytes(zf.read("cifar10/test/cat/0007.jpg"))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server + "/")
        page.set_input_files("#image", str(query))  # the page submits as soon as a file is chosen
        page.wait_for_selector("#results .hit")
        assert page.locator("#results .hit").count() == 10
        assert "cat-0007.jpg" in page.locator(".query h2").inner_text()
        expect(page.locator("#together button").first).to_be_disabled()  # nothing ticked: an upload has no box
        page.locator("#results .pick input").first.check()
        assert page.locator("#together button").first.is_enabled()
        page.locator("#results .pick input").first.uncheck()
        all_loaded(page)
        page.screenshot(path=str(ARTIFACTS / "browser-upload.png"), full_page=True)

        first = page.locator("#results .hit a").first
        clicked_id = first.get_attribute("href").split("id=")[1].split("&")[0]
        first.click()
        page.wait_for_url(re.compile(r"/\?id="))
        page.wait_for_selector("#results .hit")
        assert page.locator("#results .hit").count() == 10
        assert "lie in folders named" in page.locator("#diagnostic").inner_text()  # hog-gch learned no classes
        assert clicked_id.replace("%2F", "/") in page.url.replace("%2F", "/")
        all_loaded(page)
        page.screenshot(path=str(ARTIFACTS / "browser-more-like-this.png"), full_page=True)

        fits_phones(page, "the results page")
        page.screenshot(path=str(ARTIFACTS / "browser-phone.png"), full_page=True)
        page.goto(server + "/engines")
        fits_phones(page, "the engines page")
        browser.close()


def drag_across(page, selector: str, start=(0.1, 0.15), end=(0.7, 0.8)) -> None:
    """Drag the mouse across part of an element (fractions of its box)."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=6)
    page.mouse.up()


def test_a_part_of_the_query_is_searched_by_dragging_across_it(server, real_cifar10, tmp_path):
    from playwright.sync_api import sync_playwright

    query = tmp_path / "ship-0001.jpg"
    with zipfile.ZipFile(real_cifar10) as zf:
        query.write_bytes(zf.read("cifar10/test/ship/0001.jpg"))
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server + "/")
        page.set_input_files("#image", str(query))
        page.wait_for_selector("#results .hit")
        whole = page.locator("#results .hit a").first.get_attribute("href")
        until(page, "typeof cbirUploads !== 'undefined'")  # the page's script, run once it is parsed
        kept = page.evaluate("cbirUploads.kept().then((files) => files.map((file) => [file.name, file.size]))")
        assert kept == [["ship-0001.jpg", query.stat().st_size]]  # the file as chosen, sent again with the part
        drag_across(page, "#query-pic img")
        page.wait_for_selector("#query h2:has-text('(a part)')")
        page.wait_for_selector(".crop-box", state="visible")  # drawn once the query's picture has loaded
        assert "ship-0001.jpg" in page.locator("#query h2").inner_text()
        assert page.locator("#results .hit").count() == 10
        assert page.locator("#results .hit a").first.get_attribute("href") != whole  # another search
        page.locator("#results .hit a").first.click()  # an indexed image: its part by address
        page.wait_for_selector("#results .hit")
        drag_across(page, "#query-pic img", (0.9, 0.9), (0.3, 0.2))  # any way round
        page.wait_for_url(re.compile(r"crop=0\.\d+%2C0\.\d+%2C0\.\d+%2C0\.\d+"))
        page.wait_for_selector("#results .hit")
        page.wait_for_selector(".crop-box", state="visible")
        assert "(a part)" in page.locator("#query h2").inner_text()
        page.screenshot(path=str(ARTIFACTS / "browser-part.png"), full_page=True)
        browser.close()


def test_an_upload_over_the_limit_is_refused_with_the_reason(server, tmp_path):
    from playwright.sync_api import sync_playwright

    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff" + os.urandom(12 << 20))  # over the default 10 MB
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()  # with JavaScript, the page refuses it before sending anything
        page.goto(server + "/")
        posts = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.set_input_files("#image", str(huge))
        assert page.locator("p.error").inner_text() == "the upload is larger than the 10 MB limit"
        assert posts == []

        page = browser.new_context(java_script_enabled=False).new_page()  # without, the server answers
        page.goto(server + "/")
        page.set_input_files("#image", str(huge))
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click("button[type=submit]")
        assert answer.value.status == 413
        page.wait_for_selector("p.error")
        assert page.locator("p.error").inner_text() == "the upload is larger than the 10 MB limit"
        browser.close()


def test_ticked_results_are_searched_with_together(server, real_cifar10, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server + "/")
        page.locator("#examples .hit a").first.click()
        page.wait_for_selector("#results .hit")
        query = page.locator("#query").get_attribute("data-id")
        picks = page.locator("#results .pick:not(.unlike) input")
        picks.nth(0).check()
        picks.nth(2).check()
        ticked = [picks.nth(i).get_attribute("value") for i in (0, 2)]
        page.click("#together button")
        page.wait_for_selector("#query-set")
        assert "3 images together" in page.locator(".query h2").inner_text()
        assert [page.locator("#query-set input").nth(i).get_attribute("value") for i in range(3)] == [query, *ticked]
        shown = [picks.nth(i).get_attribute("value") for i in range(10)]
        assert not set(shown) & {query, *ticked}
        all_loaded(page)

        nots = page.locator("#results .pick.unlike input")  # "not like this": wanted or not, never both
        picks.nth(1).check()
        nots.nth(1).check()
        assert not picks.nth(1).is_checked() and page.locator("#together button").first.is_enabled()
        page.click("#together button")
        page.wait_for_selector("#query-set .unlike")
        assert "3 images together, less like 1 other" in page.locator(".query h2").inner_text()
        assert page.locator("#query-set .unlike input").get_attribute("value") == shown[1]
        assert float(page.locator("#query-set .unlike").locator("xpath=..").locator("img").evaluate(
            "img => getComputedStyle(img).opacity")) < 1  # shown dimmed

        upload = tmp_path / "query.jpg"  # an upload, with a result marked "not": sent again with the mark
        with zipfile.ZipFile(real_cifar10) as zf:
            upload.write_bytes(zf.read("cifar10/test/cat/0003.jpg"))
        page.set_input_files("#image", str(upload))
        page.wait_for_selector("#query-pic img[src^='data:']")
        expect(page.locator("#together button").first).to_be_disabled()  # once the page's script has run
        marked = page.locator("#results .pick.unlike input").nth(0)
        marked.check()
        expect(page.locator("#together button").first).to_be_enabled()  # the upload is searched with in any case
        unwanted = marked.get_attribute("value")
        page.locator("#together button").first.click()
        page.wait_for_selector("#query-set img[src^='data:']")
        assert "1 image, less like 1 other" in page.locator(".query h2").inner_text()
        assert page.locator("#query-set .unlike input").get_attribute("value") == unwanted
        assert unwanted not in [page.locator("#results .pick:not(.unlike) input").nth(i).get_attribute("value")
                                for i in range(10)]
        page.click("#more button")  # the next ten of the same search: the upload sent again, with its mark
        page.wait_for_selector("#results .rank:text('#11')")
        assert "1 image, less like 1 other" in page.locator(".query h2").inner_text()

        files = []  # several files chosen at once: searched with together
        with zipfile.ZipFile(real_cifar10) as zf:
            for name in ("cat/0007.jpg", "cat/0011.jpg"):
                files.append(tmp_path / name.replace("/", "-"))
                files[-1].write_bytes(zf.read(f"cifar10/test/{name}"))
        page.set_input_files("#image", [str(file) for file in files])
        page.wait_for_selector("#query-set img[src^='data:']")
        assert "2 images together" in page.locator(".query h2").inner_text()
        assert page.locator("#results .hit").count() == 10
        page.locator("#results .pick.unlike input").nth(0).check()  # both files sent again, with the mark
        page.locator("#together button").first.click()
        page.wait_for_selector("#query-set .unlike")
        assert "2 images together, less like 1 other" in page.locator(".query h2").inner_text()
        assert page.locator("#query-set img[src^='data:']").count() == 2
        page.click("#more button")
        page.wait_for_selector("#results .rank:text('#11')")
        assert "2 images together, less like 1 other" in page.locator(".query h2").inner_text()
        browser.close()


def test_a_camera_raw_file_dropped_on_the_page_is_searched_with(server, tmp_path):
    """A browser names no type for most raw files: the page takes them by their name, as its file picker does."""
    import base64

    import numpy as np
    from playwright.sync_api import sync_playwright
    from skimage import data as pictures

    raw = write_dng(tmp_path / "DSC_0001.NEF", red_and_blue(), np.ascontiguousarray(pictures.chelsea()[:300, :450]))
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.goto(server + "/")
        assert ".nef" in page.get_attribute("#image", "accept").split(",")
        page.evaluate("""data => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "DSC_0001.NEF", {type: ""}));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer}));
        }""", base64.b64encode(raw.read_bytes()).decode())
        page.wait_for_selector("#results .hit")
        assert "DSC_0001.NEF" in page.locator(".query h2").inner_text() and page.locator("#results .hit").count() == 10
        browser.close()


def test_pictures_named_in_words_are_found_from_the_search_box(real_cifar10, tmp_path):
    """Enter in the words field finds them (not the upload's "choose a file"), at an address with only the words
    and what was set; the next results are of the same words."""
    from urllib.parse import parse_qsl, urlsplit

    from playwright.sync_api import sync_playwright

    engine = tmp_path / "cifar10-cnn"
    assert main(["index", "--dataset", "cifar10", "--data", str(real_cifar10), "--features", "cnn",
                 "--max-index", "500", "--out", str(engine)]) == 0
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/")
        page.fill("#words", "vehicles")
        page.press("#words", "Enter")
        page.wait_for_selector("#results .hit")
        asked = parse_qsl(urlsplit(page.url).query, keep_blank_values=True)  # nothing empty, no file name
        assert sorted(asked) == [("engine", "cifar10-cnn"), ("k", "10"), ("words", "vehicles")], page.url
        assert page.locator("#diagnostic").inner_text().startswith("Pictures of airplane, automobile, ship or truck")
        labels = page.locator("#results .label").all_inner_texts()
        assert len(labels) == 10 and set(labels) <= {"airplane", "automobile", "ship", "truck"}
        all_loaded(page)
        page.screenshot(path=str(ARTIFACTS / "browser-words.png"), full_page=True)
        page.click("#more button")
        page.wait_for_url(re.compile(r"offset=10"))
        assert "words=vehicles" in page.url and page.locator(".rank").first.inner_text() == "#11"
        fits_phones(page, "a search by words")

        assert page.request.get(url + "/api/v1/words").ok  # what the images show, once worked out
        page.goto(url + "/")
        chips = page.locator("#shows a")
        assert chips.count() == 10  # the network's ten classes, most often shown first
        chips.filter(has_text="truck").click()
        page.wait_for_selector("#results .hit")
        assert "words=truck" in page.url and set(page.locator("#results .label").all_inner_texts()) == {"truck"}

        page.click("details.filters summary")  # looked through within a filter: the words stay out of it
        page.fill("input[name=showing]", "ship")
        page.click("#browse")
        page.wait_for_url(re.compile(r"browse=1"))
        asked = dict(parse_qsl(urlsplit(page.url).query))
        assert asked["showing"] == "ship" and "words" not in asked
        assert set(page.locator("#results .label").all_inner_texts()) == {"ship"}
        assert page.locator("#narrowed").inner_text() == "Only images showing ship."
        browser.close()


def test_a_result_opens_large_on_the_page_and_the_arrow_keys_go_through_them(server):
    from urllib.parse import unquote

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.clock.install()  # the slideshow's time: moved on by the test, not by the machine
        page.goto(server + "/?browse=1&k=5")
        page.wait_for_selector("#results .hit")
        ids = [unquote(href.split("id=")[1].split("&")[0]) for href in
               page.locator("#results .hit > a:not(.open)").evaluate_all("links => links.map(a => a.href)")]
        viewer = page.locator("#viewer")
        assert not viewer.is_visible()
        page.locator("#results .hit a.open").nth(1).click()  # on the page, not in a tab
        assert viewer.is_visible() and len(browser.contexts[0].pages) == 1
        picture = viewer.locator("img")
        until(page, "document.querySelector('#viewer img').naturalWidth > 0")  # the original shown
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[1]}")
        assert viewer.locator(".caption").inner_text().startswith(f"#2 · {ids[1]}")
        assert f"/photo/{ids[1]}?" in unquote(viewer.locator("a.page").get_attribute("href"))  # its own page
        page.keyboard.press("ArrowRight")
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[2]}")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")  # past the first: the last
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[4]}")
        page.keyboard.press(" ")  # a slideshow: every 4 seconds the next, round again after the last
        page.clock.run_for(4000)
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[0]}")
        page.clock.run_for(4000)
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[1]}")
        assert viewer.locator("button.play").get_attribute("aria-label") == "pause"
        viewer.locator("button.play").click()  # paused
        page.clock.run_for(8000)
        assert unquote(picture.get_attribute("src")).endswith(f"/api/v1/images/{ids[1]}")
        page.screenshot(path=str(ARTIFACTS / "browser-viewer.png"))
        fits_phones(page, "a result shown large")
        page.keyboard.press("Escape")
        assert not viewer.is_visible()
        page.locator("#results .hit a.open").first.click()
        viewer.locator("a.like").click()  # more like the one shown
        page.wait_for_url(re.compile(r"id="))
        assert unquote(page.url).split("id=")[1].split("&")[0] == ids[0]
        browser.close()


def test_a_video_plays_where_a_photo_shows(tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from test_video import clip

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    (tmp_path / "photos").mkdir()
    clip(tmp_path / "photos" / "clip.mp4")
    Image.new("RGB", (64, 48), (200, 120, 40)).save(tmp_path / "photos" / "still.png")
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tmp_path / "photos"), "--features", "gch", "--out", str(engine)]) == 0
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/?browse=1")
        page.wait_for_selector("#results .hit")
        video_hit = page.locator("#results .hit", has=page.locator(".video"))
        assert video_hit.count() == 1
        video_hit.locator("a.open").click()
        viewer = page.locator("#viewer")
        assert viewer.locator("video").is_visible() and not viewer.locator("img").is_visible()
        assert viewer.locator("video").get_attribute("src").endswith("/api/v1/images/clip.mp4")
        page.keyboard.press("ArrowRight")  # the photo: a picture again
        assert viewer.locator("img").is_visible() and not viewer.locator("video").is_visible()
        browser.close()


def test_the_duplicates_page_shows_each_group_and_what_it_keeps(planted):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    root, engine = planted
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/")
        page.click("footer >> text=duplicates")
        page.wait_for_selector(".group")
        assert page.locator(".group").count() >= 6
        assert page.locator(".group .hit.keep").count() == page.locator(".group").count()  # one kept per group
        assert "images beside the kept ones" in page.locator("#summary").inner_text()
        all_loaded(page, ".group img")
        page.screenshot(path=str(ARTIFACTS / "browser-duplicates.png"), full_page=True)
        fits_phones(page, "the duplicates page")
        page.set_viewport_size({"width": 1100, "height": 900})
        page.check("input[name=exact_only]")
        page.click("form.narrow button")
        page.wait_for_url(re.compile(r"exact_only=1"))
        assert page.locator(".group").count() == 2 and page.locator(".group h3").first.inner_text().endswith(
            "exact copies")
        page.locator(".group .hit a.open").nth(1).click()  # the copy beside the kept one, shown large
        viewer = page.locator("#viewer")
        assert viewer.is_visible() and viewer.locator(".caption").inner_text().startswith("#2 · ")
        opened = page.locator(".group .hit a.open").nth(1).get_attribute("href")
        assert viewer.locator("img").get_attribute("src").endswith(opened) and viewer.locator("a.like").is_visible()
        page.keyboard.press("Escape")
        page.locator(".group .hit a").first.click()  # an image of a group: the images most like it
        page.wait_for_selector("#results .hit")
        browser.close()


def test_the_people_on_the_page_and_in_the_large_view(tmp_path):
    """A person's face on the start page leads to their photos; each result, and its large view, says who is in it
    with its tags."""
    from playwright.sync_api import expect, sync_playwright
    from test_faces import indexed, photos
    from test_tags import xmp

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    album = photos(tmp_path / "album")
    (album / "hopper/h1.jpg.xmp").write_bytes(xmp(["navy"], 5))
    engine = indexed(album, tmp_path)
    assert main(["faces", str(engine), "--name", "2=Grace Hopper"]) == 0
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/")
        page.locator("#people a", has_text="Grace Hopper").click()
        page.wait_for_selector("#results .hit")
        assert page.locator("#narrowed").inner_text() == "Only images with Grace Hopper."
        assert page.locator("#results .people").all_inner_texts() == ["with Grace Hopper"] * 3
        page.locator("#results .hit", has_text="h1.jpg").locator("a.open").click()
        caption = page.locator("#viewer .caption").inner_text()
        assert caption.endswith("· with Grace Hopper · 5 stars · navy")  # who, then what its photo manager said
        face = page.locator("#viewer .face")
        assert face.inner_text() == "Grace Hopper"  # her face framed on the photo, named
        frame, picture = face.bounding_box(), page.locator("#viewer img").bounding_box()
        assert picture["x"] < frame["x"] < frame["x"] + frame["width"] < picture["x"] + picture["width"]
        face.click()  # whose it is: a name, or nobody's
        form = page.locator("#viewer form.face-name")
        assert form.locator("input").input_value() == "Grace Hopper"
        assert form.locator("a.their").get_attribute("href").endswith("person=Grace+Hopper")
        form.locator("input").fill("Grace Brewster Hopper")
        form.locator("button[type=submit]").click()
        expect(face).to_have_text("Grace Brewster Hopper")
        assert form.is_hidden()
        page.keyboard.press("ArrowRight")  # the next of her photos: she is not in it, says the user
        expect(face).to_have_text("Grace Hopper")
        face.click()
        form.locator("button.nobody", has_text="Not Grace Hopper").click()
        expect(face).to_have_text("?")
        face.click()
        form.locator("a.like-face", has_text="Photos with a face like this").click()  # whoever it is
        expect(page.locator("h2 .name")).to_have_text(re.compile(r"a face in hopper/h[23].jpg"))
        assert page.locator("#results .hit").count() == 2  # the other two photos of that face
        browser.close()
    faces = Engine.load(engine).faces
    assert faces.showing("Grace Brewster Hopper") == {"hopper/h1.jpg"}  # kept in the engine
    assert len(faces.showing("Grace Hopper")) == 1 and sum(seen.nobody for seen in faces.in_image("hopper/h2.jpg")
                                                           + faces.in_image("hopper/h3.jpg")) == 1


def test_ticked_results_go_in_an_album_which_is_looked_through_grown_and_deleted(tmp_path):
    """Ticked results put in a new album from the page; the album on the start page; the photos that may belong in
    it put in too; its deletion asked about first."""
    from playwright.sync_api import expect, sync_playwright
    from test_albums import indexed

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    engine = indexed(write_collection(tmp_path / "photos", {"": 8}, seed=3), tmp_path)
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/?browse=1&folder=stripes/&k=4")
        together = page.locator("#together")
        put = together.locator("button", has_text="Put them in the album")
        expect(put).to_be_disabled()  # until an image is ticked
        for hit in page.locator("#results .hit").all()[:2]:
            hit.locator(".pick:not(.unlike) input").check()
        together.locator("input[name=to_album]").fill("Lines")
        put.click()
        expect(page.locator("#narrowed")).to_have_text("Only images in album Lines.")
        assert page.locator("#results .hit").count() == 2
        page.goto(url + "/")
        page.locator("#albums a", has_text="Lines").click()
        page.locator("#album a.suggest", has_text="Photos that may belong in Lines").click()
        expect(page.locator("h2 .name")).to_have_text("photos that may belong in Lines, the most alike first")
        assert together.locator("input[name=to_album]").input_value() == "Lines"  # put in it, as offered
        page.locator("#results .hit").first.locator(".pick:not(.unlike) input").check()
        together.locator("button", has_text="Put them in the album").click()
        assert page.locator("#results .hit").count() == 3
        page.locator("#results .hit").first.locator("a.open").click()  # large: put in another album from there
        viewer = page.locator("#viewer")
        viewer.locator("form.to-album input").fill("Best of")
        viewer.locator("form.to-album button").click()
        expect(viewer.locator("form.to-album .said")).to_have_text("Put in Best of.")
        assert viewer.locator(".caption").inner_text().endswith("· in the albums Best of, Lines")
        heart = viewer.locator("button.favourite")
        expect(heart).to_have_attribute("aria-pressed", "false")
        heart.click()  # ♡: a favorite
        expect(heart).to_have_attribute("aria-pressed", "true")
        assert viewer.locator(".caption").inner_text().endswith("· in the albums Best of, Favorites, Lines")
        albums = Engine.load(engine).albums
        assert albums.images("Favorites") == albums.images("Best of")  # the photo shown
        viewer.locator("[data-step='1']").click()
        expect(heart).to_have_text("♡")  # the next result: no favorite
        viewer.locator("[data-step='-1']").click()
        page.keyboard.press("f")  # F: no longer a favorite
        expect(heart).to_have_attribute("aria-pressed", "false")
        assert "Favorites" not in viewer.locator(".caption").inner_text()
        archive = viewer.locator("button.archive")
        archive.click()  # out of the timeline
        expect(archive).to_have_text("Archived")
        assert Engine.load(engine).albums.archived() == set(albums.images("Best of"))
        archive.click()  # back
        expect(archive).to_have_attribute("aria-pressed", "false")
        viewer.locator(".close").click()
        assert page.locator("#results .hit").first.locator(".albums").inner_text() == "in Best of, Lines"
        page.once("dialog", lambda dialog: dialog.dismiss())  # asked first: kept
        page.locator("#album button", has_text="Delete the album").click()
        assert page.locator("#results .hit").count() == 3 and len(Engine.load(engine).albums) == 2
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#album button", has_text="Delete the album").click()
        expect(page.locator("#albums a")).to_have_count(1)  # the start page: Lines gone, Best of left
        browser.close()
    assert [album.name for album in Engine.load(engine).albums.overview()] == ["Best of"]


def test_a_shared_album_shows_its_photos_large_and_nothing_else(tmp_path):
    """The page of an album shared by a link: a photo clicked shows large, the arrows go through the album's photos
    alone, and nothing there leads to the rest of the engine."""
    from playwright.sync_api import expect, sync_playwright
    from test_albums import indexed

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); make test installs it")
    engine = indexed(write_collection(tmp_path / "photos", {"": 4}, seed=3), tmp_path)
    assert main(["albums", str(engine), "Lines", "--add", "stripes/001.png", "stripes/002.png"]) == 0
    assert main(["albums", str(engine), "Lines", "--share"]) == 0
    secret = Engine.load(engine).albums.link("Lines").secret
    with served(engine) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"{url}/shared/{secret}")
        expect(page.locator("#shared .hit")).to_have_count(2)
        page.locator("#shared .hit div[title]").first.click()  # the photo itself
        viewer = page.locator("#viewer")
        expect(viewer).to_be_visible()
        expect(viewer.locator(".caption")).to_have_text("#1 · 001.png")
        page.keyboard.press("ArrowRight")
        expect(viewer.locator(".caption")).to_have_text("#2 · 002.png")
        until(page, "document.querySelector('#viewer img').naturalWidth > 0")  # its own link serves it
        assert viewer.locator("a.original").get_attribute("href").endswith(f"/shared/{secret}/images/stripes/002.png")
        page.keyboard.press("ArrowRight")  # round again: the album's two, no other
        expect(viewer.locator(".caption")).to_have_text("#1 · 001.png")
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].filter((a) => a.getAttribute('href'))"
                              ".map((a) => new URL(a.href).pathname)")
        assert hrefs and all(h.startswith(f"/shared/{secret}") for h in hrefs), hrefs
        browser.close()
