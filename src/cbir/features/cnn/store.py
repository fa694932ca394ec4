"""A trained model as a folder: config.json, fp16 weights, and a model card (JSON + Markdown)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from cbir.errors import CbirError
from cbir.features.cnn.model import CifarNet, ModelConfig

WEIGHTS = "weights.pt"


def save_model(model: CifarNet, card: dict, out: str | Path) -> None:
    """Write the model folder (weights stored as float16: half the size, same accuracy)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(state, out / WEIGHTS)
    (out / "config.json").write_text(json.dumps({"model": model.config.to_dict(), "classes": card["classes"]},
                                                indent=2))
    (out / "model_card.json").write_text(json.dumps(card, indent=2))
    (out / "MODEL_CARD.md").write_text(_markdown(card))


def weights_digest(path: str | Path) -> str:
    return hashlib.sha256((Path(path) / WEIGHTS).read_bytes()).hexdigest()[:16]


def load_model(path: str | Path) -> tuple[CifarNet, list[str]]:
    """(model in eval mode on the CPU, class names) from a model folder."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
        state = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CbirError(f"no trained model at {path}: train one with `cbir train --out {path}`") from exc
    model = CifarNet(ModelConfig.from_dict(config["model"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval().to(memory_format=torch.channels_last), config["classes"]


def _markdown(card: dict) -> str:
    rows = "\n".join(f"| {h['epoch']} | {h['minutes']:.1f} | {h['train_accuracy']:.4f} | "
                     f"{'-' if h['val_accuracy'] is None else format(h['val_accuracy'], '.4f')} |"
                     for h in card["history"])
    val = card.get("validation_accuracy_tta")
    return (f"# Model card\n\n- data: {card['data']}\n- classes: {', '.join(card['classes'])}\n"
            f"- recipe: {json.dumps(card['recipe'])}\n- model: {json.dumps(card['model'])}\n"
            f"- epochs: {card['epochs']}, training time: {card['minutes']} min on {card['machine']}\n"
            f"- held-out validation accuracy (flip TTA): {'-' if val is None else format(val, '.4f')}\n"
            f"- test accuracy: {card.get('test_accuracy', 'not measured')}\n"
            f"- command: `{card.get('command')}`\n\n| epoch | minutes | train acc | validation acc |\n"
            f"|---|---|---|---|\n{rows}\n")
