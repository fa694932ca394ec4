"""The training loop of `cbir train`: a labelled collection in, a model folder out. The library never imports
this package.

Recipe (facts from public fast-training recipes, code written here; its parts in `cbir.training.recipe`): Nesterov
SGD with a linear warm-up / linear decay schedule, label smoothing, flip + random translate (+ optional cutout)
augmentation (each image mirrored every other epoch, the fast-training recipes' derandomised flip), an exponential
moving average (EMA) of the weights, flip test-time augmentation (the final validation also with the views moved
`TTA_SHIFT` pixels), channels_last + bf16 autocast where it is fast (`model.fast_bf16`), CUDA when present (the whole
training set then lives on the GPU).

The network is the compact CIFAR one (`ModelConfig`), a model folder to go on from (`init`: trained on other
classes, it gets a new classifier), or an ImageNet-pretrained backbone fine-tuned whole (`BackboneConfig`: its own
input size; `BACKBONE_RECIPE`'s defaults). A new classifier starts from the class means of the embeddings (weight
imprinting). Optional knowledge distillation: `teachers` and `distill` mix a temperature-softened KL term into the
loss (`cbir.training.teachers`). Optional sharpness-aware minimisation (SAM, Foret et al. 2021): `sam` = rho.
`int8_weights` stores the block convolutions as int8 (`store.stored_state`); the final validation reads the weights
as stored. The compact network's optimiser settings and initialisation are the fast-training recipes' (the defaults
since 2026-12-04, measured in docs/training.md): a large step and strong weight decay, block convolutions started as
the identity, BatchNorm scales fixed at 1 (`norm_scales=False`), BatchNorm biases trained at 64x the rate
(`norm_bias_lr`), the whitening layer's bias frozen after `whiten_bias_epochs` (~10% faster epochs), and
`small_crop` (progressive resizing by cropping). `minutes` fits the number of epochs to a time budget
(`cbir.training.budget`). Per-epoch validation on a held-out part of the TRAINING split (`val_seed` alone decides
which, so runs with different seeds are validated alike and can teach each other); a checkpoint after every epoch,
resumed automatically after an interruption (other options than the epochs and the budget are refused);
deterministic for a given seed and number of epochs.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.errors import TrainingError
from cbir.features.cnn.backbone import BackboneConfig, BackboneNet
from cbir.features.cnn.model import TTA_SHIFT, ClassifierHead, ModelConfig, fast_bf16, tta_views
from cbir.features.cnn.store import loaded_state, save_model, stored_state
from cbir.training.budget import KIND_NAMES, TimePlan, epochs_begun, epochs_of, probe_seconds, small_epochs
from cbir.training.config import TrainConfig
from cbir.training.networks import network
from cbir.training.recipe import (alternating_flips, augment, ema_with_warmup, keep_norm_statistics, optimizer_of,
                                  step_function)
from cbir.training.teachers import load_teachers
from cbir.training.validation import accuracy, split_validation, validation_size

POSTFIX_EVERY = 20  # steps between progress-bar updates of loss and accuracy
RESUMABLE = ("epochs", "minutes")  # the options a resumed run may change


def device_of(preferred: str | None = None) -> torch.device:
    return torch.device(preferred or ("cuda" if torch.cuda.is_available() else "cpu"))


def cpu_name() -> str:
    """This CPU's name and widest vector extension, which set its training speed (model cards)."""
    capabilities = torch.cpu.get_capabilities()
    widest = next((name for name in ("avx512_f", "avx2") if capabilities.get(name)), None)
    return f"{capabilities.get('cpu_name') or platform.processor() or 'CPU'}" + (
        f" ({widest.split('_')[0].upper()})" if widest else "")


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


def time_plan(model: ClassifierHead, step: Callable, inputs: Callable, images: torch.Tensor, targets: torch.Tensor,
              config: TrainConfig, steps_per_epoch: int, dev: torch.device, bf16: bool,
              val_part: Dataset | None) -> tuple[TimePlan, int]:
    """(the plan of a run with a time budget, its training steps), from a few timed steps (`probe_seconds`)."""
    print(f"time budget {config.minutes:g} min: timing a few training steps ...", flush=True)
    probing = time.perf_counter()
    seconds, validation = probe_seconds(model, step, inputs, images, targets, config, steps_per_epoch, dev, bf16,
                                        val_part.images if val_part else None, clock=time.perf_counter)
    # the model card's two validations: flip TTA, then with the views also moved
    final = validation * sum(len(tta_views(model.to_input(images[:1]), shift=s)) for s in (0, TTA_SHIFT))
    plan = TimePlan(probing, config.minutes * 60, seconds, validation, final, config.whiten_bias_epochs,
                    config.small_share if config.small_crop else 0.0)
    now = time.perf_counter()
    steps = plan.steps(now, steps_per_epoch)
    print("an epoch takes here "
          + "; ".join(f"~{s + validation:.0f} s {KIND_NAMES[kind]}" for kind, s in seconds.items())
          + f"; the final validation ~{final:.0f} s: so {epochs_of(steps, steps_per_epoch)} epochs"
          + (" (over the budget)" if plan.cost(0, plan.epochs(now)) > plan.left(now) else "")
          + " (planned again as epochs are timed)", flush=True)
    return plan, steps


