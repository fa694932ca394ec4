"""Fuzzing the upload path: random bytes and mutated real images never give a 5xx."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cbir import Engine
from cbir.datasets import load_folder
from cbir.features import make_extractor
from cbir.web import create_app


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    im = Image.linear_gradient("L").resize((48, 40)).convert("RGB")
    im.save(buf, fmt)
    return buf.getvalue()


SEEDS = [_encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")]


@pytest.fixture(scope="module")
def client(tiny_collection):
    data = load_folder(tiny_collection, split="train", progress=False, cache=False)
    engine = Engine.build(data, make_extractor("hog-gch"), progress=False)
    app = create_app({"ENGINES": {"tiny": engine}})
    return app.test_client()


@st.composite
def mutated_images(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif action == "truncate":
            del data[pos:]
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[pos: pos + draw(st.integers(1, 64))]
    return bytes(data)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(payload=st.one_of(st.binary(max_size=2048), mutated_images()))
def test_api_never_fails_with_5xx(client, payload):
    multipart = client.post("/api/v1/search", data={"image": (io.BytesIO(payload), "x")},
                            content_type="multipart/form-data")
    raw = client.post("/api/v1/search", data=payload, content_type="application/octet-stream")
    for response in (multipart, raw):
        assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
        assert ("hits" if response.status_code == 200 else "error") in response.get_json()


@FUZZ
@given(payload=mutated_images(), k=st.one_of(st.none(), st.text(max_size=4)))
def test_page_never_fails_with_5xx(client, payload, k):
    fields = {"image": (io.BytesIO(payload), "x.png")}
    if k is not None:
        fields["k"] = k
    response = client.post("/", data=fields, content_type="multipart/form-data")
    assert response.status_code < 500
