"""The multiply-accumulate rates this CPU reaches, and the least time the shipped network can embed the 60,000 here.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip .venv/bin/python benchmarks/cpu_peak.py

Times large matrix products (float32; int8 on PyTorch's quantized kernels, FBGEMM on x86) and each int8
convolution of the shipped network alone, on the inputs it gets from a batch of training images, and prints
their rates. From the fastest int8 rate it bounds from below the seconds that embedding the protocol's
60,000 images takes with the `cnn` engine's defaults (one view per indexed image, the two flipped views of
each query) and with every image flip-averaged: no implementation of this network on these kernels does
better here. Decoding and everything but the convolutions are left out of the bound.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, CnnExtractor
from cbir.features.cnn.model import compact_input
from cbir.training.loop import cpu_name

INDEXED, QUERIES = 50_000, 10_000


def gmacs(run: Callable[[], object], macs: float, repeats: int) -> float:
    """Billions of multiply-accumulates a second of `run` (which does `macs` of them): its best of `repeats`
    timings after a warm-up."""
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return macs / best / 1e9


def matrix_rates(n: int, repeats: int) -> dict[str, float]:
    """GMAC/s of an n x n by n x n product in float32 and in int8 (uint8 activations, int8 weights)."""
    a, b = torch.rand(n, n), torch.randn(n, n)
    linear = torch.ao.nn.quantized.Linear(n, n)
    linear.set_weight_bias(torch.quantize_per_tensor(b, 0.05, 0, torch.qint8), None)
    qa = torch.quantize_per_tensor(a, 1 / 255, 0, torch.quint8)
    return {f"float32 matrix product {n}x{n}": gmacs(lambda: a @ b, n ** 3, repeats),
            f"int8 matrix product {n}x{n}": gmacs(lambda: linear(qa), n ** 3, repeats)}


def convolution_rates(batch: int, repeats: int) -> tuple[dict[str, float], float]:
    """(GMAC/s of each of the shipped network's int8 convolutions alone on `batch` images, named by layer and shape;
    the network's multiply-accumulates per view in them)."""
    train = load_cifar10("train", progress=False)
    net = CnnExtractor(SHIPPED, int8=True).fit(train).int8_net_
    inputs = []
    hooks = [conv.register_forward_pre_hook(lambda _, args: inputs.append(args[0])) for conv in net.convs]
    x = compact_input(train.images[:batch])
    with torch.inference_mode():
        net.embed(x.contiguous(memory_format=torch.channels_last))
    for hook in hooks:
        hook.remove()
    rates, per_view = {}, 0.0
    with torch.inference_mode():
        for layer, (conv, x) in enumerate(zip(net.convs, inputs), 1):
            out_channels, in_channels, kh, kw = conv.weight().shape
            macs = batch * out_channels * in_channels * kh * kw * x.shape[2] * x.shape[3]
            per_view += macs / batch
            name = f"int8 convolution {layer}: {in_channels}->{out_channels} on {x.shape[2]}x{x.shape[3]}"
            rates[name] = gmacs(lambda: conv(x), macs, repeats)
    return rates, per_view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128, help="images per convolution call (the extractor's)")
    parser.add_argument("--matrix", type=int, default=2048, help="side of the square matrices")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{cpu_name()}, {torch.backends.cpu.get_cpu_capability()}, torch threads {torch.get_num_threads()}\n")
    rates = matrix_rates(args.matrix, args.repeats)
    convolutions, per_view = convolution_rates(args.batch_size, args.repeats)
    rates |= convolutions
    print("| kernel | GMAC/s |\n|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} |")
    peak = max(rate for name, rate in rates.items() if name.startswith("int8"))
    print(f"\nthe network's convolutions: {per_view / 1e6:.1f} M multiply-accumulates per view; fastest int8 rate "
          f"{peak:.0f} GMAC/s")
    print("| views | of the 60,000 images | TMAC | least seconds here | GMAC/s that 60 s needs |")
    print("|---|---|---|---|---|")
    for views, which in ((INDEXED + 2 * QUERIES, "indexed in one view, queries flip-averaged (the defaults)"),
                         (2 * (INDEXED + QUERIES), "all flip-averaged")):
        macs = views * per_view
        print(f"| {views:,} | {which} | {macs / 1e12:.1f} | {macs / peak / 1e9:.0f} | {macs / 60 / 1e9:.0f} |")


if __name__ == "__main__":
    main()
