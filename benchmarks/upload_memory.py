"""Server memory under large uploads: `cbir serve` in one process, eight clients each uploading a
6000x6000 JPEG several times at once, while another client runs normal searches.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/upload_memory.py engines/cifar10-cnn

Prints the server's resident memory before, at its peak (sampled every 10 ms) and after, and the
slowest normal search answered during the uploads.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import rss_mib, start_server  # noqa: E402


def big_jpeg(side: int = 6000) -> bytes:
    """A photo-like JPEG of side x side pixels: smooth colour fields with some texture."""
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).resize((side, side),
                                                                                    Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=75)
    return buf.getvalue()


def post(url: str, body: bytes) -> float:
    """Seconds until the answer to one raw-body search."""
    started = time.perf_counter()
    request = urllib.request.Request(url + "/api/v1/search?k=10", data=body, method="POST",
                                     headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", help="engine folder")
    parser.add_argument("--rounds", type=int, default=4, help="uploads per client (default 4)")
    args = parser.parse_args()
    with zipfile.ZipFile(os.environ["CBIR_CIFAR10"]) as zf:
        normal = zf.read("cifar10/test/cat/0007.jpg")
    big = big_jpeg()
    server, url = start_server(args.engine)
    peak, stop = [0.0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(server.pid))
            time.sleep(0.01)

    try:
        for _ in range(20):  # warm: the first searches load what they need
            post(url, normal)
        before = rss_mib(server.pid)
        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            uploads = [pool.submit(post, url, big) for _ in range(8 * args.rounds)]
            normal_seconds = []
            while not all(u.done() for u in uploads):
                normal_seconds.append(post(url, normal))
            upload_seconds = [u.result() for u in uploads]
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        time.sleep(1)
        after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"server: cbir serve {args.engine}; {8 * args.rounds} uploads of a 6000x6000 JPEG "
          f"({len(big) / 1e3:.0f} kB) by 8 clients in {elapsed:.1f} s (slowest {max(upload_seconds):.2f} s)\n")
    print("| RSS before | peak | peak - before | after | normal searches during | slowest |")
    print("|---|---|---|---|---|---|")
    print(f"| {before:.0f} MiB | {peak[0]:.0f} MiB | {peak[0] - before:.0f} MiB | {after:.0f} MiB | "
          f"{len(normal_seconds)} | {1000 * max(normal_seconds):.0f} ms |")


if __name__ == "__main__":
    main()
