"""`cbir serve`: the search page and JSON API on a production WSGI server."""

from __future__ import annotations

import argparse
import os
import socket
import warnings

from cbir.cli.args import positive

LOOPBACK = ("127.0.0.1", "localhost", "::1")  # hosts only this machine reaches
ALL_ADDRESSES = ("0.0.0.0", "::")  # hosts that listen on every network the machine is on


def cmd_serve(args: argparse.Namespace) -> int:
    import faiss
    import waitress
    from threadpoolctl import threadpool_limits

    from cbir.web import create_app
    from cbir.web.service import engine_names

    faiss.omp_set_num_threads(1)  # concurrency comes from the server's threads; never nest thread pools
    password = os.environ.get("CBIR_SERVE_PASSWORD") or None  # never on the command line, where `ps` shows it
    app = create_app({"ENGINES": engine_names(args.engines), "MAX_CONTENT_LENGTH": args.max_upload_mb << 20,
                      "MAX_FORM_MEMORY_SIZE": args.max_upload_mb << 20, "PASSWORD": password})
    names = ", ".join(app.extensions["cbir"].engines)
    if password is None and args.host not in LOOPBACK:
        warnings.warn(f"serving on {args.host} without a password: anyone who reaches it sees every indexed image; "
                      f"set CBIR_SERVE_PASSWORD to ask for one", stacklevel=1)
    print(f"serving {names} at http://{args.host}:{args.port}{args.url_prefix}/ (Ctrl+C stops"
          f"{'; asks for CBIR_SERVE_PASSWORD' if password else ''})", flush=True)
    if args.host in ALL_ADDRESSES and (address := lan_address()):
        print(f"from another device on the network: http://{address}:{args.port}{args.url_prefix}/", flush=True)
    # BLAS on one thread too: its idle threads spin, taking a core from the networks (docs/results/serving.md)
    with threadpool_limits(1, user_api="blas"):
        waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="cbir", **SERVER_LIMITS,
                       max_request_body_size=BODY_READ_FACTOR * (args.max_upload_mb << 20),
                       url_prefix=args.url_prefix)
    return 0


def lan_address() -> str | None:
    """This machine's address on its network (the one it would reach others from), or None without one. Nothing is
    sent: a UDP socket only picks its route."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # a documentation address, never reached
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


# A body over the upload limit is still read (spooled to disk, up to BODY_READ_FACTOR times the limit) so
# that every client, even one that sends all of it before reading, gets the app's JSON 413 rather than a
# reset connection. Idle or slow connections are many and cheap (poll, not select) and dropped after
# 30 s, so a crowd of them never keeps a search waiting.
BODY_READ_FACTOR = 4
SERVER_LIMITS = {"connection_limit": 1000, "channel_timeout": 30, "cleanup_interval": 10, "asyncore_use_poll": True}


def register(sub) -> None:
    """Add this sub-command to the `cbir` parser."""
    p = sub.add_parser("serve", help="serve the search page and JSON API (production WSGI server)")
    p.add_argument("engines", nargs="+", help="engine folder(s); the first is the default")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--threads", type=positive, default=8, help="worker threads (default 8)")
    p.add_argument("--max-upload-mb", type=positive, default=10,
                   help="upload size limit (default 10 MB); a larger upload gets a 413 with the reason")
    p.add_argument("--url-prefix", type=url_prefix, default="", metavar="PATH",
                   help="the path the page and API are served under, e.g. /photos behind a proxy that passes "
                        "https://example.org/photos/ to this server (default: none, at /)")
    p.set_defaults(func=cmd_serve)


def url_prefix(text: str) -> str:
    """A path to serve under, as waitress takes it: one leading slash, none at the end ("" for none)."""
    path = "/" + text.strip("/")
    if path == "/":
        return ""
    if any(c in path for c in "?#%\\ ") or "//" in path:
        raise argparse.ArgumentTypeError(f"'{text}' is not a path to serve under: write it as /photos")
    return path
