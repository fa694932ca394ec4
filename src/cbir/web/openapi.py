"""The OpenAPI 3.1 document of /api/v1, built from the running configuration."""

from __future__ import annotations

from cbir import __version__
from cbir.metadata import ORDERS
from cbir.web.service import MAX_DEPTH

_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _listing(summary: str, engine_param: dict, key: str, order: str, item: dict, more: dict | None = None,
             parameters: tuple[dict, ...] = ()) -> dict:
    """A GET route answering `{"engine", key: [item, ...]}` (and the properties `more`)."""
    return {"get": {"summary": summary, "parameters": [engine_param, *parameters], "responses": {
        "200": {"description": f"{key}, {order}", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "engine": {"type": "string"}, **(more or {}),
                key: {"type": "array", "items": {"type": "object", "properties": item}}}}}}},
        "400": _ERROR, "404": _ERROR}}}


_CHANGE_REFUSED = {"400": _ERROR, "403": {"description": "sent from another site's page"}, "404": _ERROR,
                   "409": {"description": "the engine was given to the server loaded (no folder), another cbir is "
                                          "changing its folder, the folder cannot be written, or the people were "
                                          "numbered again", "content": _ERROR["content"]}}


_ALBUM = {"name": {"type": "string"}, "images": {"type": "integer"},
          "cover": {"type": "string", "description": "its first image"},
          "thumbnail": {"type": "string", "description": "the address of its cover's thumbnail"},
          "shared": {"type": ["string", "null"], "description": "the address of the page that shares it by a link "
                                                                  "(no password asked); null where it is not shared"},
          "shared_until": {"type": ["string", "null"], "description": "the link's last day (ISO 8601); null: none"},
          "shared_places": {"type": ["boolean", "null"], "description": "whether the link's photos say where they "
                                                                        "were taken"}}


def _said_by_hand(what: str, field: str, description: str, answered: str, properties: dict) -> dict:
    """The path item of a POST that says `what` (`field`, or `as_taken`), kept in the engine's folder."""
    return {"post": {
        "summary": f"Say {what}, or as its file says again; kept in the engine's folder",
        "parameters": [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": _fields({field: {"type": "string", "description": description},
                                "as_taken": {"type": "boolean", "description": f"as its file says again (instead of "
                                                                               f"a {field})"},
                                "engine": {"type": "string"}}, []),
        "responses": {"200": {"description": f"{answered}, and whether it was said by hand", "content": {
            "application/json": {"schema": {"type": "object", "required": ["id", *properties, "said"],
                                            "properties": {"id": {"type": "string"}, **properties,
                                                           "said": {"type": "boolean"}}}}}},
                      **_CHANGE_REFUSED}}}


def _counted(key: str, example: str) -> dict:
    """The item of a listing of what the images have (`cbir.places.counted`): it, how many have it, an example."""
    return {key: {"type": "string"}, "images": {"type": "integer"},
            "example": {"type": "string", "description": example}}


