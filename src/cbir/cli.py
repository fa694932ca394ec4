"""The `cbir` command line: one sub-command per verb, each a thin call into the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from functools import partial
from pathlib import Path

from cbir.errors import CbirError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _option(text: str) -> tuple[str, object]:
    from cbir.features import parse_option

    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_index(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.features import make_extractor
    from cbir.index import BACKENDS, make_index

    extractor = make_extractor(args.features, model=args.model, options=dict(args.options))
    options = _backend_options(args)
    BACKENDS[args.backend].preflight(**options)
    dataset = load_dataset(args.dataset, split=args.split, data=args.data).stratified(args.max_index)
    started = time.perf_counter()
    make = partial(make_index, args.backend, **options)
    if args.ray is not None:
        from cbir.distributed import build_with_ray

        engine = build_with_ray(dataset, extractor, make, address=args.ray or None, batch_size=args.batch_size)
    else:
        engine = Engine.build(dataset, extractor, make, batch_size=args.batch_size)
    engine.save(args.out)
    print(f"indexed {len(engine)} images from {dataset.name} with '{extractor.name}' ({extractor.dim}-d, "
          f"{args.backend}) in {time.perf_counter() - started:.1f} s -> {args.out}")
    return 0


def _backend_options(args: argparse.Namespace) -> dict:
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

    engine = Engine.load(args.engine)
    dataset = load_dataset(args.dataset, split=args.split, data=args.data)
    added = engine.add_new(dataset, batch_size=args.batch_size)
    if added:
        engine.save(args.engine)
    print(f"added {added} images ({len(dataset) - added} already indexed) -> {args.engine}: {len(engine)} images")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from cbir.datasets.folder import missing_paths
    from cbir.engine import Engine

    if not args.ids and not args.missing:
        raise CbirError("name the image ids to remove, or pass --missing")
    engine = Engine.load(args.engine)
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
    from cbir.datasets import decode_image, load_folder
    from cbir.engine import Engine

    images, names, failures = [], [], []
    for path in args.images:
        try:
            if Path(path).is_dir():  # every image in it, as `cbir index` reads folders (unreadable: a warning)
                found = load_folder(path, progress=False, cache=False)
                images += found.images
                names += found.paths
            else:
                images.append(decode_image(Path(path).read_bytes()))
                names.append(path)
        except (OSError, CbirError) as exc:
            failures.append(f"{path}: {exc}")
    if failures:
        raise CbirError("cannot read query image(s):\n  " + "\n  ".join(failures))
    results = Engine.load(args.engine).search(images, k=args.k, names=names)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    for result in results:
        print(f"{result.query}:")
        for rank, hit in enumerate(result.hits, 1):
            print(f"  {rank:3d}  {hit.score:.4f}  {hit.label or '-':<12}  {hit.id}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.engine import Engine
    from cbir.evaluation import evaluate

    engine = Engine.load(args.engine)
    queries = load_dataset(args.queries, data=args.data).stratified(args.max_queries)
    metrics = evaluate(engine, queries, out=args.out, k=args.k, full=not args.no_full,
                       write_trec_files=not args.no_trec_files, extra_measures=args.measures)
    print(f"{metrics['num_queries']} queries x {metrics['index_size']} images, '{metrics['run_tag']}':")
    if metrics["left_out_of_own_ranking"]:
        print(f"  ({metrics['left_out_of_own_ranking']} queries are indexed images: each is left out of its own "
              f"ranking and judgements)")
    for name in metrics["measures"]:
        print(f"  {name:<16} {metrics[name]:.4f}")
    files = (["metrics.json", "report.md", "examples.png"] + ["pr.png"] * (not args.no_full)
             + ["run.txt", "qrels.txt"] * (not args.no_trec_files))
    print(f"results in {args.out}/ ({', '.join(files)})")
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
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.features.cnn.extractor import SHIPPED
    from cbir.features.cnn.model import ModelConfig
    from cbir.features.cnn.train import TrainConfig, train

    dataset = load_dataset(args.dataset, split=args.split, data=args.data).stratified(args.max_train)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, val_images=args.val_images,
                         seed=args.seed, val_seed=args.val_seed, translate=args.translate, cutout=args.cutout,
                         supcon_weight=args.supcon_weight, temperature=args.temperature,
                         init=str(SHIPPED) if args.init == "shipped" else args.init,
                         teachers=tuple(args.teacher), distill=args.distill,
                         distill_temperature=args.distill_temperature, sam=args.sam,
                         int8_weights=args.int8_weights)
    model = ModelConfig(widths=tuple(args.widths), embedding_dim=args.embedding_dim, depth=args.depth,
                        residual=args.residual)
    card = train(dataset, args.out, config, model, device=args.device, command="cbir " + " ".join(sys.argv[1:]))
    val = card["validation_accuracy_tta"]
    print(f"trained {card['epochs']} epochs in {card['minutes']:.1f} min; held-out validation accuracy "
          f"{'-' if val is None else f'{val:.4f}'} -> {args.out}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.tune import run_tune

    dataset = load_dataset(args.dataset, data=args.data).stratified(args.max_train)
    best = run_tune(dataset, args.out, samples=args.samples, epochs=args.epochs, batch_size=args.batch_size,
                    val_images=args.val_images, cpus=args.cpus)
    print((Path(args.out) / "results.md").read_text())
    print(f"best configuration: {json.dumps(best)} (also in {args.out}/best_config.json)")
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
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="cbir",
                   max_request_body_size=(args.max_upload_mb << 20) + 65536)
    return 0


def _collection_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--dataset / --data / --split: which images a command reads."""
    p.add_argument("--dataset", required=required, default=None if required else "cifar10",
                   help="cifar10 (its train split), or a folder / .zip of images (PATH or PATH:split)"
                        + ("" if required else "; default cifar10"))
    p.add_argument("--data", help="where CIFAR-10 is (zip, folder or cifar-10-python.tar.gz); else $CBIR_CIFAR10")
    p.add_argument("--split", help="only this split of a folder collection (e.g. train)")


