"""Training the CNN on a labelled collection (`cbir train`). The library never imports this module.

Recipe (facts from public fast-training recipes, code written here): Nesterov SGD with a linear warm-up
/ linear decay schedule, label smoothing, flip + random translate (+ optional cutout) augmentation (by
default each image mirrored every other epoch, the fast-training recipes' derandomised flip;
`flip="random"`: a random half at each step), an exponential moving average (EMA) of the weights, flip
test-time augmentation (the final validation also with the views moved `TTA_SHIFT` pixels),
channels_last + bf16 autocast where it is fast (`model.fast_bf16`), CUDA when present (the whole
training set then lives on the GPU). `init` starts from a trained model folder (fine-tuning: trained on
other classes, it gets a new classifier). Optional knowledge distillation
(Hinton et al. 2015): `teachers` (trained model folders, their logits averaged, on the same augmented
batch) and `distill` mix a temperature-softened KL term into the loss. Optional sharpness-aware
minimisation (SAM, Foret et al. 2021): `sam` = rho, each step takes its gradient at the weights moved
rho up their own gradient. `int8_weights` stores the block convolutions as int8 (`store.stored_state`);
the final validation reads the weights as stored. The optimiser settings and initialisation are the
fast-training recipes' (the defaults since 2026-12-04, measured in docs/benchmarks.md): a large step and strong
weight decay, block convolutions started as the identity (`dirac`), BatchNorm scales fixed at 1
(`norm_scales=False`) and BatchNorm biases trained at 64x the rate (`norm_bias_lr`, a multiple of `lr`).
`whiten_bias_epochs` freezes the whitening layer's bias after that many epochs (3 by default, as in those
recipes): the backward pass then stops at the first block, ~10% faster epochs. `small_crop` trains the first
`small_share` of the epochs on random crops of that side (progressive resizing by cropping: about half the
arithmetic at 24 of 32 pixels); the network's global max-pool takes either size. `minutes` fits the number of
epochs to a time budget, from the speed of a few steps of a throw-away copy measured first, then from the first
epoch of each kind (`TimePlan`); the last epoch then trains on as many batches as the rest of the budget holds.
Per-epoch validation on a held-out part of the TRAINING split; a checkpoint after every epoch, resumed
automatically after an interruption (with the epochs and steps the run chose; other options are refused);
deterministic for a given seed and number of epochs. The held-out images depend on
`val_seed` only, so runs with different seeds are validated alike (and can teach each other).
"""

from __future__ import annotations

import copy
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.errors import TrainingError
from cbir.features.cnn.model import SIZE, CifarNet, ModelConfig, TTA_SHIFT, fast_bf16, stack_images, to_input, tta_views
from cbir.features.cnn.recipe import (FLIPS, alternating_flips, augment, distillation_loss, ema_with_warmup,
                                      sharpness_step)
from cbir.features.cnn.store import load_model, loaded_state, save_model, stored_state


POSTFIX_EVERY = 20  # steps between progress-bar updates of loss and accuracy
DEFAULT_VAL_IMAGES = 5000
PROBE_WARMUP, PROBE_STEPS = 2, 4  # untimed, then timed training steps (their median) that estimate an epoch
# share of a time budget (`minutes`) left unplanned: on the same 2-core VM the probe's estimate of an epoch was
# 17% high one day, 4%, 7% and 13% low on others (docs/benchmarks.md)
BUDGET_RESERVE = 0.15
# the same once every kind of epoch still to come has been timed (`TimePlan.measured`): the epochs after the
# whitening bias froze took 74-85 s on one day (docs/benchmarks.md)
MEASURED_RESERVE = 0.05
RESUMABLE = ("epochs", "minutes")  # the options a resumed run may change
MIN_CROP = 16  # the smallest training crop (`small_crop`): the network's three max-pools leave it 1 x 1
# the optimiser settings and initialisation of `cbir train` before the fast-training recipes' became the defaults
PREVIOUS_DEFAULTS = "--lr 0.2 --momentum 0.9 --weight-decay 5e-4 --no-dirac --norm-scales --norm-bias-lr 1"


