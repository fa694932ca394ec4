"""The JSON API under /api/v1: search (by upload, by indexed id or by words), indexed images (each, or all newest
first), what they show, where they were taken, the people in them, albums, trips, this day in earlier years,
health, engines, OpenAPI."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from werkzeug.wsgi import FileWrapper

from cbir.albums import link_fields
from cbir.datasets.listing import extension
from cbir.datasets.video import MIMETYPES
from cbir.faces import FACE_SIDE
from cbir.web.openapi import openapi_document
from cbir.web.grouping import RETRY_S
from cbir.web.pictures import zipped
from cbir.web.unplaced import Blanked, video_places
from cbir.web.service import RequestError, Searched, SearchService

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def service() -> SearchService:
    return current_app.extensions["cbir"]


def uploads() -> list[bytes | None]:
    """The uploaded images: each multipart field `image`, or the raw request body."""
    if request.mimetype == "multipart/form-data":
        return [upload.read() for upload in request.files.getlist("image")] or [None]
    return [request.get_data(cache=False) or None]


@bp.post("/search")
def search():
    """The indexed images most like an uploaded one, or a part of it (`crop`), or like several uploaded together,
    and less like those uploaded as `unlike`; with `face`, those with a face most like the one in it."""
    svc = service()
    k, offset = svc.parse_page(request.values)
    where, min_score = svc.parse_narrowing(request.values)
    engine, distinct = request.values.get("engine"), svc.parse_distinct(request.values)
    svc.engine(engine)
    region = svc.parse_region(request.values)
    sent, unlike = uploads(), [upload.read() for upload in request.files.getlist("unlike")]
    svc.check_together(len(sent), region, len(unlike))
    if svc.parse_face(request.values):
        if len(sent) > 1 or unlike or distinct:
            raise RequestError("face= searches with the face in one image, alone: not with others, unlike or distinct")
        image = svc.part(svc.decode_upload(sent[0], region, FACE_SIDE), region)
        return search_response(svc.search_face(image, engine, k + offset, where), offset)
    if len(sent) > 1 or unlike:
        return search_response(svc.search_together([svc.decode_upload(data) for data in sent], engine, k + offset,
                                                    where=where, min_score=min_score, distinct=distinct,
                                                    unlike=[svc.decode_upload(data) for data in unlike]), offset)
    image = svc.part(svc.decode_upload(sent[0], region), region)
    return search_response(svc.search_image(image, engine, k + offset, where=where, min_score=min_score,
                                            distinct=distinct), offset)


@bp.get("/search")
def search_words():
    """The indexed images the engine's network finds most probably of what `words` name ("dog", "beach, lakeside")."""
    svc = service()
    k, offset = svc.parse_page(request.args)
    where, min_score = svc.parse_narrowing(request.args)
    return search_response(svc.search_words(request.args.get("words"), request.args.get("engine"), k + offset, where,
                                            min_score, svc.parse_distinct(request.args)), offset)


@bp.get("/images")
def browse():
    """The indexed images, newest first (by when they were taken; `order=oldest`: the oldest first; `order=added`:
    those added lately first), of those that pass the filters."""
    svc = service()
    k, offset = svc.parse_page(request.args)
    where, _ = svc.parse_narrowing(request.args)
    return search_response(svc.browse(request.args.get("engine"), k + offset, where,
                                      svc.parse_distinct(request.args), svc.parse_order(request.args)), offset)


@bp.get("/words")
def words():
    """What the engine's images show most often: words to search with, how many images show each, an example."""
    svc = service()
    name, _ = svc.engine(request.args.get("engine"))
    return jsonify({"engine": name, "words": [shown._asdict() for shown in svc.shows(name, wait_s=None)]})


@bp.get("/places")
def places():
    """Where the engine's pictures were taken: each place, how many were taken there and the newest of them."""
    svc = service()
    name, _ = svc.engine(request.args.get("engine"))
    return jsonify({"engine": name, "places": [place._asdict() for place in svc.collections[name].places]})


@bp.get("/tags")
def tags():
    """The tags the engine's photos have, the most used first (each with how many have it and the newest of them),
    and how many have each rating."""
    svc = service()
    name, engine = svc.engine(request.args.get("engine"))
    return jsonify({"engine": name, "tags": [tag._asdict() for tag in svc.collections[name].tags],
                    "ratings": {str(stars): n for stars, n in engine.ratings().items()}})


