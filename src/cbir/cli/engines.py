"""Sub-commands that build and keep engines: index, add, remove, info."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import warnings
from collections import Counter
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from cbir.cli.args import collection_options, option, positive
from cbir.errors import CbirError, DatasetError, MissingDependencyError
from cbir.storage import writer_lock

SHOWN = 12  # words `info` says the images show most often (`--json`: all)
SHOWN_TRIPS = 5  # the latest trips `info` lists


def default_features(spec: str, model: str | None) -> str:
    """What `index` describes a collection with when not told: the CNN for CIFAR-10 (the shipped network) or with a
    trained `model`, the ImageNet network for anything else (a folder of photos); hog-gch where PyTorch is missing,
    with a warning that says how to install it."""
    from cbir.datasets import source_of

    wanted = "cnn" if model is not None or source_of(spec) is None else "effnet"
    if importlib.util.find_spec("torch") is None:
        warnings.warn(f"'{wanted}', the features for this collection, needs PyTorch (pip install 'cbir[cnn]'): "
                      f"indexing with 'hog-gch' instead", stacklevel=2)
        return "hog-gch"
    return wanted


def copy_features(images: int):
    """What `index --copies` describes the images with a second time: `effnet-copies`, or `effnet` for collections
    too small for its 512-dimensional PCA."""
    from cbir.features import make_extractor

    return make_extractor("effnet-copies" if images >= 512 else "effnet")


def cmd_index(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.features import make_extractor
    from cbir.index import BACKENDS, make_index
    from cbir.resume import discard

    features = args.features or default_features(args.dataset, args.model)
    extractor = make_extractor(features, model=args.model, options=dict(args.options))
    if args.copies and args.ray is not None:
        raise CbirError("--copies describes on this machine: it does not go with --ray")
    options = backend_options(args)
    BACKENDS[args.backend].preflight(dim=known_dim(extractor), **options)
    with writer_lock(args.out):  # before the long work: an --out that cannot be written fails now
        dataset = load_dataset(args.dataset, split=args.split, data=args.data).stratified(args.max_index)
        copies = copy_features(len(dataset)) if args.copies else None
        started = time.perf_counter()
        made = []  # the index, once made: a server's is dropped when the build fails half-way

        def make(dim: int):
            made.append(make_index(args.backend, dim, **options))
            return made[-1]

        try:
            if args.ray is not None:
                from cbir.distributed import build_with_ray

                engine = build_with_ray(dataset, extractor, make, address=args.ray or None,
                                        batch_size=args.batch_size)
            else:
                engine = Engine.build(dataset, extractor, make, batch_size=args.batch_size, resume_in=args.out,
                                      copies=copies)
            kept = engine.take_over(args.out)
            engine.save(args.out)
            discard(args.out)  # saved: nothing to resume
        except BaseException:
            for index in made:
                with suppress(Exception):  # best effort: the error that stopped the build is the one to show
                    index.drop()
            raise
    print(f"indexed {len(engine)} images from {dataset.name} with '{extractor.name}' ({extractor.dim}-d, "
          f"{args.backend}) in {time.perf_counter() - started:.1f} s -> {args.out}")
    if kept:
        print("kept from the engine it replaces: " + ", ".join(
            ([f"the faces found in {kept['looked at']:,} of its images, the names given to {kept['named']:,}"]
             if "looked at" in kept else []) + ([f"the text read in {kept['read']:,}"] if "read" in kept else [])
            + ([f"when or where {kept['said']:,} were taken, as said by hand"] if "said" in kept else [])
            + ([f"{kept['albums']:,} album{'s' * (kept['albums'] != 1)}"] if "albums" in kept else [])))
    return 0


def known_dim(extractor) -> int | None:
    """The vectors' dimension before fitting, where the extractor knows it (else a lower bound, or None)."""
    try:
        return extractor.dim
    except CbirError:
        return None


