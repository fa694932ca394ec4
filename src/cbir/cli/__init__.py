"""The `cbir` command line: one sub-command per verb, each a thin call into the library
(`engines`: index, add, remove, info; `queries`: search, evaluate, compare; `serve`; `models`: train, tune;
`duplicates`; `people`: faces; `text`; `albums`; `taken`: dates, places; `export`; `cache`)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from cbir.cli import albums, cache, duplicates, engines, export, models, people, queries, serve, taken, text
from cbir.errors import CbirError


def build_parser() -> argparse.ArgumentParser:
    from cbir import __version__

    parser = argparse.ArgumentParser(prog="cbir", description="Content-based image retrieval.")
    parser.add_argument("--version", action="version", version=f"cbir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    engines.register(sub)
    queries.register(sub)
    serve.register(sub)
    models.register(sub)
    duplicates.register(sub)
    people.register(sub)
    text.register(sub)
    albums.register(sub)
    taken.register(sub)
    export.register(sub)
    cache.register(sub)
    return parser


PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """cbir's own warnings as one `cbir: warning: ...` line; others as Python prints them."""
    if str(Path(filename).resolve()).startswith(PACKAGE_DIR):
        print(f"cbir: warning: {message}", file=file or sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def os_error_text(exc: OSError) -> str:
    """One line for an operating-system failure: what failed, and on which file."""
    what = exc.strerror or str(exc) or type(exc).__name__
    files = [f for f in (exc.filename, exc.filename2) if f is not None]
    return f"{what}: {' -> '.join(map(str, files))}" if files else what


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    warnings.showwarning = _show_warning
    parser = build_parser()
    args, extra = parser.parse_known_args(taken.negative_shifts(sys.argv[1:] if argv is None else argv))
    if args.command == "remove" and not any(e.startswith("-") for e in extra):
        args.ids += extra  # ids after --missing: argparse fills a subcommand's positionals only once
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except CbirError as exc:
        print(f"cbir: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # full disk, read-only folder, a file where a folder should be, ...
        print(f"cbir: error: {os_error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cbir: interrupted", file=sys.stderr)
        return 130