@bp.get("/cameras")
def cameras():
    """The cameras the engine's photos were taken with (as their EXIF says), the most used first, each with how many
    photos it took and the newest of them."""
    svc = service()
    name, _ = svc.engine(request.args.get("engine"))
    return jsonify({"engine": name, "cameras": [camera._asdict() for camera in svc.collections[name].cameras]})


@bp.get("/people")
def people():
    """The people whose faces were found in the engine's photos (`cbir faces`), the most photographed first: each
    one's number, how many photos show them, and their most typical face (its image, box and thumbnail); with
    `alike` (a person), the other people who may be that one, the likeliest first, with their faces' `distance`."""
    svc = service()
    name, _ = svc.engine(given("engine"))
    listed = ([(p, {"distance": distance}) for p, distance in svc.alike(name, request.args["alike"])]
              if request.args.get("alike") else [(p, {}) for p in svc.collections[name].people])
    return jsonify({"engine": name, "people": [
        p.to_dict() | more | {"thumbnail": url_for("api.image", image_id=p.face.image, size="thumb",
                                                    crop=p.face.crop)} for p, more in listed]})


@bp.post("/people/<person>")
def name_person(person: str):
    """Give a person (their number, or their name) a `name`; an empty one takes it away. Kept in the engine. With
    `image` (an image of theirs), a number that means someone else by now is refused (409)."""
    svc = service()
    name, _ = svc.engine(given("engine"))
    if not isinstance(given("name"), str):
        raise RequestError("name= is missing: the person's name (empty to take it away)")
    svc.name_person(name, person, given("name"), given("image"))
    return people()


@bp.get("/faces/<path:image_id>")
def faces(image_id: str):
    """The faces found in an indexed image, left to right: each one's number there, box, person (0: none), who it
    is shown as, whether it was said to be nobody's, and a thumbnail of it."""
    return faces_response(image_id, service().faces(request.args.get("engine"), image_id))


@bp.post("/faces/<path:image_id>")
def name_face(image_id: str):
    """Say whose a face of an indexed image is: `face` (its number) and `name` ("" gives it back to the grouping)
    or `nobody`; or, with `not` (a person's number or name), that this person is not in it after all."""
    svc, engine = service(), given("engine")
    if given("not") is not None:
        svc.not_in(engine, str(given("not")), image_id)
        return faces_response(image_id, svc.faces(engine, image_id))
    return faces_response(image_id, svc.name_face(engine, image_id, given("face"), given("name"),
                                                  given_flag("nobody")))


@bp.post("/dates/<path:image_id>")
def set_date(image_id: str):
    """Say when an indexed image was taken (`date`: 2019-07-14T10:30), whatever its file says, or as its file says
    again (`as_taken`); answers with its date now and whether it was said by hand."""
    svc, engine = service(), given("engine")
    svc.set_date(engine, image_id, said_or_as_taken("date", "2019-07-14T10:30"))
    metadata = svc.engine(engine)[1].metadata
    return jsonify({"id": image_id, "date": metadata.date(image_id), "said": metadata.date_set(image_id) is not None})


@bp.post("/places/<path:image_id>")
def set_place(image_id: str):
    """Say where an indexed image was taken (`place`: a town, or "45.764,4.8357"), whatever its file says, or as its
    file says again (`as_taken`); answers with its place and position now and whether it was said by hand."""
    svc, engine = service(), given("engine")
    svc.set_place(engine, image_id, said_or_as_taken("place", "Lyon"))
    hit = svc.engine(engine)[1].metadata.hit(image_id, 1.0)
    return jsonify({"id": image_id, "place": hit.place, "position": list(hit.position) if hit.position else None,
                    "said": svc.engine(engine)[1].metadata.position_set(image_id) is not None})


def said_or_as_taken(field: str, example: str) -> str | None:
    """A request's value of `field`, or None for `as_taken`: one of the two."""
    if given_flag("as_taken") == bool(given(field)):
        raise RequestError(f"say it ({field}={example}), or as_taken=1: one of the two")
    return None if given_flag("as_taken") else str(given(field))


@bp.get("/albums")
def albums():
    """The albums made of the engine's images, by name: each one's name, how many images it holds, its cover (its
    first image) with a thumbnail, and the address it is shared at (null where it is not), its last day (null: none)
    and whether it gives where the photos were taken."""
    svc = service()
    name, _ = svc.engine(given("engine"))
    link_of = svc.engine(name)[1].albums.link
    return jsonify({"engine": name, "albums": [
        album._asdict() | {"thumbnail": url_for("api.image", image_id=album.cover, size="thumb")}
        | link_fields(link_of(album.name), lambda secret: url_for("ui.shared", secret=secret))
        for album in svc.albums(name)]})


