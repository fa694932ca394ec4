"""Knowledge distillation's teachers (Hinton et al. 2015): trained model folders whose averaged logits a run learns
from, checked so that none saw the images the run holds out."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cbir.errors import TrainingError
from cbir.features.cnn.model import ClassifierHead
from cbir.features.cnn.store import load_model
from cbir.training.config import TrainConfig


def load_teachers(config: TrainConfig, classes: list[str]) -> list[ClassifierHead]:
    """The teacher models, checked: trained on the same classes, and not on the images this run holds out."""
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


@torch.no_grad()
def taught_logits(teachers: list[ClassifierHead], student: ClassifierHead, x: torch.Tensor) -> torch.Tensor:
    """The teachers' averaged logits of the student's input batch `x`, each seeing it at its own input size."""
    return sum(t(student.from_input(x, t)).float() for t in teachers) / len(teachers)
