"""What does reading photos' tags cost? N small JPEGs in folders of 100, half with an XMP packet of keywords and a
rating as Lightroom writes one, a tenth with an XMP file beside them: the time to read each one's facts
(`image_facts`: date, position, tags, rating, from its header and sidecar) and an image's stamp (`image_stamp`, which
looks for its sidecar) against the `os.stat` it was before.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/tags.py --photos 10000
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PACKET = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
          '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
          'xmp:Rating="4"><dc:subject><rdf:Bag><rdf:li>wedding</rdf:li><rdf:li>Anna</rdf:li></rdf:Bag></dc:subject>'
          '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from cbir.datasets.folder import image_facts, image_stamp

    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    plain, tagged = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(plain, "JPEG")
    Image.fromarray(pixels).save(tagged, "JPEG", xmp=PACKET)
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for i in range(args.photos):
            path = Path(root) / f"{i // 100:04d}" / f"IMG_{i:05d}.jpg"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes((tagged if i % 2 else plain).getvalue())
            if i % 10 == 0:
                Path(f"{path}.xmp").write_bytes(PACKET)
            paths.append(str(path))
        assert image_facts(paths[1]).tags == "wedding\nAnna"
        for _ in range(args.runs):
            timed = {}
            for name, read in (("image_facts", image_facts), ("image_stamp", image_stamp), ("os.stat", os.stat)):
                started = time.perf_counter()
                for path in paths:
                    read(path)
                timed[name] = (time.perf_counter() - started) / len(paths) * 1e6
            print(", ".join(f"{name} {us:.1f} us" for name, us in timed.items()))


if __name__ == "__main__":
    main()