def backend_options(args: argparse.Namespace) -> dict:
    """Index options from the command line; refuses options meant for another backend."""
    given = {"--factory": args.factory, "--milvus-uri": args.milvus_uri, "--es-url": args.es_url,
             "--es-shards": args.es_shards, "--es-replicas": args.es_replicas, "--es-exact": args.es_exact}
    own = {"faiss": {"--factory"}, "milvus": {"--milvus-uri"},
           "elasticsearch": {"--es-url", "--es-shards", "--es-replicas", "--es-exact"}}.get(args.backend, set())
    stray = [flag for flag, value in given.items() if value and flag not in own]
    if stray or ((args.collection or args.index_type) and args.backend not in ("milvus", "elasticsearch")):
        raise CbirError(f"{', '.join(stray) or '--collection/--index-type'} does not apply to --backend "
                        f"{args.backend}")
    if args.backend == "faiss":
        return {"factory": args.factory} if args.factory else {}
    if args.backend == "milvus":
        uri = args.milvus_uri or str(Path(args.out) / "milvus.db")
        return {"uri": uri, "collection": args.collection, "index_type": args.index_type or "FLAT"}
    if args.backend == "elasticsearch":
        return {"url": args.es_url, "index": args.collection, "index_type": args.index_type or "hnsw",
                "shards": args.es_shards or 1, "replicas": args.es_replicas or 0, "exact": args.es_exact}
    return {}


def cmd_add(args: argparse.Namespace) -> int:
    added = add_collection(args.engine, args.dataset, args.split, args.data, args.batch_size)
    print(f"added {added['added']} images ({added['already']} already indexed"
          + (f", {added['changed']} described again: their files show another picture now" if added["changed"] else "")
          + f") -> {args.engine}: {added['count']} images")
    if added["renamed"]:
        print(f"{added['renamed']} of them are files moved or renamed, indexed with their descriptions: `cbir remove "
              f"{args.engine} --missing` drops their old names")
    if added["relocated"]:
        print(f"{added['relocated']} indexed images were found where their folder moved: they are read from there now")
    if added["retagged"]:
        print(f"read the tags of {added['retagged']} again: their files (or the XMP files beside them) changed, their "
              f"pictures did not")
    if added["faces"]:
        print(f"looked for faces in {added['faces']} images: `cbir info {args.engine}` lists the people")
    if added["read"]:
        print(f"read the text in {added['read']} images")
    return 0


def add_collection(engine_path: str, spec: str, split: str | None, data: str | None, batch_size: int) -> dict:
    """`cbir add`: index a collection's images that the engine lacks or that changed, and find those moved
    (`KnownFiles`), and look for faces in those added where the engine has faces (`cbir.faces`), and read their
    text where it has text (`cbir.texts`); returns how many were added (moved and renamed files included), already
    indexed, described again, renamed, found where their folder moved, read again for their tags (retagged: their
    pictures as they were), looked at for faces, read for text, and the engine's size."""
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.metadata import KnownFiles
    from cbir.resume import discard

    with Engine.editing(engine_path) as engine:
        known = KnownFiles(engine.metadata)  # files indexed as they are, or moved: not decoded again
        before = engine.metadata.stamps()  # before the listing, which reads the tags of those retagged beside them
        dataset = load_dataset(spec, split=split, data=data, keep=known.keep)
        added, changed = engine.add_new(dataset, batch_size=batch_size, resume_in=engine_path)
        engine.add_moved(known.moved)
        located = engine.metadata.read_facts(known.unchanged)  # indexed before positions or tags were read: headers
        engine.redate()  # what was read again of those held (retagged, read for the first time) may date them
        looked = faces_of_new(engine) if engine.faces is not None and (added or changed) else 0
        read = text_of_new(engine) if engine.texts is not None and (added or changed) else 0
        if added or changed or known.moved or located or engine.metadata.stamps() != before:
            engine.save(engine_path)
        discard(engine_path)
    renamed = sum(new != old for new, _, old in known.moved)
    relocated = len(known.moved) - renamed
    restamped = sum(before.get(id_, stamp) != stamp for id_, stamp in engine.metadata.stamps().items())
    return {"added": added + renamed, "already": len(dataset) + len(known.unchanged) + relocated - added,
            "changed": changed, "renamed": renamed, "relocated": relocated, "retagged": restamped - changed,
            "faces": looked, "read": read, "count": len(engine)}


