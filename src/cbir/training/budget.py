"""Fitting a training run to a time budget (`TrainConfig.minutes`): how long each kind of epoch takes, first
estimated on a few steps of a throw-away copy of the network (`probe_seconds`), then measured (`TimePlan`). Every
clock reading is passed in, so the planner is tested without waiting."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from cbir.training.config import TrainConfig
from cbir.training.validation import predict

PROBE_WARMUP, PROBE_STEPS = 2, 4  # untimed, then timed training steps (their median) that estimate an epoch
# share of a time budget (`minutes`) left unplanned: on the same 2-core VM the probe's estimate of an epoch was
# 17% high one day, 4%, 7% and 13% low on others (docs/results/training.md)
BUDGET_RESERVE = 0.15
# the same once every kind of epoch still to come has been timed (`TimePlan.measured`): the epochs after the
# whitening bias froze took 74-85 s on one day (docs/results/training.md)
MEASURED_RESERVE = 0.05
# an epoch that took this share more or less than planned has the rest planned again: on 2026-12-06 a first epoch
# slowed by another job took 11 minutes, the next ones ~7, and 28 of an 85-minute budget went unused
DRIFT = 0.15


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


class EpochKind(NamedTuple):
    """What an epoch's time depends on: whether it trains on small crops, whether the whitening bias is frozen."""
    small: bool
    frozen: bool


KIND_NAMES = {EpochKind(False, False): "on whole images", EpochKind(False, True): "with the whitening bias frozen",
              EpochKind(True, False): "on small crops", EpochKind(True, True): "on small crops with the bias frozen"}


def probe_seconds(model: nn.Module, step: Callable, inputs: Callable, images: torch.Tensor, targets: torch.Tensor,
                  config: TrainConfig, steps_per_epoch: int, device: torch.device, bf16: bool,
                  val_images: np.ndarray | None,
                  clock: Callable[[], float] = time.perf_counter) -> tuple[dict[EpochKind, float], float]:
    """(seconds an epoch of `steps_per_epoch` training steps takes here, for each kind of epoch that `config` trains,
    seconds a pass over `val_images` takes), timed on training steps (`step(net, optimizer, x, y)`) of a throw-away
    copy of `model` on one batch (augmented by `inputs(net, images, generator, flips, crop)`), the first
    `PROBE_WARMUP` of each kind untimed, and on one batch of validation, by `clock`: the model and the run's random
    numbers stay untouched."""
    probe = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.0, momentum=config.momentum, nesterov=True)
    n = min(config.batch_size, len(images))
    generator = torch.Generator().manual_seed(0)

    def epoch_seconds(kind: EpochKind) -> float:
        if config.whiten_bias_epochs is not None:
            probe.whiten.bias.requires_grad_(not kind.frozen)
        seconds = []
        for _ in range(PROBE_WARMUP + PROBE_STEPS):
            started = clock()
            x = inputs(probe, images[:n], generator, None, config.small_crop if kind.small else 0)
            step(probe, optimizer, x, targets[:n])
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds.append(clock() - started)
        return steps_per_epoch * float(np.median(seconds[PROBE_WARMUP:]))

    kinds = [EpochKind(small, frozen) for frozen in (False, True)[:1 + (config.whiten_bias_epochs is not None)]
             for small in (False, True)[:1 + bool(config.small_crop)]]
    seconds = {kind: epoch_seconds(kind) for kind in kinds}
    if val_images is None or not len(val_images):
        return seconds, 0.0
    sample = val_images[:config.batch_size]
    started = clock()
    predict(probe, sample, device, bf16, tta=False)
    return seconds, (clock() - started) * len(val_images) / len(sample)


@dataclass
class TimePlan:
    """How a time budget (`minutes`) is spent: planned from `probe_seconds`'s estimates when the run starts, then
    again from measured epochs (the probe's few steps have been 4-20% off): the first, the first of each other
    kind (`EpochKind`: on small crops or not, the whitening bias frozen or not), and any that drifted from its
    estimate (`DRIFT`). A run whose plan changed is not step
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

    def replans_after(self, epoch: int, epochs: int, seconds: float) -> bool:
        """Whether the plan is made again once `epoch` (from 0) of `epochs` is done, after `seconds` of training and
        validation: the first of its kind, or one that took more than `DRIFT` more or less than planned (the
        machine got busier or quieter)."""
        kind = self.kind(epoch, epochs)
        planned = self.seconds[kind] + self.validation
        return kind not in self.timed or abs(seconds - planned) > DRIFT * planned

    def measured(self, epoch: int, epochs: int, seconds: float) -> TimePlan:
        """The plan after `epoch` (from 0; one that `replans_after`) of `epochs` took `seconds`, training and
        validation. The first epoch, and one of a kind already timed (it drifted), scale every estimate by what it
        took; each replaces the estimate of the epochs of its kind, and once every kind still to come (in this plan or
        one an epoch longer) has been timed the reserve shrinks to `MEASURED_RESERVE`. The first on whole images ends
        the small crops."""
        plan, kind = self, self.kind(epoch, epochs)
        if not kind.small and self.crops_end is None:
            plan = replace(plan, crops_end=epoch)
        if epoch == 0 or kind in self.timed:
            scale = seconds / (self.seconds[kind] + self.validation)
            plan = replace(plan, seconds={k: v * scale for k, v in self.seconds.items()},
                           validation=self.validation * scale, final=self.final * scale)
        plan = replace(plan, seconds=plan.seconds | {kind: seconds - plan.validation}, timed=plan.timed | {kind})
        if {plan.kind(e, epochs + 1) for e in range(epoch + 1, epochs + 1)} <= plan.timed:
            plan = replace(plan, reserve=MEASURED_RESERVE)
        return plan
