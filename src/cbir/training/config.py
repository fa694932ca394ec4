"""What a training run is asked to do (`TrainConfig`), each option's default written once, here: `cbir train`'s
options are built from these fields (their `help` and `cli` metadata), and a fine-tuned backbone starts from
`BACKBONE_RECIPE` instead where it differs. No PyTorch here: the command-line parser imports this module."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from cbir.errors import TrainingError

MIN_CROP = 16  # the smallest training crop (`small_crop`): the compact network's three max-pools leave it 1 x 1


ALL = "all"  # `--whiten-bias-epochs all`: the bias trains in every epoch (`whiten_bias_epochs=None`)


def _epochs_or_all(text: str) -> int | str:
    """A number of epochs (0 or more), or `ALL`."""
    import argparse

    if text == ALL:
        return ALL
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of epochs (0 or more) or 'all', got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    from cbir.cli.args import positive

    return positive(text)


def option(default, help: str, **cli):
    """A field with its default, its `--help` line and how the command line reads it (`argparse` keywords)."""
    metadata = {"help": help, "cli": cli}
    return field(default_factory=default, metadata=metadata) if callable(default) else field(default=default,
                                                                                               metadata=metadata)


@dataclass
class TrainConfig:
    epochs: int = option(15, "epochs to train", type=_positive)
    minutes: float | None = option(
        None, "a time budget: as many epochs (instead of --epochs) as fit in 85%% of this many minutes, the final "
              "validation included, at the speed measured on a few steps first; planned again on the first epoch, "
              "then on the first of each other kind (the whitening bias frozen, --small-crop or not), the last of "
              "them into 95%% of the minutes, and on any epoch 15%% faster or slower than planned; the rest goes to "
              "as many batches of one more epoch as fit", type=float)
    batch_size: int = option(512, "images per training step", type=_positive)
    lr: float = option(0.37, "peak learning rate", type=float)
    momentum: float = option(0.92, "Nesterov momentum", type=float)
    weight_decay: float = option(1.5e-3, "of the convolution and linear weights", type=float)
    label_smoothing: float = option(0.2, "label smoothing of the cross-entropy", type=float)
    warmup: float = option(0.2, "the share of the steps the learning rate warms up over (then decays linearly to 0)",
                           type=float)
    ema_decay: float = option(0.995, "decay of the weights' moving average (what is validated and saved)",
                              type=float)
    translate: int = option(2, "random translation, in pixels of a 32-pixel image (scaled with the network's input)",
                            type=int)
    cutout: int = option(0, "side of a random square blanked per image, in pixels of the input", type=int)
    val_images: int | None = option(None, "held out of the training split for validation (none given: 5,000 or a "
                                          "tenth, whichever is fewer)", type=int)
    seed: int = option(0, "initialisation, order and augmentation", type=int)
    val_seed: int = option(0, "which training images are held out", type=int)
    bf16: bool = option(True, "bf16 autocast where the device computes it natively")
    init: str | None = option(None, "start from this trained model (its architecture; 'shipped' for the CIFAR-10 "
                                    "one); trained on other classes, it gets a new classifier (fine-tuning)",
                              type=str, metavar="MODEL_DIR")
    teachers: tuple[str, ...] = option(tuple, "a trained model to distil from (repeat for an ensemble: their logits "
                                              "are averaged; a fine-tuned backbone sees the batch at its own size)",
                                       flag="--teacher", action="append", metavar="MODEL_DIR")
    distill: float = option(0.0, "weight of the distillation term, 0-1 (the rest stays on the labels)", type=float)
    distill_temperature: float = option(1.0, "distillation temperature (1: label smoothing already softens the "
                                             "teachers)", type=float)
    sam: float = option(0.0, "sharpness-aware minimisation with this radius (e.g. 0.05; twice the compute; 0: off)",
                        type=float, metavar="RHO")
    int8_weights: bool = option(False, "store the blocks' convolutions as int8 per output channel (half the size "
                                       "of fp16)")
    norm_scales: bool = option(False, "train the BatchNorm scales (else they stay where they are: 1 in a new compact "
                                      "network)")
    whiten_bias_epochs: int | None = option(3, "freeze the compact network's whitening bias after N epochs: later "
                                               "steps skip the first block's input gradient ('all': never)",
                                            type=_epochs_or_all, metavar="N|all")
    norm_bias_lr: float = option(64.0, "the BatchNorm biases' learning rate as X times --lr", type=float, metavar="X")
    frozen_norms: bool = option(False, "keep the BatchNorm statistics the network starts with (ImageNet's, for a "
                                       "backbone) instead of its batches': on a small collection a few steps of "
                                       "them lose what the network knew")
    small_crop: int = option(0, "train the first epochs (--small-share of them) on random crops of this side instead "
                                "of translated images, e.g. 24: about half the arithmetic of an epoch (0: none)",
                             type=int, metavar="PIXELS")
    small_share: float = option(0.5, "the share of the epochs on small crops", type=float, metavar="F")

    def check(self, backbone: bool) -> None:
        """Refuse options out of range, or (`backbone`: the network is one) that shape the compact network only."""
        if self.sam < 0:
            raise TrainingError(f"the SAM radius (--sam) must be 0 (off) or positive, got {self.sam}")
        if self.whiten_bias_epochs is not None and self.whiten_bias_epochs < 0:
            raise TrainingError(f"the epochs the whitening bias trains (--whiten-bias-epochs) must be 0 or more, "
                                f"got {self.whiten_bias_epochs}")
        if self.small_crop and not (MIN_CROP <= self.small_crop <= 32 and 0 < self.small_share <= 1):
            raise TrainingError(f"small crops (--small-crop) must be {MIN_CROP} pixels or more and no larger than the "
                                f"images, on a share of the epochs in (0, 1] (--small-share); got {self.small_crop} "
                                f"on {self.small_share}")
        if self.minutes is not None and not self.minutes > 0:
            raise TrainingError(f"the time budget (--minutes) must be positive, got {self.minutes}")
        if not 0 <= self.distill <= 1 or bool(self.teachers) != bool(self.distill):
            raise TrainingError("distillation needs teacher model folders and a weight in (0, 1]; teachers need "
                                "--distill")
        compact_only = [name for name, value in (("--small-crop", self.small_crop),
                                                  ("--whiten-bias-epochs", self.whiten_bias_epochs is not None))
                        if value]
        if backbone and compact_only:
            raise TrainingError(f"{', '.join(compact_only)} shape the compact network only, not a backbone")


# where fine-tuning a pretrained backbone starts from other values (docs/training.md says how they were chosen); bf16
# off: EfficientNet-Lite0's depthwise convolutions train slower in bf16 than in float32 on an AVX-512 CPU (81 vs 94
# images/s at 96 px), so bf16 is for a GPU (--bf16)
BACKBONE_RECIPE = {"epochs": 3, "batch_size": 96, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-5,
                   "label_smoothing": 0.1, "warmup": 0.1, "ema_decay": 0.998, "bf16": False, "norm_scales": True,
                   "whiten_bias_epochs": None, "norm_bias_lr": 1.0}


# a backbone fine-tuned on up to SMALL_COLLECTION labelled images starts from these instead (docs/training.md): its
# BatchNorms keep ImageNet's statistics, and without their batches' normalisation the step must be smaller
SMALL_COLLECTION = 20_000
SMALL_RECIPE = {"lr": 0.003, "frozen_norms": True}


def recipe(backbone: bool, images: int | None = None, **given) -> TrainConfig:
    """The `TrainConfig` of the options `given` (None: not given), the rest at the defaults of the compact network
    or (`backbone`) of a fine-tuned backbone, for a collection of `images` labelled images (None: a large one)."""
    small = backbone and images is not None and images <= SMALL_COLLECTION
    base = (BACKBONE_RECIPE | (SMALL_RECIPE if small else {})) if backbone else {}
    return TrainConfig(**base | {k: v for k, v in given.items() if v is not None})


def defaults(name: str) -> tuple[object, object, object]:
    """(the compact network's default, a backbone's, a backbone's on a small collection) of option `name`."""
    compact = getattr(TrainConfig(), name)
    backbone = BACKBONE_RECIPE.get(name, compact)
    return compact, backbone, SMALL_RECIPE.get(name, backbone)


OPTIONS = tuple(fields(TrainConfig))