def _fields(properties: dict, required: list[str]) -> dict:
    """A request body of these fields, as JSON or as a form."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema},
                                          "application/x-www-form-urlencoded": {"schema": schema}}}


def openapi_document(service) -> dict:
    k_param = {"name": "k", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": service.max_k, "default": service.default_k}}
    engine_param = {"name": "engine", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(service.engines), "default": service.default_engine}}
    narrowing = [
        {"name": "label", "in": "query", "required": False, "description": "only images of this class (repeatable)",
         "schema": {"type": "array", "items": {"type": "string"}}, "explode": True},
        {"name": "split", "in": "query", "required": False, "description": "only images of this split (repeatable)",
         "schema": {"type": "array", "items": {"type": "string"}}, "explode": True},
        {"name": "folder", "in": "query", "required": False,
         "description": "only images whose id starts with this", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images taken on or after this date (2019, 2019-07, 2019-07-14; EXIF, else the file's)"},
        {"name": "until", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images taken up to this date, all of it"},
        {"name": "place", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images taken near this place, by their GPS position: a town, US state or country, or "
                        "parts in order (Lyon; Texas; Paris, France); 'or' between places"},
        {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images with this tag, as photo managers write them (XMP or IPTC keywords, people named "
                        "in the photo, an XMP file beside it; case ignored); ',' or 'or' between tags: any of them"},
        {"name": "stars", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 5},
         "description": "only images rated this many stars or more"},
        {"name": "camera", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images taken with this camera, as their EXIF names it (/api/v1/cameras lists them; "
                        "case ignored; ',' or 'or' between cameras: any of them)"},
        {"name": "kind", "in": "query", "required": False,
         "schema": {"type": "string", "enum": ["photo", "video", "raw", "screenshot"]},
         "description": "only photos (camera raw files too, not screenshots), videos, camera raw files or "
                        "screenshots (named as phones and computers name them, or in a folder named Screenshots)"},
        {"name": "person", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images in which this person's face was found, by number or name (`cbir faces`; "
                        "/api/v1/people lists them); 'Anna and Bob': both in one photo; 'Anna, Bob' or 'Anna or "
                        "Bob': either"},
        {"name": "album", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images in this album (case ignored; /api/v1/albums lists them)"},
        {"name": "text", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images in which each of the words is written, whole or as a word's start of 3 "
                        "letters or more, case and accents ignored (`cbir text` reads it)"},
        {"name": "showing", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "only images that show what the words name (the network's probability at least 0.5; as "
                        "words= names them)"},
        {"name": "min_score", "in": "query", "required": False, "description": "no hit scoring less",
         "schema": {"type": "number", "minimum": -1, "maximum": 1}}]
    distinct_param = {"name": "distinct", "in": "query", "required": False, "schema": {"type": "boolean"},
                      "description": "one image per group of look-alikes (needs features of the picture: effnet, "
                                     "or an engine indexed with --copies); each hit names those it stands for"}
    offset_param = {"name": "offset", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_DEPTH - 1, "default": 0},
                    "description": f"the results from rank offset + 1 (the next page: offset + k; {MAX_DEPTH:,} deep "
                                   f"at most)"}
    crop_param = {"name": "crop", "in": "query", "required": False, "schema": {"type": "string"},
                  "description": "search with a part of the image: LEFT,TOP,WIDTH,HEIGHT as fractions of its width "
                                 "and height (e.g. 0.25,0.1,0.5,0.6)"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "cbir image search", "version": __version__},
        "paths": {
            "/api/v1/search": {"get": {
                "summary": "Find the indexed images of what words name (the classes the engine's network knows: "
                           "effnet's 1,000 ImageNet classes, named by any of their WordNet names or more general ones: "
                           "dog, bird, vehicle, food), ranked by the network's probability that they show one",
                "parameters": [{"name": "words", "in": "query", "required": True, "schema": {"type": "string"},
                                "description": "a word or phrase, or several separated by commas (any of them); "
                                               "ending with a place the pictures were taken near ('dog in Lyon', "
                                               "'beach near Nice'), or a place alone ('Lyon': its pictures, the "
                                               "newest first)"},
                               k_param, offset_param, engine_param, *narrowing, distinct_param],
                "responses": {"200": {"description": "hits, best first, each scored with its probability; classes: "
                                                     "the classes the words name", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
                    "400": _ERROR}}, "post": {
                "summary": "Find the indexed images most like an uploaded image (or several together: the "
                           "multipart field image repeated, up to 20), and less like those uploaded as unlike; or "
                           "(face) those with a face most like the largest one in it",
                "parameters": [k_param, offset_param, engine_param, *narrowing, crop_param, distinct_param,
                               {"name": "face", "in": "query", "required": False, "schema": {"type": "boolean"},
                                "description": "search with the largest face in the image (`cbir faces` first): "
                                               "scores are 1 - the faces' distance, closer than 0.6"}],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "unlike": {"type": "array", "items": {"type": "string", "format": "binary"},
                                   "description": "images of what is not wanted (repeatable, up to 20): the "
                                                  "results are less like them"}}}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "image/*": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"200": {"description": "hits, best first", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
                    "400": _ERROR, "404": _ERROR, "413": _ERROR, "422": _ERROR}}},
            "/api/v1/images": {"get": {
                "summary": "The indexed images, newest first (by when they were taken; undated ones last), of those "
                           "that pass the filters: a collection looked through without a query (scores are 1)",
                "parameters": [k_param, offset_param, engine_param, *narrowing, distinct_param,
                               {"name": "order", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": list(ORDERS), "default": "newest"},
                                "description": "oldest: the oldest first (undated ones still last); added: those "
                                               "added lately first"}],
                "responses": {"200": {"description": "hits, newest first", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
                    "400": _ERROR, "404": _ERROR}}},
            "/api/v1/words": _listing(
                "What the engine's images show most often: words to search with (words=) and how many images show "
                "what each names (the network's probability at least 0.5); everyday words for effnet's ImageNet "
                "classes, the classes' own names for a cnn's", engine_param, "words", "most often shown first",
                _counted("words", "the image most probably of it")),
            "/api/v1/places": _listing(
                "Where the engine's pictures were taken: the towns nearest their GPS positions (of 5,000 people or "
                "more, within 100 km), the most photographed first (place= filters by them)", engine_param,
                "places", "most photographed first",
                _counted("place", "the newest picture taken there")),
            "/api/v1/tags": _listing(
                "The tags the engine's photos have (tag= filters by them; words= finds them, where the words name "
                "no class), the most used first, and how many photos have each rating", engine_param, "tags",
                "most used first",
                _counted("tag", "the newest photo with it"),
                {"ratings": {"type": "object", "additionalProperties": {"type": "integer"},
                             "description": "stars (-1: rejected) -> how many photos have that rating"}}),
            "/api/v1/cameras": _listing(
                "The cameras the engine's photos were taken with (as their EXIF names them), the most used first: "
                "camera= looks through a camera's photos", engine_param, "cameras", "most used first",
                _counted("camera", "the newest photo it took")),
            "/api/v1/people": _listing(
                "The people whose faces were found in the engine's photos (`cbir faces`; none before), the most "
                "photographed first: person= looks through a person's photos", engine_param, "people",
                "most photographed first",
                {"person": {"type": "integer", "description": "their number (numbered again when faces are found "
                                                              "in new photos)"},
                 "name": {"type": "string", "description": "the name most of their named faces have (a photo "
                                                           "manager's, or `cbir faces --name`); empty where none"},
                 "images": {"type": "integer"},
                 "face": {"type": "object", "description": "their most typical face: its image and box (left, top, "
                                                           "right, bottom as fractions of the picture's size)"},
                 "thumbnail": {"type": "string", "description": "the address of that face's thumbnail"},
                 "distance": {"type": "number", "description": "with alike=: between the nearest faces of theirs "
                                                               "and that person's"}},
                parameters=({"name": "alike", "in": "query", "required": False, "schema": {"type": "string"},
                             "description": "instead: the other people who may be this one (a number or a name), "
                                            "the likeliest first: a face closer than 0.6 to one of theirs (one "
                                            "person, by dlib's measure), never in a photo with them, not named "
                                            "otherwise"},)),
            "/api/v1/people/{person}": {"post": {
                "summary": "Give a person a name (kept in the engine's folder; every face of theirs takes it), or "
                           "take it away; answers the people as /api/v1/people does",
                "parameters": [{"name": "person", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "their number, or their name"}],
                "requestBody": _fields({
                    "name": {"type": "string", "description": "their name; empty to take it away"},
                    "image": {"type": "string", "description": "an image of theirs: a number that means someone "
                                                               "else by now (people are numbered again as they "
                                                               "change) is refused with 409"},
                    "engine": {"type": "string"}}, ["name"]),
                "responses": {"200": {"description": "the people, the most photographed first"},
                              **_CHANGE_REFUSED}}},
            "/api/v1/faces/{image_id}": {
                "get": {
                    "summary": "The faces found in an indexed image, left to right",
                    "parameters": [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "string"}},
                                   engine_param],
                    "responses": {"200": {"description": "its faces", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Faces"}}}}, "404": _ERROR}},
                "post": {
                    "summary": "Say whose a face of an indexed image is (kept in the engine's folder): a name (that "
                               "person's, whatever the grouping said), nobody's, or the grouping's again; or that a "
                               "person is not in the image after all",
                    "parameters": [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "requestBody": _fields({
                        "face": {"type": "integer", "description": "the face's number in the image (from 0, left to "
                                                                   "right)"},
                        "name": {"type": "string", "description": "whose it is; empty: the grouping's to say"},
                        "nobody": {"type": "boolean", "description": "none of the people's (instead of a name)"},
                        "not": {"type": "string", "description": "instead of the others: a person (number or name) "
                                                                 "who is not in the image after all"},
                        "engine": {"type": "string"}}, []),
                    "responses": {"200": {"description": "its faces now", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Faces"}}}}, **_CHANGE_REFUSED}}},
            "/api/v1/dates/{image_id}": _said_by_hand(
                "when an indexed image was taken, whatever its file says (a camera's clock put right, a scan dated)",
                "date", "when: 2019-07-14 or 2019-07-14T10:30", "its date now",
                {"date": {"type": ["string", "null"]}}),
            "/api/v1/places/{image_id}": _said_by_hand(
                "where an indexed image was taken, whatever its file says (a camera without GPS, a scan)",
                "place", "where: a town ('Lyon', 'Paris, Texas') or a position ('45.764,4.8357')",
                "its place and position now", {"place": {"type": ["string", "null"]},
                                               "position": {"type": ["array", "null"], "items": {"type": "number"}}}),
            "/api/v1/albums": _listing(
                "The albums made of the engine's images, by name: album= looks through one", engine_param, "albums",
                "by name", _ALBUM),
            "/api/v1/albums/{album}": {"post": {
                "summary": "Put indexed images in an album (made if there is none of that name; case ignored), take "
                           "some out (an album with none left is gone), share it by a link or stop, rename it or "
                           "delete it (its images stay indexed); kept in the engine's folder",
                "parameters": [{"name": "album", "in": "path", "required": True, "schema": {"type": "string"}},
                               *narrowing],
                "requestBody": _fields({
                    "add": {"type": "array", "items": {"type": "string"}, "description": "indexed images to put in it "
                                                                                        "(form: repeated)"},
                    "remove": {"type": "array", "items": {"type": "string"}, "description": "indexed images to take "
                                                                                           "out of it"},
                    "name": {"type": "string", "description": "its new name (another album's: the two are one)"},
                    "add_all": {"type": "boolean", "description": "put in every image the filters in the query "
                                                                 "keep (folder=, since=, place=...), the earliest "
                                                                 "taken first"},
                    "delete": {"type": "boolean", "description": "delete the album"},
                    "share": {"type": "boolean", "description": "true: share the album by a link (its address in "
                                                               "the albums' `shared`); false: stop sharing it"},
                    "until": {"type": "string", "description": "with share: the link's last day (2027-01-31); "
                                                               "after it, it leads nowhere"},
                    "places": {"type": "boolean", "description": "with share: the photos say where they were taken "
                                                                "(by default their GPS position, XMP and IPTC are "
                                                                "taken out of what the link gives)"},
                    "engine": {"type": "string"}}, []),
                "responses": {"200": {"description": "the album's name now (null where it is gone) and the albums",
                                      "content": {"application/json": {"schema": {"type": "object", "properties": {
                                          "engine": {"type": "string"}, "album": {"type": ["string", "null"]},
                                          "albums": {"type": "array", "items": {"type": "object",
                                                                                "properties": _ALBUM}}}}}}},
                              **_CHANGE_REFUSED}}},
            "/api/v1/albums/{album}/suggestions": {"get": {
                "summary": "The indexed images that may belong in an album, not in it yet: each scored with the "
                           "mean of its three best similarities to the album's images",
                "parameters": [{"name": "album", "in": "path", "required": True, "schema": {"type": "string"}},
                               k_param, offset_param, engine_param, *narrowing, distinct_param],
                "responses": {"200": {"description": "hits, the most alike first", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
                    "400": _ERROR, "404": _ERROR}}},
            "/api/v1/trips": _listing(
                "The runs of photos taken away from home (the place photographed on the most days; more than 50 km "
                "from it), the latest first: since= and until= with a trip's days look through its photos",
                engine_param, "trips", "the latest first",
                {"name": {"type": "string", "description": "its most photographed places"},
                 "since": {"type": "string", "description": "its first day"},
                 "until": {"type": "string", "description": "its last day"}, "images": {"type": "integer"},
                 "example": {"type": "string", "description": "one of its photos"}}),
            "/api/v1/memories": _listing(
                "The pictures taken on today's date (the server's: `today` in the answer) in earlier years, a year at "
                "a time, the latest first: since= and until= with a day look through its pictures", engine_param,
                "memories", "the latest first",
                {"day": {"type": "string", "description": "the day, ISO 8601"}, "images": {"type": "integer"},
                 "example": {"type": "string", "description": "the first picture taken that day"}}),
            "/api/v1/similar/{image_id}": {"get": {
                "summary": "Find the indexed images most like an indexed one (itself left out), or like it and others "
                           "together, and less like others",
                "parameters": [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "string"}},
                               k_param, offset_param, engine_param, *narrowing, crop_param, distinct_param,
                               {"name": "also", "in": "query", "required": False, "explode": True,
                                "description": "more indexed images to search with together (repeatable): the "
                                               "images most like all of them at once, all of them left out",
                                "schema": {"type": "array", "items": {"type": "string"}}},
                               {"name": "unlike", "in": "query", "required": False, "explode": True,
                                "description": "indexed images of what is not wanted (repeatable, up to 20): the "
                                               "results are less like them, and they are left out",
                                "schema": {"type": "array", "items": {"type": "string"}}},
                               {"name": "face", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "instead: the other images with a face like this one of the image "
                                               "(its number there, from 0, left to right; empty: its largest)"}],
                "responses": {"200": {"description": "hits, best first", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
                    "400": _ERROR, "404": _ERROR}}},
            "/api/v1/download": {"get": {
                "summary": "Indexed images as they are stored, in one zip (their ids as the paths in it)",
                "parameters": [{"name": "id", "in": "query", "required": False, "explode": True,
                                "description": f"an indexed image (repeatable, at most {service.max_k})",
                                "schema": {"type": "array", "items": {"type": "string"}}},
                               {"name": "album", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "instead: every image of this album, however many"},
                               engine_param],
                "responses": {"200": {"description": "a zip; files unreadable by now are named in its "
                                                     "not-included.txt", "content": {"application/zip": {}}},
                              "400": _ERROR, "404": _ERROR}}},
            "/api/v1/images/{image_id}": {"get": {
                "summary": "An indexed image (only ids in an index are served)",
                "parameters": [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "size", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["thumb"]}},
                               {"name": "crop", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "with size=thumb: the thumbnail of a part, LEFT,TOP,WIDTH,HEIGHT as "
                                               "fractions of the picture's width and height (a face's)"}],
                "responses": {"200": {"description": "the image", "content": {"image/*": {}}},
                              "304": {"description": "not modified"}, "404": _ERROR}}},
            "/api/v1/duplicates": {"get": {
                "summary": "Groups of exact and near duplicates in an engine, each with the image it keeps first",
                "parameters": [engine_param,
                               {"name": "threshold", "in": "query", "required": False,
                                "description": "cosine similarity from which images are near duplicates "
                                               "(default: the features' measured one)",
                                "schema": {"type": "number", "minimum": -1, "maximum": 1}},
                               {"name": "exact_only", "in": "query", "required": False,
                                "description": "only exact copies (the same pixels)", "schema": {"type": "boolean"}}],
                "responses": {"200": {"description": "groups, largest first", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Duplicates"}}}},
                    "202": {"description": "still finding them (a large engine takes minutes): how many distinct "
                                           "pictures are compared so far, of how many; ask again after Retry-After "
                                           "seconds",
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "engine": {"type": "string"}, "threshold": {"type": ["number", "null"]},
                                "exact_only": {"type": "boolean"}, "grouping": {"type": "object", "properties": {
                                    "compared": {"type": "integer"}, "pictures": {"type": "integer"}}}}}}}},
                    "400": _ERROR, "404": _ERROR}}},
            "/api/v1/health": {"get": {"summary": "Liveness", "responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/api/v1/engines": {"get": {"summary": "Loaded engines", "responses": {"200": {
                "description": "engines", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Engine"}}}}}}}},
        },
        "components": {"schemas": {
            "Faces": {"type": "object", "required": ["engine", "image", "faces"], "properties": {
                "engine": {"type": "string"}, "image": {"type": "string"},
                "faces": {"type": "array", "items": {"type": "object", "required": [
                    "face", "box", "person", "who", "nobody", "maybe", "thumbnail"], "properties": {
                        "face": {"type": "integer", "description": "its number in the image, from 0, left to right"},
                        "box": {"type": "array", "items": {"type": "number"}, "description": "left, top, right, "
                                "bottom as fractions of the picture's width and height"},
                        "person": {"type": "integer", "description": "whose it is (0: none of the people)"},
                        "who": {"type": "string", "description": "their name, else 'person N'; empty for none"},
                        "nobody": {"type": "boolean", "description": "said to be none of the people's"},
                        "maybe": {"type": "string", "description": "a face no one's yet: the named person a face "
                                                                   "of whose is closer than 0.6 to it (empty: none)"},
                        "thumbnail": {"type": "string", "description": "the address of the face's thumbnail"}}}}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                      "suggestions": {"type": "array", "items": {"type": "string"},
                                      "description": "words, places or tags that may have been meant"}}},
            "Hit": {"type": "object", "required": ["id", "score", "label", "url", "copy", "date", "place", "position",
                                                   "tags", "rating", "people", "camera", "albums", "caption",
                                                   "text", "alike"],
                    "properties": {
                "id": {"type": "string"}, "score": {"type": "number"},
                "label": {"type": ["string", "null"]}, "url": {"type": "string"},
                "copy": {"type": ["number", "null"], "description": "set when the hit is a copy of the query, put "
                         "first (an engine indexed with --copies): its similarity by the copy features"},
                "date": {"type": ["string", "null"], "description": "when the picture was taken, ISO 8601 (EXIF, "
                         "else the file's time)"},
                "place": {"type": ["string", "null"], "description": "where it was taken: the town nearest its GPS "
                          "position (\"Lyon, France\")"},
                "position": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                             "description": "its GPS position: latitude and longitude in degrees"},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "its tags, as its photo "
                         "manager wrote them"},
                "rating": {"type": ["integer", "null"],
                           "description": "its stars, 1 to 5 (-1: rejected); null where it was not rated"},
                "people": {"type": "array", "items": {"type": "string"}, "description": "the people whose faces "
                           "were found in it, left to right: names, or 'person N' (`cbir faces`)"},
                "camera": {"type": ["string", "null"], "description": "the camera that took it, as its EXIF says"},
                "albums": {"type": "array", "items": {"type": "string"}, "description": "the albums it is in"},
                "caption": {"type": ["string", "null"], "description": "what its photo manager's caption (or Google "
                            "Photos' description) says; null where it has none"},
                "text": {"type": ["string", "null"], "description": "the text read in it (`cbir text`), its lines "
                         "top to bottom joined by newlines; null where none was read"},
                "alike": {"type": "array", "items": {"type": "string"}, "description": "with distinct: the "
                          "look-alikes of this image it stands for"},
                "shows": {"type": "string", "description": "a search by words: the most probable of the classes "
                          "they name (its score is the probability of all of them)"}}},
            "SearchResponse": {"type": "object", "required": ["took_ms", "engine", "hits"], "properties": {
                "took_ms": {"type": "number"}, "engine": {"type": "string"},
                "classes": {"type": "string", "description": "a search by words: the classes they name"},
                "tagged": {"type": "string", "description": "a search by words: the tags they named"},
                "captioned": {"type": "string", "description": "a search by words that named no class and no tag: "
                              "the words the hits' captions hold"},
                "in_text": {"type": "string", "description": "a search by words that named no class or tag and no "
                            "caption holds: the words written in the hits (`cbir text`)"},
                "person": {"type": "string", "description": "a search by a face: whose it is (a name, or 'person "
                                                            "N'), where it is someone's the engine knows"},
                "near": {"type": "string", "description": "a search by words: the place they named"},
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}},
            "Duplicates": {"type": "object", "required": ["engine", "threshold", "exact_only", "took_ms", "groups"],
                           "properties": {
                "engine": {"type": "string"}, "threshold": {"type": ["number", "null"]},
                "exact_only": {"type": "boolean"}, "took_ms": {"type": "number"},
                "groups": {"type": "array", "items": {"type": "object", "properties": {
                    "kind": {"type": "string", "enum": ["exact", "near"]}, "keep": {"type": "string"},
                    "members": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "path": {"type": ["string", "null"]},
                        "similarity": {"type": "number", "description": "cosine similarity to the kept image"},
                        "pixels": {"type": ["integer", "null"]}, "bytes": {"type": ["integer", "null"]},
                        "rating": {"type": ["integer", "null"]}, "tags": {"type": "array", "items": {"type": "string"}},
                        "changed": {"type": "boolean"}}}}}}}}},
            "Engine": {"type": "object", "required": ["name", "extractor", "size", "dim"], "properties": {
                "name": {"type": "string"}, "extractor": {"type": "string"}, "size": {"type": "integer"},
                "dim": {"type": "integer"}, "index": {"type": "string"}, "labelled": {"type": "boolean"},
                "learned": {"type": ["string", "null"], "description": "what the extractor learned, e.g. the "
                                                                       "CNN's accuracy; null for fixed ones"}}},
        }},
    }
