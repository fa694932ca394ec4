"""The search page: upload (picker, drag-and-drop, paste), pick an indexed image or name it in words; see its
matches; or look through the images, newest first."""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from cbir import albums as album_links
from cbir.duplicates import picture_engine, rule
from cbir.faces import FACE_SIDE, largest
from cbir.metadata import ORDERS
from cbir.places import fold
from cbir.web.grouping import RETRY_S
from cbir.web.pictures import thumbnail
from cbir.web.api import image_response, zip_response
from cbir.web.service import MAX_DEPTH, RequestError, Searched, SearchService
from cbir.words import Shown

bp = Blueprint("ui", __name__)
NARROWING = ("label", "folder", "since", "until", "place", "tag", "stars", "camera", "kind", "person", "album",
             "text", "showing", "min_score", "distinct", "order")
SHOWN = 16  # words, places, tags, people and albums the start page offers (the fields suggest more)
PLACES_OFFERED = 500  # places the "Near" field suggests at most: the most photographed (and as many tags)
MAX_LINK_DAYS = 3660  # the longest a link shared for some days may work (the page offers a day to a year)


def service() -> SearchService:
    return current_app.extensions["cbir"]


def diagnostic(searched: Searched, labelled: bool, predicted: tuple[str, float] | None = None,
               classes: bool = True) -> str | None:
    """How many shown results share the query's known label; for an uploaded image, the class the engine's
    network predicts for it (else the label most results have) and how many results have it. Labels are the
    names of the folders images lie in: called classes where the engine's features learned them (`classes`: a
    network or classifier trained on them), else folders (a photo library's `2019/` or `trip/` is no class)."""
    labels = [h.label for h in searched.result.hits if h.label is not None]
    shown = len(searched.result.hits)
    if predicted is not None and searched.query_label is None:
        name, probability = predicted
        line = f"Predicted class: {name} ({probability:.0%}, the network's own prediction)"
        if labelled and name in labels:
            line += f": {sum(label == name for label in labels)} of {shown} results"
        return line + "."
    if not labelled or not labels:
        return None
    if searched.query_label is not None:
        same = sum(label == searched.query_label for label in labels)
        if not classes:
            return f"{same} of {shown} results lie in folders named {searched.query_label}, as the query does."
        return f"{same} of {shown} results share the query's class, {searched.query_label}."
    scores = Counter()
    for h in searched.result.hits:
        scores[h.label] += 1 + h.score / 1000  # most votes; ties go to the higher-scoring label
    predicted = scores.most_common(1)[0][0]
    same = sum(label == predicted for label in labels)
    if not classes:
        return f"Most results lie in folders named {predicted}: {same} of {shown}."
    return f"Predicted class: {predicted} (most common among the results): {same} of {shown} results."


def offered_words(svc: SearchService, engine: str) -> list[Shown]:
    """The words the page offers: what the engine's images show, most often first, when known by now."""
    try:
        return svc.shows(engine)
    except RequestError:  # features that cannot say: the page offers none
        return []


def together_name(count: int, unlike: int) -> str:
    """What a search with several images, or with images marked as not wanted, is called on the page."""
    name = f"{count} images together" if count > 1 else "1 image"
    return name + (f", less like {unlike} other{'s' * (unlike > 1)}" if unlike else "")


def data_address(image, size: int) -> str:
    """A `data:` address of an image's thumbnail, for the page to show an uploaded image."""
    shown, mimetype = thumbnail(image, size)
    return f"data:{mimetype};base64," + base64.b64encode(shown).decode()