@dataclass
class TrainConfig:
    epochs: int = 15
    batch_size: int = 512
    lr: float = 0.37
    momentum: float = 0.92
    weight_decay: float = 1.5e-3
    label_smoothing: float = 0.2
    warmup: float = 0.2
    ema_decay: float = 0.995
    translate: int = 2
    cutout: int = 0
    val_images: int | None = None  # None: `validation_size`'s default
    seed: int = 0
    val_seed: int = 0
    bf16: bool = True
    init: str | None = None
    teachers: tuple[str, ...] = ()
    distill: float = 0.0
    distill_temperature: float = 1.0
    sam: float = 0.0
    int8_weights: bool = False
    minutes: float | None = None  # a time budget: replaces `epochs` by as many (the last maybe in part) as fit in it
    flip: str = "alternate"  # each image mirrored every other epoch (`alternating_flips`), or "random"
    dirac: bool = True  # a new network's block convolutions start as the identity (`CifarNet.init_identity`)
    norm_scales: bool = False  # whether BatchNorm scales train; False keeps them where they are (1 when new)
    whiten_bias_epochs: int | None = 3  # epochs the whitening layer's bias trains before it is frozen; None: all
    norm_bias_lr: float = 64.0  # the BatchNorm biases' learning rate, as a multiple of `lr`
    small_crop: int = 0  # the side of random crops that the first `small_share` of the epochs train on; 0: none
    small_share: float = 0.5


def small_epochs(share: float, epochs: int) -> int:
    """How many of the first of `epochs` train on small crops (`TrainConfig.small_crop`): `share` of them, rounded
    half up."""
    return int(share * epochs + 0.5)


def epochs_begun(steps: int, per_epoch: int) -> int:
    """The epochs that `steps` training steps, `per_epoch` an epoch, begin: the last may be a part."""
    return -(-steps // per_epoch)


def epochs_of(steps: int, per_epoch: int) -> int | float:
    """`steps` training steps in epochs of `per_epoch`: whole, or to two decimals when the last is a part."""
    return round(steps / per_epoch, 2) if steps % per_epoch else steps // per_epoch


def device_of(preferred: str | None = None) -> torch.device:
    return torch.device(preferred or ("cuda" if torch.cuda.is_available() else "cpu"))


def cpu_name() -> str:
    """This CPU's name and widest vector extension, which set its training speed (model cards)."""
    capabilities = torch.cpu.get_capabilities()
    widest = next((name for name in ("avx512_f", "avx2") if capabilities.get(name)), None)
    return f"{capabilities.get('cpu_name') or platform.processor() or 'CPU'}" + (
        f" ({widest.split('_')[0].upper()})" if widest else "")


def load_teachers(config: TrainConfig, classes: list[str]) -> list[CifarNet]:
    """The teacher models, checked: trained on the same classes, and not on the images this run holds out."""
    if not 0 <= config.distill <= 1 or bool(config.teachers) != bool(config.distill):
        raise TrainingError("distillation needs teacher model folders and a weight in (0, 1]; teachers need --distill")
    teachers = []
    for folder in config.teachers:
        model, teacher_classes = load_model(folder)
        if teacher_classes != classes:
            raise TrainingError(f"teacher {folder} was trained on classes {teacher_classes}; "
                                f"this collection: {classes}")
        recipe = json.loads((Path(folder) / "model_card.json").read_text())["recipe"]
        held_out = (recipe["val_images"], recipe.get("val_seed", recipe["seed"]))  # older cards: split by seed
        if config.val_images and held_out != (config.val_images, config.val_seed):
            raise TrainingError(f"teacher {folder} did not hold out this run's validation images (its val_images "
                             f"or val_seed differ): its knowledge would leak them into the validation accuracy")
        teachers.append(model)
    return teachers


class EpochKind(NamedTuple):
    """What an epoch's time depends on: whether it trains on small crops, whether the whitening bias is frozen."""
    small: bool
    frozen: bool


KIND_NAMES = {EpochKind(False, False): "on whole images", EpochKind(False, True): "with the whitening bias frozen",
              EpochKind(True, False): "on small crops", EpochKind(True, True): "on small crops with the bias frozen"}


def probe_seconds(model: nn.Module, step: Callable, images: torch.Tensor, targets: torch.Tensor, config: TrainConfig,
                  steps_per_epoch: int, device: torch.device, bf16: bool,
                  val_images: np.ndarray | None) -> tuple[dict[EpochKind, float], float]:
    """(seconds an epoch of `steps_per_epoch` training steps takes here, for each kind of epoch that `config` trains,
    seconds a pass over `val_images` takes), timed on training steps (`step(net, optimizer, x, y)`) of a throw-away
    copy of `model` on one batch, the first `PROBE_WARMUP` of each kind untimed, and on one batch of validation: the
    model and the run's random numbers stay untouched."""
    probe = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.0, momentum=config.momentum, nesterov=True)
    n = min(config.batch_size, len(images))
    generator = torch.Generator().manual_seed(0)

    def epoch_seconds(kind: EpochKind) -> float:
        probe.whiten.bias.requires_grad_(not kind.frozen)
        seconds = []
        for _ in range(PROBE_WARMUP + PROBE_STEPS):
            started = time.perf_counter()
            x = augment(to_input(images[:n]), config.translate, generator, config.cutout,
                        crop=config.small_crop if kind.small else 0)
            step(probe, optimizer, x, targets[:n])
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
        return steps_per_epoch * float(np.median(seconds[PROBE_WARMUP:]))

    kinds = [EpochKind(small, frozen) for frozen in (False, True)[:1 + (config.whiten_bias_epochs is not None)]
             for small in (False, True)[:1 + bool(config.small_crop)]]
    seconds = {kind: epoch_seconds(kind) for kind in kinds}
    if val_images is None or not len(val_images):
        return seconds, 0.0
    sample = val_images[:config.batch_size]
    started = time.perf_counter()
    predict(probe, sample, device, bf16, tta=False)
    return seconds, (time.perf_counter() - started) * len(val_images) / len(sample)


