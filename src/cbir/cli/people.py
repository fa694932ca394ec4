"""`cbir faces`: find the faces in an engine's images and the people they show (`cbir.faces`)."""

from __future__ import annotations

import argparse
import sys

SHOWN_UNREADABLE = 5  # images that could not be read, named at most


def cmd_faces(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.faces import FaceSpool

    with Engine.editing(args.engine) as engine:
        if args.again and engine.faces is not None:
            engine.faces.discard(list(engine.faces.scanned))
        looked, before, unreadable = engine.find_faces(progress=True, resume_in=args.engine)
        engine.save(args.engine)
        FaceSpool.discard(args.engine)
    for why in unreadable[:SHOWN_UNREADABLE]:
        print(f"cbir: could not look at {why}", file=sys.stderr)
    if len(unreadable) > SHOWN_UNREADABLE:
        print(f"cbir: and {len(unreadable) - SHOWN_UNREADABLE} more images could not be read (looked at again next "
              f"time)", file=sys.stderr)
    faces, people = engine.faces, engine.people()
    print(f"looked at {looked} images" + (f" ({before} of them by the run stopped before)" if before else "")
          + f" -> {args.engine}: {len(faces)} faces in {len(set(faces.owners))} of {len(faces.scanned)} images, "
          + (f"{len(people)} people in 2 images or more: `cbir search {args.engine} --person 1` looks through the "
             f"first" if people else "nobody in 2 images or more"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("faces", help="find the faces in an engine's images and group them into people (dlib's models: "
                                     "pip install 'cbir[faces]')")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--again", action="store_true",
                   help="look at every image again, not only those not looked at yet")
    p.set_defaults(func=cmd_faces)
