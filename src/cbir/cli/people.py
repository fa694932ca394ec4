"""`cbir faces`: find the faces in an engine's images and the people they show (`cbir.faces`)."""

from __future__ import annotations

import argparse
import sys

from cbir.errors import CbirError

SHOWN_UNREADABLE = 5  # images that could not be read, named at most


def cmd_faces(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.faces import FaceSpool

    names = [named(given) for given in args.name]
    with Engine.editing(args.engine) as engine:
        looked, before, unreadable = engine.find_faces(progress=True, resume_in=args.engine, again=args.again)
        for number, name in names:
            engine.name_person(number, name)
        engine.save(args.engine)
        FaceSpool.discard(args.engine)
    for why in unreadable[:SHOWN_UNREADABLE]:
        print(f"cbir: could not look at {why}", file=sys.stderr)
    if len(unreadable) > SHOWN_UNREADABLE:
        print(f"cbir: and {len(unreadable) - SHOWN_UNREADABLE} more images could not be read (looked at again next "
              f"time)", file=sys.stderr)
    for number, name in names:
        print(f"person {number} is {name}" if name else f"person {number} has no name now")
    faces, people = engine.faces, engine.people()
    print(f"looked at {looked} images" + (f" ({before} of them by the run stopped before)" if before else "")
          + f" -> {args.engine}: {len(faces)} faces in {len(set(faces.owners))} of {len(faces.scanned)} images, "
          + (f"{len(people)} people in 2 images or more: `cbir search {args.engine} --person 1` looks through the "
             f"first" if people else "nobody in 2 images or more"))
    return 0


def named(given: str) -> tuple[int, str]:
    """(number, name) from `--name N=NAME`."""
    number, equals, name = given.partition("=")
    if not equals or not number.strip().isdigit():
        raise CbirError(f"--name is N=NAME (a person's number as `cbir info` lists them, then a name), not '{given}'")
    return int(number), " ".join(name.split())


def register(sub) -> None:
    p = sub.add_parser("faces", help="find the faces in an engine's images and group them into people (dlib's models: "
                                     "pip install 'cbir[faces]')")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--again", action="store_true",
                   help="look at every image again, not only those not looked at yet (names given stay)")
    p.add_argument("--name", action="append", default=[], metavar="N=NAME",
                   help="name person N (as `cbir info` numbers them now): their faces keep the name whatever number "
                        "they get later, and --person NAME finds them; N= takes it away (repeatable)")
    p.set_defaults(func=cmd_faces)
