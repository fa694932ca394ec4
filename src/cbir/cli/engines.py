"""Sub-commands on engines and collections: index, add, remove, search, evaluate, compare, serve, info."""

from __future__ import annotations

import argparse
import json
import time
from contextlib import suppress
from pathlib import Path

from cbir.cli.args import collection_options, option, positive
from cbir.errors import CbirError
from cbir.storage import writer_lock


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

    extractor = make_extractor(args.features, model=args.model, options=dict(args.options))
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
            engine.save(args.out)
            discard(args.out)  # saved: nothing to resume
        except BaseException:
            for index in made:
                with suppress(Exception):  # best effort: the error that stopped the build is the one to show
                    index.drop()
            raise
    print(f"indexed {len(engine)} images from {dataset.name} with '{extractor.name}' ({extractor.dim}-d, "
          f"{args.backend}) in {time.perf_counter() - started:.1f} s -> {args.out}")
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
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.resume import discard

    with Engine.editing(args.engine) as engine:
        dataset = load_dataset(args.dataset, split=args.split, data=args.data)
        before = engine.metadata.stamps()
        added, changed = engine.add_new(dataset, batch_size=args.batch_size, resume_in=args.engine)
        if added or changed or engine.metadata.stamps() != before:
            engine.save(args.engine)
        discard(args.engine)
    print(f"added {added} images ({len(dataset) - added} already indexed"
          + (f", {changed} described again: their files show another picture now" if changed else "")
          + f") -> {args.engine}: {len(engine)} images")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from cbir.datasets.folder import missing_paths
    from cbir.engine import Engine

    if not args.ids and not args.missing:
        raise CbirError("name the image ids to remove, or pass --missing")
    with Engine.editing(args.engine) as engine:
        ids = set(args.ids)
        if args.missing:
            by_path = {engine.metadata.path(id_): id_ for id_ in engine.metadata.labels()}
            ids |= {by_path[path] for path in missing_paths(p for p in by_path if p)}
        removed = engine.remove(sorted(ids)) if ids else 0
        if removed:
            engine.save(args.engine)
    print(f"removed {removed} images -> {args.engine}: {len(engine)} images"
          + (f" ({len(ids) - removed} of the given ids were not indexed)" if removed < len(ids) else ""))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from cbir.datasets import decode_image, load_folder, read_bytes
    from cbir.datasets.folder import DEFAULT_MAX_SIDE
    from cbir.engine import Engine
    from cbir.filters import Filter

    images, names, failures = [], [], []
    for path in args.images:
        try:
            if Path(path).is_dir():  # every image in it, as `cbir index` reads folders (unreadable: a warning)
                found = load_folder(path, progress=False, cache=False)
                images += found.images
                names += found.paths
            else:  # read as `cbir index` reads a folder's images
                images.append(decode_image(read_bytes(path), max_side=DEFAULT_MAX_SIDE))
                names.append(path)
        except (OSError, CbirError) as exc:
            failures.append(f"{path}: {exc}")
    if failures:
        raise CbirError("cannot read query image(s):\n  " + "\n  ".join(failures))
    where = Filter.of(args.labels, args.splits, args.folder, args.since, args.until)
    results = Engine.load(args.engine).search(images, k=args.k, names=names, where=where, min_score=args.min_score)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    for result in results:
        print(f"{one_line(result.query)}:")
        for rank, hit in enumerate(result.hits, 1):
            print(f"  {rank:3d}  {hit.score:.4f}  {one_line(hit.label or '-'):<12}  {one_line(hit.id)}")
    return 0


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a file name) written as escapes, so one hit stays one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.evaluation import evaluate
    from cbir.evaluation.report import measure_text

    engine = Engine.load(args.engine)
    queries = load_dataset(args.queries, data=args.data).stratified(args.max_queries)
    metrics = evaluate(engine, queries, out=args.out, k=args.k, full=not args.no_full,
                       write_trec_files=not args.no_trec_files, extra_measures=args.measures)
    print(f"{metrics['num_queries']} queries x {metrics['index_size']} images, '{metrics['run_tag']}':")
    if metrics["left_out_of_own_ranking"]:
        print(f"  ({metrics['left_out_of_own_ranking']} queries are indexed images: each is left out of its own "
              f"ranking and judgements)")
    for name in metrics["measures"]:
        print(f"  {name:<16} {measure_text(metrics[name])}")
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


