"""Int8 inference for a trained `CifarNet`: ~1.5x the bf16 speed with AVX512-VNNI, ~1.9x float32 with AVX2 only.

Each BatchNorm is folded into the convolution before it (through the max-pool, which a positive
per-channel scale commutes with); weights become int8 per output channel, activations uint8 per
tensor, with ranges measured on calibration images (a residual block's sum gets its own). The
whitening layer and the embedding head stay in float. Runs on PyTorch's quantized CPU kernels (oneDNN/FBGEMM on x86).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.ao.nn import quantized as nnq
from torch.nn import functional as F

from cbir.errors import CbirError
from cbir.features.cnn.model import CifarNet

# PyTorch 2.13 marks quantized tensors as deprecated (pytorch/pytorch#184982) but ships them; the
# pinned version is what this module is tested with.
warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
                        category=UserWarning)

# GELU is within 2e-4 of zero below -4, so convolution outputs are quantised from there up
# (a quarter less embedding error than min-max ranges; docs/results/speed.md).
FLOOR = -4.0


def supported() -> bool:
    """Whether PyTorch's int8 CPU kernels run here: x86 with AVX512-VNNI, or with AVX2, whose kernels
    sum pairs of uint8 x int8 products in 16 bits and so saturate on rare outputs (on the shipped
    network at most 2 in 100,000 of a layer's outputs, adding 1.7e-5 to the int8 embeddings' 3.8e-4
    of cosine error to float32; `benchmarks/int8_exactness.py`)."""
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_vnni") or capabilities.get("avx2"))


@torch.no_grad()
def folded(net: CifarNet) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """(weight, bias, whether a max-pool follows) of each convolution with its (eval-mode)
    BatchNorm folded in, in order."""
    layers = []
    for conv, norm, pool in (layer for block in net.blocks for layer in block.layers()):
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        if not bool((scale > 0).all()):
            raise CbirError("int8 inference needs positive BatchNorm scales (a max-pool sits before them)")
        layers.append((conv.weight * scale[:, None, None, None], norm.bias - norm.running_mean * scale, pool))
    return layers


def walk(x: torch.Tensor, pools: list[bool], residual: bool, conv: Callable, add: Callable) -> torch.Tensor:
    """The blocks' data flow over the folded layers: `conv(i, x)` is layer i's convolution, max-pooled
    where `pools[i]` (a block's first layer), then GELU; with `residual`, `add(j, last, first)` joins
    the last and first layer outputs of the j-th block."""
    first, joined = x, 0
    for i, pool in enumerate(pools):
        y = conv(i, x)
        x = F.gelu(F.max_pool2d(y, 2) if pool else y)
        if pool:
            first = x
        elif residual and (i + 1 == len(pools) or pools[i + 1]):
            x, joined = add(joined, x, first), joined + 1
    return x


@torch.no_grad()
def calibrate(net: CifarNet, x: torch.Tensor, floor: float = FLOOR,
              layers: list[tuple[torch.Tensor, torch.Tensor, bool]] | None = None) -> list[tuple[float, float]]:
    """Float ranges (lo, hi) of the first convolution's input, of every convolution's output, then of
    every residual sum (`layers`: `folded(net)`, when already computed)."""
    layers = layers or folded(net)
    x = net.act(net.whiten(x.float()))
    inputs, outputs, sums = [(float(x.min()), float(x.max()))], [], []

    def conv(i: int, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, layers[i][0], layers[i][1], padding="same")
        outputs.append((max(float(y.min()), floor), float(y.max())))
        return y

    def add(_: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = a + b
        sums.append((float(y.min()), float(y.max())))
        return y

    walk(x, [pool for *_, pool in layers], net.config.residual, conv, add)
    return inputs + outputs + sums


def _qparams(lo: float, hi: float) -> tuple[float, int]:
    """uint8 scale and zero point covering [lo, hi] (and 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255
    return scale, int(round(-lo / scale))


class Int8Net(nn.Module):
    """`embed` of a `CifarNet`, computed with int8 convolutions; `ranges` from `calibrate`, `layers`
    from `folded` (computed here when not given)."""

    def __init__(self, net: CifarNet, ranges: list[tuple[float, float]],
                 layers: list[tuple[torch.Tensor, torch.Tensor, bool]] | None = None):
        super().__init__()
        layers = layers or folded(net)
        self.net, self.input_qparams = net, _qparams(*ranges[0])
        self.sum_qparams = [_qparams(*r) for r in ranges[1 + len(layers):]]
        self.convs = nn.ModuleList()
        self.pools = []
        with torch.no_grad():
            for (weight, bias, pool), out_range in zip(layers, ranges[1:]):
                scales = weight.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127
                zeros = torch.zeros(len(scales), dtype=torch.long)
                qweight = torch.quantize_per_channel(weight, scales.double(), zeros, 0, torch.qint8)
                out_channels, in_channels, kernel, _ = weight.shape
                qconv = nnq.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
                qconv.set_weight_bias(qweight, bias.float())
                qconv.scale, qconv.zero_point = _qparams(*out_range)
                self.convs.append(qconv)
                self.pools.append(pool)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The retrieval embedding of normalised float images (n, 3, H, W), as float32."""
        x = torch.quantize_per_tensor(self.net.act(self.net.whiten(x.float())), *self.input_qparams, torch.quint8)
        x = walk(x, self.pools, self.net.config.residual, lambda i, x: self.convs[i](x),
                 lambda j, a, b: torch.ops.quantized.add(a, b, *self.sum_qparams[j]))
        return self.net.embedding_norm(self.net.embedding(torch.amax(x.dequantize(), dim=(2, 3))))
