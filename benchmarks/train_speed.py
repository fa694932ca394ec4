"""How fast `cbir train`'s networks train here, in float32 and with bf16 autocast.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/train_speed.py [--widths 128 384 448 --depth 3 --residual]

Times training steps (forward, cross-entropy, backward, Nesterov SGD; batches of 512 random
images, channels_last, as `cbir.training.loop` runs them) and prints images/s and the
minutes an epoch of 50,000 images would take. `cbir train` uses bf16 autocast only where
`model.fast_bf16()` says the CPU computes bf16 natively; the bf16 row shows what that avoids. The last
row is `cbir train`'s precision with the whitening layer's bias frozen (`--whiten-bias-epochs`).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from cbir.features.cnn.model import CifarNet, ModelConfig, fast_bf16
from cbir.training.loop import cpu_name


def images_per_second(model: nn.Module, bf16: bool, batch: int, steps: int) -> float:
    """Training throughput over `steps` steps, after one warm-up step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    for step in range(steps + 1):
        if step == 1:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs=3, default=[64, 256, 256])
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--residual", action="store_true")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    config = ModelConfig(widths=tuple(args.widths), depth=args.depth, residual=args.residual)
    model = CifarNet(config).to(memory_format=torch.channels_last).train()
    print(f"widths {args.widths}, depth {args.depth}{', residual' if args.residual else ''}; {cpu_name()}, "
          f"torch threads {torch.get_num_threads()}; bf16 native: {fast_bf16()}\n")
    print("| precision | images/s | min / epoch of 50,000 |\n|---|---|---|")
    for bf16 in (False, True):
        rate = images_per_second(model, bf16, args.batch_size, args.steps)
        print(f"| {'bf16 autocast' if bf16 else 'float32'} | {rate:.0f} | {50_000 / rate / 60:.1f} |", flush=True)
    model.whiten.bias.requires_grad_(False)
    rate = images_per_second(model, fast_bf16(), args.batch_size, args.steps)
    print(f"| {'bf16 autocast' if fast_bf16() else 'float32'}, whitening bias frozen | {rate:.0f} | "
          f"{50_000 / rate / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
