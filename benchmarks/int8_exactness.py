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
from torch.nn import functional as F

from cbir.datasets import load_cifar10
from cbir.features.cnn.extractor import SHIPPED, CnnExtractor, calibration_sample
from cbir.features.cnn.int8 import Int8Net, calibrate, folded, walk
from cbir.features.cnn.store import load_model
from cbir.features.cnn.train import cpu_name


def exact_conv(conv, x: torch.Tensor) -> torch.Tensor:
    """A quantised convolution computed exactly on its integers, quantised like the kernel's output."""
    y = F.conv2d(x.dequantize().double(), conv.weight().dequantize().double(), conv.bias().double(), padding="same")
    return torch.quantize_per_tensor(y.float(), conv.scale, conv.zero_point, torch.quint8)


def run(net, q: Int8Net, x: torch.Tensor, conv) -> torch.Tensor:
    """The int8 network's embedding with `conv(i, x)` as its convolutions."""
    x = torch.quantize_per_tensor(net.act(net.whiten(x)), *q.input_qparams, torch.quint8)
    x = walk(x, q.pools, net.config.residual, conv,
             lambda j, a, b: torch.ops.quantized.add(a, b, *q.sum_qparams[j]))
    return net.embedding_norm(net.embedding(torch.amax(x.dequantize(), dim=(2, 3))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--model", default=SHIPPED)
    args = parser.parse_args()
    net, _ = load_model(args.model)
    net.eval()
    calibration = CnnExtractor._input(calibration_sample(load_cifar10("train", progress=False)).images)
    x = CnnExtractor._input(load_cifar10("test", progress=False).images[: args.images])
    layers = folded(net)
    q = Int8Net(net, calibrate(net, calibration, layers=layers), layers)
    print(f"{cpu_name()}, quantized engine {torch.backends.quantized.engine}, {args.images} test images\n")
    print("| layer | outputs off by > 1 step | largest difference (steps) |\n|---|---|---|")
    counts = {}

    def compared(i: int, x: torch.Tensor) -> torch.Tensor:
        y = q.convs[i](x)
        diff = (y.int_repr().int() - exact_conv(q.convs[i], x).int_repr().int()).abs()
        off, most, total = counts.get(i, (0, 0, 0))
        counts[i] = (off + int((diff > 1).sum()), max(most, int(diff.max())), total + diff.numel())
        return y

    with torch.inference_mode():
        kernel, exact, float32 = [], [], []
        for s in range(0, len(x), 128):
            batch = x[s: s + 128]
            kernel.append(run(net, q, batch, compared))
            exact.append(run(net, q, batch, lambda i, b: exact_conv(q.convs[i], b)))
            float32.append(net.embed(batch))
        kernel, exact, float32 = map(torch.cat, (kernel, exact, float32))
        for i, (off, most, total) in sorted(counts.items()):
            print(f"| {i + 1} | {off / total:.1e} | {most} |")
        print("\n| compared | 1 - mean cosine | same predicted class |\n|---|---|---|")
        for name, a, b in (("kernel vs exact int8", kernel, exact), ("exact int8 vs float32", exact, float32),
                           ("kernel vs float32", kernel, float32)):
            same = (net.classifier(a).argmax(1) == net.classifier(b).argmax(1)).float().mean()
            print(f"| {name} | {1 - F.cosine_similarity(a, b).mean():.2e} | {same:.4f} |")


if __name__ == "__main__":
    main()
