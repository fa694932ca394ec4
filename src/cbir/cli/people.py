"""`cbir faces`: find the faces in an engine's images and the people they show (`cbir.faces`)."""

from __future__ import annotations

import argparse
import re
import shlex
import sys

from cbir.errors import CbirError

SHOWN_UNREADABLE = 5  # images that could not be read, named at most


def cmd_faces(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.faces import FaceSpool

    names = [named(given) for given in args.name]
    faces = [(image, numbered(number), name) for image, number, name in args.face]
    with Engine.editing(args.engine) as engine:
        looked, before, unreadable = engine.find_faces(progress=True, resume_in=args.engine, again=args.again)
        for number, name in names:
            engine.name_person(number, name)
        for image, number, name in faces:
            engine.name_face(image, number, name)
        for person, image in args.not_in:
            engine.not_in(person, image)
        engine.save(args.engine)
        FaceSpool.discard(args.engine)
    say_unreadable(unreadable, "look at", "looked at again next time")
    for number, name in names:
        print(f"person {number} is {name}" if name else f"person {number} has no name now")
    for image, number, name in faces:
        print(f"face {number} of {image} is {' '.join(name.split()) or 'as grouped'}")
    for person, image in args.not_in:
        print(f"{person} is not in {image}")
    for person in args.alike:
        suggested = engine.alike(person)
        has_name = not re.fullmatch(r"(person )?\d+", person.strip())
        print(f"who may be {person} too: " + ("; ".join(
            f"{other.called} ({other.images} images, faces {distance:.2f} apart)"
            + (f": --name {other.person}={shlex.quote(person)}" if has_name else "")
            for other, distance in suggested) if suggested else "no one"))
    faces, people = engine.faces, engine.people()
    print(f"looked at {looked} images" + (f" ({before} of them by the run stopped before)" if before else "")
          + f" -> {args.engine}: {len(faces)} faces in {len(set(faces.owners))} of {len(faces.scanned)} images, "
          + (f"{len(people)} {'person' if len(people) == 1 else 'people'} (in 2 images or more, or named): "
             f"`cbir search {args.engine} --person 1` looks through the first" if people
             else "nobody in 2 images or more"))
    return 0


def say_unreadable(unreadable: list[str], verb: str, again: str) -> None:
    """On standard error, the images a run could not read (why, each), the first `SHOWN_UNREADABLE` named."""
    for why in unreadable[:SHOWN_UNREADABLE]:
        print(f"cbir: could not {verb} {why}", file=sys.stderr)
    if len(unreadable) > SHOWN_UNREADABLE:
        print(f"cbir: and {len(unreadable) - SHOWN_UNREADABLE} more images could not be read ({again})",
              file=sys.stderr)


def named(given: str) -> tuple[int, str]:
    """(number, name) from `--name N=NAME`."""
    number, equals, name = given.partition("=")
    if not equals or not number.strip().isdigit():
        raise CbirError(f"--name is N=NAME (a person's number as `cbir info` lists them, then a name), not '{given}'")
    return int(number), " ".join(name.split())


def numbered(number: str) -> int:
    """A face's number in its image, from `--face IMAGE N NAME`."""
    if not number.isdigit():
        raise CbirError(f"--face is IMAGE N NAME, N a face's number in the image (0, 1, ... left to right), not "
                        f"'{number}'")
    return int(number)


def register(sub) -> None:
    p = sub.add_parser("faces", help="find the faces in an engine's images and group them into people (dlib's models: "
                                     "pip install 'cbir[faces]')")
    p.add_argument("engine", help="engine folder")
    p.add_argument("--again", action="store_true",
                   help="look at every image again, not only those not looked at yet (names given stay)")
    p.add_argument("--name", action="append", default=[], metavar="N=NAME",
                   help="name person N (as `cbir info` numbers them now): their faces keep the name whatever number "
                        "they get later, and --person NAME finds them; N= takes it away (repeatable)")
    p.add_argument("--face", nargs=3, action="append", default=[], metavar=("IMAGE", "N", "NAME"),
                   help="say whose face N of an indexed image is (0, 1, ... left to right): that person's, whatever "
                        "the grouping said; NAME '' leaves it to the grouping (repeatable)")
    p.add_argument("--alike", action="append", default=[], metavar="PERSON",
                   help="say who else may be PERSON (a number or a name): the people with a face closer to one of "
                        "theirs than dlib's 0.6 for one person, never in a photo with them (repeatable)")
    p.add_argument("--not-in", nargs=2, action="append", default=[], metavar=("PERSON", "IMAGE"),
                   help="PERSON (a number or a name) is not in IMAGE after all: their face there is nobody's "
                        "(repeatable)")
    p.set_defaults(func=cmd_faces)
