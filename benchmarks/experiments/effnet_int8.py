"""Is there an int8 path for EfficientNet-Lite0, as `cnn` has one? PyTorch's post-training quantisation (FX graph mode,
the x86 backend's default configuration) of the `effnet` network, against float32 and bf16 on this CPU.

    OMP_WAIT_POLICY=PASSIVE CBIR_CIFAR10=../shared/data/cifar10-jpeg.zip \
        .venv/bin/python benchmarks/experiments/effnet_int8.py [--resolution 128]

Calibrated on 256 CIFAR-10 test images, compared on 256 others (upscaled to the resolution): the cosine similarity of
the int8 features (pooled penultimate layer + the last three stages', as `effnet-copies` reads them) to float32's, and
milliseconds per image in batches of 32 and alone. Decided (2026-12-06): no int8 for `effnet`, see docs/features.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from cbir.datasets import load_cifar10
from cbir.features.pretrained import efficientnet

warnings.filterwarnings("ignore")  # quantized tensors and FX quantisation are marked deprecated in 2.13


class Padded(torch.nn.Module):
    """A strided "SAME" convolution with its padding fixed for one input size (FX cannot trace shape arithmetic)."""

    def __init__(self, conv: torch.nn.Conv2d, pads: list[int]):
        super().__init__()
        self.conv, self.pads = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                               groups=conv.groups, bias=False), pads
        self.conv.weight = conv.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pads))


class Features(torch.nn.Module):
    def __init__(self, net: efficientnet.EfficientNetLite):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x, stages=True)


def traceable(resolution: int) -> Features:
    """The pretrained network with each strided convolution's padding fixed for `resolution`."""
    net, pads = efficientnet.pretrained(), {}

    def record(conv, inputs):
        shape, padding = inputs[0].shape, []
        for size in (shape[-1], shape[-2]):
            total = max((-(-size // conv.stride[0]) - 1) * conv.stride[0] + conv.kernel_size[0] - size, 0)
            padding += [total // 2, total - total // 2]
        pads[conv] = padding

    strided = [m for m in net.modules() if isinstance(m, efficientnet.SameConv) and m.stride[0] > 1]
    hooks = [m.register_forward_pre_hook(record) for m in strided]
    with torch.inference_mode():
        net.features(torch.zeros(1, 3, resolution, resolution))
    for hook in hooks:
        hook.remove()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if child in pads:
                setattr(module, name, Padded(child, pads[child]))
    return Features(net).eval()


def ms_per_image(model, x: torch.Tensor, repeats: int = 5, bf16: bool = False) -> float:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model(x)
        started = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return (time.perf_counter() - started) / repeats / len(x) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=128)
    args = parser.parse_args()
    images = load_cifar10("test", progress=False).stratified(512).images
    pixels = torch.from_numpy(np.stack([np.asarray(i) for i in images])).permute(0, 3, 1, 2).float()
    x = efficientnet.normalise_input(F.interpolate(pixels, size=(args.resolution,) * 2, mode="bilinear").clamp(0, 255))
    calibration, test = x[:256], x[256:].contiguous(memory_format=torch.channels_last)
    model = traceable(args.resolution)
    prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example_inputs=(calibration[:2],))
    with torch.inference_mode():
        for start in range(0, len(calibration), 32):
            prepared(calibration[start: start + 32])
        quantised = convert_fx(prepared)
        cosine = F.cosine_similarity(quantised(test), model(test)).numpy()
    model = model.to(memory_format=torch.channels_last)
    print(f"int8 features against float32's, {args.resolution} px: cosine min {cosine.min():.3f}, "
          f"mean {cosine.mean():.3f}\n\n| network | ms per image, batch 32 | ms, one image |\n|---|---|---|")
    for name, net, bf16 in (("float32", model, False), ("bf16", model, True), ("int8", quantised, False)):
        print(f"| {name} | {ms_per_image(net, test[:32], bf16=bf16):.2f} | "
              f"{ms_per_image(net, test[:1], repeats=20, bf16=bf16):.1f} |", flush=True)


if __name__ == "__main__":
    main()
