"""`cbir cache`: what the cache folder holds and what of it is of no use any more; `--prune`, `--clear`."""

from __future__ import annotations

import argparse
from collections import Counter

NAMES = {"decoded": ("collection's decoded pixels", "collections' decoded pixels"),
         "previews": ("preview of a HEIC/AVIF photo or raw file", "previews of HEIC/AVIF photos and raw files")}


def cmd_cache(args: argparse.Namespace) -> int:
    from cbir.config import cache_limit, cbir_home
    from cbir.datasets import housekeeping

    if args.clear:
        print(f"cleared the cache folder {cbir_home()}: {size_text(housekeeping.clear())} freed")
        return 0
    items = housekeeping.inventory()
    if args.prune:
        useless = [item for item in items if item.useless]
        print(f"removed {len(useless)} item(s) of no use from {cbir_home()}: "
              f"{size_text(housekeeping.prune(items))} freed")
        return 0
    print(f"cache folder {cbir_home()} (CBIR_HOME): {size_text(sum(i.size for i in items))}; decoded pixels kept up "
          f"to {size_text(cache_limit())} (CBIR_CACHE_GB), those read least recently going first")
    in_use = [item for item in items if not item.useless]
    for item in (i for i in in_use if i.kind == "decoded"):
        print(f"  {size_text(item.size):>9}  decoded pixels of {item.about}")
    previews = [item for item in in_use if item.kind == "previews"]
    if previews:
        print(f"  {size_text(sum(i.size for i in previews)):>9}  previews of {len(previews):,} HEIC/AVIF photo(s) "
              f"and raw file(s)")
    for item in (i for i in in_use if i.kind == "download"):
        print(f"  {size_text(item.size):>9}  {item.path.name} ({item.about}, downloaded)")
    useless = Counter((item.kind, item.useless) for item in items if item.useless)
    if useless:
        print("of no use any more:")
        for (kind, why), count in sorted(useless.items()):
            freed = sum(i.size for i in items if (i.kind, i.useless) == (kind, why))
            print(f"  {size_text(freed):>9}  {count:,} {NAMES[kind][count != 1]}: {why}")
        print("`cbir cache --prune` removes those; `cbir cache --clear` everything (all rebuilt when needed)")
    elif items:
        print("all of it in use; `cbir cache --clear` removes everything (rebuilt when needed)")
    return 0


def size_text(size: int) -> str:
    """A size in bytes for people: "512 B", "20.4 KB", "154.0 MB", "3.62 GB"."""
    if size < 1000:
        return f"{size} B"
    for unit, scale in (("KB", 1e3), ("MB", 1e6)):
        if size < 1000 * scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1e9:.2f} GB"


def register(sub) -> None:
    p = sub.add_parser("cache", help="show what the cache folder holds (decoded pixels, previews, downloads) and "
                                     "what of it is of no use any more; remove it")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--prune", action="store_true",
                      help="remove what is of no use any more: pixels of collections changed or gone since, "
                           "previews of files changed or gone, what interrupted writes left")
    what.add_argument("--clear", action="store_true",
                      help="remove everything cbir keeps in the cache folder (rebuilt when needed)")
    p.set_defaults(func=cmd_cache)