@bp.route("/", methods=["GET", "POST"])
def index():
    svc = service()
    engine = request.values.get("engine") or svc.default_engine
    # the filter fields as given, kept in the form and in every "more like this" link
    narrowing = {key: request.values.get(key) for key in NARROWING if request.values.get(key)}
    context = {"engines": list(svc.engines), "engine": engine, "k": request.values.get("k") or svc.default_k,
               "max_k": svc.max_k, "searched": None, "query_src": None, "query_name": None, "query_id": None,
               "crop": None, "note": None, "words": "", "browsing": False, "query_ids": [], "unlike_ids": [],
               "query_files": [], "offset": 0, "more_offset": None,
               "narrowing": narrowing}
    about = svc.collections.get(engine)  # None for an engine that is not served: the search says so
    context.update(classes=about.classes if about else [], folders=about.folders if about else [],
                   places=about.places[:PLACES_OFFERED] if about else [],  # what the filters suggest
                   tags=about.tags[:PLACES_OFFERED] if about else [], rated=about.rated if about else False,
                   cameras=about.cameras if about else [], kinds=about.kinds if about else {},
                   people=about.people if about else [], albums=about.albums if about else [], album=None,
                   suggesting=False)
    status = 200
    context["hints"] = offered_words(svc, engine)  # for the words field to suggest
    # a bar of the timeline keeps the other filters
    context["timeline_narrowing"] = {key: value for key, value in narrowing.items() if key not in ("since", "until")}
    context["map_narrowing"] = {key: value for key, value in narrowing.items() if key != "place"}
    try:
        k, offset = svc.parse_page(request.values)
        depth = k + offset  # every search below goes this deep; the page shows its last k
        where, min_score = svc.parse_narrowing(request.values)
        region = context["crop"] = svc.parse_region(request.values)
        distinct, face = svc.parse_distinct(request.values), False
        # the indexed images to search with (`id`) and away from (`unlike`): an address's, or ticked on the page
        ids = context["query_ids"] = list(dict.fromkeys(request.values.getlist("id")))
        unlike = context["unlike_ids"] = list(dict.fromkeys(request.values.getlist("unlike")))
        if request.method == "POST":
            uploads = request.files.getlist("image") or [None]
            svc.check_together(len(uploads) + len(ids), region, len(unlike))
            face = context["face"] = svc.parse_face(request.values) and len(uploads) == 1 and not (ids or unlike)
            wholes = [svc.decode_upload(upload.read() if upload else None, region, FACE_SIDE if face else None)
                      for upload in uploads]
            context["query_files"] = [upload.filename or "uploaded image" for upload in uploads]
            if len(wholes) > 1 or ids or unlike:  # several, or sent again with the results ticked or marked
                searched = svc.search_ids(ids, engine, depth, where, min_score, distinct, unlike_ids=unlike,
                                          uploaded=wholes)
                context["query_pictures"] = [data_address(whole, svc.thumb_size) for whole in wholes]
                context["query_name"] = together_name(len(wholes) + len(ids), len(unlike))
            elif face:
                searched = svc.search_face(svc.part(wholes[0], region), engine, depth, where)
                context["query_src"] = data_address(wholes[0], svc.thumb_size)
                context["query_name"] = context["query_files"][0]
            else:
                image = svc.part(wholes[0], region)
                searched = svc.search_image(image, engine, depth, where=where, min_score=min_score,
                                            distinct=distinct)
                context["predicted"] = svc.predict(image, searched.engine)
                context["query_src"] = data_address(wholes[0], svc.thumb_size)
                context["query_name"] = context["query_files"][0]
        elif request.args.get("browse"):
            order = context["order"] = svc.parse_order(request.values)
            searched = svc.browse(engine, depth, where, distinct, order)
            min_score = None  # every image scores 1: no cut-off to speak of
            # to go to another period, or place: of the images the other filters keep
            context["timeline"], context["place_map"] = svc.collection(engine).drawn(where)
            context["query_name"] = f"all images, {ORDERS[order]}"
            context["browsing"] = True
            context["other_orders"] = [  # the same look through, in the other orders
                (ORDERS[other], url_for("ui.index", browse=1, engine=engine, k=request.values.get("k"),
                                        **{**narrowing, "order": other})) for other in ORDERS if other != order]
            context["passing"] = len(svc.engine(engine)[1].select(where).ids) if where else None
        elif album := request.args.get("suggest"):  # the photos that may belong in an album
            searched = svc.search_album(album, engine, depth, where, distinct)
            context["album"], context["suggesting"] = searched.result.query, True
            context["query_name"] = f"photos that may belong in {searched.result.query}, the most alike first"
        elif words := request.args.get("words", "").strip():
            context["words"] = words  # kept in its field, whatever the search says of them
            searched = svc.search_words(words, engine, depth, where, min_score, distinct)
            context["query_name"] = words
        elif request.values.get("id") or request.values.get("unlike"):
            if len(ids) > 1 or unlike:  # "more like these" (the ticked images together), "not like these"
                searched = svc.search_ids(ids, engine, depth, where, min_score, distinct, region, unlike)
                context["query_name"] = together_name(len(ids), len(unlike))
            elif "face" in request.args:  # a face in an indexed photo: the photos with a face like it
                searched = svc.search_face_in(ids[0], engine, depth, request.args["face"], where)
                seen = svc.faces(engine, ids[0])
                chosen = seen[int(request.args["face"]) if request.args["face"] else largest([f.box for f in seen])]
                context["query_src"] = url_for("api.image", image_id=ids[0], size="thumb", crop=chosen.crop)
                context["query_name"], face = f"a face in {ids[0]}", True
            else:
                searched = svc.search_id(ids[0], engine, depth, where, min_score, region, distinct)
                context["query_src"] = url_for("api.image", image_id=ids[0], size="thumb")
                context["query_name"] = context["query_id"] = ids[0]
        else:
            searched = None
            context["examples"] = svc.examples(engine)
            context["shows"], context["place_chips"] = context["hints"][:SHOWN], context["places"][:SHOWN]
            context["tag_chips"], context["people_chips"] = context["tags"][:SHOWN], context["people"][:SHOWN]
            context["album_chips"] = context["albums"][:SHOWN]
            collection = svc.collection(engine)
            context["trips"], context["memories"] = collection.trips[:SHOWN], collection.memories(svc.today())
            context["timeline"], context["place_map"] = collection.timeline, collection.map
        if searched:
            searched = context["searched"] = svc.paged(searched, offset)
            context["offset"] = offset
            if len(searched.result.hits) == k and depth + k <= MAX_DEPTH:
                context["more_offset"] = depth
            if searched.result.classes:
                near = f" taken near {searched.result.near}" if searched.result.near else ""
                context["note"] = (f"Pictures of {searched.result.classes}{near}, by the network's probability that "
                                   f"they show one.")
            elif searched.result.tagged:
                near = f" taken near {searched.result.near}" if searched.result.near else ""
                context["note"] = f"Pictures tagged {searched.result.tagged}{near}, the newest first."
            elif searched.result.captioned:
                near = f" taken near {searched.result.near}" if searched.result.near else ""
                context["note"] = f"Pictures whose caption says {searched.result.captioned}{near}, the newest first."
            elif searched.result.in_text:
                near = f" taken near {searched.result.near}" if searched.result.near else ""
                context["note"] = f"Pictures in which {searched.result.in_text} is written{near}, the newest first."
            elif searched.result.near:
                context["note"] = f"Pictures taken near {searched.result.near}, the newest first."
            elif face:
                context["note"] = ("Pictures with a face like the one in it" + (
                    f", {searched.result.person}'s" if searched.result.person else "") + ", the most alike first.")
            elif not context["browsing"]:
                about = svc.collection(searched.engine)
                context["note"] = diagnostic(searched, about.labelled, context.get("predicted"), about.knows_classes)
            if where and where.album:  # an album's images: renamed, deleted, shared, taken out of it on the page
                albums = svc.engine(engine)[1].albums
                context["album"] = albums.find(where.album)
                context["link"] = albums.link(context["album"]) if context["album"] else None
                context["link_works"] = context["link"] is not None and context["link"].works(album_links.today())
            if where and where.person:  # whose photos these are: named (or not theirs after all) on the page
                context["person"] = next((p for p in context["people"] if where.person == str(p.person)
                                          or fold(where.person) in (fold(p.name), p.called)), None)
                context["alike"] = svc.alike(engine, where.person) if context["person"] else []
            if where or min_score is not None:
                if where and where.person:  # a person by name where they have one
                    called = {str(p.person): p.called for p in context["people"]}
                    where = replace(where, person=called.get(where.person, where.person))
                shown = ", ".join(filter(None, [where.describe() if where else "",
                                                f"scoring at least {min_score:g}" if min_score is not None else ""]))
                context["narrowed"] = f"Only images {shown}."
    except RequestError as exc:
        context["error"], context["suggestions"], status = str(exc), suggested(exc, engine, narrowing), exc.status
    return render_template("index.html", **context), status