def text_of_new(engine) -> int:
    """Read the text in the images just added to an engine that has text (`Engine.read_text`, of the kind it was
    read in); without RapidOCR here, a warning, and the images added are kept all the same (read at the next `cbir
    text`)."""
    try:
        return engine.read_text(kind=engine.texts.kind)[0]
    except MissingDependencyError as exc:
        warnings.warn(f"the text in the images added was not read ({exc}); `cbir text` reads it")
        return 0


def faces_of_new(engine) -> int:
    """Look for faces in the images just added to an engine that has faces (`Engine.find_faces`); without dlib here,
    a warning, and the images added are kept all the same (their faces looked for at the next `cbir faces`)."""
    try:
        return engine.find_faces()[0]
    except MissingDependencyError as exc:
        warnings.warn(f"the faces of the images added were not looked for ({exc}); `cbir faces` looks for them")
        return 0


def cmd_remove(args: argparse.Namespace) -> int:
    if not args.ids and not args.missing and not args.under:
        raise CbirError("name the image ids to remove, or pass --missing or --under")
    removed, tried, count, kept = remove_images(args.engine, args.ids, args.missing, args.under)
    for where, paths in kept.items():
        print(f"cbir: {kept_text(args.engine, where, len(paths))}", file=sys.stderr)
    if kept and not removed:
        raise CbirError("nothing was removed")
    print(f"removed {removed} images -> {args.engine}: {count} images"
          + (f" ({tried - removed} of the given ids were not indexed)" if removed < tried else ""))
    return 0


def remove_images(engine_path: str, ids: list[str], missing: bool,
                  under: list[str]) -> tuple[int, int, int, dict]:
    """`cbir remove`: the given ids, every image under the `under` paths, and (`missing`) those whose files are gone,
    but for the folders gone whole (`vanished_folders`). Returns (how many were removed, of how many ids tried, the
    engine's size, the images kept as gone with their folder: {folder: paths})."""
    from cbir.datasets.folder import location, missing_paths, vanished_folders
    from cbir.engine import Engine

    with Engine.editing(engine_path) as engine:
        ids, kept = set(ids), {}
        by_path = {path: id_ for id_ in engine.metadata.labels() if (path := engine.metadata.path(id_))}
        for folder in under:
            if not folder.strip():  # an unset shell variable: not "here"
                raise CbirError("--under needs a path; nothing was removed")
            root = Path(folder).expanduser().resolve()
            inside = {id_ for path, id_ in by_path.items() if location(path).is_relative_to(root)}
            if not inside:
                raise CbirError(f"no indexed image lies under {root}; nothing was removed")
            ids |= inside
        if missing:
            gone = missing_paths(by_path)
            kept = {where: paths for where, paths in vanished_folders(by_path, gone).items()
                    if not {by_path[path] for path in paths} <= ids}
            ids |= {by_path[path] for path in gone} - {by_path[path] for paths in kept.values() for path in paths}
        removed = engine.remove(sorted(ids)) if ids else 0
        if removed:
            engine.save(engine_path)
    return removed, len(ids), len(engine), kept


def kept_text(engine_path: str, where: Path, count: int) -> str:
    return (f"kept {count} images whose files are missing from {where}, where no indexed file is left: is its drive "
            f"mounted? If it moved, `cbir add {engine_path} --dataset NEW_PLACE` finds them there; if they are gone "
            f"for good, `cbir remove {engine_path} --under {where}`")