@bp.post("/albums/<path:album>")
def change_album(album: str):
    """Put indexed images in an album (`add`: ids; `add_all`: every image the filters in the query keep, the earliest
    taken first; the album is made if there is none), take some out (`remove`), share it by a link or stop (`share`:
    true or false; with `until`, the link's last day, and `places`, true for the photos to say where they were
    taken), rename it (`name`) or delete it (`delete`); kept in the engine. Answers with the album's name now (null
    where it is gone) and the albums."""
    svc = service()
    name, _ = svc.engine(given("engine"))
    add = given_list("add")
    if given_flag("add_all"):
        query = request.args.copy()
        query["engine"] = name  # the filters checked against this engine's images, wherever it was named
        if add:
            raise RequestError("add_all puts in every image the filters in the query keep: not with add")
        add = svc.passing(name, svc.parse_narrowing(query)[0])
    now = svc.change_album(name, album, add, given_list("remove"), given("name"), given_flag("delete"),
                           None if given("share") is None else given_flag("share"), given("until"),
                           given_flag("places"))
    return jsonify(albums().get_json() | {"album": now})


@bp.get("/albums/<path:album>/suggestions")
def album_suggestions(album: str):
    """The indexed images that may belong in an album, not in it yet: those most like its own
    (`Engine.search_album`)."""
    svc = service()
    k, offset = svc.parse_page(request.args)
    where, _ = svc.parse_narrowing(request.args)
    return search_response(svc.search_album(album, request.args.get("engine"), k + offset, where,
                                            svc.parse_distinct(request.args)), offset)


def given_flag(key: str) -> bool:
    """Whether a yes-or-no field of the request (`given`) says yes: true, 1 or on."""
    return given(key) in (True, 1, "1", "true", "on")


def given_list(key: str) -> list[str]:
    """A field of the request that may be repeated: a list in its JSON body, else each value in its form or query."""
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and key in body:
        value = body[key]
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise RequestError(f"{key} is a list of image ids")
        return values
    return request.values.getlist(key)


def given(key: str):
    """A field of the request: in its JSON body, its form or its query."""
    body = request.get_json(silent=True) if request.is_json else None
    return body.get(key) if isinstance(body, dict) and key in body else request.values.get(key)


def faces_response(image_id: str, seen) -> Response:
    return jsonify({"engine": service().engine(given("engine"))[0], "image": image_id, "faces": [
        face.to_dict() | {"thumbnail": url_for("api.image", image_id=image_id, size="thumb", crop=face.crop)}
        for face in seen]})


@bp.get("/trips")
def trips():
    """The runs of photos taken away from home, the latest first: each one's name, first and last days, photos."""
    svc = service()
    name, _ = svc.engine(request.args.get("engine"))
    return jsonify({"engine": name, "trips": [trip._asdict() for trip in svc.collections[name].trips]})


@bp.get("/memories")
def memories():
    """The pictures taken on today's date (the server's) in earlier years, a year at a time, the latest first."""
    svc = service()
    name, _ = svc.engine(request.args.get("engine"))
    today = svc.today()
    return jsonify({"engine": name, "today": today.isoformat(),
                    "memories": [memory._asdict() for memory in svc.collections[name].memories(today)]})


@bp.get("/similar/<path:image_id>")
def similar(image_id: str):
    """The indexed images most like an indexed one, or a part of it (`crop`; itself left out), or like it and the
    indexed images `also` together, and less like the indexed images `unlike` (all of them left out); with `face`
    (a face's number in it, or empty for its largest), those with a face most like that one."""
    svc = service()
    k, offset = svc.parse_page(request.args)
    where, min_score = svc.parse_narrowing(request.args)
    engine, distinct, also = request.args.get("engine"), svc.parse_distinct(request.args), request.args.getlist("also")
    if "face" in request.args:
        return search_response(svc.search_face_in(image_id, engine, k + offset, request.args["face"], where), offset)
    region, unlike = svc.parse_region(request.args), request.args.getlist("unlike")
    if also or unlike:
        return search_response(svc.search_ids([image_id, *also], engine, k + offset, where, min_score, distinct,
                                              region, unlike), offset)
    return search_response(svc.search_id(image_id, engine, k + offset, where, min_score, region, distinct), offset)


