"""`cbir export`: what an engine knows of its photos (tags, people, albums, captions, stars, dates, places), written
out for other software: an XMP file a photo and a CSV table (`cbir.export`)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from cbir.errors import CbirError


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cbir.engine import Engine
    from cbir.export import sidecar_path, write_csv, written_by_cbir, xmp_of

    if not args.xmp and not args.csv:
        raise CbirError("say what to write: --xmp FOLDER (an XMP file a photo), --csv FILE (a table), or both")
    engine = Engine.load(args.engine)
    hits = [engine.metadata.hit(id_, 1.0) for id_ in sorted(engine.metadata.labels())]
    if args.xmp:
        folder = Path(args.xmp).expanduser().resolve()
        for root in engine.metadata.folders(archives=False):
            if folder == root.resolve() or root.resolve() in folder.parents:
                raise CbirError(f"{folder} lies in {root}, which the engine indexes: XMP files there are read as the "
                                f"photos' own tags; write them into a folder of their own")
        placed = [(hit, path) for hit in hits if (path := sidecar_path(folder, hit.id)) is not None]
        if len(placed) < len(hits):
            warnings.warn(f"{len(hits) - len(placed)} image(s) whose ids lead out of {folder} have no XMP file there")
        if theirs := [path for _, path in placed if path.exists() and not written_by_cbir(path)]:
            raise CbirError(f"{len(theirs)} XMP file(s) in {folder} were not written by cbir, e.g. {theirs[0]}: "
                            f"nothing was written (give a folder of their own)")
        for hit, path in tqdm(placed, desc="writing XMP files", unit="file", mininterval=0.5):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(xmp_of(hit))
        print(f"wrote {len(placed):,} XMP files -> {folder}")
    if args.csv:
        write_csv(hits, Path(args.csv))
        print(f"wrote {len(hits):,} rows -> {args.csv}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="what an engine knows of its photos (tags, people, albums, captions, stars, "
                                      "dates, places) as XMP files other photo software reads, or a CSV table")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--xmp", metavar="FOLDER",
                   help="write an XMP file a photo into FOLDER, in the collection's layout (IMG_1.jpg -> "
                        "IMG_1.jpg.xmp): not a folder the engine indexes; only XMP files cbir wrote are written over")
    p.add_argument("--csv", metavar="FILE", help="write a table: a row a photo (UTF-8, comma-separated)")
    p.set_defaults(func=cmd_export)