def build_parser() -> argparse.ArgumentParser:
    from cbir import __version__
    from cbir.features import EXTRACTORS
    from cbir.index import BACKENDS

    parser = argparse.ArgumentParser(prog="cbir", description="Content-based image retrieval.")
    parser.add_argument("--version", action="version", version=f"cbir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="describe a collection and save a searchable engine folder")
    _collection_options(p)
    p.add_argument("--features", default="hog-gch", choices=sorted(EXTRACTORS), help="extractor (default hog-gch)")
    p.add_argument("--model", help="with the CNN features: a model folder from `cbir train` "
                                   "(default: the shipped one)")
    p.add_argument("--set", dest="options", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="change an extractor option, e.g. index_tta=false (cnn: one view per indexed image) "
                        "or k=2000 (sift-bovw vocabulary); repeatable")
    p.add_argument("--backend", default="faiss", choices=sorted(BACKENDS), help="vector index (default faiss)")
    p.add_argument("--factory", help="FAISS factory string, e.g. HNSW32 or IVF1024,PQ32 (default: exact Flat)")
    p.add_argument("--milvus-uri", help="Milvus Lite file (*.db) or server URL (default: OUT/milvus.db); "
                                        "a token comes from $CBIR_MILVUS_TOKEN")
    p.add_argument("--es-url", help="Elasticsearch URL (default $CBIR_ES_URL); credentials from "
                                    "$CBIR_ES_API_KEY or $CBIR_ES_USER / $CBIR_ES_PASSWORD")
    p.add_argument("--es-shards", type=_positive, help="Elasticsearch primary shards (default 1)")
    p.add_argument("--es-replicas", type=int, help="Elasticsearch replicas (default 0: one node)")
    p.add_argument("--es-exact", action="store_true",
                   help="Elasticsearch: exact script_score ranking instead of approximate knn")
    p.add_argument("--collection", help="Milvus collection / Elasticsearch index name (default: a new unique one)")
    p.add_argument("--index-type", help="Milvus: FLAT (default), HNSW, IVF_FLAT; Elasticsearch: hnsw (default), "
                                        "int8_hnsw, bbq_hnsw, flat, ...")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="extract features with Ray Data (on the cluster at ADDRESS, else on this machine)")
    p.add_argument("--max-index", type=_positive, help="index a class-stratified subset of this size")
    p.add_argument("--batch-size", type=_positive, default=1024)
    p.add_argument("--out", required=True, help="engine folder to write")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("add", help="describe and index the images of a collection that an engine lacks")
    p.add_argument("engine", help="engine folder")
    _collection_options(p)
    p.add_argument("--batch-size", type=_positive, default=1024)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="remove images from an engine, by id or because their files are gone")
    p.add_argument("engine", help="engine folder")
    p.add_argument("ids", nargs="*", help="image ids (as `cbir search` prints them)")
    p.add_argument("--missing", action="store_true", help="also remove every image whose file no longer exists")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("search", help="find the indexed images most like the given image files")
    p.add_argument("engine", help="engine folder")
    p.add_argument("images", nargs="+", help="query image files, or folders (every image in them)")
    p.add_argument("-k", type=_positive, default=10, help="results per query (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("evaluate", help="measure retrieval quality with trec_eval semantics")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--queries", default="cifar10:test", help="cifar10:test (default) or a labelled folder / zip")
    p.add_argument("--data", help="where CIFAR-10 is; else $CBIR_CIFAR10")
    p.add_argument("-k", type=_positive, default=100, help="ranking depth of the run (default 100)")
    p.add_argument("--max-queries", type=_positive, help="evaluate a class-stratified subset of the queries")
    p.add_argument("--measure", dest="measures", action="append", default=[], metavar="NAME",
                   help="one more measure of the top k by its ir_measures name, e.g. nDCG@10, R@100, P@5 "
                        "(repeatable)")
    p.add_argument("--no-full", action="store_true", help="skip the full-ranking map and PR curve")
    p.add_argument("--no-trec-files", action="store_true",
                   help="skip run.txt and qrels.txt (on CIFAR-10's full protocol qrels.txt is 50 million lines, ~3 GB)")
    p.add_argument("--out", required=True, help="results folder to write")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="train the CNN on a labelled collection and write a model folder")
    _collection_options(p, required=False)
    p.add_argument("--out", required=True, help="model folder to write (resumes from its checkpoint)")
    p.add_argument("--epochs", type=_positive, default=15)
    p.add_argument("--batch-size", type=_positive, default=512)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--widths", type=_positive, nargs=3, default=[64, 256, 256], metavar="W")
    p.add_argument("--depth", type=_positive, default=2, help="convolutions per block (default 2)")
    p.add_argument("--residual", action="store_true",
                   help="add each block's first convolution output to its last (needs --depth 2 or more)")
    p.add_argument("--int8-weights", action="store_true",
                   help="store the block convolutions as int8 per output channel (half the size of fp16)")
    p.add_argument("--embedding-dim", type=_positive, default=256)
    p.add_argument("--translate", type=int, default=2, help="random translation in pixels (default 2)")
    p.add_argument("--cutout", type=int, default=0, help="side of a random square blanked per image (default 0)")
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="start from this trained model (its widths; 'shipped' for the CIFAR-10 one); trained on "
                        "other classes, it gets a new classifier (fine-tuning)")
    p.add_argument("--supcon-weight", type=float, default=0.0,
                   help="weight of a supervised contrastive loss on the embedding (default 0: cross-entropy only)")
    p.add_argument("--temperature", type=float, default=0.1, help="supervised contrastive temperature")
    p.add_argument("--teacher", action="append", default=[], metavar="MODEL_DIR",
                   help="a trained model to distil from (repeat for an ensemble: their logits are averaged)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of the distillation term, 0-1 (the rest stays on the labels; default 0)")
    p.add_argument("--distill-temperature", type=float, default=1.0,
                   help="distillation temperature (default 1: label smoothing already softens the teachers)")
    p.add_argument("--sam", type=float, default=0.0, metavar="RHO",
                   help="sharpness-aware minimisation with this radius (e.g. 0.05; twice the compute; default off)")
    p.add_argument("--val-images", type=int, help="held out of the training split for validation "
                                                  "(default: 5,000 or a tenth, whichever is fewer)")
    p.add_argument("--max-train", type=_positive, help="train on a class-stratified subset")
    p.add_argument("--seed", type=int, default=0, help="initialisation, order and augmentation")
    p.add_argument("--val-seed", type=int, default=0, help="which training images are held out")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="search CNN hyper-parameters with Ray Tune (ASHA) on a data subset")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data", help="where CIFAR-10 is; else $CBIR_CIFAR10")
    p.add_argument("--out", required=True, help="folder for results.csv, results.md, best_config.json")
    p.add_argument("--samples", type=_positive, default=6, help="trials (default 6)")
    p.add_argument("--epochs", type=_positive, default=4, help="epochs per trial at most (default 4)")
    p.add_argument("--max-train", type=_positive, default=5000, help="training subset (default 5000)")
    p.add_argument("--val-images", type=_positive, default=1000)
    p.add_argument("--batch-size", type=_positive, default=256)
    p.add_argument("--cpus", type=_positive, help="CPUs for Ray (default: all)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("serve", help="serve the search page and JSON API (production WSGI server)")
    p.add_argument("engines", nargs="+", help="engine folder(s); the first is the default")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--threads", type=_positive, default=8, help="worker threads (default 8)")
    p.add_argument("--max-upload-mb", type=_positive, default=10, help="upload size limit (default 10 MB)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="describe an engine folder")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return parser


PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """cbir's own warnings as one `cbir: warning: ...` line; others as Python prints them."""
    if str(Path(filename).resolve()).startswith(PACKAGE_DIR):
        print(f"cbir: warning: {message}", file=file or sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    warnings.showwarning = _show_warning
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "remove" and not any(e.startswith("-") for e in extra):
        args.ids += extra  # ids after --missing: argparse fills a subcommand's positionals only once
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except CbirError as exc:
        print(f"cbir: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cbir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
