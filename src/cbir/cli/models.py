"""Sub-commands that train the CNN: train, tune."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from cbir.cli.args import collection_options, positive
from cbir.errors import CbirError


def model_config(args: argparse.Namespace):
    """The network `cbir train`'s options ask for: a pretrained backbone (`--backbone`) or the compact network, the
    options not given at their defaults (`cbir.features.cnn.config`)."""
    from cbir.features.cnn.config import BackboneConfig, ModelConfig

    shape = {"embedding_dim": args.embedding_dim}
    if args.backbone:
        compact = [flag for flag, value in (("--widths", args.widths), ("--depth", args.depth),
                                            ("--residual", args.residual)) if value]
        if compact:
            raise CbirError(f"{', '.join(compact)} shape the compact network only, not a backbone")
        shape |= {"backbone": args.backbone, "resolution": args.resolution}
        return BackboneConfig(**{k: v for k, v in shape.items() if v is not None})
    if args.resolution:
        raise CbirError("--resolution is a backbone's (--backbone); the compact network takes 32 x 32 images")
    shape |= {"widths": tuple(args.widths) if args.widths else None, "depth": args.depth, "residual": args.residual}
    return ModelConfig(**{k: v for k, v in shape.items() if v is not None})


def train_config(args: argparse.Namespace, images: int | None = None):
    """The `TrainConfig` that `cbir train`'s options ask for (`cbir.training.config.recipe`): a backbone's defaults
    for `--backbone` or an `--init` folder holding one (on a collection of `images` labelled images)."""
    from cbir.features.cnn.config import is_backbone
    from cbir.features.cnn.extractor import SHIPPED
    from cbir.training.config import ALL, OPTIONS, recipe

    given = {option.name: getattr(args, option.name) for option in OPTIONS if hasattr(args, option.name)}
    if given["init"] == "shipped":
        given["init"] = str(SHIPPED)
    given["teachers"] = tuple(given["teachers"]) if given["teachers"] else None
    every_epoch = given["whiten_bias_epochs"] == ALL
    if every_epoch:  # None, the value `all` stands for, would read as "not given"
        given["whiten_bias_epochs"] = None
    backbone = bool(args.backbone) or bool(given["init"]) and is_backbone(given["init"])
    config = recipe(backbone, images, **given)
    return replace(config, whiten_bias_epochs=None) if every_epoch else config


def cmd_train(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.training.loop import train

    model = model_config(args)
    dataset = load_dataset(args.dataset, split=args.split, data=args.data).stratified(args.max_train)
    config = train_config(args, len(dataset))
    card = train(dataset, args.out, config, model, device=args.device, command="cbir " + " ".join(sys.argv[1:]))
    val, epochs = card["validation_accuracy_tta"], card["epochs"]
    print(f"trained {epochs} epoch{'' if epochs == 1 else 's'} in {card['minutes']:.1f} min; "
          + ("no images held out (--val-images 0)" if val is None else f"held-out validation accuracy {val:.4f} "
             "(flip TTA)") + f" -> {args.out}")
    return 0


def _shown(default) -> str:
    """A default as `--help` says it."""
    return {None: "none", (): "none", True: "yes", False: "no"}.get(default, str(default)) \
        if isinstance(default, (bool, tuple, type(None))) else str(default)


def training_options(p: argparse.ArgumentParser) -> None:
    """`cbir train`'s recipe options, one per `TrainConfig` field, with both defaults in the help."""
    from cbir.training.config import OPTIONS, SMALL_COLLECTION, defaults

    for option in OPTIONS:
        cli = dict(option.metadata["cli"])
        flag = cli.pop("flag", "--" + option.name.replace("_", "-"))
        compact, backbone, small = defaults(option.name)
        if "type" not in cli and "action" not in cli:  # a yes/no option
            cli["action"] = argparse.BooleanOptionalAction
        default = f"default {_shown(compact)}" + ("" if backbone == small == compact else
                                                  f"; fine-tuning a backbone: {_shown(backbone)}") + (
            "" if small == backbone else f", on {SMALL_COLLECTION:,} labelled images or fewer: {_shown(small)}")
        p.add_argument(flag, dest=option.name, default=None, help=f"{option.metadata['help']} ({default})", **cli)


def cmd_tune(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.training.tune import run_tune

    dataset = load_dataset(args.dataset, data=args.data).stratified(args.max_train)
    best = run_tune(dataset, args.out, samples=args.samples, epochs=args.epochs, batch_size=args.batch_size,
                    val_images=args.val_images, cpus=args.cpus)
    print((Path(args.out) / "results.md").read_text())
    print(f"best configuration: {json.dumps(best)} (also in {args.out}/best_config.json)")
    return 0


def register(sub) -> None:
    """Add these sub-commands to the `cbir` parser."""
    p = sub.add_parser("train", help="train the CNN on a labelled collection and write a model folder")
    collection_options(p, required=False)
    p.add_argument("--out", required=True, help="model folder to write (resumes from its checkpoint)")
    from cbir.features.cnn.config import BACKBONES, BackboneConfig, ModelConfig

    compact, backbone = ModelConfig(), BackboneConfig()
    p.add_argument("--backbone", choices=BACKBONES,
                   help="fine-tune this ImageNet-pretrained network (its weights come with the 'cnn' extra) instead "
                        "of training the compact 32 x 32 network from scratch")
    p.add_argument("--resolution", type=positive,
                   help=f"the side images are resized to for a backbone (default {backbone.resolution})")
    p.add_argument("--widths", type=positive, nargs=3, metavar="W",
                   help=f"the compact network's block widths (default {' '.join(map(str, compact.widths))})")
    p.add_argument("--depth", type=positive, help=f"convolutions per block (default {compact.depth})")
    p.add_argument("--residual", action="store_true",
                   help="add each block's first convolution output to its last (needs --depth 2 or more)")
    p.add_argument("--embedding-dim", type=positive,
                   help=f"the embedding's width: the image vectors' (default {compact.embedding_dim})")
    training_options(p)
    p.add_argument("--max-train", type=positive, help="train on a class-stratified subset")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="search CNN hyper-parameters with Ray Tune (ASHA) on a data subset")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data", help="where CIFAR-10 is; else $CBIR_CIFAR10")
    p.add_argument("--out", required=True, help="folder for results.csv, results.md, best_config.json")
    p.add_argument("--samples", type=positive, default=6, help="trials (default 6)")
    p.add_argument("--epochs", type=positive, default=4, help="epochs per trial at most (default 4)")
    p.add_argument("--max-train", type=positive, default=5000, help="training subset (default 5000)")
    p.add_argument("--val-images", type=positive, default=1000)
    p.add_argument("--batch-size", type=positive, default=256)
    p.add_argument("--cpus", type=positive, help="CPUs for Ray (default: all)")
    p.set_defaults(func=cmd_tune)