def cmd_sync(args: argparse.Namespace) -> int:
    """`add` and `remove --missing` in one, for a collection or every folder the engine holds, once or (`--watch`)
    again and again until stopped."""
    from cbir.datasets import source_of
    from cbir.datasets.cache import source_fingerprint
    from cbir.datasets.folder import existing_source
    from cbir.storage import current_version

    said_kept: set[Path] = set()  # the folders gone whole already said
    said_missing, first, synced, held = set(), True, None, (False, [])  # held: an engine version and its folders
    while True:
        if not args.dataset and held[0] != (version := current_version(args.engine)):
            held = (version, engine_folders(args.engine))  # read again only once the engine changed
        specs = [args.dataset] if args.dataset else held[1]
        present = {}  # spec -> its folder or archive (None: CIFAR-10)
        for spec in specs:  # a folder missing (a drive not mounted) is said once, and looked at again
            try:
                if (source := source_of(spec)) is not None:
                    existing_source(source[0])
                present[spec] = source and source[0]
            except DatasetError as exc:
                if args.dataset and (first or not args.watch):
                    raise
                if args.watch and spec not in said_missing:  # without --watch, `remove --missing` says it
                    print(f"cbir: {exc}; looking again every {args.watch} s", file=sys.stderr, flush=True)
        said_missing = set(specs) - set(present)
        # a round's files and engine version: a round with both as the last one's left has nothing to do
        seen = ([source_fingerprint(source) if source else None for source in present.values()],
                current_version(args.engine))
        if present and seen != synced:  # nothing there at all (a drive not mounted): nothing to do
            said_kept = _sync(args, list(present), said_kept)
            synced = (seen[0], current_version(args.engine))
        first = False
        if not args.watch:
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            print(f"stopped watching {args.dataset or 'the folders of ' + args.engine}", file=sys.stderr)
            return 0


def engine_folders(engine_path: str) -> list[str]:
    """The folders an engine's images were indexed from (archives, which do not change, left out), for `sync`."""
    from cbir.metadata import Metadata
    from cbir.storage import current_version

    version = current_version(engine_path)
    if version is None:
        raise CbirError(f"no engine at {engine_path}: build one with `cbir index ... --out {engine_path}`")
    folders = sorted(str(folder) for folder in Metadata.load(version / "metadata.sqlite").folders(archives=False))
    if not folders:
        raise CbirError(f"{engine_path} holds no images from a folder: name the collection to follow with --dataset")
    return folders


def _sync(args: argparse.Namespace, specs: list[str], said_kept: set[Path]) -> set[Path]:
    """One round of `cbir sync` over these collections: prints what changed (every round without --watch), and the
    folders gone whole not said yet; returns the folders gone whole now."""
    added = Counter()
    for spec in specs:
        added.update(add_collection(args.engine, spec, args.split, args.data, args.batch_size))
    removed, _, count, kept = remove_images(args.engine, [], True, [])
    if not args.watch or added["added"] or added["changed"] or added["relocated"] or added["retagged"] or removed:
        print(f"{datetime.now():%Y-%m-%d %H:%M:%S} added {added['added']}"
              + (f" ({added['renamed']} moved or renamed)" if added["renamed"] else "")
              + (f", described {added['changed']} again" if added["changed"] else "")
              + (f", found {added['relocated']} where their folder moved" if added["relocated"] else "")
              + f", removed {removed}"
              + (f", read the tags of {added['retagged']} again" if added["retagged"] else "")
              + (f", looked for faces in {added['faces']}" if added["faces"] else "")
              + (f", read the text in {added['read']}" if added["read"] else "")
              + f" -> {args.engine}: {count} images", flush=True)
    for where in kept.keys() - said_kept:
        print(f"cbir: {kept_text(args.engine, where, len(kept[where]))}", file=sys.stderr, flush=True)
    return set(kept)