@dataclass
class Run:
    """What a run checkpoints after every epoch, and resumes from."""
    model: ClassifierHead
    ema: AveragedModel
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    state: dict  # epoch (done), epochs, steps, history, seconds, small_epochs

    def save(self, checkpoint: Path, config: TrainConfig) -> None:
        """Write the checkpoint atomically (a crash leaves the previous one)."""
        torch.save({"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                    "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                    "state": self.state, "generator": self.generator.get_state(), "recipe": asdict(config),
                    "network": self.model.config.to_dict()}, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    def restore(self, saved: dict, checkpoint: Path) -> None:
        """Go on from a checkpoint of this run (its epochs and steps as they are now set)."""
        self.model.load_state_dict(saved["model"])
        self.ema.load_state_dict(saved["ema"])
        try:
            self.optimizer.load_state_dict(saved["optimizer"])
        except ValueError as exc:  # a checkpoint of an earlier version, which did not record its options
            raise TrainingError(f"{checkpoint} was written with other training options ({exc}) by a version before "
                                f"2026-12-04, which did not record them: train into another --out") from exc
        self.schedule.load_state_dict(saved["schedule"])
        self.state = {"small_epochs": 0} | saved["state"] | {k: self.state[k] for k in ("epochs", "steps")}
        self.generator.set_state(saved["generator"])
        print(f"resuming after epoch {self.state['epoch']} ({checkpoint})", flush=True)


def load_checkpoint(checkpoint: Path, config: TrainConfig, model: ClassifierHead) -> dict | None:
    """The run's checkpoint, if any, checked: the same options (but the epochs and the budget), the same network."""
    if not checkpoint.exists():
        return None
    saved = torch.load(checkpoint, weights_only=False)
    check_resumable(saved.get("recipe"), config, checkpoint)
    if saved.get("network", model.config.to_dict()) != model.config.to_dict():
        raise TrainingError(f"{checkpoint} was started with another network ({saved['network']}): resume it with "
                            f"the network it started with, or train into another --out")
    return saved


def train_epoch(run: Run, step: Callable, inputs: Callable, images: torch.Tensor, targets: torch.Tensor,
                config: TrainConfig, epoch: int, epoch_steps: int, progress: bool) -> float:
    """Train `epoch` (from 0) on `epoch_steps` batches; returns the accuracy on its training batches."""
    model = run.model.train()
    if config.frozen_norms:
        keep_norm_statistics(model)
    if config.whiten_bias_epochs is not None:
        model.whiten.bias.requires_grad_(epoch < config.whiten_bias_epochs)
    order = torch.randperm(len(images), generator=run.generator)
    flips = alternating_flips(len(images), config.seed, epoch)
    crop = config.small_crop if epoch < run.state["small_epochs"] else 0
    bar = tqdm(range(epoch_steps), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, mininterval=1.0)
    correct, seen = torch.zeros((), dtype=torch.long, device=images.device), 0
    for i in bar:
        batch = order[i * config.batch_size: (i + 1) * config.batch_size]
        idx = batch.to(images.device)
        y = targets[idx]
        loss, logits = step(model, run.optimizer, inputs(model, images[idx], run.generator, flips[batch], crop), y)
        run.schedule.step()
        run.ema.update_parameters(model)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if i % POSTFIX_EVERY == 0 or i == epoch_steps - 1:  # reading them waits for the GPU
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{int(correct) / seen:.3f}")
    return int(correct) / seen


def train(dataset: Dataset, out: str | Path, config: TrainConfig | None = None,
          model_config: ModelConfig | BackboneConfig | None = None, device: str | None = None,
          progress: bool = True, command: str | None = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train on a labelled collection and write a model folder to `out`; returns the model card dict.

    `on_epoch` receives each epoch's record (epoch, train and validation accuracy, minutes).
    """
    config, out = config or TrainConfig(), Path(out)
    if config.init and isinstance(model_config, BackboneConfig):
        raise TrainingError("a run starts from a model folder (--init) or from a pretrained backbone (--backbone), "
                            "not both")
    config.check(backbone=isinstance(model_config, BackboneConfig))
    dataset.require_classes("training", TrainingError)
    config = replace(config, val_images=validation_size(config.val_images, len(dataset)))
    torch.manual_seed(config.seed)
    dev = device_of(device)
    torch.backends.cudnn.benchmark = dev.type == "cuda"
    bf16 = config.bf16 and fast_bf16(dev.type)
    classes = dataset.classes
    train_part, val_part = split_validation(dataset, config.val_images, config.val_seed)
    model, images = network(config, model_config, classes, train_part)
    config.check(backbone=isinstance(model, BackboneNet))  # `init` may be a fine-tuned backbone
    model = model.to(dev, memory_format=torch.channels_last)
    targets = torch.tensor([classes.index(label) for label in train_part.labels], device=dev)
    images = images.to(dev)
    teachers = [t.to(dev, memory_format=torch.channels_last) for t in load_teachers(config, classes)]
    translate = round(config.translate * model.input_size[0] / 32)  # the recipe's pixels are a 32-pixel image's

    def inputs(net: ClassifierHead, batch: torch.Tensor, generator: torch.Generator, flips: torch.Tensor | None,
               crop: int) -> torch.Tensor:
        return augment(net.to_input(batch), translate, generator, config.cutout, flips, crop)

    optimizer = optimizer_of(model, config)
    step = step_function(config, teachers, dev, bf16)
    steps_per_epoch = max(1, len(images) // config.batch_size)
    checkpoint = out / "checkpoint.pt"
    saved = load_checkpoint(checkpoint, config, model)
    plan = None  # a `TimePlan` when this run fits its epochs to a time budget (not when it resumes one)
    steps = steps_per_epoch * config.epochs  # in all (a time budget may end on part of an epoch)
    if config.minutes:
        if saved and saved["state"].get("epochs") is not None:
            steps = saved["state"].get("steps", steps_per_epoch * saved["state"]["epochs"])
        else:
            plan, steps = time_plan(model, step, inputs, images, targets, config, steps_per_epoch, dev, bf16,
                                    val_part)
        config = replace(config, epochs=epochs_begun(steps, steps_per_epoch))

    def lr_factor(s: int) -> float:
        """Linear warm-up over the first `warmup` of the steps, then linear decay to 0 at the last (of the `steps`
        as they are now: the time plan may change them)."""
        warm = max(1, int(config.warmup * steps))
        return (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm))

    # the epochs on small crops: set here and by the time plan; a resumed run keeps them
    run = Run(model, AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True),
              optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor),
              torch.Generator().manual_seed(config.seed),
              {"epoch": 0, "epochs": config.epochs, "steps": steps, "history": [], "seconds": 0.0,
               "small_epochs": small_epochs(config.small_share if config.small_crop else 0.0, config.epochs)})
    if saved:
        run.restore(saved, checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    state, epoch = run.state, run.state["epoch"]
    while epoch < config.epochs:  # the time plan may change the epochs as they go
        started = time.perf_counter()
        epoch_steps = min(steps_per_epoch, steps - epoch * steps_per_epoch)  # the last may be a part
        train_accuracy = train_epoch(run, step, inputs, images, targets, config, epoch, epoch_steps, progress)
        state["seconds"] += time.perf_counter() - started
        val_acc = accuracy(run.ema.module, val_part, classes, dev, bf16, tta=False) if val_part else None
        state["history"].append({"epoch": epoch + 1, "train_accuracy": train_accuracy, "val_accuracy": val_acc,
                                 "minutes": state["seconds"] / 60})
        state["epoch"] = epoch + 1
        print(f"epoch {epoch + 1}: train acc {train_accuracy:.4f}"
              + (f", validation acc {val_acc:.4f}" if val_acc is not None else "")
              + f", {state['seconds'] / 60:.1f} min", flush=True)
        # a timed whole epoch: the budget planned again from it
        now = time.perf_counter()
        if plan and epoch_steps == steps_per_epoch and plan.replans_after(epoch, config.epochs, now - started):
            plan = plan.measured(epoch, config.epochs, now - started)
            steps = plan.steps(now, steps_per_epoch, done=epoch + 1)
            epochs = epochs_begun(steps, steps_per_epoch)
            print(f"epoch {epoch + 1} took {now - started:.0f} s: {epochs_of(steps, steps_per_epoch)} epochs in all",
                  flush=True)
            config, state["epochs"], state["steps"] = replace(config, epochs=epochs), epochs, steps
            state["small_epochs"] = plan.small_epochs(epochs)
        run.save(checkpoint, config)
        if on_epoch:
            on_epoch(state["history"][-1])
        epoch += 1
    return finish(run.ema.module, config, state, steps_per_epoch, steps, dataset, train_part, val_part, classes, dev,
                  bf16, out, command)


def finish(final: ClassifierHead, config: TrainConfig, state: dict, steps_per_epoch: int, steps: int,
           dataset: Dataset, train_part: Dataset, val_part: Dataset | None, classes: list[str], dev: torch.device,
           bf16: bool, out: Path, command: str | None) -> dict:
    """Validate the trained network as stored (flip TTA; then with the views also moved), write the model folder
    and return its card."""
    final.load_state_dict(loaded_state(stored_state(final, config.int8_weights)))
    card = {
        "data": f"{dataset.name}: {len(train_part)} training images, {len(val_part) if val_part else 0} held out",
        "classes": classes, "recipe": asdict(config), "model": final.config.to_dict(),
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
