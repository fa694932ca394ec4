"""How fast `cbir faces` looks at camera photos: 12-megapixel JPEGs read at `FACE_SIDE` and searched for faces, with
the faces found described (two at a time, as `cbir faces` runs); reading's share of the total; how long grouping
takes for a library's worth of faces, and what the page's work on them costs (an image's faces, the people, who may
be one person, naming one); and how many real faces the detector finds at each least score (`MIN_SCORE`).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/faces.py [--photos 42] [--faces 20000]

The photos are `photo_speed.py`'s (scikit-image's colour pictures at 4000x3000 with fine noise, quality 90; one in
seven is the astronaut's portrait, with one face). Grouping is timed on `--faces` random descriptors around
`--faces`/20 people (each face within 0.3 of its person's). The real faces: scikit-image's `lfw_subset` (100 faces
of Labeled Faces in the Wild and 100 crops of no face, 25x25 grey), each enlarged to 100 pixels on a grey picture of
240, as the detector looks at a small picture (twice as large).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from photo_speed import write_photos
from PIL import Image
from skimage import data

from cbir.datasets.sources import load_image
from cbir.faces import DESCRIPTOR, FACE_SIDE, MIN_SCORE, THREADS, FaceFinder, Faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=42)
    parser.add_argument("--faces", type=int, default=20_000)
    args = parser.parse_args()
    finder = FaceFinder()
    with tempfile.TemporaryDirectory() as folder:
        write_photos(Path(folder), args.photos)
        paths = {p.name: str(p) for p in sorted(Path(folder).glob("*.jpg"))}
        finder.find(load_image(next(iter(paths.values())), FACE_SIDE))  # models loaded
        started = time.perf_counter()
        for path in paths.values():
            load_image(path, FACE_SIDE)
        reading = time.perf_counter() - started
        started = time.perf_counter()
        found = list(finder.scan(paths, load_image, progress=False))
        total = time.perf_counter() - started
    faces = sum(len(f[1]) for f in found if len(f) == 3)
    print(f"{args.photos} photos of 4000x3000, read at {FACE_SIDE} px, {THREADS} threads: {args.photos / total:.2f} "
          f"photos/s ({1000 * total / args.photos:.0f} ms a photo; reading alone, one thread: "
          f"{1000 * reading / args.photos:.0f} ms, {reading / (total * THREADS):.0%} of the threads' time); "
          f"{faces} faces found")
    rng = np.random.default_rng(0)
    people = rng.normal(size=(args.faces // 20, DESCRIPTOR)).astype(np.float32)
    people *= 0.6 / np.linalg.norm(people, axis=1, keepdims=True).mean() * 3  # persons ~1.8 apart
    of = rng.integers(0, len(people), args.faces)
    noise = rng.normal(size=(args.faces, DESCRIPTOR)).astype(np.float32)
    descriptors = people[of] + noise * (0.15 / np.linalg.norm(noise, axis=1, keepdims=True))
    library = Faces([f"{i}.jpg" for i in range(args.faces)], np.zeros((args.faces, 4), np.float32), descriptors)
    started = time.perf_counter()
    library.group()
    print(f"grouping {args.faces:,} faces of {len(people):,} people: {time.perf_counter() - started:.1f} s, "
          f"{int(library.persons.max())} people found")
    for n in range(1, int(library.persons.max()) + 1, 3):
        library.rename(n, f"Person {n}")  # a third of them named, as a library being named is
    for what, work in [("an image's faces listed (the large view)", lambda: library.in_image("7.jpg")),
                       ("the people listed", library.people),
                       ("who may be one person (a person's photos)", lambda: library.alike("Person 1")),
                       ("a person named (the faces grouped again by name)", lambda: library.rename(2, "Ada"))]:
        started = time.perf_counter()
        for _ in range(5):
            work()
        print(f"{what}: {1000 * (time.perf_counter() - started) / 5:.0f} ms")
    crops = data.lfw_subset()
    scores = [[best_score(finder, crop, score) for crop in crops] for score in SCORES]
    print("\n| least score | faces found (of 100) | crops of no face taken for one (of 100) |\n|---|---|---|")
    for score, found in zip(SCORES, scores):
        print(f"| {score:g}{' (MIN_SCORE)' * (score == MIN_SCORE)} | {sum(found[:100])} | {sum(found[100:])} |")


SCORES = (0.0, 0.15, 0.3, 0.5)


def best_score(finder: FaceFinder, crop: np.ndarray, score: float) -> bool:
    """Whether the detector finds a face scoring `score` or more in a 25x25 grey crop, enlarged to 100 pixels on a
    grey picture of 240."""
    picture = Image.new("L", (240, 240), 128)
    picture.paste(Image.fromarray((crop * 255).astype(np.uint8)).resize((100, 100), Image.Resampling.BICUBIC),
                  (70, 70))
    with finder._models() as (detector, _, _):
        found, _, _ = detector.run(np.asarray(picture.convert("RGB")), 1, score)
    return bool(len(found))


if __name__ == "__main__":
    main()
