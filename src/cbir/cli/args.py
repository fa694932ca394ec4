"""Argument types and option groups shared by the sub-commands."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """An integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def option(text: str) -> tuple[str, object]:
    """`KEY=VALUE`, an extractor option (`cbir.features.parse_option`)."""
    from cbir.features import parse_option

    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def collection_options(p: argparse.ArgumentParser, required: bool = True, default: str | None = "cifar10") -> None:
    """--dataset / --data / --split: which images a command reads (when not `required`: `default`, where None
    means every folder the engine holds)."""
    p.add_argument("--dataset", required=required, default=None if required else default,
                   help="cifar10 (its train split), or a folder / .zip of images (PATH or PATH:split)"
                        + ("" if required else f"; default {default or 'every folder the engine holds'}"))
    p.add_argument("--data", help="where CIFAR-10 is (zip, folder or cifar-10-python.tar.gz); else $CBIR_CIFAR10")
    p.add_argument("--split", help="only this split of a folder collection (e.g. train)")