@dataclass
class TimePlan:
    """How a time budget (`minutes`) is spent: planned from `probe_seconds`'s estimates when the run starts, then
    again from measured epochs (the probe's few steps have been 4-20% off): the first, and the first of each other
    kind (`EpochKind`: on small crops or not, the whitening bias frozen or not). A run whose plan changed is not step
    for step one asked for as many `epochs`: its first epochs warmed up for the first plan."""
    started: float  # `time.perf_counter()` when the probe began
    budget: float  # seconds
    seconds: dict[EpochKind, float]  # the training seconds of an epoch of each kind
    validation: float
    final: float  # the model card's final validations
    whiten_bias_epochs: int | None
    small_share: float = 0.0  # the share of the epochs on small crops (`small_epochs`)
    reserve: float = BUDGET_RESERVE  # the share of the budget left unplanned
    timed: frozenset[EpochKind] = frozenset()  # the kinds whose estimate a measured epoch replaced
    crops_end: int | None = None  # once an epoch on whole images is done, the epoch (from 0) that was: no more crops

    def small_epochs(self, epochs: int) -> int:
        """How many of the first of `epochs` train on small crops: `small_share` of them, and no more once an epoch
        on whole images has been trained."""
        planned = small_epochs(self.small_share, epochs)
        return planned if self.crops_end is None else min(planned, self.crops_end)

    def kind(self, epoch: int, epochs: int) -> EpochKind:
        """The kind of `epoch` (from 0) in a run of `epochs`."""
        return EpochKind(epoch < self.small_epochs(epochs),
                         self.whiten_bias_epochs is not None and epoch >= self.whiten_bias_epochs)

    def cost(self, done: int, epochs: int) -> float:
        """Seconds that epochs `done` to `epochs` (from 0, the last excluded) of a run of `epochs` take."""
        return sum(self.seconds[self.kind(e, epochs)] + self.validation for e in range(done, epochs))

    def left(self, now: float) -> float:
        """Seconds left at `now` for training epochs."""
        return self.budget * (1 - self.reserve) - (now - self.started) - self.final

    def epochs(self, now: float, done: int = 0) -> int:
        """Epochs in all: `done` already trained, and as many more as fit in what is left at `now` (at least one
        when none is done)."""
        left, epochs = self.left(now), done
        while self.cost(done, epochs + 1) <= left:
            epochs += 1
        return max(epochs, done or 1)

    def steps(self, now: float, per_epoch: int, done: int = 0) -> int:
        """Training steps in all, `per_epoch` an epoch: `epochs(now, done)` whole epochs, then the steps of one more
        that fit in the rest (with its validation, in a run of that many epochs begun)."""
        epochs = self.epochs(now, done)
        last = self.seconds[self.kind(epochs, epochs + 1)]  # the next epoch's training (measured: may be ~0)
        over = self.cost(done, epochs + 1) - self.left(now)  # what the next epoch whole would overrun by
        part = 1 - over / last if last > 0 else 0.0  # the share of its steps that fit
        return epochs * per_epoch + min(per_epoch - 1, int(per_epoch * max(0.0, part)))

    def replans_after(self, epoch: int, epochs: int) -> bool:
        """Whether the plan is made again once `epoch` (from 0) of `epochs` is done: the first of its kind."""
        return self.kind(epoch, epochs) not in self.timed

    def measured(self, epoch: int, epochs: int, seconds: float) -> TimePlan:
        """The plan after `epoch` (from 0; one that `replans_after`) of `epochs` took `seconds`, training and
        validation. The first epoch scales every estimate by what it took; each replaces the estimate of the
        epochs of its kind, and once every kind still to come (in this plan or one an epoch longer) has been timed
        the reserve shrinks to `MEASURED_RESERVE`. The first on whole images ends the small crops."""
        plan, kind = self, self.kind(epoch, epochs)
        if not kind.small and self.crops_end is None:
            plan = replace(plan, crops_end=epoch)
        if epoch == 0:
            scale = seconds / (self.seconds[kind] + self.validation)
            plan = replace(plan, seconds={k: v * scale for k, v in self.seconds.items()},
                           validation=self.validation * scale, final=self.final * scale)
        plan = replace(plan, seconds=plan.seconds | {kind: seconds - plan.validation}, timed=plan.timed | {kind})
        if {plan.kind(e, epochs + 1) for e in range(epoch + 1, epochs + 1)} <= plan.timed:
            plan = replace(plan, reserve=MEASURED_RESERVE)
        return plan


