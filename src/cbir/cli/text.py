"""`cbir text`: read the text written in an engine's images (`cbir.texts`), found then by `--words` and `--text`."""

from __future__ import annotations

import argparse

from cbir.cli.people import say_unreadable
from cbir.filters import KINDS


def cmd_text(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.texts import TextSpool

    with Engine.editing(args.engine) as engine:
        read, before, unreadable = engine.read_text(progress=True, resume_in=args.engine, again=args.again,
                                                    kind=args.kind or "")
        engine.save(args.engine)
        TextSpool.discard(args.engine)
    say_unreadable(unreadable, "read", "read next time")
    summary = engine.texts.summary()
    print(f"read {read} images" + (f" ({before} of them by the run stopped before)" if before else "")
          + f" -> {args.engine}: text in {summary['with_text']} of the {summary['read']} images read"
          + (f": `cbir search {args.engine} --words WORDS` finds them by what is written there"
             if summary["with_text"] else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("text", help="read the text written in an engine's images (a screenshot's, a ticket's, a "
                                    "sign's), to find them by it (PP-OCR's networks: pip install 'cbir[ocr]')")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--again", action="store_true",
                   help="read every image again, not only those not read yet")
    p.add_argument("--kind", choices=sorted(KINDS),
                   help="only images of this kind, and those added later only if they are (screenshot: where most "
                        "text is; reading takes ~1/4 s a picture on two cores)")
    p.set_defaults(func=cmd_text)
