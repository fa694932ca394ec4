"""Sub-commands that query engines: search, evaluate, compare."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from cbir.cli.args import positive
from cbir.errors import CbirError


def cmd_search(args: argparse.Namespace) -> int:
    from cbir.datasets.folder import DEFAULT_MAX_SIDE
    from cbir.datasets.regions import Region
    from cbir.engine import Engine
    from cbir.faces import FACE_SIDE
    from cbir.filters import Filter
    from cbir.texts import line_with

    if (args.images or args.like) and args.words:
        raise CbirError("search with image files (or --like) or with --words, not both")
    if args.like and args.crop:
        raise CbirError("--crop takes a part of the image files given, not of the indexed images --like names")
    browsing = not args.images and not args.words and not args.like  # the images themselves, newest first
    if (args.words or browsing) and (args.unlike or args.crop or args.together):
        raise CbirError(f"{'--words searches' if args.words else 'a look through the images (no image, no --words) is'}"
                        " alone: not with --unlike, --crop or --together")
    if (args.oldest_first or args.latest_added) and not browsing:
        raise CbirError(f"--{'oldest-first' if args.oldest_first else 'latest-added'} orders a look through the images "
                        f"(no image, no --like, no --words): searches rank by similarity")
    faces_of = bool(args.images) != bool(args.like) and len(args.like) <= 1  # files, or one indexed image
    if args.face and (not faces_of or args.unlike or args.together or args.distinct):
        raise CbirError("--face searches with the face in each image file given, or in one indexed image (--like "
                        "ID), alone: not with --unlike, --together or --distinct")
    region = Region.parse(args.crop) if args.crop else None
    images, names = read_queries(args.images, region, FACE_SIDE if args.face else DEFAULT_MAX_SIDE)
    unlike, _ = read_queries(args.unlike, None, DEFAULT_MAX_SIDE)
    where = Filter.of(args.labels, args.splits, args.folder, args.since, args.until, args.showing, args.place,
                      args.tag, args.stars, args.person, args.camera, args.kind, args.album, args.text)
    engine = Engine.load(args.engine)
    if args.words:
        results = [engine.search_words(args.words, k=args.k, where=where, min_score=args.min_score,
                                       distinct=args.distinct, progress=True)]
    elif browsing:
        results = [engine.browse(args.k, where, args.distinct,
                                 "oldest" if args.oldest_first else "added" if args.latest_added else "newest")]
    elif args.face and args.like:
        results = [dataclasses.replace(engine.search_face_in(args.like[0], args.k, where=where), query=args.like[0])]
    elif args.face:
        results = engine.search_faces(images, k=args.k, names=names, where=where)
    elif len(args.like) == 1 and not (images or unlike):
        found = engine.search_like(args.like[0], k=args.k, where=where, min_score=args.min_score,
                                   distinct=args.distinct)
        results = [dataclasses.replace(found, query=args.like[0])]
    elif args.together or unlike or args.like:
        found = engine.search_together(images, k=args.k, where=where, min_score=args.min_score, distinct=args.distinct,
                                       unlike=unlike, liked_ids=args.like)
        query = " + ".join(names + args.like) + "".join(f" - {name}" for name in args.unlike)
        results = [dataclasses.replace(found, query=query)]
    else:
        results = engine.search(images, k=args.k, names=names, where=where, min_score=args.min_score,
                                distinct=args.distinct)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    if args.paths:
        for path in dict.fromkeys(hit.path or hit.id for result in results for hit in result.hits):
            print(one_line(path))
        return 0
    for result in results:
        named = " (" + ", taken near ".join(filter(None, [result.classes or (
            result.tagged and f"tagged {result.tagged}") or (result.captioned and f"captioned {result.captioned}") or (
            result.in_text and f"reading {result.in_text}") or (
            result.person and f"the face of {result.person}"), result.near])) + ")" if (
            result.classes or result.tagged or result.captioned or result.in_text or result.person or result.near
        ) else ""
        written = result.in_text or args.text  # a search by what is written: the line that says it, on each hit
        print(f"{one_line(result.query)}{named}:")
        for rank, hit in enumerate(result.hits, 1):
            score = f"{hit.score:.4f}" if hit.copy is None else f"copy {hit.copy:.2f}"  # a copy: its similarity
            score = (hit.date or "undated")[:10] if browsing else score
            alike = f"  (+{len(hit.alike)} alike)" if hit.alike else ""
            shows = f"  ({hit.shows})" if hit.shows else ""
            near = f"  near {hit.place}" if hit.place else ""
            about = near + (f"  {stars(hit.rating)}" if hit.rating else "") + (
                f"  tagged {one_line(', '.join(hit.tags))}" if hit.tags else "") + (
                f"  with {one_line(', '.join(hit.people))}" if hit.people else "") + (
                f"  in {one_line(', '.join(hit.albums))}" if hit.albums else "") + (
                f"  “{one_line(shortened(hit.caption, 60))}”" if hit.caption else "") + (
                f"  reads “{shortened(line_with(hit.text, written), 60)}”" if written and hit.text else "")
            print(f"  {rank:3d}  {score:>9}  {one_line(hit.label or '-'):<12}  {one_line(hit.id)}{alike}{shows}{about}")
    return 0


def shortened(text: str, most: int) -> str:
    """Text of at most `most` characters: cut at a word, with "…", where longer."""
    return text if len(text) <= most else text[:most - 1].rsplit(" ", 1)[0] + "…"


def read_queries(paths: list[str], region, side: int) -> tuple[list, list[str]]:
    """(images, their paths) of query image files (a video: its still) and folders (every image in them, as `cbir
    index` reads a folder: unreadable ones a warning), each read at `side` pixels, or larger for a part (`region`)
    of it; an error naming every file that cannot be read."""
    from cbir.datasets import load_folder
    from cbir.datasets.folder import decode_file
    from cbir.datasets.regions import read_side

    side = read_side(region, side)  # a part: read larger
    images, names, failures = [], [], []
    for path in paths:
        try:
            if Path(path).is_dir():
                found = load_folder(path, progress=False, cache=False, max_side=side)
                images += [region.of(im) if region else im for im in found.images]
                names += found.paths
            else:
                image = decode_file(path, side)
                images.append(region.of(image) if region else image)
                names.append(path)
        except (OSError, CbirError) as exc:
            failures.append(f"{path}: {exc}")
    if failures:
        raise CbirError("cannot read query image(s):\n  " + "\n  ".join(failures))
    return images, names


def stars(rating: int) -> str:
    """A rating for people: "★★★☆☆", or "rejected"."""
    return "rejected" if rating < 0 else "★" * rating + "☆" * (5 - rating)


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a file name) written as escapes, so one hit stays one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.evaluation import evaluate
    from cbir.evaluation.report import measure_text, trec_alias

    engine = Engine.load(args.engine)
    queries = load_dataset(args.queries, data=args.data).stratified(args.max_queries)
    metrics = evaluate(engine, queries, out=args.out, k=args.k, full=not args.no_full,
                       write_trec_files=not args.no_trec_files, extra_measures=args.measures)
    print(f"{metrics['num_queries']} queries x {metrics['index_size']} images, '{metrics['run_tag']}':")
    if metrics["left_out_of_own_ranking"]:
        print(f"  ({metrics['left_out_of_own_ranking']} queries are indexed images: each is left out of its own "
              f"ranking and judgements)")
    for name in metrics["measures"]:
        alias = trec_alias(name).strip("`")
        print(f"  {name:<18} {measure_text(metrics[name]):<8}" + (f"  ({alias})" if alias != "-" else ""))
    files = (["metrics.json", "report.md", "examples.png"] + ["pr.png"] * (not args.no_full)
             + ["retrieved.png"] * (Path(args.out) / "retrieved.png").exists()  # not drawn for many classes
             + ["run.txt", "qrels.txt"] * (not args.no_trec_files))
    print(f"results in {args.out}/ ({', '.join(files)})")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from cbir.evaluation.compare import compare

    print(compare(args.results, out=args.out, measure=args.measure))
    if args.out:
        print(f"comparison in {args.out}/ (comparison.md, pr.png, per_class.png)")
    return 0


def register(sub) -> None:
    """Add these sub-commands to the `cbir` parser."""
    p = sub.add_parser("search", help="find the indexed images most like the given image files, or named in words")
    p.add_argument("engine", help="engine folder")
    p.add_argument("images", nargs="*", help="query image files, or folders (every image in them); with none and no "
                                             "--words, the indexed images themselves, newest first (filters apply)")
    p.add_argument("--words", metavar="TEXT",
                   help="find pictures of what the words name instead, e.g. 'dog' or 'beach, lakeside' (any of them): "
                        "the classes the engine's network knows (effnet: ImageNet's 1,000, with every more general "
                        "word for them: dog, bird, vehicle, food), ranked by their probability; ending with a "
                        "place the pictures were taken near ('dog in Lyon'), or a place alone ('Lyon')")
    p.add_argument("-k", type=positive, default=10, help="results per query (default 10)")
    p.add_argument("--label", dest="labels", action="append", default=[], metavar="LABEL",
                   help="only images of this class (repeatable: any of them)")
    p.add_argument("--split", dest="splits", action="append", default=[], metavar="SPLIT",
                   help="only images of this split, e.g. train (repeatable)")
    p.add_argument("--folder", help="only images whose id (path in the collection) starts with this, e.g. 2019/")
    p.add_argument("--since", metavar="DATE", help="only images taken on or after DATE (2019, 2019-07, 2019-07-14; "
                                                   "EXIF's date, else the file's)")
    p.add_argument("--until", metavar="DATE", help="only images taken up to DATE, all of it (2019: to its end)")
    p.add_argument("--showing", metavar="WORDS",
                   help="only images that show what the words name, as --words names them (the network's "
                        "probability at least 0.5), e.g. --showing dog")
    p.add_argument("--place", metavar="PLACE",
                   help="only images taken near PLACE, by their GPS position: a town, US state or country, or several "
                        "parts in order (Lyon; Texas; Paris, France), 'or' between places; `cbir info` lists them")
    p.add_argument("--tag", metavar="TAG",
                   help="only images with this tag, as photo managers write them (XMP or IPTC keywords, people named "
                        "in the photo, an XMP file beside it), case ignored; ',' or 'or' between tags: any of them; "
                        "`cbir info` lists them")
    p.add_argument("--stars", type=int, choices=range(1, 6), metavar="N",
                   help="only images rated N stars or more (1 to 5), as photo managers write ratings")
    p.add_argument("--camera", metavar="NAME",
                   help="only images taken with this camera, as their EXIF names it ('Apple iPhone 13', 'Canon EOS "
                        "R6'; case ignored; ',' or 'or' between cameras: any of them; `cbir info` lists them)")
    p.add_argument("--kind", choices=["photo", "video", "raw", "screenshot"],
                   help="only photos (camera raw files too, not screenshots), videos, camera raw files or screenshots "
                        "(named as phones and computers name them, or in a folder named Screenshots)")
    p.add_argument("--person", metavar="N|NAME",
                   help="only images in which a person's face was found: by number or name (`cbir faces` finds "
                        "them; `cbir info` lists the people); 'Anna and Bob': both in one photo; 'Anna, Bob' or "
                        "'Anna or Bob': either")
    p.add_argument("--album", metavar="NAME", help="only images in this album (`cbir albums ENGINE` lists them)")
    p.add_argument("--text", metavar="WORDS",
                   help="only images in which each of the words is written, whole or as a word's start of 3 "
                        "letters or more ('sunflower' finds 'sunflower42'), case and accents ignored (`cbir text "
                        "ENGINE` reads it; --words finds them too, where the words name no class, tag or caption)")
    p.add_argument("--min-score", type=float, metavar="S",
                   help="no results scoring less than S (cosine similarity, -1 to 1; with --words, a probability): "
                        "fewer than k may come back")
    p.add_argument("--distinct", action="store_true",
                   help="one image per group of look-alikes (a burst's shots, a picture's edits and copies): the "
                        "best of each, naming the others; needs features of the picture (effnet, or --copies)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--oldest-first", action="store_true",
                       help="with no image and no --words (a look through the images): the oldest first, not the "
                            "newest")
    order.add_argument("--latest-added", action="store_true",
                       help="with no image and no --words (a look through the images): those added lately first (what "
                            "`add` and `sync` brought)")
    p.add_argument("--face", action="store_true",
                   help="search with the largest face in each image given (or in the indexed image --like names): "
                        "the indexed images with a face most like it, the nearest first (`cbir faces` first; with "
                        "--crop, the largest face in that part)")
    p.add_argument("--together", action="store_true",
                   help="one search with all the images given: the indexed images most like all of them at once")
    p.add_argument("--like", action="append", default=[], metavar="ID",
                   help="an indexed image, by its id as results name it: more like this one, by its vector as "
                        "indexed (nothing read; repeatable, and with image files: all of them together)")
    p.add_argument("--unlike", action="append", default=[], metavar="IMAGE",
                   help="an image (or folder) of what is not wanted: the results are less like it (repeatable; the "
                        "images given are then searched with together)")
    p.add_argument("--crop", metavar="LEFT,TOP,WIDTH,HEIGHT",
                   help="search with a part of each image: fractions of its width and height, e.g. 0.25,0.1,0.5,0.6")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--paths", action="store_true",
                        help="print only the results' files, one a line, best first (each once), for other tools: "
                             "... --paths | xargs -d '\\n' cp -t FOLDER")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("evaluate", help="measure retrieval quality with trec_eval semantics")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--queries", default="cifar10:test", help="cifar10:test (default) or a labelled folder / zip")
    p.add_argument("--data", help="where CIFAR-10 is; else $CBIR_CIFAR10")
    p.add_argument("-k", type=positive, default=100, help="ranking depth of the run (default 100)")
    p.add_argument("--max-queries", type=positive, help="evaluate a class-stratified subset of the queries")
    p.add_argument("--measure", dest="measures", action="append", default=[], metavar="NAME",
                   help="one more measure of the top k by its ir_measures name, e.g. nDCG@10, R@100, P@5, or "
                        "trec_eval's (ndcg_cut_10, recall_100, P_5); repeatable")
    p.add_argument("--no-full", action="store_true", help="skip the full-ranking map and PR curve")
    p.add_argument("--no-trec-files", action="store_true",
                   help="skip run.txt and qrels.txt (on CIFAR-10's full protocol qrels.txt is 50 million lines, ~3 GB)")
    p.add_argument("--out", required=True, help="results folder to write")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="compare evaluations: a table, overlaid PR curves, a per-class heat map")
    p.add_argument("results", nargs="+", help="results folders written by `cbir evaluate --out`")
    p.add_argument("--measure", default="P@100",
                   help="the measure drawn per class, by its ir_measures name (default P@100; trec_eval's, e.g. "
                        "P_100, also known)")
    p.add_argument("--out", help="write comparison.md, pr.png and per_class.png into this folder")
    p.set_defaults(func=cmd_compare)