def check_resumable(recipe: dict | None, config: TrainConfig, checkpoint: Path) -> None:
    """Refuse to resume a checkpoint written with other options than `config` (those that differ are named): one
    run of two recipes is never what was meant. Only the epochs and the time budget may change. Checkpoints of
    versions before this check recorded no `recipe`; they are checked as the optimiser's state loads."""
    if recipe is None:
        return
    current = asdict(config)
    # an option that the checkpoint's version did not have yet was at its default, which behaves as it did then
    recorded = asdict(TrainConfig()) | recipe
    changed = [f"{key}: {recorded[key]!r} -> {value!r}" for key, value in current.items()
               if key not in RESUMABLE and recorded[key] != value]
    if changed:
        raise TrainingError(f"{checkpoint} was started with other training options ({'; '.join(changed)}): resume "
                            f"it with the options it started with, or train into another --out")


def validation_size(requested: int | None, n: int) -> int:
    """How many of `n` training images to hold out: `requested`, else 5,000 or a tenth of them,
    whichever is fewer; an error when none would be left to train on."""
    size = min(DEFAULT_VAL_IMAGES, n // 10) if requested is None else requested
    if not 0 <= size < n:
        raise TrainingError(f"holding out {size} images for validation (--val-images) leaves none to train on: "
                            f"the collection has {n}")
    return size


def split_validation(dataset: Dataset, n_val: int, seed: int) -> tuple[Dataset, Dataset | None]:
    """(train part, held-out validation part) of the training collection, class-stratified."""
    if not n_val:
        return dataset, None
    val = dataset.stratified(n_val, seed=seed)
    held = set(val.ids)
    return dataset.subset([i for i, id_ in enumerate(dataset.ids) if id_ not in held]), val


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device, bf16: bool, tta: bool = True,
            batch: int = 1000, embed: bool = False, shift: int = 0) -> torch.Tensor:
    """Logits (embeddings with `embed`) of uint8 images (any size) on the CPU, averaged over
    `tta_views` (flip; `shift`: also moved) when `tta`; `bf16`: autocast where it is fast (`fast_bf16`)."""
    model.eval()
    forward = model.embed if embed else model
    out = []
    for s in range(0, len(images), batch):
        x = to_input(torch.from_numpy(stack_images(images[s: s + batch]))).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and fast_bf16(device.type)):
            logits = sum(w * forward(view).float() for view, w in tta_views(x, tta, shift))
        out.append(logits.cpu())
    return torch.cat(out)


