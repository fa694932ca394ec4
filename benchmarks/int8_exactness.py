"""How far this CPU's int8 kernels are from exact int8 arithmetic, and int8 from float32.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/int8_exactness.py [--images 2000] [--model DIR]

With AVX512-VNNI PyTorch's int8 convolutions sum uint8 x int8 products exactly; with AVX2 only
they sum pairs of products in 16 bits, which saturate when both are large. This runs the
shipped network (or `--model`) the way `CnnExtractor(int8=True)` does, calibrated on training
images, and the same quantised network with each convolution computed exactly (float64 on the
dequantised integers, then quantised alike). Per layer it counts the outputs that differ by
more than one quantisation step (rounding); end to end, on CIFAR-10 test images, the cosine
error and predicted-class agreement of kernel vs exact int8 and of exact int8 vs float32.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.nn import functional as F

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, calibration_sample
from cbir.features.cnn.int8 import Int8Net, calibrate, folded
from cbir.features.cnn.model import compact_input
from cbir.features.cnn.store import load_model
from cbir.training.loop import cpu_name


class ExactConv(nn.Module):
    """A quantised convolution computed exactly on its integers (float64), quantised like the kernel's output."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        y = F.conv2d(x.dequantize().double(), c.weight().dequantize().double(), c.bias().double(), padding="same")
        return torch.quantize_per_tensor(y.float(), c.scale, c.zero_point, torch.quint8)


class ComparedConv(nn.Module):
    """The kernel's convolution, counting its outputs more than one step from the exact ones."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv, self.exact = conv, ExactConv(conv)
        self.off = self.most = self.total = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        diff = (y.int_repr().int() - self.exact(x).int_repr().int()).abs()
        self.off, self.most = self.off + int((diff > 1).sum()), max(self.most, int(diff.max()))
        self.total += diff.numel()
        return y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--model", default=SHIPPED)
    args = parser.parse_args()
    net, _ = load_model(args.model)
    net.eval()
    calibration = compact_input(calibration_sample(load_cifar10("train", progress=False)).images)
    x = compact_input(load_cifar10("test", progress=False).images[: args.images])
    layers = folded(net)
    q = Int8Net(net, calibrate(net, calibration, layers=layers), layers)
    print(f"{cpu_name()}, quantized engine {torch.backends.quantized.engine}, {args.images} test images\n")
    print("| layer | outputs off by > 1 step | largest difference (steps) |\n|---|---|---|")
    kernel_convs = nn.ModuleList(ComparedConv(conv) for conv in q.convs)
    exact_convs = nn.ModuleList(ExactConv(conv) for conv in q.convs)
    with torch.inference_mode():
        kernel, exact, float32 = [], [], []
        for s in range(0, len(x), 128):
            batch = x[s: s + 128]
            q.convs = kernel_convs
            kernel.append(q.embed(batch))
            q.convs = exact_convs
            exact.append(q.embed(batch))
            float32.append(net.embed(batch))
        kernel, exact, float32 = map(torch.cat, (kernel, exact, float32))
        for i, conv in enumerate(kernel_convs):
            print(f"| {i + 1} | {conv.off / conv.total:.1e} | {conv.most} |")
        print("\n| compared | 1 - mean cosine | same predicted class |\n|---|---|---|")
        for name, a, b in (("kernel vs exact int8", kernel, exact), ("exact int8 vs float32", exact, float32),
                           ("kernel vs float32", kernel, float32)):
            same = (net.classifier(a).argmax(1) == net.classifier(b).argmax(1)).float().mean()
            print(f"| {name} | {1 - F.cosine_similarity(a, b).mean():.2e} | {same:.4f} |")


if __name__ == "__main__":
    main()
