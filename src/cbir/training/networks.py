"""The network a training run starts from: a new compact network, a model folder to go on from, or an
ImageNet-pretrained backbone; a classifier for other classes starts from the class means of its embeddings."""

from __future__ import annotations

from dataclasses import replace

import torch

from cbir.datasets.collection import Dataset
from cbir.errors import TrainingError
from cbir.features.cnn.backbone import BackboneConfig, BackboneNet
from cbir.features.cnn.model import CifarNet, ClassifierHead, ModelConfig
from cbir.features.cnn.store import load_model
from cbir.training.config import TrainConfig
from cbir.training.validation import predict

IMPRINT_IMAGES = 5000  # training images whose embeddings start a new classifier (`ClassifierHead.new_head`)


def network(config: TrainConfig, model_config: ModelConfig | BackboneConfig | None, classes: list[str],
            dataset: Dataset) -> tuple[ClassifierHead, torch.Tensor]:
    """(the network a run starts from, the training images at its input size): a model folder (`config.init`), an
    ImageNet-pretrained backbone, or a new compact network (its whitening layer fitted to `dataset`). A classifier
    for other classes than the network's starts from the class means of its embeddings."""
    if config.init:
        model, known = load_model(config.init)
    elif isinstance(model_config, BackboneConfig):
        model, known = BackboneNet.pretrained(replace(model_config)), None  # its own copy: `new_head` sets it
    else:
        model_config = model_config or ModelConfig()
        if model_config.residual and model_config.depth < 2:
            raise TrainingError("a residual block (--residual) needs two or more convolutions (--depth 2 or more)")
        model, known = CifarNet(replace(model_config, num_classes=len(classes))), classes
    images = torch.from_numpy(model.stack(dataset.images))
    sample = torch.randperm(len(images))[:IMPRINT_IMAGES]
    if isinstance(model, CifarNet) and not config.init:
        model.init_whitening(model.to_input(images[sample]))
        model.init_identity()
    if isinstance(model, BackboneNet) and not config.init:
        model.init_embedding_norm(model.to_input(images[sample[s: s + 256]]) for s in range(0, len(sample), 256))
    if known != classes:
        targets = torch.tensor([classes.index(label) for label in dataset.labels])
        model.new_head(predict(model, images[sample].numpy(), torch.device("cpu"), bf16=False, tta=False,
                               embed=True), targets[sample], len(classes))
    return model, images