@bp.get("/people")
def people():
    """Every person whose face was found, the most photographed first, each named (or renamed) in place."""
    svc = service()
    engine = request.args.get("engine") or svc.default_engine
    found = svc.collection(engine).people
    return render_template("people.html", engine=engine, people=found, unnamed=sum(not p.name for p in found))


@bp.get("/shared/<secret>")
def shared(secret: str):
    """An album shared by a link: its photos, and nothing else of the engine's (no password asked)."""
    _, album, ids, link = service().shared(secret)
    return render_template("shared.html", secret=secret, album=album, ids=ids, link=link)


@bp.get("/shared/<secret>/images/<path:image_id>")
def shared_image(secret: str, image_id: str):
    """A photo of an album shared by a link (`size=thumb`: its thumbnail), without where it was taken unless the link
    gives it (`cbir.web.unplaced`); a 404 for one not in it."""
    engine, _, ids, link = service().shared(secret)
    if image_id not in set(ids):
        raise RequestError("no such photo in this album", 404)
    response = image_response(image_id, engine, link.places)
    response.headers["Cache-Control"] = "private, max-age=300"  # a link no longer shared soon shows nothing
    return response


@bp.get("/shared/<secret>/download")
def shared_download(secret: str):
    """Every photo of an album shared by a link, as stored (without where they were taken unless the link gives
    it), in one zip."""
    svc = service()
    engine, album, ids, link = svc.shared(secret)
    return zip_response((svc.originals if link.places else svc.unplaced_originals)(ids, engine), f"{album}.zip")



