"""A trained model as a folder: config.json, weights, and a model card (JSON + Markdown, with its
accuracy-vs-minutes curve as training.png).

The network is the compact CIFAR one (`CifarNet`) or, when config.json names a backbone, a pretrained body under
the same embedding and classifier (`BackboneNet`). Weights are stored as float16, or (`int8_weights`, for larger
networks) with the blocks' convolution weights as int8 per output channel plus one float scale each: half the size
again, and exactly what the int8 inference path computes (a positive BatchNorm scale folded in later
commutes with per-channel quantisation); the float path reads them dequantised.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import torch

from cbir.errors import CbirError
from cbir.features.cnn.model import CifarNet, ClassifierHead, ModelConfig

WEIGHTS = "weights.pt"
CURVE = "training.png"
SCALE = "int8_scale."  # prefix of the per-channel scales of an int8-stored weight


def _int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 weight, float32 scale per output channel): symmetric, the largest magnitude at 127."""
    scale = weight.float().abs().amax(dim=tuple(range(1, weight.ndim))).clamp_min(1e-12) / 127
    shape = (-1,) + (1,) * (weight.ndim - 1)
    return torch.round(weight.float() / scale.view(shape)).clamp(-127, 127).to(torch.int8), scale


def network(config: dict) -> ClassifierHead:
    """An untrained network of a model folder's config.json "model" entry."""
    if "backbone" in config:
        from cbir.features.cnn.backbone import BackboneConfig, BackboneNet

        return BackboneNet(BackboneConfig(**config))
    return CifarNet(ModelConfig.from_dict(config))


def stored_state(model: ClassifierHead, int8_weights: bool = False) -> dict[str, torch.Tensor]:
    """The state dict as written: float16, or int8 block convolutions (+ scales) with `int8_weights`."""
    state = {}
    for k, v in model.state_dict().items():
        if int8_weights and k.startswith(model.INT8_PREFIX) and v.ndim == 4:
            state[k], state[SCALE + k] = _int8(v)
        else:
            state[k] = v.half() if v.is_floating_point() else v
    return state


def loaded_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A stored state dict back in float32 (int8 weights dequantised)."""
    state = dict(state)
    for key in [k for k in state if k.startswith(SCALE)]:
        scale, name = state.pop(key), key[len(SCALE):]
        state[name] = state[name].float() * scale.view((-1,) + (1,) * (state[name].ndim - 1))
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_model(model: ClassifierHead, card: dict, out: str | Path, int8_weights: bool = False) -> None:
    """Write the model folder (see `stored_state`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(stored_state(model, int8_weights), out / WEIGHTS)
    (out / "config.json").write_text(json.dumps({"model": model.config.to_dict(), "classes": card["classes"]},
                                                indent=2))
    write_card(card, out)


def write_card(card: dict, out: Path) -> None:
    """model_card.json, MODEL_CARD.md and the training curve (when matplotlib is there) into `out`."""
    (out / "model_card.json").write_text(json.dumps(card, indent=2))
    plotted = plot_history(card, out / CURVE)
    (out / "MODEL_CARD.md").write_text(_markdown(card) + (f"\n![accuracy against training minutes]({CURVE})\n"
                                                          if plotted else ""))


def plot_history(card: dict, path: str | Path) -> bool:
    """Accuracy against training minutes (held-out validation per epoch, training batches, the test
    accuracy when measured) as a PNG; False, and nothing written, without matplotlib or history."""
    if importlib.util.find_spec("matplotlib") is None or not card["history"]:
        return False  # e.g. a bare GPU box with torch only: the card has the numbers
    from cbir.plots import saved_figure

    history = card["history"]
    minutes = [h["minutes"] for h in history]
    with saved_figure(path, figsize=(6, 4), dpi=120) as (_, ax):
        if any(h["val_accuracy"] is not None for h in history):
            ax.plot(minutes, [h["val_accuracy"] for h in history], "o-", label="held-out validation (one view)")
        ax.plot(minutes, [h["train_accuracy"] for h in history], "s--", alpha=0.6, label="training batches")
        if card.get("test_accuracy") is not None:
            ax.axhline(card["test_accuracy"], color="green", linestyle=":",
                       label=f"final test, flip TTA: {card['test_accuracy']:.4f}")
        ax.set(xlabel=f"training minutes ({card['machine']})", ylabel="accuracy",
               title=f"cbir train: {card['epochs']} epochs, {card['data']}")
        ax.title.set_fontsize(8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return True


def weights_digest(path: str | Path) -> str:
    return hashlib.sha256((Path(path) / WEIGHTS).read_bytes()).hexdigest()[:16]


def load_model(path: str | Path) -> tuple[ClassifierHead, list[str]]:
    """(model in eval mode on the CPU, class names) from a model folder."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
        state = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CbirError(f"no trained model at {path}: train one with `cbir train --out {path}`") from exc
    model = network(config["model"])
    model.load_state_dict(loaded_state(state))
    return model.eval().to(memory_format=torch.channels_last), config["classes"]


def _markdown(card: dict) -> str:
    rows = "\n".join(f"| {h['epoch']} | {h['minutes']:.1f} | {h['train_accuracy']:.4f} | "
                     f"{'-' if h['val_accuracy'] is None else format(h['val_accuracy'], '.4f')} |"
                     for h in card["history"])
    val = card.get("validation_accuracy_tta")
    moved = card.get("validation_accuracy_translate_tta")
    moved = "" if moved is None else f"; with the views also moved: {moved:.4f}"
    single, test_moved = card.get("test_accuracy_single_view"), card.get("test_accuracy_translate_tta")
    single = "" if single is None else f" (flip TTA); single view {single}"
    single += "" if test_moved is None else f"; flip TTA with the views also moved: {test_moved}"
    budget = card["recipe"].get("minutes")
    budget = "" if budget is None else f" (as many as fit in {budget:g} min)"
    return (f"# Model card\n\n- data: {card['data']}\n- classes: {', '.join(card['classes'])}\n"
            f"- recipe: {json.dumps(card['recipe'])}\n- model: {json.dumps(card['model'])}\n"
            f"- epochs: {card['epochs']}{budget}, training time: {card['minutes']} min on {card['machine']}\n"
            f"- held-out validation accuracy (flip TTA): {'-' if val is None else format(val, '.4f')}{moved}\n"
            f"- test accuracy: {card.get('test_accuracy', 'not measured')}{single}\n"
            f"- command: `{card.get('command')}`\n\n| epoch | minutes | train acc | validation acc |\n"
            f"|---|---|---|---|\n{rows}\n")
