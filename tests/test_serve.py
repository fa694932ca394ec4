"""`cbir serve` as a real server process: what any HTTP client gets at the edges (too large, too many)."""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from conftest import served

from cbir.cli import main


@pytest.fixture(scope="module")
def server(tiny_collection, tmp_path_factory):
    engine = tmp_path_factory.mktemp("serve") / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--out", str(engine)]) == 0
    with served(engine, "--threads", "2") as url:  # the default upload limit, 10 MB
        yield url


def test_a_client_that_sends_all_its_body_first_gets_the_json_413(server):
    body = b"\xff\xd8\xff" + bytes(12 << 20)
    for content_type in ("application/octet-stream", "multipart/form-data; boundary=xyz"):
        request = urllib.request.Request(server + "/api/v1/search", data=body, method="POST",
                                         headers={"Content-Type": content_type})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == 413 and caught.value.headers["X-Frame-Options"] == "DENY"
        assert json.loads(caught.value.read()) == {"error": "the upload is larger than the 10 MB limit"}


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_gets_the_json_413(server, tmp_path):
    (tmp_path / "big.jpg").write_bytes(bytes(12 << 20))
    out = subprocess.run(["curl", "-s", "-i", "-F", f"image=@{tmp_path / 'big.jpg'}", server + "/api/v1/search"],
                         capture_output=True, text=True, timeout=60).stdout
    assert "\nHTTP/1.1 413 " in "\n" + out and out.rstrip().endswith(
        '{"error":"the upload is larger than the 10 MB limit"}'), out[:300]


def test_a_crowd_of_idle_connections_does_not_keep_a_search_waiting(server):
    host, port = server.removeprefix("http://").split(":")
    crowd = []
    try:
        for _ in range(150):  # more than a server accepting 100 connections at once would take
            sock = socket.create_connection((host, int(port)))
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # and never finish the request
            crowd.append(sock)
        time.sleep(0.5)  # let the server take them all in
        with urllib.request.urlopen(server + "/api/v1/engines", timeout=10) as response:
            assert response.status == 200 and json.loads(response.read())[0]["size"] == 60
    finally:
        for sock in crowd:
            sock.close()


def test_the_server_keeps_blas_on_one_thread(tiny_collection, tmp_path, monkeypatch):
    """Idle BLAS threads spin: a server's BLAS work runs on its request's thread, as FAISS's does."""
    import waitress
    from threadpoolctl import threadpool_info

    engine = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--out", str(engine)]) == 0
    blas = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kwargs: blas.extend(
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"))
    assert main(["serve", str(engine), "--port", "0"]) == 0
    assert blas and set(blas) == {1}


def test_a_password_from_the_environment_and_a_warning_without_one_on_the_network(tiny_collection, tmp_path,
                                                                                   monkeypatch, capsys):
    import waitress

    engine = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--out", str(engine)]) == 0
    apps = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kwargs: apps.append((app, kwargs["host"])))
    capsys.readouterr()
    assert main(["serve", str(engine), "--port", "0", "--host", "0.0.0.0"]) == 0
    assert apps[-1][0].config["PASSWORD"] is None
    assert "serving on 0.0.0.0 without a password: anyone who reaches it sees every indexed image; set " \
           "CBIR_SERVE_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("CBIR_SERVE_PASSWORD", "s3cret")
    assert main(["serve", str(engine), "--port", "0", "--host", "0.0.0.0"]) == 0
    captured = capsys.readouterr()
    assert apps[-1][0].config["PASSWORD"] == "s3cret" and "asks for CBIR_SERVE_PASSWORD" in captured.out
    assert "without a password" not in captured.err and "s3cret" not in captured.out + captured.err
    monkeypatch.delenv("CBIR_SERVE_PASSWORD")
    assert main(["serve", str(engine), "--port", "0"]) == 0 and "without a password" not in capsys.readouterr().err

    from cbir.cli import serve

    assert serve.lan_address() is None or not serve.lan_address().startswith("127.")  # this machine's, or none
    monkeypatch.setattr(serve, "lan_address", lambda: "192.168.1.20")
    assert main(["serve", str(engine), "--port", "5123", "--host", "0.0.0.0"]) == 0
    assert "from another device on the network: http://192.168.1.20:5123/" in capsys.readouterr().out
    assert main(["serve", str(engine), "--port", "5123"]) == 0 and "another device" not in capsys.readouterr().out


def test_served_under_a_path_behind_a_proxy(tiny_collection, tmp_path):
    """`--url-prefix /photos`: the page, its links, its script and the API at /photos/..., as a proxy passes
    https://example.org/photos/ on."""
    import re

    engine = tmp_path / "engine"
    assert main(["index", "--dataset", f"{tiny_collection}:train", "--features", "gch", "--out", str(engine)]) == 0
    with served(engine, "--url-prefix", "/photos/", prefix="/photos") as url:
        page = urllib.request.urlopen(url + "/").read().decode()
        links = re.findall(r'(?:href|src|action)="(/[^"]*)"', page)
        assert links and all(link.startswith("/photos/") for link in links), links
        assert urllib.request.urlopen(url + "/static/app.js").status == 200
        assert json.load(urllib.request.urlopen(url + "/api/v1/engines"))[0]["size"] == 60
        image = next(link for link in links if "/api/v1/images/" in link)
        assert urllib.request.urlopen(url.removesuffix("/photos") + image).status == 200
    with pytest.raises(SystemExit) as refused:
        main(["serve", str(engine), "--url-prefix", "/a?b"])
    assert refused.value.code == 2
