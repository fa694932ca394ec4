"""The web page and JSON API: `create_app(config)` (Flask app factory), served by `cbir serve`."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized
from werkzeug.routing import PathConverter

from cbir.datasets.images import IMAGE_EXTENSIONS
from cbir.albums import ARCHIVED, FAVOURITES
from cbir.datasets.video import is_video_name
from cbir.web.service import RequestError, SearchService

DEFAULTS = {
    "ENGINES": {},               # name -> engine folder or a loaded Engine
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 10 * 1024 * 1024,
    "MAX_PIXELS": 40_000_000,
    "DEFAULT_K": 10,
    "MAX_K": 100,
    "THUMB_SIZE": 192,  # pixels: sharp at ~150 on screens of 2 pixels a point
    "MICRO_BATCHING": True,      # group concurrent searches into batched index searches
    "GROUPING_WAIT_S": 2.0,      # a duplicates request waits this long, then answers with the grouping's progress
    "PASSWORD": None,            # when set, every route but /api/v1/health asks for it (HTTP Basic, any user name)
}
# the page's file picker: any image, and the files a browser may name no image type for (raw files, HEIC)
ACCEPTED = ",".join(["image/*", *sorted(IMAGE_EXTENSIONS)])
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class AnyPathConverter(PathConverter):
    """`<path:...>` that also matches ids with a newline or other control character (file names may)."""

    regex = r"[^/][\s\S]*?"


def create_app(config: dict | None = None) -> Flask:
    """A Flask app searching the engines in `config["ENGINES"]`, each loaded once and shared read-only."""
    app = Flask(__name__)
    app.url_map.converters["path"] = AnyPathConverter
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.extensions["cbir"] = SearchService.from_config(app.config)

    from cbir.web import api, ui

    app.register_blueprint(api.bp)
    app.register_blueprint(ui.bp)

    @app.after_request
    def security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.context_processor
    def uploads():
        return {"max_upload_bytes": app.config["MAX_CONTENT_LENGTH"], "accepted": ACCEPTED, "is_video": is_video_name,
                "favourites": FAVOURITES, "archived": ARCHIVED}

    @app.before_request
    def ask_for_the_password():
        password = app.config["PASSWORD"]
        if not password or request.path == "/api/v1/health" or request.path.startswith(("/shared/", "/static/")):
            return  # an album shared by a link is seen by whoever has it (`cbir.albums`), with the page's style
        given = request.authorization.password if request.authorization else None
        if given is None or not hmac.compare_digest(given.encode(), password.encode()):
            raise Unauthorized("this server asks for its password (any user name)",
                               www_authenticate=WWWAuthenticate("basic", {"realm": "cbir"}))

    @app.before_request
    def from_this_site_only():
        """A request that changes something (or sends a picture) from another site's page is refused: a page
        elsewhere must not name the people here through a visitor's browser. Browsers say where a request comes
        from (`Sec-Fetch-Site`; older ones `Origin`); other clients say nothing and are let through."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        site, origin = request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin")
        if site in ("cross-site", "same-site") or (site is None and origin and urlsplit(origin).netloc != request.host):
            raise Forbidden("this server takes such requests from its own pages only, not from another site's")

    @app.before_request
    def follow_engine_folders():
        app.extensions["cbir"].refresh()  # every route, /health and /engines too, sees a newly saved version

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        message = {413: f"the upload is larger than the {limit_mb} MB limit"}.get(exc.code, exc.description)
        answer = ({"error": message}, exc.code) if wants_json() else render_error(message, exc.code)
        response = app.make_response(answer)
        response.headers.update((k, v) for k, v in exc.get_headers() if k.lower() != "content-type")  # Allow
        return response

    @app.errorhandler(RequestError)
    def request_error(exc: RequestError):
        if wants_json():
            return jsonify({"error": str(exc), **({"suggestions": exc.suggestions} if exc.suggestions else {})}), \
                exc.status
        return render_error(str(exc), exc.status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        message = "something went wrong on our side; the error has been logged"
        if wants_json():
            return jsonify({"error": message}), 500
        return render_error(message, 500)

    def render_error(message: str, status: int):
        svc = app.extensions["cbir"]
        return render_template("index.html", engines=list(svc.engines), engine=svc.default_engine,
                               k=svc.default_k, max_k=svc.max_k, searched=None, error=message, narrowing={},
                               classes=[]), status

    return app