@bp.get("/albums")
def albums():
    """Every album, by name: its cover, how many images it holds, a link to them."""
    svc = service()
    engine = request.args.get("engine") or svc.default_engine
    return render_template("albums.html", engine=engine, albums=svc.collection(engine).albums)


@bp.post("/people")
def name_person():
    """A form naming a person (or taking their name away); then their photos, by their name now (or, from the
    people's page, that page again)."""
    svc = service()
    engine, person = request.form.get("engine") or svc.default_engine, request.form.get("person", "")
    name = " ".join(request.form.get("name", "").split())
    svc.name_person(engine, person, name, request.form.get("image"))
    if request.form.get("back") == "people":
        return redirect(url_for("ui.people", engine=engine), 303)
    return redirect(url_for("ui.index", browse=1, person=name, engine=engine, k=request.form.get("k")) if name
                    else url_for("ui.index", engine=engine, _anchor="people"), 303)


@bp.post("/people/not")
def not_in():
    """A photo's "not NAME" among NAME's photos: they are not in it after all; then their photos again."""
    svc = service()
    engine = request.form.get("engine") or svc.default_engine
    now = svc.not_in(engine, request.form.get("person", ""), request.form.get("id", ""))
    return redirect(url_for("ui.index", browse=1, person=now, engine=engine, k=request.form.get("k")) if now
                    else url_for("ui.index", engine=engine, _anchor="people"), 303)


@bp.get("/photo/<path:image_id>")
def photo(image_id: str):
    """One indexed image's own page (one to share, and all of it without JavaScript): the picture, what is known of
    it (each a link to the others alike), its faces each with a name field, and an album to put it in."""
    svc = service()
    engine, eng = svc.indexed(request.args.get("engine"), [image_id])
    about = svc.collection(engine)
    return render_template("photo.html", engine=engine, hit=eng.metadata.hit(image_id, 1.0),
                           faces=eng.faces_in(image_id), people=about.people, albums=about.albums,
                           date_set=eng.metadata.date_set(image_id), position_set=eng.metadata.position_set(image_id))


@bp.post("/photo/<path:image_id>/date")
def set_date(image_id: str):
    """A photo page's date said by hand (`date`: 2019-07-14T10:30), or as its file says again (`as_taken`); then the
    page again."""
    svc = service()
    engine = request.form.get("engine") or svc.default_engine
    svc.set_date(engine, image_id, form_or_as_taken("date", "when it was taken: date=2019-07-14T10:30"))
    return redirect(url_for("ui.photo", image_id=image_id, engine=engine), 303)


@bp.post("/photo/<path:image_id>/place")
def set_place(image_id: str):
    """A photo page's place said by hand (`place`: a town, or "45.764,4.8357"), or as its file says again
    (`as_taken`); then the page again."""
    svc = service()
    engine = request.form.get("engine") or svc.default_engine
    svc.set_place(engine, image_id, form_or_as_taken("place", "where it was taken: place=Lyon"))
    return redirect(url_for("ui.photo", image_id=image_id, engine=engine), 303)


def form_or_as_taken(field: str, said: str) -> str | None:
    """A form's value of `field`, or None for its "As its file says" (`as_taken`)."""
    if request.form.get("as_taken"):
        return None
    if not request.form.get(field, "").strip():
        raise RequestError(f"say {said}")
    return request.form[field]


@bp.post("/photo/<path:image_id>/face")
def name_face(image_id: str):
    """A photo page's face named (`face`, `name`), or said to be nobody's (`nobody`); then the page again."""
    svc = service()
    engine = request.form.get("engine") or svc.default_engine
    svc.name_face(engine, image_id, request.form.get("face"), None if request.form.get("nobody") else
                  request.form.get("name", ""), bool(request.form.get("nobody")))
    return redirect(url_for("ui.photo", image_id=image_id, engine=engine), 303)


