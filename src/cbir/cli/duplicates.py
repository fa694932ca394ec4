"""`cbir duplicates`: groups of exact and near duplicates in an engine, or new photos it already holds."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from cbir.cli.queries import stars
from cbir.errors import CbirError


def cmd_duplicates(args: argparse.Namespace) -> int:
    from cbir.aside import aside_folder, move_duplicates
    from cbir.duplicates import check_new, default_threshold, find_duplicates
    from cbir.engine import Engine

    if args.restore:
        return restore_moved(args)
    if args.move_to and args.query:
        raise CbirError("--move-to moves an engine's own duplicates; it does not apply to --query")
    if args.exact_only and args.threshold is not None:
        raise CbirError("--exact-only compares pixels: it takes no --threshold")
    engine = Engine.load(args.engine)
    if args.move_to:
        aside_folder(args.move_to, engine.metadata)  # refused before the long work
    threshold = None if args.exact_only else args.threshold if args.threshold is not None else default_threshold(engine)
    if args.query:
        from cbir.datasets import load_dataset

        found = check_new(engine, load_dataset(args.query), threshold, args.exact_only)
        write_checked(found, args)
        return 0
    groups = find_duplicates(engine, threshold, args.exact_only, progress=True)
    write_groups(groups, args)
    if args.html:
        from cbir.duplicates_report import write_report

        write_report(groups, engine, Path(args.engine).resolve().name, args.html, threshold)
        print(f"report: {args.html}", file=sys.stderr)
    if args.move_to:
        moved, changed, linked = move_duplicates(groups, args.move_to, engine.metadata)
        print(f"moved {len(moved)} files to {args.move_to} (each group's kept image stays); "
              f"`cbir remove {args.engine} --missing` drops them from the engine, `cbir duplicates {args.engine} "
              f"--restore {args.move_to}` puts them back", file=sys.stderr)
        if changed:
            print(f"{len(changed)} files changed since they were indexed (e.g. {changed[0]}): their groups stay where "
                  f"they are; `cbir add {args.engine} --dataset FOLDER` describes them again", file=sys.stderr)
        if linked:
            what = "1 file is the kept one" if len(linked) == 1 else f"{len(linked)} files are the kept ones"
            print(f"{what} under another name (a link, e.g. {linked[0]}): left in place", file=sys.stderr)
        if albums := kept_in_albums(engine, args.engine, groups, {source for source, _ in moved}):
            print(f"{albums} album{' holds the copy' if albums == 1 else 's hold the copies'} kept instead of those "
                  f"set aside", file=sys.stderr)
    return 0


def kept_in_albums(engine, path: str, groups, moved: set[str]) -> int:
    """Put each group's kept image in the albums its images set aside (the files `moved`) were in, where they were
    (`Albums.moved`), kept in the engine folder `path` (loaded again under its lock, where `engine`, as it was
    loaded, has such albums); returns how many albums changed."""
    from cbir.engine import Engine

    instead = [(group.keep.id, "", member.id) for group in groups for member in group.members[1:]
               if member.path in moved]
    gone = {old for _, _, old in instead}

    def holding(albums) -> list[str]:
        return [album.name for album in albums.overview() if albums.showing(album.name) & gone]

    if not holding(engine.albums):
        return 0
    with Engine.editing(path) as current:
        if changed := holding(current.albums):
            current.change_albums(path, lambda albums: albums.moved(instead))
    return len(changed)


def restore_moved(args: argparse.Namespace) -> int:
    """`--restore FOLDER`: the files `--move-to FOLDER` set aside, put back where they were."""
    from cbir.aside import restore

    if args.move_to or args.query:
        raise CbirError("--restore puts back what --move-to set aside; it takes neither --move-to nor --query")
    restored, taken, gone = restore(args.restore)
    print(f"put {len(restored)} file{'s' * (len(restored) != 1)} back where they were; `cbir sync {args.engine} "
          f"--dataset FOLDER` indexes them again if `remove --missing` dropped them")
    if taken:
        print(f"{len(taken)} left in {args.restore}: a file is at their place again (e.g. {taken[0]})")
    if gone:
        print(f"{len(gone)} no longer in {args.restore} (e.g. {gone[0]}): moved or deleted since")
    return 0


CHANGED = "  changed since it was indexed: `cbir add` describes it again"


def write_groups(groups, args: argparse.Namespace) -> None:
    """The groups as text (default), JSON or CSV, on stdout or into a file."""
    if args.format == "json":
        text = json.dumps([g.to_dict() for g in groups], indent=2)
    elif args.format == "csv":
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(["group", "kind", "keep", "id", "path", "similarity", "pixels", "bytes", "changed", "rating",
                      "tags"])
        for n, group in enumerate(groups, 1):
            for m in group.members:
                out.writerow([n, group.kind, m.id == group.keep.id, m.id, m.path, m.similarity, m.pixels, m.bytes,
                              m.changed, m.rating, "; ".join(m.tags)])
        text = buf.getvalue().rstrip("\n")
    else:
        copies = sum(len(g.members) - 1 for g in groups)
        lines = [f"{len(groups)} groups of duplicates, {copies} images beside the one each group keeps"]
        for n, group in enumerate(groups, 1):
            lines.append(f"group {n} ({group.kind}, {len(group.members)} images):")
            for m in group.members:
                size = (f"{m.pixels:,} px, {m.bytes:,} bytes" if m.pixels else "size unknown") + (
                    f", {stars(m.rating)}" if m.rating else "") + (f", tagged {', '.join(m.tags)}" if m.tags else "")
                mark = "keep" if m is group.keep else f"{m.similarity:.4f}"
                lines.append(f"  {mark:>6}  {m.path or m.id}  ({size})" + (CHANGED if m.changed else ""))
        text = "\n".join(lines)
    emit(text, args.out)


def write_checked(found: list[dict], args: argparse.Namespace) -> None:
    """Which new images the engine already holds, as text, JSON or CSV."""
    if args.format == "json":
        text = json.dumps(found, indent=2)
    elif args.format == "csv":
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(["query", "id", "path", "similarity", "exact"])
        for item in found:
            for m in item["matches"]:
                out.writerow([item["query"], m["id"], m["path"], m["similarity"], m["exact"]])
        text = buf.getvalue().rstrip("\n")
    else:
        lines = [f"{len(found)} of the new images are already in the engine"]
        for item in found:
            lines.append(f"{item['query']}:")
            lines += [f"  {'exact' if m['exact'] else format(m['similarity'], '.4f'):>6}  {m['path'] or m['id']}"
                      for m in item["matches"]]
        text = "\n".join(lines)
    emit(text, args.out)


def emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text + "\n")
    else:
        print(text)


def register(sub) -> None:
    p = sub.add_parser("duplicates", help="find exact and near duplicates in an engine, or new photos it holds",
                       description="Groups of images that are the same picture: exact copies (the same pixels) "
                                   "and near ones (the engine's vectors at --threshold or more), every two images "
                                   "of a group near duplicates of each other. Each group keeps the image with the "
                                   "most pixels, then the best rated and most tagged, then the largest file (never one "
                                   "marked rejected if another is not). Nothing is deleted.")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--threshold", type=float,
                   help="cosine similarity from which two images are near duplicates (default: the features' "
                        "measured one, at which an image's distinct best match counts too, and a best match whose "
                        "pixels are the image's; docs/duplicates.md)")
    p.add_argument("--exact-only", action="store_true", help="only exact copies (the same decoded pixels)")
    p.add_argument("--query", metavar="FOLDER", help="instead, list which images of FOLDER the engine already holds")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text", help="output format (default text)")
    p.add_argument("--out", metavar="FILE", help="write the list there instead of standard output")
    p.add_argument("--html", metavar="FILE", help="also write a report with thumbnails of every group")
    p.add_argument("--move-to", metavar="FOLDER",
                   help="move every group's other images into FOLDER (keeping their sub-folders); nothing is "
                        "deleted, and a group whose files changed since they were indexed stays")
    p.add_argument("--restore", metavar="FOLDER",
                   help="put the files that --move-to FOLDER set aside back where they were (never over a file)")
    p.set_defaults(func=cmd_duplicates)
