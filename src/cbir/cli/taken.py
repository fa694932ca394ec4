"""`cbir dates` and `cbir places`: say when and where pictures were taken, whatever their files say
(`Engine.set_taken`, `cbir.taken`, `cbir.places.located`)."""

from __future__ import annotations

import argparse

from cbir.errors import CbirError


def cmd_dates(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.taken import duration, moment, moved

    how = [flag for flag in ("shift", "set", "as_taken") if getattr(args, flag)]
    if len(how) != 1:
        raise CbirError("say how: --shift DURATION, --set MOMENT or --as-taken, one of them")
    delta = duration(args.shift) if args.shift else None
    when = moment(args.set) if args.set else None
    with Engine.editing(args.engine) as engine:
        ids = chosen(engine, args)
        undated = [id_ for id_ in ids if delta is not None and engine.metadata.date(id_) is None]
        dates = {id_: moved(engine.metadata.date(id_), delta) if delta is not None else when
                 for id_ in ids if id_ not in undated}
        changed = engine.set_taken(dates=dates)
        if changed:
            engine.save(args.engine)
    images = counted(len(dates))
    what = (f"moved the dates of {images} by {args.shift}" if delta is not None else
            f"dated {images} {when}" if when else f"dated {images} as their files say again")
    print(f"{what} ({changed} changed)" + (f"; {len(undated)} undated, left so (--set dates them)" if undated else "")
          + f" -> {args.engine}")
    return 0


def cmd_places(args: argparse.Namespace) -> int:
    from cbir.engine import Engine
    from cbir.places import located, places_of, coordinates

    if bool(args.set) == args.as_taken:
        raise CbirError("say how: --set PLACE or --as-taken, one of them")
    where = located(args.set) if args.set else None
    with Engine.editing(args.engine) as engine:
        ids = chosen(engine, args)
        changed = engine.set_taken(places=dict.fromkeys(ids, where))
        if changed:
            engine.save(args.engine)
    named = places_of({"": coordinates(where)}).get("", where) if where else None
    print((f"placed {counted(len(ids))} near {named} ({where})" if where else
           f"placed {counted(len(ids))} as their files say again") + f" ({changed} changed) -> {args.engine}")
    return 0


def chosen(engine, args: argparse.Namespace) -> list[str]:
    """The images a command names (ids or files) or that its filters keep; an error for neither or both: never all
    of them by mistake."""
    from cbir.cli.albums import indexed_ids
    from cbir.filters import Filter

    where = Filter.of(folder=args.folder, since=args.since, until=args.until, camera=args.camera, album=args.album,
                      kind=args.kind)
    if bool(args.images) == bool(where):
        raise CbirError("name the images (ids or files), or the filters that keep them (--folder, --camera, --since, "
                        "--until, --album, --kind): one of the two")
    return indexed_ids(engine.metadata, args.images) if args.images else sorted(engine.select(where).ids)


def counted(n: int) -> str:
    return f"{n} image{'s' * (n != 1)}"


def negative_shifts(argv: list[str]) -> list[str]:
    """`--shift -3h` as `--shift=-3h`: argparse takes a value starting with '-' for an option."""
    joined, skip = [], False
    for n, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--shift" and n + 1 < len(argv) and argv[n + 1].startswith("-"):
            joined.append(f"--shift={argv[n + 1]}")
            skip = True
        else:
            joined.append(arg)
    return joined


def register(sub) -> None:
    p = sub.add_parser("dates", help="say when pictures were taken, whatever their files say: a camera's clock put "
                                     "right, a date given to a scan")
    chosen_options(p)
    p.add_argument("--shift", metavar="DURATION", help="move their dates by this much: +3h, -1d2h30m, +45s")
    p.add_argument("--set", metavar="MOMENT", help="say they were taken then: 2019-07-14 or 2019-07-14T10:30")
    p.add_argument("--as-taken", action="store_true", help="date them as their files say again")
    p.set_defaults(func=cmd_dates)
    p = sub.add_parser("places", help="say where pictures were taken, whatever their files say: photos from a camera "
                                      "without GPS, scans")
    chosen_options(p)
    p.add_argument("--set", metavar="PLACE", help="say they were taken there: a town ('Lyon', 'Paris, Texas'; its "
                                                  "middle) or a position ('45.764,4.8357')")
    p.add_argument("--as-taken", action="store_true", help="place them as their files say again")
    p.set_defaults(func=cmd_places)


def chosen_options(p) -> None:
    """The images a command applies to: named, or kept by filters (`chosen`)."""
    p.add_argument("engine", help="engine folder")
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="the images: ids or files ('-' reads them from standard input); or the filters below")
    p.add_argument("--folder", metavar="PREFIX", help="the images whose ids start with this (a folder: 2019/Rome/)")
    p.add_argument("--camera", metavar="NAME", help="the images taken with this camera, as their EXIF names it")
    p.add_argument("--since", metavar="DATE", help="the images taken on or after this date, as dated now")
    p.add_argument("--until", metavar="DATE", help="the images taken on or before this date, as dated now")
    p.add_argument("--album", metavar="NAME", help="the images in this album")
    p.add_argument("--kind", choices=["photo", "video", "raw", "screenshot"], help="the images of this kind")
