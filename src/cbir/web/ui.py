"""The search page: upload (picker, drag-and-drop, paste) or pick an indexed image; see its matches."""

from __future__ import annotations

import base64
from collections import Counter

from flask import Blueprint, current_app, render_template, request, url_for

from cbir.web.service import RequestError, Searched, SearchService, thumbnail_png

bp = Blueprint("ui", __name__)
NARROWING = ("label", "folder", "since", "until", "min_score")


def service() -> SearchService:
    return current_app.extensions["cbir"]


def diagnostic(searched: Searched, labelled: bool) -> str | None:
    """How many shown results share the query's known class, or the class most of them have."""
    labels = [h.label for h in searched.result.hits if h.label is not None]
    if not labelled or not labels:
        return None
    shown = len(searched.result.hits)
    if searched.query_label is not None:
        same = sum(label == searched.query_label for label in labels)
        return f"{same} of {shown} results share the query's class, {searched.query_label}."
    scores = Counter()
    for h in searched.result.hits:
        scores[h.label] += 1 + h.score / 1000  # most votes; ties go to the higher-scoring class
    predicted = scores.most_common(1)[0][0]
    same = sum(label == predicted for label in labels)
    return f"Predicted class: {predicted} (most common among the results): {same} of {shown} results."


@bp.route("/", methods=["GET", "POST"])
def index():
    svc = service()
    engine = request.values.get("engine") or svc.default_engine
    # the filter fields as given, kept in the form and in every "more like this" link
    narrowing = {key: request.values.get(key) for key in NARROWING if request.values.get(key)}
    context = {"engines": list(svc.engines), "engine": engine, "k": request.values.get("k") or svc.default_k,
               "max_k": svc.max_k, "searched": None, "query_src": None, "query_name": None, "note": None,
               "narrowing": narrowing, "classes": svc.classes.get(engine, [])}
    status = 200
    try:
        k = svc.parse_k(request.values.get("k"))
        where, min_score = svc.parse_narrowing(request.values)
        if request.method == "POST":
            upload = request.files.get("image")
            image = svc.decode_upload(upload.read() if upload else None)
            searched = svc.search_image(image, engine, k, where=where, min_score=min_score)
            context["query_src"] = "data:image/png;base64," + base64.b64encode(
                thumbnail_png(image, 2 * svc.thumb_size)).decode()
            context["query_name"] = upload.filename or "uploaded image"
        elif request.args.get("id"):
            image_id = request.args["id"]
            searched = svc.search_id(image_id, engine, k, where, min_score)
            context["query_src"] = url_for("api.image", image_id=image_id, size="thumb")
            context["query_name"] = image_id
        else:
            searched = None
            context["examples"] = svc.examples(engine)
        if searched:
            context["searched"] = searched
            context["note"] = diagnostic(searched, svc.labelled[searched.engine])
            if where or min_score is not None:
                shown = ", ".join(filter(None, [where.describe() if where else "",
                                                f"score at least {min_score:g}" if min_score is not None else ""]))
                context["narrowed"] = f"Only images with {shown}."
    except RequestError as exc:
        context["error"], status = str(exc), exc.status
    return render_template("index.html", **context), status


@bp.get("/engines")
def engines():
    """The served engines for people: features, size, index and what the features learned."""
    return render_template("engines.html", summaries=service().summaries)