def search_response(searched: Searched, offset: int = 0) -> Response:
    """The JSON of a search's hits from rank `offset` + 1."""
    searched = SearchService.paged(searched, offset)
    return jsonify({
        "took_ms": round(searched.took_ms, 2),
        "engine": searched.engine,
        **({"classes": searched.result.classes} if searched.result.classes else {}),
        **({"tagged": searched.result.tagged} if searched.result.tagged else {}),
        **({"captioned": searched.result.captioned} if searched.result.captioned else {}),
        **({"in_text": searched.result.in_text} if searched.result.in_text else {}),
        **({"near": searched.result.near} if searched.result.near else {}),
        **({"person": searched.result.person} if searched.result.person else {}),
        "hits": [{**{key: value for key, value in h.to_dict().items() if key != "path"},  # no server paths
                  "url": url_for("api.image", image_id=h.id)} for h in searched.result.hits],
    })


@bp.get("/duplicates")
def duplicates():
    """Groups of exact and near duplicates in an engine (`threshold`: a cosine similarity; `exact_only`)."""
    found = service().duplicates(request.args.get("engine"), request.args.get("threshold"),
                                 request.args.get("exact_only") not in (None, "", "0", "false"))
    asked = {"engine": found.engine, "threshold": found.threshold, "exact_only": found.exact_only}
    if found.groups is None:  # still being found: ask again
        response = jsonify(asked | {"grouping": {"compared": found.compared, "pictures": found.pictures}})
        response.status_code, response.headers["Retry-After"] = 202, str(RETRY_S)
        return response
    return jsonify(asked | {"took_ms": round(found.took_ms, 2), "groups": [g.to_dict() for g in found.groups]})


@bp.get("/download")
def download():
    """The indexed images `id` (repeatable, at most `max_k`), or an `album`'s (however many), as stored, in one zip:
    their ids as the paths in it."""
    svc = service()
    image_ids, album = list(dict.fromkeys(request.args.getlist("id"))), request.args.get("album")
    if album and image_ids:
        raise RequestError("download an album, or images named by id=, not both")
    if album:
        album, image_ids = svc.album_images(request.args.get("engine"), album)
    elif not image_ids:
        raise RequestError("name the indexed images to download: id=ID, repeated (or album=NAME)")
    elif len(image_ids) > svc.max_k:
        raise RequestError(f"at most {svc.max_k} images are downloaded at once, not {len(image_ids)}: an album's "
                           f"are downloaded all at once (album=NAME)")
    return zip_response(svc.originals(image_ids), f"{album}.zip" if album else f"cbir-{len(image_ids)}-images.zip")


def zip_response(originals, name: str) -> Response:
    """Indexed images as stored (`SearchService.originals`), sent as one zip file called `name`."""
    response = Response(zipped(originals), mimetype="application/zip")
    response.headers["Content-Disposition"] = (f'attachment; filename="{ascii_name(name)}"; '
                                               f"filename*=UTF-8''{quote(name, safe='')}")
    return response


def ascii_name(name: str) -> str:
    """A file name as old clients take it: its ASCII letters, digits and a few signs, the rest '_'."""
    return "".join(c if c.isascii() and (c.isalnum() or c in " .-_()") else "_" for c in name)


@bp.get("/images/<path:image_id>")
def image(image_id: str):
    return image_response(image_id)


def image_response(image_id: str, engine: str | None = None, places: bool = True) -> Response:
    """An indexed image (of `engine` where named) as a browser shows it, or its thumbnail (`size=thumb`, a part of
    it: `crop=`); a video streamed, a range at a time; without where it was taken, where not `places`
    (`cbir.web.unplaced`)."""
    thumbnail = request.args.get("size") == "thumb"
    if not thumbnail and (video := service().video_file(image_id, engine)) is not None:
        if not places:
            return blanked_video(video)
        return send_file(video, mimetype=MIMETYPES.get(extension(video), "video/mp4"), conditional=True,
                         max_age=86400)
    data, mimetype = service().image_bytes(image_id, thumbnail, service().parse_region(request.args) if thumbnail
                                           else None, engine, places)
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(request)


def blanked_video(path: str) -> Response:
    """A video streamed a range at a time, its positions blanked (`cbir.web.unplaced`)."""
    f = open(path, "rb")
    video = Blanked(f, video_places(f))
    response = Response(FileWrapper(video), mimetype=MIMETYPES.get(extension(path), "video/mp4"),
                        direct_passthrough=True)
    response.content_length = video.size
    return response.make_conditional(request, accept_ranges=True, complete_length=video.size)


@bp.get("/health")
def health():
    svc = service()
    return jsonify({"status": "ok", "engines": len(svc.engines),
                    "images": sum(len(e) for e in svc.engines.values())})


@bp.get("/engines")
def engines():
    return jsonify(service().summaries)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(service()))
