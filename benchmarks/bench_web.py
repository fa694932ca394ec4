"""Web load benchmark: `cbir serve` in one process, wrk (Debian's `wrk`) POSTing real 32x32 JPEGs in another.

    apt-get install wrk
    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/bench_web.py engines/cifar10-hog-gch

Runs 1, 8 and 32 concurrent clients against POST /api/v1/search (raw JPEG body, k=10),
cycling through 200 CIFAR-10 test images; prints a markdown table with throughput,
latency percentiles, errors and the server's resident memory before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

LUA = """
local bodies = {}
local n = 0
init = function(args)
  for i, path in ipairs(args) do
    local f = assert(io.open(path, "rb")); bodies[i] = f:read("*all"); f:close()
  end
end
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/search?k=10", {["Content-Type"] = "image/jpeg"}, bodies[(n % #bodies) + 1])
end
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(engine: str, *args: str) -> tuple[subprocess.Popen, str]:
    """`cbir serve ENGINE ARGS...` in a process of its own on a free port, once it answers; (process, URL)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cbir.cli", "serve", engine, "--port", str(port), *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/api/v1/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return server, url


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, clients: int, seconds: int, script: Path, images: list[Path]) -> dict:
    cmd = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-s", str(script), url, "--", *map(str, images)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    if len(latency) < 3:
        sys.exit(f"wrk's output lacks a latency percentile:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": to_ms(latency["50"]), "p90": to_ms(latency["90"]), "p99": to_ms(latency["99"]),
            "errors": (sum(map(int, errors.groups())) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", help="engine folder (the 50,000-image CIFAR-10 index)")
    parser.add_argument("--threads", type=int, default=8, help="server worker threads")
    parser.add_argument("--seconds", type=int, default=20, help="duration of the 1- and 8-client runs")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp())
    with zipfile.ZipFile(os.environ["CBIR_CIFAR10"]) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("cifar10/test/") and n.endswith(".jpg"))[::50]
        images = []
        for i, name in enumerate(names):
            images.append(work / f"{i}.jpg")
            images[-1].write_bytes(zf.read(name))
    script = work / "post.lua"
    script.write_text(LUA)
    server, url = start_server(args.engine, "--threads", str(args.threads))
    try:
        request = urllib.request.Request(url + "/api/v1/search", data=images[0].read_bytes(),
                                         headers={"Content-Type": "image/jpeg"})
        urllib.request.urlopen(request, timeout=300).read()  # the first search loads the networks
        run_wrk(url, 2, 3, script, images)  # warm-up
        rows = []
        for clients, seconds in ((1, args.seconds), (8, args.seconds), (32, 60)):
            before = rss_mib(server.pid)
            result = run_wrk(url, clients, seconds, script, images)
            rows.append((clients, seconds, result, before, rss_mib(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"server: cbir serve {args.engine} --threads {args.threads}; {len(images)} distinct JPEGs\n")
    print("| clients | duration | requests/s | p50 ms | p90 ms | p99 ms | errors | server RSS before -> after |")
    print("|---|---|---|---|---|---|---|---|")
    for clients, seconds, r, before, after in rows:
        print(f"| {clients} | {seconds} s | {r['rps']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | "
              f"{r['errors']} of {r['requests']} | {before:.0f} -> {after:.0f} MiB |")


if __name__ == "__main__":
    main()
