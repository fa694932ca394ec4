"""`cbir albums`: albums of an engine's images, listed, made, changed, and the photos that may belong in one
(`cbir.albums`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cbir.cli.args import positive
from cbir.errors import CbirError

SHARED = "/shared/{}"  # where the page shows an album shared by a link (its secret)


def cmd_albums(args: argparse.Namespace) -> int:
    from cbir.engine import Engine

    changes = [flag for flag in ("add", "remove", "rename", "delete", "share", "unshare") if getattr(args, flag)]
    if not args.name and (changes or args.suggest):
        raise CbirError(f"--{(changes or ['suggest'])[0]} needs an album: cbir albums ENGINE NAME ...")
    if len(changes) > 1 or (changes and args.suggest):
        raise CbirError("one of --add, --remove, --rename, --delete, --share, --unshare or --suggest at a time")
    if changes:
        with Engine.editing(args.engine) as engine:  # loaded under the folder's lock: no other writer's change lost
            change_album(engine, args)
        return 0
    engine = Engine.load(args.engine)
    if not args.name:
        listed = engine.albums.overview()
        if args.json:
            from cbir.albums import link_fields

            print(json.dumps([album._asdict() | link_fields(engine.albums.link(album.name), SHARED.format)
                              for album in listed], indent=2, ensure_ascii=False))
        for album in [] if args.json else listed:
            link = engine.albums.link(album.name)
            shared = f"; shared at {SHARED.format(link.secret)}{said_of(link)}" if link else ""
            print(f"{album.name}  ({album.images} image{'s' * (album.images != 1)}{shared})")
        if not listed and not args.json:
            print(f"no albums yet: `cbir albums {args.engine} NAME --add ID...` makes one")
    elif args.suggest:
        result = engine.search_album(args.name, k=args.k)
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        for rank, hit in enumerate([] if args.json else result.hits, 1):
            print(f"{rank:>3}. {hit.score:.4f}  {hit.id}")
    else:
        images = engine.albums.images(args.name)
        print(json.dumps(images, indent=2, ensure_ascii=False) if args.json else "\n".join(images))
    return 0


def change_album(engine, args: argparse.Namespace) -> None:
    """`--add`, `--remove`, `--share`, `--unshare`, `--rename` or `--delete`, kept in the engine folder, and what was
    done said."""
    if args.add or args.remove:
        ids = indexed_ids(engine.metadata, args.add or args.remove)
        change = (lambda albums: albums.add(args.name, ids)) if args.add else (
            lambda albums: albums.remove(args.name, ids))
        count = engine.change_albums(args.engine, change)
        name = engine.albums.find(args.name)
        print(f"{'put' if args.add else 'took'} {count} image{'s' * (count != 1)} {'in' if args.add else 'out of'} "
              + (f"{name}: {len(engine.albums.showing(name))} in all" if name else f"{args.name}: none left, "
                 "the album is gone"))
    elif args.share:
        from cbir.albums import last_day

        name = engine.albums.named(args.name)
        link = engine.change_albums(args.engine, lambda albums: albums.share(name, last_day(args.until),
                                                                             args.with_places))
        where = SHARED.format(link.secret)
        print(f"{name} is shared at {where} on the page `cbir serve {args.engine}` gives (e.g. "
              f"http://127.0.0.1:5000{where}){said_of(link)}: whoever has the link sees its photos, and nothing "
              f"else, without the password; `--unshare` stops it")
    elif args.unshare:
        name = engine.albums.named(args.name)
        was = engine.change_albums(args.engine, lambda albums: albums.unshare(name))
        print(f"{name} is no longer shared: its link leads nowhere" if was else f"{name} was not shared")
    elif args.rename:
        old = engine.albums.named(args.name)
        print(f"{old} is now {engine.change_albums(args.engine, lambda albums: albums.rename(old, args.rename))}")
    else:
        old = engine.albums.named(args.name)
        count = engine.change_albums(args.engine, lambda albums: albums.delete(old))
        print(f"deleted the album {old} ({count} image{'s' * (count != 1)}, still indexed)")


def said_of(link) -> str:
    """What a link gives, for people: ", until 2027-01-31, without where they were taken"."""
    from cbir.albums import today

    until = "" if link.until is None else (f", until {link.until}" if link.works(today())
                                           else f", which stopped working after {link.until}")
    return until + ("" if link.places else ", without where they were taken")




def indexed_ids(metadata, given: list[str]) -> list[str]:
    """The ids of the indexed images given by id or by their file's path ("-": read, one a line, from standard
    input, as `cbir search --paths` writes them); an error naming those that are neither."""
    if "-" in given:
        given = [g for g in given if g != "-"] + [line.rstrip("\n") for line in sys.stdin if line.strip()]
    by_path = {}
    ids, unknown = [], []
    for image in given:
        if image in metadata:
            ids.append(image)
            continue
        if not by_path:
            by_path = {str(Path(path).resolve()): id_ for id_ in metadata.labels() if (path := metadata.path(id_))}
        found = by_path.get(str(Path(image).expanduser().resolve()))
        (ids if found else unknown).append(found or image)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise CbirError(f"not an indexed image's id or file: {', '.join(unknown[:3])}{more}")
    return ids


def register(sub) -> None:
    p = sub.add_parser("albums", help="albums of an engine's images: list them, make one, put images in or take them "
                                      "out, rename, delete, and find the photos that may belong in one")
    p.add_argument("engine", help="engine folder")
    p.add_argument("name", nargs="?", help="an album (case ignored); without a change, its images are listed")
    p.add_argument("--add", nargs="+", metavar="IMAGE",
                   help="put these images in the album (made if there is none): ids or files, '-' reads them from "
                        "standard input (`cbir search ... --paths | cbir albums ENGINE NAME --add -`)")
    p.add_argument("--remove", nargs="+", metavar="IMAGE", help="take these images out of the album (they stay "
                                                                "indexed); an album with none left is gone")
    p.add_argument("--rename", metavar="NEW", help="give the album another name (another album's: the two are one)")
    p.add_argument("--delete", action="store_true", help="delete the album (its images stay indexed)")
    p.add_argument("--share", action="store_true",
                   help="share the album by a link: whoever has it sees the album's photos on the page `cbir serve` "
                        "gives, and nothing else, without its password")
    p.add_argument("--until", metavar="DAY",
                   help="with --share: the link's last day (2027-01-31); after it, it leads nowhere")
    p.add_argument("--with-places", action="store_true",
                   help="with --share: the photos say where they were taken (their GPS position; by default taken "
                        "out of what the link gives, with their XMP and IPTC, which may say it too)")
    p.add_argument("--unshare", action="store_true", help="stop sharing the album: its link leads nowhere")
    p.add_argument("--suggest", action="store_true",
                   help="list the images that may belong in the album, not in it yet: each scored with the mean of its "
                        "three best similarities to the album's images")
    p.add_argument("-k", type=positive, default=20, help="images --suggest lists (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_albums)
