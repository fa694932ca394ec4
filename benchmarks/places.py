"""What does naming where photos were taken cost? N photos' GPS positions drawn where people live (around towns of
the table, weighted towards the first, most populous ones), named after their nearest towns as an engine does when
first asked (`Metadata.places`), filtered by a place, sorted into trips and drawn as the page's map.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/places.py --photos 100000

Prints how often a photo 1, 3 or 5 km from the centre of one of the largest towns is named after it, the time to
read the towns (once a process), to name N positions, to find the photos of a place among them,
to find the trips (dates drawn over five years) and to draw the map, and the memory the towns take (the process's resident size before and after reading them).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import datetime

import numpy as np


def rss_mib() -> float:
    """The process's resident memory now, MiB (from /proc; the peak where it is unreadable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    args = parser.parse_args()
    from cbir.places import Towns, places_named, places_of
    from cbir.trips import trips
    from cbir.web.placemap import place_map

    before = rss_mib()
    started = time.perf_counter()
    towns = Towns.load()
    print(f"towns read: {len(towns.names)} in {time.perf_counter() - started:.2f} s, "
          f"{rss_mib() - before:.0f} MiB more resident")
    rng = np.random.default_rng(0)
    for km in (1, 3, 5):  # how often a photo that far from a large town's centre is named after it
        named = []
        for top in (1_000, 10_000):
            lat_lon, turn = towns.lat_lon[:top], rng.uniform(0, 2 * np.pi, top)
            moved = np.stack([lat_lon[:, 0] + km / 111.2 * np.sin(turn),
                              lat_lon[:, 1] + km / 111.2 * np.cos(turn) / np.cos(np.radians(lat_lon[:, 0]))], 1)
            named.append(np.mean([a == b for a, b in zip(towns.nearest(moved), towns.names)]))
        print(f"{km} km from the centre of one of the 1,000 / 10,000 largest towns: named after it "
              f"{named[0]:.1%} / {named[1]:.1%}")
    near = np.minimum(rng.zipf(1.3, args.photos) - 1, len(towns.names) - 1)  # most photos near the big towns
    where = towns.lat_lon[near] + rng.normal(0, 0.03, (args.photos, 2))  # within a few km of them
    positions = {f"{n:07d}.jpg": (float(lat), float(lon)) for n, (lat, lon) in enumerate(where)}
    started = time.perf_counter()
    places = places_of(positions)
    print(f"{args.photos} positions named in {time.perf_counter() - started:.2f} s: {len(set(places.values()))} "
          f"places, {args.photos - len(places)} far from any town")
    started = time.perf_counter()
    named = places_named("Tokyo", places.values())
    passing = [id_ for id_, place in places.items() if place in named]
    print(f"the photos near Tokyo ({len(passing)}) found in {(time.perf_counter() - started) * 1000:.0f} ms")
    taken = rng.integers(1_500_000_000, 1_660_000_000, args.photos)  # over five years
    dates = {id_: datetime.fromtimestamp(int(t)).isoformat() for id_, t in zip(positions, taken)}
    started = time.perf_counter()
    found = trips(dates, places, positions)
    print(f"trips ({len(found)}) found in {(time.perf_counter() - started) * 1000:.0f} ms")
    started = time.perf_counter()
    drawn = place_map(places, positions)
    print(f"map: {'none (across the 180th meridian)' if drawn is None else f'{len(drawn.spots)} places'} in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