@bp.post("/albums")
def change_album():
    """A form changing an album (`to_album`): the ticked images (`id`) put in it (`do` add) or taken out (remove),
    every image the filters given keep put in it (add-all), it shared by a link or no longer (share, unshare), or it
    renamed (rename, to `name`) or deleted (delete); then the album's images (the start page where it is gone)."""
    svc = service()
    engine, album = request.form.get("engine") or svc.default_engine, request.form.get("to_album", "")
    do, ids = request.form.get("do"), list(dict.fromkeys(request.form.getlist("id")))
    if do not in ("add", "add-all", "remove", "share", "unshare", "rename", "delete"):
        raise RequestError("do= is add, add-all, remove, share, unshare, rename or delete")
    if do == "add-all":  # every image the filters given keep, the earliest taken first
        ids, do = svc.passing(engine, svc.parse_narrowing(request.form)[0]), "add"
    if do in ("add", "remove") and not ids:
        raise RequestError("tick the images to put in the album, or to take out of it")
    if do == "add" and not album.strip():
        raise RequestError("name the album to put the ticked images in")
    days = request.form.get("days", "")  # how many whole days after today a link works ("": until it is stopped)
    if days and not (days.isdigit() and 0 < int(days) <= MAX_LINK_DAYS):
        raise RequestError(f"days is how many days a link works, 1 to {MAX_LINK_DAYS}, or none, not '{days}'")
    until = None if do != "share" or not days else (
        date.fromisoformat(album_links.today()) + timedelta(days=int(days))).isoformat()
    now = svc.change_album(engine, album, ids if do == "add" else (), ids if do == "remove" else (),
                           request.form.get("name") if do == "rename" else None, do == "delete",
                           {"share": True, "unshare": False}.get(do), until, bool(request.form.get("places")))
    if request.form.get("back") == "photo":  # from a photo's own page: that page again
        return redirect(url_for("ui.photo", image_id=ids[0], engine=engine), 303)
    return redirect(url_for("ui.index", browse=1, album=now, engine=engine, k=request.form.get("k")) if now
                    else url_for("ui.index", engine=engine, _anchor="albums"), 303)


def suggested(exc: RequestError, engine: str, narrowing: dict) -> list[tuple[str, str]]:
    """(what the user may have meant, the address of the page with it instead): the same request with that value
    (`exc.field`) replaced, or, for an upload (not sent again), a search by those words, or a look through the images
    with that filter."""
    if request.method == "GET":
        asked = request.args.to_dict(flat=False)
    else:
        asked = {"engine": engine, "k": request.values.get("k")} | (
            {} if exc.field == "words" else {"browse": 1, **narrowing})
    asked.pop("offset", None)
    return [(word, url_for("ui.index", **{**asked, exc.field: word})) for word in exc.suggestions]


@bp.get("/duplicates")
def duplicates():
    """Groups of duplicates in an engine, each with the image it would keep first."""
    svc = service()
    engine = request.args.get("engine") or svc.default_engine
    exact_only = bool(request.args.get("exact_only"))
    context = {"engines": list(svc.engines), "engine": engine, "exact_only": exact_only, "groups": None,
               "threshold": request.args.get("threshold") or None, "default_threshold": None,
               "link": lambda m: url_for("ui.index", id=m.id, engine=engine),
               "src": lambda m: url_for("api.image", image_id=m.id, size="thumb"),
               "original": lambda m: url_for("api.image", image_id=m.id)}
    status = 200
    try:
        features = picture_engine(svc.engine(engine)[1]).extractor
        context["default_threshold"] = features.duplicate_threshold
        if features.duplicate_threshold is None and not request.args.get("threshold") and not exact_only:
            exact_only = context["exact_only"] = True  # near duplicates need features that describe the picture
            context["note"] = (f"Exact copies only: the '{features.name}' features describe which class an image "
                               "shows, not the picture itself. Near duplicates need an engine indexed with effnet "
                               "or effnet-copies, or with --copies, or a similarity to start from.")
        found = svc.duplicates(engine, request.args.get("threshold"), exact_only)
        context.update(threshold=found.threshold,
                       rule=None if found.threshold is None else rule(svc.engine(engine)[1], found.threshold))
        if found.groups is None:  # still being found: the page says how far, and reloads itself
            context.update(grouping=found, reload_s=RETRY_S)
        else:
            context.update(groups=found.groups, took_ms=found.took_ms,
                           copies=sum(len(g.members) - 1 for g in found.groups))
    except RequestError as exc:
        context["error"], status = str(exc), exc.status
    return render_template("duplicates.html", **context), status


@bp.get("/engines")
def engines():
    """The served engines for people: features, size, index and what the features learned."""
    return render_template("engines.html", summaries=service().summaries)