def accuracy(model: nn.Module, data: Dataset, classes: list[str], device, bf16: bool, tta: bool = True,
             shift: int = 0) -> float:
    predicted = predict(model, data.images, device, bf16, tta, shift=shift).argmax(1).numpy()
    truth = np.array([classes.index(label) for label in data.labels])
    return float((predicted == truth).mean())


def train(dataset: Dataset, out: str | Path, config: TrainConfig | None = None,
          model_config: ModelConfig | None = None, device: str | None = None, progress: bool = True,
          command: str | None = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train on a labelled collection and write a model folder to `out`; returns the model card dict.

    `on_epoch` receives each epoch's record (epoch, train and validation accuracy, minutes).
    """
    config, out = config or TrainConfig(), Path(out)
    dataset.require_classes("training", TrainingError)
    config = replace(config, val_images=validation_size(config.val_images, len(dataset)))
    if config.sam < 0:
        raise TrainingError(f"the SAM radius (--sam) must be 0 (off) or positive, got {config.sam}")
    if config.flip not in FLIPS:
        raise TrainingError(f"flip (--flip) must be one of {', '.join(FLIPS)}, got {config.flip!r}")
    if config.whiten_bias_epochs is not None and config.whiten_bias_epochs < 0:
        raise TrainingError(f"the epochs the whitening bias trains (--whiten-bias-epochs) must be 0 or more, "
                            f"got {config.whiten_bias_epochs}")
    if config.small_crop and not (MIN_CROP <= config.small_crop <= min(SIZE)
                                  and 0 < config.small_share <= 1):
        raise TrainingError(f"small crops (--small-crop) must be {MIN_CROP} pixels or more and no larger than the "
                            f"images, on a share of the epochs in (0, 1] (--small-share); got {config.small_crop} "
                            f"on {config.small_share}")
    if config.minutes is not None and not config.minutes > 0:
        raise TrainingError(f"the time budget (--minutes) must be positive, got {config.minutes}")
    if model_config and model_config.residual and model_config.depth < 2:
        raise TrainingError("a residual block (--residual) needs two or more convolutions (--depth 2 or more)")
    torch.manual_seed(config.seed)
    dev = device_of(device)
    torch.backends.cudnn.benchmark = dev.type == "cuda"
    bf16 = config.bf16 and fast_bf16(dev.type)
    classes = dataset.classes
    train_part, val_part = split_validation(dataset, config.val_images, config.val_seed)
    images = torch.from_numpy(stack_images(train_part.images))
    targets = torch.tensor([classes.index(label) for label in train_part.labels])
    fine_tune = False
    if config.init:
        model, init_classes = load_model(config.init)
        fine_tune = init_classes != classes  # other classes: a new classifier, the rest carries over
        model_config = model.config
    else:
        model_config = model_config or ModelConfig(num_classes=len(classes))
        model_config.num_classes = len(classes)
        model = CifarNet(model_config)
        model.init_whitening(to_input(images[torch.randperm(len(images))[:5000]]))
        if config.dirac:
            model.init_identity()
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for norm in norms:
        norm.weight.requires_grad_(config.norm_scales)
    model = model.to(dev, memory_format=torch.channels_last)
    teachers = [t.to(dev, memory_format=torch.channels_last) for t in load_teachers(config, classes)]
    images, targets = images.to(dev), targets.to(dev)
    if fine_tune:
        model.new_head(predict(model, train_part.images, dev, bf16=False, tta=False, embed=True).to(dev), targets,
                       len(classes))
    ema = AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
    # a group of their own only at another rate: at 1, checkpoints of versions before that option still resume
    norm_biases = {id(norm.bias) for norm in norms} if config.norm_bias_lr != 1 else set()
    decay, no_decay, biases = [], [], []
    for p in (p for p in model.parameters() if p.requires_grad):
        (biases if id(p) in norm_biases else decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0, "lr": config.lr * config.norm_bias_lr})
    optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def batch_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   taught: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            embedding = net.embed(x)
            logits = net.head(embedding)
            loss = loss_fn(logits.float(), y)
            if taught is not None:
                loss = ((1 - config.distill) * loss
                        + config.distill * distillation_loss(logits, taught, config.distill_temperature))
        return loss, logits

    def train_step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                   y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step of `net` on a batch (two passes with SAM); returns its (loss, logits)."""
        taught = None
        if config.distill:
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                taught = sum(t(x).float() for t in teachers) / len(teachers)
        loss, logits = batch_loss(net, x, y, taught)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.sam:
            trainable = [p for p in net.parameters() if p.requires_grad]
            moves = sharpness_step(trainable, config.sam)
            opt.zero_grad(set_to_none=True)
            batch_loss(net, x, y, taught)[0].backward()
            with torch.no_grad():
                for p, move in zip(trainable, moves):
                    p.sub_(move)
        opt.step()
        return loss, logits

    steps_per_epoch = max(1, len(images) // config.batch_size)
    checkpoint = out / "checkpoint.pt"
    saved = torch.load(checkpoint, weights_only=False) if checkpoint.exists() else None
    if saved:
        check_resumable(saved.get("recipe"), config, checkpoint)
    plan = None  # a `TimePlan` when this run fits its epochs to a time budget (not when it resumes one)
    crop_share = config.small_share if config.small_crop else 0.0  # of the epochs, on small crops
    steps = steps_per_epoch * config.epochs  # in all (a time budget may end on part of an epoch)
    if config.minutes:
        epochs = saved["state"].get("epochs") if saved else None
        if epochs is not None:
            steps = saved["state"].get("steps", steps_per_epoch * epochs)
        else:
            print(f"time budget {config.minutes:g} min: timing a few training steps ...", flush=True)
            probing = time.perf_counter()
            seconds, validation = probe_seconds(model, train_step, images, targets, config, steps_per_epoch, dev,
                                                bf16, val_part.images if val_part else None)
            # the model card's two validations below: flip TTA, then with the views also moved
            final = validation * sum(len(tta_views(to_input(images[:1]), shift=s)) for s in (0, TTA_SHIFT))
            plan = TimePlan(probing, config.minutes * 60, seconds, validation, final, config.whiten_bias_epochs,
                            crop_share)
            now = time.perf_counter()
            steps = plan.steps(now, steps_per_epoch)
            epochs = epochs_begun(steps, steps_per_epoch)
            print("an epoch takes here "
                  + "; ".join(f"~{s + validation:.0f} s {KIND_NAMES[kind]}" for kind, s in seconds.items())
                  + f"; the final validation ~{final:.0f} s: so {epochs_of(steps, steps_per_epoch)} epochs"
                  + (" (over the budget)" if plan.cost(0, plan.epochs(now)) > plan.left(now) else "")
                  + " (planned again as epochs are timed)", flush=True)
        config = replace(config, epochs=epochs)
    def lr_factor(s: int) -> float:
        """Linear warm-up over the first `warmup` of the steps, then linear decay to 0 at the last (of the `steps`
        as they are now: the time plan may change them)."""
        warm = max(1, int(config.warmup * steps))
        return (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    # the epochs on small crops: set here and by the time plan; a resumed run keeps them
    state = {"epoch": 0, "epochs": config.epochs, "steps": steps, "history": [], "seconds": 0.0,
             "small_epochs": small_epochs(crop_share, config.epochs)}
    generator = torch.Generator().manual_seed(config.seed)
    if saved:
        model.load_state_dict(saved["model"])
        ema.load_state_dict(saved["ema"])
        try:
            optimizer.load_state_dict(saved["optimizer"])
        except ValueError as exc:  # a checkpoint of an earlier version, which did not record its options
            raise TrainingError(f"{checkpoint} was written with other training options ({exc}); resume it with the "
                                f"options it started with ({PREVIOUS_DEFAULTS} before 2026-12-04) or train into "
                                f"another --out") from exc
        schedule.load_state_dict(saved["schedule"])
        state = {"small_epochs": 0} | saved["state"] | {"epochs": config.epochs, "steps": steps}
        generator.set_state(saved["generator"])
        print(f"resuming after epoch {state['epoch']} ({checkpoint})", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    epoch = state["epoch"]
    while epoch < config.epochs:
        started = time.perf_counter()
        model.train()
        model.whiten.bias.requires_grad_(config.whiten_bias_epochs is None or epoch < config.whiten_bias_epochs)
        order = torch.randperm(len(images), generator=generator)
        flips = alternating_flips(len(images), config.seed, epoch) if config.flip == "alternate" else None
        crop = config.small_crop if epoch < state["small_epochs"] else 0
        epoch_steps = min(steps_per_epoch, steps - epoch * steps_per_epoch)  # the last may be a part
        bar = tqdm(range(epoch_steps), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   mininterval=1.0)
        correct, seen = torch.zeros((), dtype=torch.long, device=dev), 0
        for step in bar:
            batch = order[step * config.batch_size: (step + 1) * config.batch_size]
            idx = batch.to(dev)
            x = augment(to_input(images[idx]), config.translate, generator, config.cutout,
                        None if flips is None else flips[batch], crop)
            y = targets[idx]
            loss, logits = train_step(model, optimizer, x, y)
            schedule.step()
            ema.update_parameters(model)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if step % POSTFIX_EVERY == 0 or step == epoch_steps - 1:  # reading them waits for the GPU
                bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{int(correct) / seen:.3f}")
        correct = int(correct)
        state["seconds"] += time.perf_counter() - started
        val_acc = accuracy(ema.module, val_part, classes, dev, bf16, tta=False) if val_part else None
        state["history"].append({"epoch": epoch + 1, "train_accuracy": correct / seen, "val_accuracy": val_acc,
                                 "minutes": state["seconds"] / 60})
        state["epoch"] = epoch + 1
        print(f"epoch {epoch + 1}: train acc {correct / seen:.4f}"
              + (f", validation acc {val_acc:.4f}" if val_acc is not None else "")
              + f", {state['seconds'] / 60:.1f} min", flush=True)
        # a timed whole epoch: the budget planned again from it
        if plan and epoch_steps == steps_per_epoch and plan.replans_after(epoch, config.epochs):
            now = time.perf_counter()
            plan = plan.measured(epoch, config.epochs, now - started)
            steps = plan.steps(now, steps_per_epoch, done=epoch + 1)
            epochs = epochs_begun(steps, steps_per_epoch)
            print(f"epoch {epoch + 1} took {now - started:.0f} s: {epochs_of(steps, steps_per_epoch)} epochs in all",
                  flush=True)
            config, state["epochs"], state["steps"] = replace(config, epochs=epochs), epochs, steps
            state["small_epochs"] = plan.small_epochs(epochs)
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "state": state, "generator": generator.get_state(),
                    "recipe": asdict(config)},
                   checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)
        if on_epoch:
            on_epoch(state["history"][-1])
        epoch += 1
    final = ema.module
    final.load_state_dict(loaded_state(stored_state(final, config.int8_weights)))  # validated as stored
    card = {
        "data": f"{dataset.name}: {len(train_part)} training images, {len(val_part) if val_part else 0} held out",
        "classes": classes, "recipe": asdict(config), "model": model_config.to_dict(),
        "epochs": epochs_of(steps, steps_per_epoch), "minutes": round(state["seconds"] / 60, 2),
        "history": state["history"],
        "validation_accuracy_tta": accuracy(final, val_part, classes, dev, bf16) if val_part else None,
        "validation_accuracy_translate_tta":
            accuracy(final, val_part, classes, dev, bf16, shift=TTA_SHIFT) if val_part else None,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
                   f"{torch.cuda.get_device_name(0) if dev.type == 'cuda' else cpu_name()}, "
                   f"{'bf16' if bf16 else 'float32'}",
        "torch": torch.__version__, "command": command,
    }
    save_model(final, card, out, config.int8_weights)
    return card