def cmd_info(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.filters import KINDS, kind_of

    engine = Engine.load(args.engine)
    info = engine.info()
    folders = engine.metadata.folders()
    shows, places, trips = shown(engine), engine.places(), engine.trips()
    tags, ratings, cameras, people = engine.tags(), engine.ratings(), engine.cameras(), engine.people()
    albums = engine.albums.overview()
    if args.json:
        print(json.dumps({**info, "folders": {str(f): n for f, n in folders.most_common()},
                          **({"shows": [shown._asdict() for shown in shows]} if shows else {}),
                          **({"places": [place._asdict() for place in places]} if places else {}),
                          **({"tags": [tag._asdict() for tag in tags]} if tags else {}),
                          **({"ratings": {str(stars): n for stars, n in ratings.items()}} if ratings else {}),
                          **({"cameras": [camera._asdict() for camera in cameras]} if cameras else {}),
                          **({"people": [person.to_dict() for person in people]} if people else {}),
                          "albums": [album._asdict() for album in albums],
                          **({"trips": [trip._asdict() for trip in trips]} if trips else {})}, indent=2))
        return 0
    print(f"engine     {args.engine}\nfeatures   {info['extractor']['name']} ({info['extractor']['kind']}, "
          f"{info['dim']}-d, config {info['extractor']['config_hash']})\n"
          f"index      {info['index']['kind']} {info['index'].get('factory') or ''}\n"
          f"images     {info['count']} ({info['labelled']} labelled, {info['classes']} classes"
          + (f"; {info['videos']} of them videos" if info["videos"] else "") + ")\n"
          f"created    {info['created']}")
    dates = sorted(date for date in engine.metadata.dates() if date)
    if dates:
        undated = info["count"] - len(dates)
        print(f"taken      {dates[0][:10]} to {dates[-1][:10]}" + (f" ({undated} undated)" if undated else ""))
    if places:
        print(counted_line("places", places, f"`cbir search {args.engine} --place PLACE` looks through them"))
    if tags:
        print(counted_line("tags", tags, f"`cbir search {args.engine} --tag TAG` looks through them"))
    if ratings:
        print("rated      " + ", ".join(f"{'rejected' if stars < 0 else f'{stars} star' + 's' * (stars > 1)}: {n}"
                                        for stars, n in ratings.items()))
    if cameras:
        print(counted_line("cameras", cameras, f"`cbir search {args.engine} --camera CAMERA` looks through them"))
    if info["faces"]:
        faces = info["faces"]
        more = f" and {len(people) - SHOWN} more" if len(people) > SHOWN else ""
        listed = ", ".join(f"{p.person}{' ' + p.name if p.name else ''} ({p.images})" for p in people[:SHOWN])
        print(f"faces      {faces['faces']} in {faces['in']} of the {faces['looked_at']} images looked at"
              + (f"; people {listed}{more}: `cbir search {args.engine} --person N` looks through them"
                 if people else ""))
    if info["text"]:
        text = info["text"]
        print(f"text       in {text['with_text']} of the {text['read']} images read"
              + (f" (only {KINDS[text['kind']]})" if text["kind"] else "")
              + (f": `cbir search {args.engine} --text WORDS` finds them by it" if text["with_text"] else ""))
    elif screenshots := sum(kind_of(id_) == "screenshot" for id_ in engine.metadata.labels()):
        print(f"text       not read: `cbir text {args.engine} --kind screenshot` reads what is written in the "
              f"{screenshots} screenshot{'s' * (screenshots != 1)}, to find them by it")
    if albums:
        print(counted_line("albums", albums, f"`cbir search {args.engine} --album NAME` looks through one"))
    for n, trip in enumerate(trips[:SHOWN_TRIPS]):
        print(f"{'trips' if n == 0 else '':<10} {trip.since} to {trip.until}  {trip.name} ({trip.images} photos)")
    if len(trips) > SHOWN_TRIPS:
        print(f"{'':<10} and {len(trips) - SHOWN_TRIPS} earlier trips (--json: all)")
    if info["extractor"]["learned"]:
        print(f"learned    {info['extractor']['learned']}")
    if info.get("copies"):
        print(f"copies     found first in every search, with {info['copies']}")
    for n, (folder, count) in enumerate(folders.most_common(5)):
        print(f"{'from' if n == 0 else '':<10} {folder} ({count} images)")
    if len(folders) > 5:
        print(f"{'':<10} and {len(folders) - 5} more folders or archives")
    if shows:
        more = f" and {len(shows) - SHOWN} more" if len(shows) > SHOWN else ""
        print(f"shows      {', '.join(f'{shown.words} ({shown.images})' for shown in shows[:SHOWN])}{more}: "
              f"`cbir search {args.engine} --words WORD` finds them")
    return 0


def counted_line(what: str, counted: list[tuple], looks: str) -> str:
    """A line of `cbir info` on what the images have (places, tags, cameras, albums: each's name and how many images
    have it, first), the first `SHOWN` of them, and how `cbir search` `looks` through them."""
    more = f" and {len(counted) - SHOWN} more {what}" if len(counted) > SHOWN else ""
    return f"{what:<10} {'; '.join(f'{item[0]} ({item[1]})' for item in counted[:SHOWN])}{more}: {looks}"


def shown(engine) -> list:
    """What an engine's images show most often (`Engine.shows`), where its features can say and its vectors are its
    own (not a server's, which it would read every one of)."""
    if engine.index.server:
        return []
    try:
        return engine.shows()
    except CbirError:
        return []


def register(sub) -> None:
    """Add these sub-commands to the `cbir` parser."""
    from cbir.features import EXTRACTORS
    from cbir.index import BACKENDS

    p = sub.add_parser("index", help="describe a collection and save a searchable engine folder")
    collection_options(p)
    p.add_argument("--features", choices=sorted(EXTRACTORS),
                   help="extractor (default: effnet for a folder or zip, cnn for cifar10 or with --model)")
    p.add_argument("--model", help="with the CNN features: a model folder from `cbir train` "
                                   "(default: the shipped one)")
    p.add_argument("--set", dest="options", type=option, action="append", default=[], metavar="KEY=VALUE",
                   help="change an extractor option, e.g. index_tta=false (cnn: one view per indexed image) "
                        "or k=2000 (sift-bovw vocabulary); repeatable")
    p.add_argument("--backend", default="faiss", choices=sorted(BACKENDS), help="vector index (default faiss)")
    p.add_argument("--factory", help="FAISS factory string, e.g. HNSW32 or IVF1024,PQ32 (default: every vector "
                                      "scanned, Flat; SQfp16, as float16, from 512 dimensions)")
    p.add_argument("--milvus-uri", help="Milvus Lite file (*.db) or server URL (default: OUT/milvus.db); "
                                        "a token comes from $CBIR_MILVUS_TOKEN")
    p.add_argument("--es-url", help="Elasticsearch URL (default $CBIR_ES_URL); credentials from "
                                    "$CBIR_ES_API_KEY or $CBIR_ES_USER / $CBIR_ES_PASSWORD")
    p.add_argument("--es-shards", type=positive, help="Elasticsearch primary shards (default 1)")
    p.add_argument("--es-replicas", type=int, help="Elasticsearch replicas (default 0: one node)")
    p.add_argument("--es-exact", action="store_true",
                   help="Elasticsearch: exact script_score ranking instead of approximate knn")
    p.add_argument("--collection", help="Milvus collection / Elasticsearch index name (default: a new unique one)")
    p.add_argument("--index-type", help="Milvus: FLAT (default), HNSW, IVF_FLAT; Elasticsearch: hnsw (default), "
                                        "int8_hnsw, bbq_hnsw, flat, ...")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="extract features with Ray Data (on the cluster at ADDRESS, else on this machine)")
    p.add_argument("--copies", action="store_true",
                   help="also index the images with effnet-copies (effnet under 512 images), so that every search "
                        "puts the copies of its query (re-saved, resized, recoloured, cropped a little...) first "
                        "(docs/duplicates.md)")
    p.add_argument("--max-index", type=positive, help="index a class-stratified subset of this size")
    p.add_argument("--batch-size", type=positive, default=1024)
    p.add_argument("--out", required=True, help="engine folder to write")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("add", help="describe and index the images of a collection that an engine lacks")
    p.add_argument("engine", help="engine folder")
    collection_options(p)
    p.add_argument("--batch-size", type=positive, default=1024)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="remove images from an engine: by id, because their files are gone, or by folder")
    p.add_argument("engine", help="engine folder")
    p.add_argument("ids", nargs="*", help="image ids (as `cbir search` prints them)")
    p.add_argument("--missing", action="store_true",
                   help="also remove every image whose file no longer exists, except those whose whole folder "
                        "went (a drive not mounted, a folder moved)")
    p.add_argument("--under", action="append", default=[], metavar="PATH",
                   help="also remove every image whose file lies under this folder (or is in this archive) on disk, "
                        "there or not (repeatable)")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("sync", help="bring an engine in step with a folder, or with every folder it holds (`add`, "
                                    "then `remove --missing`), once or every few seconds")
    p.add_argument("engine", help="engine folder")
    collection_options(p, required=False, default=None)
    p.add_argument("--batch-size", type=positive, default=1024)
    p.add_argument("--watch", type=positive, metavar="SECONDS",
                   help="look again every SECONDS until stopped (Ctrl-C), printing a line when something changed")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("info", help="describe an engine folder")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