def cmd_info(args: argparse.Namespace) -> int:
    from cbir.engine import Engine

    info = Engine.load(args.engine).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"engine     {args.engine}\nfeatures   {info['extractor']['name']} ({info['extractor']['kind']}, "
          f"{info['dim']}-d, config {info['extractor']['config_hash']})\n"
          f"index      {info['index']['kind']} {info['index'].get('factory') or ''}\n"
          f"images     {info['count']} ({info['labelled']} labelled, {info['classes']} classes)\n"
          f"created    {info['created']}")
    if info["extractor"]["learned"]:
        print(f"learned    {info['extractor']['learned']}")
    if info.get("copies"):
        print(f"copies     found first in every search, with {info['copies']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import faiss
    import waitress

    from cbir.web import create_app
    from cbir.web.service import engine_names

    faiss.omp_set_num_threads(1)  # concurrency comes from the server's threads; never nest thread pools
    app = create_app({"ENGINES": engine_names(args.engines), "MAX_CONTENT_LENGTH": args.max_upload_mb << 20,
                      "MAX_FORM_MEMORY_SIZE": args.max_upload_mb << 20})
    names = ", ".join(app.extensions["cbir"].engines)
    print(f"serving {names} at http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="cbir", **SERVER_LIMITS,
                   max_request_body_size=BODY_READ_FACTOR * (args.max_upload_mb << 20))
    return 0


# A body over the upload limit is still read (spooled to disk, up to BODY_READ_FACTOR times the limit) so
# that every client, even one that sends all of it before reading, gets the app's JSON 413 rather than a
# reset connection. Idle or slow connections are many and cheap (poll, not select) and dropped after
# 30 s, so a crowd of them never keeps a search waiting.
BODY_READ_FACTOR = 4
SERVER_LIMITS = {"connection_limit": 1000, "channel_timeout": 30, "cleanup_interval": 10, "asyncore_use_poll": True}


def register(sub) -> None:
    """Add these sub-commands to the `cbir` parser."""
    from cbir.features import EXTRACTORS
    from cbir.index import BACKENDS

    p = sub.add_parser("index", help="describe a collection and save a searchable engine folder")
    collection_options(p)
    p.add_argument("--features", default="hog-gch", choices=sorted(EXTRACTORS), help="extractor (default hog-gch)")
    p.add_argument("--model", help="with the CNN features: a model folder from `cbir train` "
                                   "(default: the shipped one)")
    p.add_argument("--set", dest="options", type=option, action="append", default=[], metavar="KEY=VALUE",
                   help="change an extractor option, e.g. index_tta=false (cnn: one view per indexed image) "
                        "or k=2000 (sift-bovw vocabulary); repeatable")
    p.add_argument("--backend", default="faiss", choices=sorted(BACKENDS), help="vector index (default faiss)")
    p.add_argument("--factory", help="FAISS factory string, e.g. HNSW32 or IVF1024,PQ32 (default: exact Flat)")
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

    p = sub.add_parser("remove", help="remove images from an engine, by id or because their files are gone")
    p.add_argument("engine", help="engine folder")
    p.add_argument("ids", nargs="*", help="image ids (as `cbir search` prints them)")
    p.add_argument("--missing", action="store_true", help="also remove every image whose file no longer exists")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("search", help="find the indexed images most like the given image files")
    p.add_argument("engine", help="engine folder")
    p.add_argument("images", nargs="+", help="query image files, or folders (every image in them)")
    p.add_argument("-k", type=positive, default=10, help="results per query (default 10)")
    p.add_argument("--label", dest="labels", action="append", default=[], metavar="LABEL",
                   help="only images of this class (repeatable: any of them)")
    p.add_argument("--split", dest="splits", action="append", default=[], metavar="SPLIT",
                   help="only images of this split, e.g. train (repeatable)")
    p.add_argument("--folder", help="only images whose id (path in the collection) starts with this, e.g. 2019/")
    p.add_argument("--since", metavar="DATE", help="only images taken on or after DATE (2019, 2019-07, 2019-07-14; "
                                                   "EXIF's date, else the file's)")
    p.add_argument("--until", metavar="DATE", help="only images taken up to DATE, all of it (2019: to its end)")
    p.add_argument("--min-score", type=float, metavar="S",
                   help="no results scoring less than S (cosine similarity, -1 to 1): fewer than k may come back")
    p.add_argument("--json", action="store_true", help="print JSON")
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
    p.add_argument("--measure", default="P_100",
                   help="the measure drawn per class, by its ir_measures or trec_eval name (default P_100 = P@100)")
    p.add_argument("--out", help="write comparison.md, pr.png and per_class.png into this folder")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("serve", help="serve the search page and JSON API (production WSGI server)")
    p.add_argument("engines", nargs="+", help="engine folder(s); the first is the default")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--threads", type=positive, default=8, help="worker threads (default 8)")
    p.add_argument("--max-upload-mb", type=positive, default=10,
                   help="upload size limit (default 10 MB); a larger upload gets a 413 with the reason")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="describe an engine folder")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
