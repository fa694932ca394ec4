"""The training recipe's parts (`cbir.training.loop` puts them together): the optimiser and its parameter groups, a
training step (cross-entropy, mixed with distillation, SAM's two passes), flip + translate + cutout augmentation
with alternating flips, the EMA update, the distillation loss, and SAM's ascent step. Facts from public
fast-training recipes and papers, code written here."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cbir.features.cnn.model import ClassifierHead
from cbir.training.config import TrainConfig
from cbir.training.teachers import taught_logits


def alternating_flips(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Which of `n` images to mirror in `epoch` under alternating flip: a random half (fixed by `seed`) in
    even epochs, the other half in odd ones, so every image is seen mirrored every other epoch."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return first ^ bool(epoch % 2)


def augment(x: torch.Tensor, translate: int, generator: torch.Generator, cutout: int = 0,
            flip: torch.Tensor | None = None, crop: int = 0) -> torch.Tensor:
    """Horizontal flips (of the images where `flip` is true, else of a random half), translations of up to
    `translate` pixels (reflect padding) or, when `crop`, a random `crop` x `crop` window instead (one place per
    batch, as the translation), and, when `cutout`, one `cutout`-sized square per image set to the mean (0 after
    normalisation)."""
    n = x.shape[0]
    if flip is None:
        flip = torch.rand(n, generator=generator, device="cpu") < 0.5
    flip = flip.to(x.device)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    h, w = x.shape[2:]
    if crop:
        dy, dx = (int(torch.randint(0, side - crop + 1, (), generator=generator)) for side in (h, w))
        x, h, w = x[:, :, dy: dy + crop, dx: dx + crop], crop, crop
    elif translate:
        padded = nn.functional.pad(x, (translate,) * 4, mode="reflect")
        dy, dx = torch.randint(0, 2 * translate + 1, (2,), generator=generator).tolist()
        x = padded[:, :, dy: dy + h, dx: dx + w]
    if cutout:
        centres = torch.randint(0, max(h, w), (2, n, 1), generator=generator).to(x.device)
        rows = (torch.arange(h, device=x.device) - centres[0]).abs() <= cutout // 2
        cols = (torch.arange(w, device=x.device) - centres[1]).abs() <= cutout // 2
        x = x * ~(rows[:, :, None] & cols[:, None, :])[:, None]
    return x.contiguous(memory_format=torch.channels_last)


def ema_with_warmup(decay: float) -> Callable:
    """An `AveragedModel` update: EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n
    updates, so that short runs (a few dozen steps, as in `cbir tune`) do not evaluate near-initial weights."""
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        n = int(n_averaged)
        d = min(decay, (1 + n) / (10 + n))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - d)
        else:  # integer buffers (BatchNorm's batch counter) follow the model
            for a, c in zip(averaged, current):
                a.copy_(c)

    return update


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of temperature-softened class distributions, scaled by T^2."""
    t = temperature
    return nn.functional.kl_div(nn.functional.log_softmax(student.float() / t, dim=1),
                                nn.functional.log_softmax(teacher.float() / t, dim=1),
                                reduction="batchmean", log_target=True) * t * t


def sharpness_step(params: list[torch.Tensor], rho: float) -> list[torch.Tensor]:
    """SAM's first step: move the weights by rho along their gradient (L2 norm over all of them); returns the moves."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
    moves = [p.grad * (rho / (norm + 1e-12)) for p in params]
    with torch.no_grad():
        for p, move in zip(params, moves):
            p.add_(move)
    return moves


def keep_norm_statistics(model: nn.Module) -> None:
    """Every BatchNorm of a model in training mode normalises with its running statistics and keeps them as they are
    (`frozen_norms`); its scales and biases still train."""
    for norm in model.modules():
        if isinstance(norm, nn.modules.batchnorm._BatchNorm):
            norm.eval()


def optimizer_of(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Nesterov SGD: weight decay on the weights of convolutions and linear layers, none on the rest; the BatchNorm
    biases at `norm_bias_lr` times the rate (a group of their own only at another rate: at 1, checkpoints of
    versions before that option still resume). BatchNorm scales train only with `norm_scales`."""
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for norm in norms:
        norm.weight.requires_grad_(config.norm_scales)
    norm_biases = {id(norm.bias) for norm in norms} if config.norm_bias_lr != 1 else set()
    decay, no_decay, biases = [], [], []
    for p in (p for p in model.parameters() if p.requires_grad):
        (biases if id(p) in norm_biases else decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0, "lr": config.lr * config.norm_bias_lr})
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)


def step_function(config: TrainConfig, teachers: list[ClassifierHead], dev: torch.device, bf16: bool) -> Callable:
    """`step(net, optimizer, x, y) -> (loss, logits)`: one optimiser step on a batch (two passes with SAM), the
    loss on the labels mixed with the teachers' when distilling."""
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def batch_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   taught: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = net(x)
            loss = loss_fn(logits.float(), y)
            if taught is not None:
                loss = ((1 - config.distill) * loss
                        + config.distill * distillation_loss(logits, taught, config.distill_temperature))
        return loss, logits

    def step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
             y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        taught = None
        if teachers:
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                taught = taught_logits(teachers, net, x)
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

    return step
