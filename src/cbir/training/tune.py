"""Hyper-parameter search for the CNN with Ray Tune and the ASHA scheduler (`cbir tune`).

Each trial trains on a class-stratified subset of the training split and reports its
held-out validation accuracy after every epoch; ASHA stops the weak trials early. The
results table (CSV + Markdown), each trial's validation curve (trials.png) and the best
configuration (JSON) go into the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from cbir.datasets.collection import Dataset
from cbir.errors import MissingDependencyError, TrainingError

WIDTHS = {"narrow": (32, 128, 128), "base": (64, 256, 256)}


def search_space(tune, widths: dict) -> dict:
    return {
        "lr": tune.loguniform(0.05, 0.5),
        "weight_decay": tune.loguniform(1e-4, 2e-3),
        "width": tune.choice(sorted(widths)),
        "embedding_dim": tune.choice([128, 256]),
        "label_smoothing": tune.uniform(0.0, 0.3),
    }


def _trial(config: dict, data: Dataset, epochs: int, batch_size: int, val_images: int, widths: dict) -> None:
    import tempfile

    import torch
    from ray import tune

    from cbir.features.cnn.model import ModelConfig
    from cbir.training.config import TrainConfig
    from cbir.training.loop import train

    torch.set_num_threads(1)
    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=config["lr"],
                               weight_decay=config["weight_decay"], label_smoothing=config["label_smoothing"],
                               val_images=val_images)
    model = ModelConfig(widths=widths[config["width"]], embedding_dim=config["embedding_dim"])
    with tempfile.TemporaryDirectory() as out:
        train(data, out, train_config, model, progress=False,
              on_epoch=lambda record: tune.report({"val_accuracy": record["val_accuracy"], "epoch": record["epoch"],
                                                   "minutes": record["minutes"]}))


def run_tune(data: Dataset, out: str | Path, samples: int = 6, epochs: int = 4, batch_size: int = 256,
             val_images: int = 1000, cpus: int | None = None, seed: int = 0, widths: dict | None = None) -> dict:
    """Search, write results.csv / results.md / best_config.json into `out`, return the best config."""
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError as exc:
        raise MissingDependencyError("cbir tune needs Ray Tune: pip install 'cbir[tune]'") from exc
    from cbir.training.validation import validation_size

    data.require_classes("tuning", TrainingError)  # clear errors here rather than in every trial
    validation_size(val_images, len(data))
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=cpus, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        widths = widths or WIDTHS
        space = search_space(tune, widths)
        trainable = tune.with_parameters(_trial, data=data, epochs=epochs, batch_size=batch_size,
                                         val_images=val_images, widths=widths)
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space=space,
            tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", num_samples=samples,
                                        scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2),
                                        search_alg=tune.search.BasicVariantGenerator(random_state=seed)),
            run_config=tune.RunConfig(name="cbir-tune", storage_path=str(out / "ray"), verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
    frame = results.get_dataframe()
    columns = [c for c in frame.columns if c.startswith("config/")] + ["val_accuracy", "epoch", "minutes"]
    table = frame[columns].rename(columns=lambda c: c.removeprefix("config/")).sort_values(
        "val_accuracy", ascending=False)
    table.to_csv(out / "results.csv", index=False)
    _plot_trials(results, out / "trials.png")
    (out / "results.md").write_text(_markdown(table) + "\n![validation accuracy of each trial](trials.png)\n")
    best = results.get_best_result().config
    (out / "best_config.json").write_text(json.dumps(best, indent=2))
    return best


def _plot_trials(results, path: Path) -> None:
    """Each trial's held-out accuracy per epoch: the trials ASHA stopped end early."""
    from cbir.plots import saved_figure

    with saved_figure(path, figsize=(7, 4.5), dpi=110) as (_, ax):
        for result in sorted(results, key=lambda r: -r.metrics["val_accuracy"]):
            history, config = result.metrics_dataframe, result.config
            ax.plot(history["epoch"], history["val_accuracy"], "o-", alpha=0.8,
                    label=f"lr {config['lr']:.3g}, wd {config['weight_decay']:.2g}, {config['width']}, "
                          f"emb {config['embedding_dim']}, ls {config['label_smoothing']:.2f}")
        ax.set(xlabel="epoch", ylabel="held-out validation accuracy", title="cbir tune: ASHA trials, best first")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")


def _markdown(table) -> str:
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    rows = "".join("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |\n"
                   for row in table.itertuples(index=False))
    return header + rows
