"""Sub-commands that train the CNN: train, tune."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cbir.cli.args import collection_options, positive

if TYPE_CHECKING:  # torch stays out of the parser
    from cbir.features.cnn.train import TrainConfig


def epochs_or_all(text: str) -> int | None:
    """A number of epochs (0 or more), or None for 'all'."""
    if text == "all":
        return None
    try:
        epochs = int(text)
    except ValueError:
        epochs = -1
    if epochs < 0:
        raise argparse.ArgumentTypeError(f"expected a number of epochs (0 or more) or 'all', got {text!r}")
    return epochs


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The `TrainConfig` that `cbir train`'s options ask for."""
    from cbir.features.cnn.extractor import SHIPPED
    from cbir.features.cnn.train import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                       weight_decay=args.weight_decay, val_images=args.val_images,
                       seed=args.seed, val_seed=args.val_seed, translate=args.translate, cutout=args.cutout,
                       init=str(SHIPPED) if args.init == "shipped" else args.init,
                       teachers=tuple(args.teacher), distill=args.distill,
                       distill_temperature=args.distill_temperature, sam=args.sam,
                       int8_weights=args.int8_weights, minutes=args.minutes, flip=args.flip, dirac=args.dirac,
                       norm_scales=args.norm_scales, whiten_bias_epochs=args.whiten_bias_epochs,
                       norm_bias_lr=args.norm_bias_lr, small_crop=args.small_crop, small_share=args.small_share)


def cmd_train(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.features.cnn.model import ModelConfig
    from cbir.features.cnn.train import train

    dataset = load_dataset(args.dataset, split=args.split, data=args.data).stratified(args.max_train)
    model = ModelConfig(widths=tuple(args.widths), embedding_dim=args.embedding_dim, depth=args.depth,
                        residual=args.residual)
    card = train(dataset, args.out, train_config(args), model, device=args.device,
                 command="cbir " + " ".join(sys.argv[1:]))
    val, epochs = card["validation_accuracy_tta"], card["epochs"]
    print(f"trained {epochs} epoch{'' if epochs == 1 else 's'} in {card['minutes']:.1f} min; "
          + ("no images held out (--val-images 0)" if val is None else f"held-out validation accuracy {val:.4f} "
             "(flip TTA)") + f" -> {args.out}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from cbir.datasets import load_dataset
    from cbir.tune import run_tune

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
    p.add_argument("--epochs", type=positive, default=15)
    p.add_argument("--minutes", type=float,
                   help="a time budget: as many epochs (instead of --epochs) as fit in 85%% of this many "
                        "minutes, the final validation included, at the speed measured on a few steps first; "
                        "planned again on the first epoch, then on the first of each other kind (the whitening bias "
                        "frozen, --small-crop or not), the last of them into 95%% of the minutes; the rest goes to "
                        "as many batches of one more epoch as fit")
    p.add_argument("--batch-size", type=positive, default=512)
    p.add_argument("--lr", type=float, default=0.37, help="peak learning rate (default 0.37)")
    p.add_argument("--momentum", type=float, default=0.92, help="Nesterov momentum (default 0.92)")
    p.add_argument("--weight-decay", type=float, default=1.5e-3,
                   help="of the convolution and linear weights (default 0.0015)")
    p.add_argument("--widths", type=positive, nargs=3, default=[64, 256, 256], metavar="W")
    p.add_argument("--depth", type=positive, default=2, help="convolutions per block (default 2)")
    p.add_argument("--residual", action="store_true",
                   help="add each block's first convolution output to its last (needs --depth 2 or more)")
    p.add_argument("--int8-weights", action="store_true",
                   help="store the block convolutions as int8 per output channel (half the size of fp16)")
    p.add_argument("--embedding-dim", type=positive, default=256)
    p.add_argument("--translate", type=int, default=2, help="random translation in pixels (default 2)")
    p.add_argument("--cutout", type=int, default=0, help="side of a random square blanked per image (default 0)")
    p.add_argument("--flip", choices=["alternate", "random"], default="alternate",
                   help="mirror each image every other epoch (default), or a random half at each step (random: "
                        "the recipe of the runs recorded before 2026-11-28)")
    p.add_argument("--dirac", action=argparse.BooleanOptionalAction, default=True,
                   help="start a new network's block convolutions as the identity (default; --no-dirac: PyTorch's "
                        "random initialisation)")
    p.add_argument("--norm-scales", action=argparse.BooleanOptionalAction, default=False,
                   help="train the BatchNorm scales (default: they stay fixed, at 1 in a new network)")
    p.add_argument("--norm-bias-lr", type=float, default=64.0, metavar="X",
                   help="the BatchNorm biases' learning rate as X times --lr (default 64, as in the fast-training "
                        "recipes; before 2026-12-04: 1)")
    p.add_argument("--whiten-bias-epochs", type=epochs_or_all, default=3, metavar="N|all",
                   help="freeze the whitening layer's bias after N epochs (default 3): later steps skip the first "
                        "block's input gradient; 'all' trains it throughout (the recipe before 2026-11-28)")
    p.add_argument("--small-crop", type=int, default=0, metavar="PIXELS",
                   help="train the first epochs (--small-share of them) on random crops of this side instead of "
                        "translated images, e.g. 24: about half the arithmetic of an epoch (default 0: none)")
    p.add_argument("--small-share", type=float, default=0.5, metavar="F",
                   help="the share of the epochs on small crops (default 0.5)")
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="start from this trained model (its widths; 'shipped' for the CIFAR-10 one); trained on "
                        "other classes, it gets a new classifier (fine-tuning)")
    p.add_argument("--teacher", action="append", default=[], metavar="MODEL_DIR",
                   help="a trained model to distil from (repeat for an ensemble: their logits are averaged)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of the distillation term, 0-1 (the rest stays on the labels; default 0)")
    p.add_argument("--distill-temperature", type=float, default=1.0,
                   help="distillation temperature (default 1: label smoothing already softens the teachers)")
    p.add_argument("--sam", type=float, default=0.0, metavar="RHO",
                   help="sharpness-aware minimisation with this radius (e.g. 0.05; twice the compute; default off)")
    p.add_argument("--val-images", type=int, help="held out of the training split for validation "
                                                  "(default: 5,000 or a tenth, whichever is fewer)")
    p.add_argument("--max-train", type=positive, help="train on a class-stratified subset")
    p.add_argument("--seed", type=int, default=0, help="initialisation, order and augmentation")
    p.add_argument("--val-seed", type=int, default=0, help="which training images are held out")
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
