"""The CNN: a tiny model trains and its loss falls, checkpoints resume, embeddings round-trip."""

import dataclasses
import json
import pickle
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from cbir import Engine
from cbir.datasets import load_folder
from cbir.errors import CbirError, TrainingError
from cbir.features import FusedExtractor, load_extractor, make_extractor
from cbir.features.cnn.extractor import CnnExtractor
from cbir.features.cnn.model import CifarNet, ModelConfig, compact_input, fast_bf16, to_input, tta_views
from cbir.features.cnn.store import _markdown, load_model, save_model, write_card
from cbir.training.recipe import (alternating_flips, augment, distillation_loss, ema_with_warmup, sharpness_step)
from cbir.training.config import TrainConfig
from cbir.training.loop import cpu_name, train
from cbir.training.validation import predict, validation_size
from cbir.features.global_ import HOG
from cbir.features.supervised import SupervisedExtractor

TINY = ModelConfig(widths=(8, 16, 16), embedding_dim=16)


def tiny_config(**kw):
    return TrainConfig(**{"epochs": 3, "batch_size": 15, "lr": 0.2, "val_images": 15, "ema_decay": 0.9, **kw})


@pytest.fixture(scope="module")
def model_dir(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    train(tiny, out, tiny_config(epochs=12), ModelConfig(**vars(TINY)), progress=False)
    return out


def test_model_shapes_and_whitening():
    model = CifarNet(ModelConfig(**vars(TINY)))
    x = to_input(torch.randint(0, 256, (40, 32, 32, 3), dtype=torch.uint8))
    model.init_whitening(x)
    assert model(x).shape == (40, 10) and model.embed(x).shape == (40, 16)
    assert not model.whiten.weight.requires_grad


def test_identity_initialisation_passes_each_block_input_through():
    model = CifarNet(ModelConfig(**vars(TINY)))
    model.init_identity()
    for block in model.blocks:
        for conv, _, _ in block.layers():
            x, k = torch.randn(2, conv.in_channels, 6, 6), min(conv.in_channels, conv.out_channels)
            y = conv(x)
            assert torch.allclose(y[:, :k], x[:, :k], atol=1e-5)
            assert k == conv.out_channels or y[:, k:].abs().sum() > 0  # other filters keep their random start


def _block_weights(folder):
    net, _ = load_model(folder)
    return [(conv.weight, norm.weight) for block in net.blocks for conv, norm, _ in block.layers()]


@pytest.mark.parametrize("norm_scales", [False, True])
def test_the_recipe_starts_blocks_as_the_identity_and_keeps_batchnorm_scales_unless_asked(tiny, tmp_path,
                                                                                           norm_scales):
    train(tiny, tmp_path / "lr0", tiny_config(epochs=1, lr=0.0), ModelConfig(**vars(TINY)), progress=False)
    identity = [torch.equal(w[: w.shape[1]], torch.nn.init.dirac_(torch.empty_like(w[: w.shape[1]])))
                for w, _ in _block_weights(tmp_path / "lr0")]
    assert identity and all(identity)
    train(tiny, tmp_path / "trained", tiny_config(epochs=2, norm_scales=norm_scales), ModelConfig(**vars(TINY)),
          progress=False)
    scales = torch.cat([scale for _, scale in _block_weights(tmp_path / "trained")])
    assert bool((scales != 1).any()) is norm_scales


def test_batchnorm_biases_learn_at_their_own_rate(tiny, tmp_path):
    def norm_biases(folder):
        net, _ = load_model(folder)
        return torch.cat([m.bias for m in net.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))])

    train(tiny, tmp_path / "still", tiny_config(epochs=1, norm_bias_lr=0.0), ModelConfig(**vars(TINY)), progress=False)
    assert torch.equal(norm_biases(tmp_path / "still"), torch.zeros_like(norm_biases(tmp_path / "still")))
    train(tiny, tmp_path / "slow", tiny_config(epochs=1, norm_bias_lr=1.0), ModelConfig(**vars(TINY)), progress=False)
    train(tiny, tmp_path / "fast", tiny_config(epochs=1, norm_bias_lr=8.0), ModelConfig(**vars(TINY)), progress=False)
    assert norm_biases(tmp_path / "fast").abs().mean() > 2 * norm_biases(tmp_path / "slow").abs().mean() > 0


@pytest.mark.parametrize("whiten_bias_epochs", [None, 2])
def test_the_whitening_bias_trains_for_the_epochs_asked_then_stays(tiny, tmp_path, whiten_bias_epochs):
    out, biases = tmp_path / "m", []

    def record(_):  # each epoch's checkpoint is written before this is called
        biases.append(torch.load(out / "checkpoint.pt", weights_only=False)["model"]["whiten.bias"])

    config = tiny_config(epochs=3, whiten_bias_epochs=whiten_bias_epochs)
    card = train(tiny, out, config, ModelConfig(**vars(TINY)), progress=False, on_epoch=record)
    assert card["recipe"]["whiten_bias_epochs"] == whiten_bias_epochs
    changed = [not torch.equal(a, b) for a, b in zip(biases, biases[1:])]
    assert changed == ([True, True] if whiten_bias_epochs is None else [True, False])  # epochs 2 and 3
    with pytest.raises(TrainingError, match="whiten-bias-epochs"):
        train(tiny, tmp_path / "bad", tiny_config(whiten_bias_epochs=-1), ModelConfig(**vars(TINY)), progress=False)


def test_the_first_share_of_the_epochs_trains_on_small_crops(tiny, tmp_path, monkeypatch):
    import cbir.training.loop as training

    sides, real_augment = [], training.augment

    def recording(*args, **kwargs):
        out = real_augment(*args, **kwargs)
        sides.append(out.shape[-1])
        return out

    monkeypatch.setattr(training, "augment", recording)
    config = tiny_config(epochs=5, small_crop=20, small_share=0.4)
    card = train(tiny, tmp_path / "m", config, ModelConfig(**vars(TINY)), progress=False)
    assert sides == [20] * 6 + [32] * 9  # 3 steps an epoch: 2 epochs of 5 on crops
    assert card["recipe"]["small_crop"] == 20 and card["validation_accuracy_tta"] > 0.5
    for bad in ({"small_crop": 12}, {"small_crop": 33}, {"small_crop": 24, "small_share": 0}):
        with pytest.raises(TrainingError, match="small-crop"):
            train(tiny, tmp_path / "bad", tiny_config(**bad), ModelConfig(**vars(TINY)), progress=False)


def test_training_lowers_the_loss_and_writes_a_model_folder(tiny, model_dir):
    card = json.loads((model_dir / "model_card.json").read_text())
    history = card["history"]
    assert len(history) == 12 and history[-1]["train_accuracy"] > history[0]["train_accuracy"]
    assert card["validation_accuracy_tta"] >= 0.6  # three very different classes
    assert 0.6 <= card["validation_accuracy_translate_tta"] <= 1
    assert {"config.json", "weights.pt", "MODEL_CARD.md", "checkpoint.pt", "training.png"} <= {
        p.name for p in model_dir.iterdir()}
    assert Image.open(model_dir / "training.png").size == (720, 480)
    assert card["machine"].endswith(f"{cpu_name()}, {'bf16' if fast_bf16() else 'float32'}")
    text = (model_dir / "MODEL_CARD.md").read_text()
    assert "held-out validation accuracy" in text and "![accuracy against training minutes](training.png)" in text
    card = json.loads((model_dir / "model_card.json").read_text())
    assert "- test accuracy: not measured\n" in _markdown(card)
    card |= {"test_accuracy": 0.9, "test_accuracy_single_view": 0.85}  # as benchmarks/cnn_report.py adds them
    assert "- test accuracy: 0.9 (flip TTA); single view 0.85\n" in _markdown(card)
    card |= {"test_accuracy_translate_tta": 0.91, "validation_accuracy_translate_tta": 0.875}
    text = _markdown(card)
    assert "- test accuracy: 0.9 (flip TTA); single view 0.85; flip TTA with the views also moved: 0.91\n" in text
    assert f"(flip TTA): {card['validation_accuracy_tta']:.4f}; with the views also moved: 0.8750\n" in text


def test_a_model_card_without_matplotlib_keeps_its_numbers_and_skips_the_curve(model_dir, tmp_path, monkeypatch):
    card = json.loads((model_dir / "model_card.json").read_text())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on a bare GPU box with torch only
    write_card(card, tmp_path)
    assert not (tmp_path / "training.png").exists()
    assert json.loads((tmp_path / "model_card.json").read_text()) == card
    assert "training.png" not in (tmp_path / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("crops", [{}, {"small_crop": 24}])  # the first 2 of 3 epochs on crops
def test_training_is_deterministic_and_resumes_after_an_interruption(tiny, tmp_path, monkeypatch, crops):
    import cbir.training.loop as training

    straight = tmp_path / "straight"
    train(tiny, straight, tiny_config(**crops), ModelConfig(**vars(TINY)), progress=False)
    calls = {"n": 0}
    real_accuracy = training.accuracy

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the power goes off during epoch 2
        return real_accuracy(*args, **kwargs)

    resumed = tmp_path / "resumed"
    monkeypatch.setattr(training, "accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny, resumed, tiny_config(**crops), ModelConfig(**vars(TINY)), progress=False)
    monkeypatch.undo()
    with pytest.raises(TrainingError, match=r"other training options \(momentum: 0.92 -> 0.9; norm_scales"):
        train(tiny, resumed, tiny_config(momentum=0.9, norm_scales=True, **crops), ModelConfig(**vars(TINY)),
              progress=False)
    saved = torch.load(resumed / "checkpoint.pt", weights_only=False)
    older = {k: v for k, v in saved["recipe"].items() if k not in ("small_crop", "small_share")}
    training.check_resumable(older, tiny_config(), resumed)  # a version without small crops trained without them
    with pytest.raises(TrainingError, match="small_crop: 0 -> 20"):
        training.check_resumable(older, tiny_config(small_crop=20), resumed)
    del saved["recipe"]  # as written before checkpoints recorded it: other options are found as the optimiser loads
    torch.save(saved, resumed / "checkpoint.pt")
    with pytest.raises(TrainingError, match="by a version before 2026-12-04, which did not record them"):
        train(tiny, resumed, tiny_config(norm_bias_lr=1.0, **crops), ModelConfig(**vars(TINY)), progress=False)
    card = train(tiny, resumed, tiny_config(**crops), ModelConfig(**vars(TINY)), progress=False)
    assert [h["epoch"] for h in card["history"]] == [1, 2, 3]
    a = torch.load(straight / "weights.pt")
    b = torch.load(resumed / "weights.pt")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-3) for k in a)


@pytest.fixture
def clock(monkeypatch):
    """Training reads a clock that moves a microsecond each time it is read: the time budget tests plan and
    pretend in seconds of their own, the same on any machine, busy or quiet."""
    import itertools
    import types

    import cbir.training.loop as training

    ticks = itertools.count()
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=lambda: 1e-6 * next(ticks)))


def epochs_take(monkeypatch, training, fraction, frozen_fraction=None):
    """A `TimePlan.measured` for one run that plans again as if every epoch so far had taken `fraction` of the probe's
    estimate of it, and those with the whitening bias frozen `frozen_fraction` (default `fraction`): the tiny
    model's real epochs take a fraction of a second. `TimePlan.replans_after` is set to see those times too."""
    real, real_replans, probed = training.TimePlan.measured, training.TimePlan.replans_after, []

    def pretended(k, epochs):
        first = probed[0]  # the plan as the probe made it
        kind = first.kind(k, epochs)
        return (frozen_fraction if kind.frozen and frozen_fraction is not None else fraction) * (
            first.seconds[kind] + first.validation)

    def measured(plan, epoch, epochs, seconds):
        if not probed:
            probed.append(plan)
        elapsed = sum(pretended(k, epochs) for k in range(epoch + 1))
        return real(dataclasses.replace(plan, started=training.time.perf_counter() - elapsed), epoch, epochs,
                    pretended(epoch, epochs))

    def replans_after(plan, epoch, epochs, seconds):
        return real_replans(plan, epoch, epochs, pretended(epoch, epochs)) if probed else True

    monkeypatch.setattr(training.TimePlan, "replans_after", replans_after)
    return measured


def speeds(whole, frozen, validation, small=None, small_frozen=None):
    """What `probe_seconds` returns: seconds an epoch of each kind takes, and a validation pass."""
    from cbir.training.budget import EpochKind

    kinds = {EpochKind(False, False): whole, EpochKind(False, True): frozen, EpochKind(True, False): small,
             EpochKind(True, True): small_frozen}
    return {kind: seconds for kind, seconds in kinds.items() if seconds is not None}, validation


def test_a_time_budget_sets_the_epochs_from_a_speed_probe_that_leaves_the_run_alone(clock, tiny, tmp_path, monkeypatch):
    import cbir.training.loop as training

    probed, real_probe = [], training.probe_seconds

    def probe(model, *args, **kwargs):  # the real probe, then a fixed speed: 9 s to train an epoch, 2 s to validate
        before = {k: v.clone() for k, v in model.state_dict().items()}
        probed.append(real_probe(model, *args, **kwargs))
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        return speeds(9.0, 9.0, 2.0)

    monkeypatch.setattr(training, "probe_seconds", probe)
    monkeypatch.setattr(training.TimePlan, "measured", epochs_take(monkeypatch, training, 1.0))  # the probe was right
    budgeted = tmp_path / "budgeted"
    # 85% of 60 s (the rest in reserve): the probe itself, 16 s for the final validation (8 passes), then 3
    # epochs of 11 s, and no time left for a step of a fourth with its validation (4 without the reserve)
    card = train(tiny, budgeted, tiny_config(epochs=7, minutes=1), ModelConfig(**vars(TINY)), progress=False)
    assert len(probed) == 1 and all(0 < t < 60 for t in [*probed[0][0].values(), probed[0][1]])
    assert len(probed[0][0]) == 2  # epochs on whole images, the whitening bias trained and frozen
    assert card["epochs"] == 3 and len(card["history"]) == 3 and card["recipe"]["minutes"] == 1
    assert "- epochs: 3 (as many as fit in 1 min)," in (budgeted / "MODEL_CARD.md").read_text()
    plain = tmp_path / "plain"
    train(tiny, plain, tiny_config(epochs=3), ModelConfig(**vars(TINY)), progress=False)
    a, b = torch.load(budgeted / "weights.pt"), torch.load(plain / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the probe changed nothing but the number of epochs
    monkeypatch.setattr(training, "probe_seconds", lambda *args, **kwargs: speeds(5.0, 5.0, 0.0))  # faster now: 10 would fit
    card = train(tiny, budgeted, tiny_config(epochs=7, minutes=1), ModelConfig(**vars(TINY)), progress=False)
    assert card["epochs"] == 3 and len(card["history"]) == 3  # a resumed run keeps the epochs it chose


@pytest.mark.parametrize("frozen_fraction, epochs", [(1.0, 6), (0.5, 11)])
def test_a_time_budget_counts_the_faster_epochs_after_the_whitening_bias_is_frozen(clock, tiny, tmp_path, monkeypatch,
                                                                                  frozen_fraction, epochs):
    import cbir.training.loop as training

    probed, real_probe, planned = [], training.probe_seconds, []

    def probe(*args, **kwargs):  # the real probe, then 7 s an epoch, 4 s once the bias is frozen, 2 s to validate
        probed.append(real_probe(*args, **kwargs))
        return speeds(7.0, 4.0, 2.0)

    monkeypatch.setattr(training, "probe_seconds", probe)
    monkeypatch.setattr(training.TimePlan, "measured", epochs_take(monkeypatch, training, 1.0, frozen_fraction))
    out = tmp_path / "m"
    # of the ~35 s left (as above), 9 s for the first epoch, then 6 s each: 5 epochs. The second epoch, the first
    # frozen one, timed at 6 s (3 s): 26 s (29 s) left when 95% of the budget is planned: 4 (9) more
    card = train(tiny, out, tiny_config(epochs=7, minutes=1, whiten_bias_epochs=1), ModelConfig(**vars(TINY)),
                 progress=False, on_epoch=lambda _: planned.append(
                     torch.load(out / "checkpoint.pt", weights_only=False)["state"]["epochs"]))
    assert card["epochs"] == epochs and len(probed) == 1
    assert planned == [5] + [epochs] * (epochs - 1)  # planned again after the first epoch, and the second

    def fit(seconds, whiten_bias_epochs):  # epochs of 9 s, 6 s once the bias is frozen
        plan = training.TimePlan(0.0, seconds, speeds(7.0, 4.0, 2.0)[0], 2.0, 0.0, whiten_bias_epochs, reserve=0.0)
        return plan.epochs(0.0)

    assert fit(100, 20) == 11 and fit(100, None) == 11 and fit(5, 1) == 1 and fit(100, 0) == 16
    assert fit(5, 0) == 1  # at least one epoch, frozen from the start or not


@pytest.mark.parametrize("fraction, steps", [(0.5, 32), (2.0, 3)])
def test_a_time_budget_is_planned_again_from_the_timed_epochs(clock, tiny, tmp_path, monkeypatch, fraction, steps):
    import cbir.training.loop as training

    monkeypatch.setattr(training, "probe_seconds", lambda *args, **kwargs: speeds(7.0, 7.0, 2.0))  # 3 epochs, as above
    monkeypatch.setattr(training.TimePlan, "measured", epochs_take(monkeypatch, training, fraction))
    out, rates, planned = tmp_path / "m", [], []

    def record(_):  # each epoch's checkpoint is written before this is called
        saved = torch.load(out / "checkpoint.pt", weights_only=False)
        rates.append(saved["optimizer"]["param_groups"][0]["lr"])
        planned.append(saved["state"]["steps"])  # what a resumed run keeps; 3 steps an epoch

    # twice as fast: 4.5 s an epoch (3.5 s training, 1 s validation) and 8 s of final validation, 38.5 s left after
    # the first: 8 more, and 1 step of one more in the last 2.5 s; 31 s left after the fourth, the first with the
    # bias frozen, with 5% of the budget in reserve instead of 15%: 6 more, and 2 steps of one more in the last 4 s
    # half as fast: 18 s an epoch and 32 s of final validation, ~1 s left: none more, and no step of one
    card = train(tiny, out, tiny_config(epochs=7, minutes=1), ModelConfig(**vars(TINY)), progress=False,
                 on_epoch=record)
    assert planned == ([28] * 3 + [32] * 8 if steps > 3 else [3])
    assert card["epochs"] == (10.67 if steps > 3 else 1) and len(card["history"]) == len(planned)
    assert card["recipe"]["epochs"] == len(planned)  # epochs begun
    if steps > 3:  # the schedule spans the new number of steps (a run cut short stops where it is)
        assert all(rate > 0 for rate in rates[:-1]) and rates[-1] == 0


def test_a_time_budget_ends_on_part_of_an_epoch_untimed_and_a_resumed_run_keeps_its_steps(clock, tiny, tmp_path,
                                                                                          monkeypatch):
    import cbir.training.loop as training

    replanned, real_measured = [], epochs_take(monkeypatch, training, 1.6)

    def measured(plan, epoch, epochs, seconds):
        replanned.append(epoch)
        return real_measured(plan, epoch, epochs, seconds)

    monkeypatch.setattr(training, "probe_seconds", lambda *args, **kwargs: speeds(7.0, 7.0, 2.0))
    monkeypatch.setattr(training.TimePlan, "measured", measured)
    config = tiny_config(minutes=1, whiten_bias_epochs=1)
    # 1.6 times as slow: 14.4 s an epoch and 25.6 s of final validation, 11 s left after the first: not a whole
    # second (the first with the whitening bias frozen), but its validation (3.2 s) and 2 of its 3 steps (3.7 s each)
    straight = tmp_path / "straight"
    card = train(tiny, straight, config, ModelConfig(**vars(TINY)), progress=False)
    assert replanned == [0] and card["epochs"] == 1.67 and len(card["history"]) == 2  # the part not timed
    assert torch.load(straight / "checkpoint.pt", weights_only=False)["optimizer"]["param_groups"][0]["lr"] == 0
    real_accuracy, calls = training.accuracy, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # during the part of an epoch
        return real_accuracy(*args, **kwargs)

    monkeypatch.setattr(training, "accuracy", interrupted)
    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(tiny, resumed, config, ModelConfig(**vars(TINY)), progress=False)
    monkeypatch.setattr(training, "accuracy", real_accuracy)
    monkeypatch.setattr(training, "probe_seconds", lambda *args, **kwargs: speeds(1.0, 1.0, 0.0))  # 40 epochs would fit now
    card = train(tiny, resumed, config, ModelConfig(**vars(TINY)), progress=False)
    assert card["epochs"] == 1.67 and [h["epoch"] for h in card["history"]] == [1, 2]
    a, b = torch.load(straight / "weights.pt"), torch.load(resumed / "weights.pt")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-3) for k in a)


def test_a_time_plan_counts_the_cheaper_epochs_on_small_crops():
    from cbir.training.budget import MEASURED_RESERVE, EpochKind, TimePlan

    seconds, _ = speeds(7.0, 4.0, 1.0, small=3.0, small_frozen=2.0)
    plan = TimePlan(0.0, 40.0, seconds, 1.0, 0.0, whiten_bias_epochs=1, small_share=0.5, reserve=0.0)
    # the first half of the epochs on small crops (4 s, then 3 s with validation), the rest 5 s: 9 fit in 40 s
    assert plan.epochs(0.0) == 9 and plan.cost(0, 9) == 36 and plan.cost(0, 10) == 41
    # and of a tenth (on whole images, 4 s) 3 s of training after its validation: 7 of 10 steps
    assert plan.steps(0.0, per_epoch=10) == 97 and plan.steps(0.0, per_epoch=1) == 9
    assert dataclasses.replace(plan, budget=36.0).steps(0.0, per_epoch=10) == 90  # not even its validation
    assert plan.steps(36.0, per_epoch=10, done=9) == 97  # the same, after nine: 4 s left
    assert plan.steps(37.0, per_epoch=10, done=9) == 95  # 3 s left
    all_crops = dataclasses.replace(plan, small_share=1.0, budget=39.0)  # 4 s, then 3 s: 12 in 37 s, and of a 13th
    assert all_crops.steps(0.0, per_epoch=10) == 125  # on crops too, 1 s of its 2 s of training: half its steps
    free = dataclasses.replace(plan, seconds=seconds | {EpochKind(False, True): 0.0})  # whole epochs: validation only
    assert free.epochs(0.0) == 19 and free.steps(0.0, per_epoch=10) == 190  # the 20th's validation does not fit
    assert [plan.kind(e, 9) for e in range(9)] == [(True, False)] + [(True, True)] * 4 + [(False, True)] * 4
    assert dataclasses.replace(plan, small_share=0.0).epochs(0.0) == 7  # on whole images: 8 s, then 5 s
    first = plan.measured(0, 9, 8.0)  # twice the estimate: every estimate doubles
    assert first.seconds == {kind: 2 * s for kind, s in seconds.items()} and first.validation == 2
    assert first.timed == {(True, False)} and first.reserve == 0
    second = first.measured(1, 9, 5.0)
    assert second.seconds[EpochKind(True, True)] == 3 and second.reserve == 0  # whole images still to time
    assert [e for e in range(9) if second.replans_after(e, 9, second.seconds[second.kind(e, 9)] + second.validation)] == [5, 6, 7, 8]  # the kind not timed yet
    third = second.measured(5, 9, 9.0)
    assert third.seconds[EpochKind(False, True)] == 7 and third.reserve == MEASURED_RESERVE
    assert second.small_epochs(20) == 10 and third.small_epochs(20) == 5  # no crops after whole images
    assert not any(third.replans_after(e, 9, third.seconds[third.kind(e, 9)] + third.validation) for e in range(9))


def test_a_time_budget_with_small_crops_probes_them_and_plans_again_on_each_kind_of_epoch(clock, tiny, tmp_path,
                                                                                         monkeypatch):
    import cbir.training.loop as training

    probed, real_probe, replanned, real_measured = [], training.probe_seconds, [], epochs_take(monkeypatch, training, 1.0)
    sides, real_augment = [], training.augment

    def probe(*args, **kwargs):
        probed.append(real_probe(*args, **kwargs))
        return speeds(7.0, 4.0, 2.0, small=3.5, small_frozen=2.5)

    def augment(*args, **kwargs):
        out = real_augment(*args, **kwargs)
        sides.append(out.shape[-1])
        return out

    def measured(plan, epoch, epochs, seconds):
        replanned.append(epoch)
        return real_measured(plan, epoch, epochs, seconds)

    monkeypatch.setattr(training, "probe_seconds", probe)
    monkeypatch.setattr(training.TimePlan, "measured", measured)
    out, planned = tmp_path / "m", []
    monkeypatch.setattr(training, "augment", augment)
    config = tiny_config(minutes=1, whiten_bias_epochs=1, small_crop=24)
    card = train(tiny, out, config, ModelConfig(**vars(TINY)), progress=False, on_epoch=lambda _: planned.append(
        torch.load(out / "checkpoint.pt", weights_only=False)["state"]["steps"]))
    assert set(probed[0][0]) == {(False, False), (False, True), (True, False), (True, True)}
    # ~35 s left (as above): 5.5 s, then 4.5 s on small crops, 6 s on whole images: 6 epochs, 3 on crops; and 1
    # step of a seventh (2 s of validation, 1.3 s of training) in the 4 s left once 4 of the 7 are on crops. As
    # timed after the first and second: the same 19 steps.
    # The first whole one (the fifth) timed as estimated leaves 16 s with 5% of the budget in reserve: 2 more,
    # and 1 step of one more
    assert replanned == [0, 1, 4] and planned == [19] * 4 + [22] * 4 and card["epochs"] == 7.33
    assert sides == ([32] * 6 + [24] * 6) * 2 + [24] * 12 + [32] * 10  # the probe's steps, then 3 an epoch


def test_training_takes_images_of_any_size(tiny_collection, tmp_path):
    from PIL import Image

    folder = tmp_path / "mixed"
    shutil.copytree(tiny_collection / "train", folder)
    for path in sorted(folder.glob("*/00[0-4].png")):  # a user's photos come in many sizes
        Image.open(path).resize((48, 40)).save(path)
    mixed = load_folder(folder, progress=False, cache=False)
    assert {np.asarray(im).shape for im in mixed.images} == {(32, 32, 3), (40, 48, 3)}
    card = train(mixed, tmp_path / "m", tiny_config(epochs=1), ModelConfig(**vars(TINY)), progress=False)
    assert card["history"][0]["val_accuracy"] is not None
    assert CnnExtractor(tmp_path / "m").fit(mixed).transform(mixed.images).shape == (60, 16)


def test_validation_holds_out_a_tenth_of_a_small_collection_and_never_all_of_it(tiny, tmp_path):
    card = train(tiny, tmp_path / "m", tiny_config(epochs=1, val_images=None), ModelConfig(**vars(TINY)),
                 progress=False)
    assert card["recipe"]["val_images"] == 6 and card["data"].endswith("54 training images, 6 held out")
    assert validation_size(None, 50_000) == 5000 and validation_size(0, 10) == 0
    with pytest.raises(TrainingError, match="leaves none to train on: the collection has 60"):
        train(tiny, tmp_path / "n", tiny_config(val_images=60), ModelConfig(**vars(TINY)), progress=False)
    one_class = tiny.subset([i for i, label in enumerate(tiny.labels) if label == tiny.labels[0]])
    with pytest.raises(TrainingError, match=r"training learns to tell classes apart: the collection has one class \('"):
        train(one_class, tmp_path / "o", tiny_config(), ModelConfig(**vars(TINY)), progress=False)
    assert not (tmp_path / "o").exists()


def test_a_single_step_run_trains(tiny, tmp_path):
    card = train(tiny, tmp_path / "one", tiny_config(epochs=1, batch_size=100), ModelConfig(**vars(TINY)),
                 progress=False)
    assert len(card["history"]) == 1


def test_sharpness_step_moves_the_weights_rho_up_their_gradient():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    (w ** 2).sum().backward()  # gradient (6, 8), norm 10
    moves = sharpness_step([w], rho=0.5)
    torch.testing.assert_close(moves[0], torch.tensor([0.3, 0.4]))
    torch.testing.assert_close(w.detach(), torch.tensor([3.3, 4.4]))


def test_training_with_sam_learns_and_differs_from_plain_sgd(tiny, model_dir, tmp_path):
    card = train(tiny, tmp_path / "sam", tiny_config(epochs=12, sam=0.05), ModelConfig(**vars(TINY)),
                 progress=False)
    assert card["recipe"]["sam"] == 0.05 and card["validation_accuracy_tta"] >= 0.6
    sam_weights = load_model(tmp_path / "sam")[0].state_dict()
    plain_weights = load_model(model_dir)[0].state_dict()  # the same seed and recipe without SAM
    assert not torch.equal(sam_weights["classifier.weight"], plain_weights["classifier.weight"])
    with pytest.raises(ValueError, match="SAM radius"):
        train(tiny, tmp_path / "bad", tiny_config(sam=-0.05), ModelConfig(**vars(TINY)), progress=False)


def test_cutout_blanks_one_square_per_image_and_flip_translate_keep_content():
    x = torch.ones(6, 3, 32, 32)
    out = augment(x, translate=2, generator=torch.Generator().manual_seed(0), cutout=8)
    blanked = (out == 0).all(dim=1)  # a pixel is blanked in every channel at once
    per_image = blanked.flatten(1).sum(1)
    assert ((per_image >= 4 * 5) & (per_image <= 9 * 9)).all()  # a (clipped) square up to (8 + 1)^2
    for mask in blanked:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert mask[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1].all()  # one solid square
    assert torch.equal(augment(x, 2, torch.Generator().manual_seed(0)), x)  # flips/shifts of a constant


def test_small_crops_are_windows_of_the_flipped_images_in_one_place_per_batch():
    x = torch.randn(4, 3, 32, 32)
    flip = torch.tensor([True, False, True, False])
    flipped = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    places = set()
    for seed in range(20):
        out = augment(x, 2, torch.Generator().manual_seed(seed), flip=flip, crop=24)
        assert out.shape == (4, 3, 24, 24) and out.is_contiguous(memory_format=torch.channels_last)
        place = [(dy, dx) for dy in range(9) for dx in range(9)
                 if torch.equal(out, flipped[:, :, dy: dy + 24, dx: dx + 24])]
        assert len(place) == 1  # the same window of every image, not translated as well
        places.add(place[0])
    assert len(places) > 10  # anywhere in the image


def test_alternating_flips_mirror_each_image_every_other_epoch():
    first, second, third = (alternating_flips(1000, seed=3, epoch=e) for e in (0, 1, 2))
    assert torch.equal(second, ~first) and torch.equal(third, first)
    assert 400 < int(first.sum()) < 600 and not torch.equal(first, alternating_flips(1000, seed=4, epoch=0))
    x = torch.randn(4, 3, 32, 32)
    out = augment(x, 0, torch.Generator().manual_seed(0), flip=torch.tensor([True, False, False, True]))
    assert torch.equal(out[[0, 3]], x[[0, 3]].flip(3)) and torch.equal(out[[1, 2]], x[[1, 2]])


def test_training_with_alternating_flips_shows_each_image_mirrored_every_other_epoch(tiny, tmp_path, monkeypatch):
    import cbir.training.loop as training

    seen, real_augment = [], training.augment

    def recording(x, translate, generator, cutout=0, flip=None, crop=0):
        seen.append((x, flip))
        return real_augment(x, translate, generator, cutout, flip, crop)

    monkeypatch.setattr(training, "augment", recording)
    train(tiny, tmp_path / "m", tiny_config(), ModelConfig(**vars(TINY)), progress=False)
    epochs = [{image.numpy().tobytes(): bool(f) for x, flip in seen[e * 3: e * 3 + 3] for image, f in zip(x, flip)}
              for e in range(3)]  # 3 steps an epoch
    assert len(seen) == 9 and all(len(epoch) == 45 for epoch in epochs)
    assert all(epochs[1][image] != flipped and epochs[2][image] == flipped for image, flipped in epochs[0].items())


def test_ema_decay_ramps_up_so_short_runs_do_not_average_in_the_initial_weights():
    update = ema_with_warmup(0.999)
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    update(averaged, current, torch.tensor(0))  # first update: decay 1/10
    assert torch.allclose(averaged[0], torch.full((3,), 0.9))
    for n in range(1, 10_000):
        update(averaged, [torch.full((3,), 2.0)], torch.tensor(n))
    assert torch.allclose(averaged[0], torch.full((3,), 2.0), atol=1e-3)  # then the full decay, 0.999
    counter = [torch.tensor(5)]
    update(counter, [torch.tensor(7)], torch.tensor(3))
    assert counter[0].item() == 7


def test_a_run_started_from_a_trained_model_keeps_its_network_and_weights(tiny, model_dir, tmp_path):
    card = train(tiny, tmp_path / "stage", tiny_config(epochs=2, lr=0.02, init=str(model_dir)), progress=False)
    base = json.loads((model_dir / "model_card.json").read_text())
    assert card["model"] == base["model"] and card["recipe"]["init"] == str(model_dir)
    assert card["history"][0]["val_accuracy"] >= 0.6  # epoch 1 already starts from trained weights
    before, after = torch.load(model_dir / "weights.pt"), torch.load(tmp_path / "stage" / "weights.pt")
    assert not torch.equal(before["embedding.weight"], after["embedding.weight"])


def test_fine_tuning_on_other_classes_keeps_the_network_and_replaces_the_classifier(tiny, model_dir, tmp_path):
    other = tiny.subset([i for i, label in enumerate(tiny.labels) if label != tiny.classes[0]])
    card = train(other, tmp_path / "tuned", tiny_config(epochs=1, lr=0.02, init=str(model_dir)), progress=False)
    assert card["classes"] == other.classes and card["model"]["num_classes"] == 2
    tuned, classes = load_model(tmp_path / "tuned")
    assert classes == other.classes and tuned.classifier.weight.shape == (2, 16)
    assert card["history"][0]["val_accuracy"] >= 0.8  # one epoch on trained features separates two classes
    base = torch.load(model_dir / "weights.pt")
    assert torch.equal(base["whiten.weight"], tuned.whiten.weight.half())  # frozen, carried over


def test_distillation_loss_is_zero_only_when_the_student_matches_the_teacher():
    teacher = torch.randn(8, 10)
    assert distillation_loss(teacher, teacher, 4.0).item() == pytest.approx(0, abs=1e-6)
    student = torch.zeros(8, 10, requires_grad=True)
    loss = distillation_loss(student, teacher, 4.0)
    loss.backward()
    assert loss.item() > 0
    assert torch.all((student.grad * (teacher - teacher.mean(1, keepdim=True))).sum(1) < 0)  # descent moves toward it


def test_a_student_learns_what_its_teacher_says_not_the_labels(tiny, model_dir, tmp_path):
    teacher, classes = load_model(model_dir)
    with torch.no_grad():  # a teacher that calls every class by the next class's name
        teacher.classifier.weight.copy_(teacher.classifier.weight.roll(1, dims=0))
    card = json.loads((model_dir / "model_card.json").read_text())
    save_model(teacher, card, tmp_path / "teacher")
    config = tiny_config(epochs=20, teachers=(str(tmp_path / "teacher"),), distill=1.0, distill_temperature=1.0)
    student_card = train(tiny, tmp_path / "student", config, ModelConfig(**vars(TINY)), progress=False)
    assert list(student_card["recipe"]["teachers"]) == [str(tmp_path / "teacher")]
    student, _ = load_model(tmp_path / "student")
    x = to_input(torch.from_numpy(np.stack(tiny.images)))
    with torch.no_grad():
        said, learnt = teacher(x).argmax(1), student(x).argmax(1)
    truth = torch.tensor([classes.index(label) for label in tiny.labels])
    # about chance (1/3) at the labels, where learning them gives ~1: a seed may leave two classes unseparated
    # (0.67 / 0.33, give or take an image of the 60)
    assert (learnt == said).float().mean() > 0.6 and (learnt == truth).float().mean() < 0.4
    for other_split in ({"val_images": 30}, {"val_seed": 1}):
        with pytest.raises(ValueError, match="hold out"):
            train(tiny, tmp_path / "leak", tiny_config(**other_split, teachers=config.teachers, distill=0.5),
                  progress=False)
    with pytest.raises(ValueError, match="teacher"):
        train(tiny, tmp_path / "none", tiny_config(distill=0.5), progress=False)


def test_extractor_round_trip_and_search(tiny, model_dir, tmp_path):
    extractor = CnnExtractor(model_dir, name="cnn-tiny")
    engine = Engine.build(tiny, extractor, progress=False)
    vectors = extractor.transform(tiny.images[:6])
    assert vectors.shape == (6, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    engine.save(tmp_path / "engine")
    loaded = Engine.load(tmp_path / "engine")
    np.testing.assert_allclose(loaded.extractor.transform(tiny.images[:6]), vectors, atol=1e-6)
    assert loaded.search(tiny.images[:1], k=1)[0].hits[0].id == tiny.ids[0]


def test_pca_and_probability_fusion(tiny, model_dir, tmp_path):
    fused = CnnExtractor(model_dir, pca=8, proba_weight=1.0).fit(tiny)
    assert fused.dim == 8 + 3
    vectors = fused.transform(tiny.images[:4])
    assert vectors.shape == (4, 11)
    np.testing.assert_allclose(fused.predict_proba(tiny.images[:4]).sum(axis=1), 1, atol=1e-4)
    fused.save(tmp_path / "x")
    np.testing.assert_allclose(load_extractor(tmp_path / "x").transform(tiny.images[:4]), vectors, atol=1e-6)
    once = CnnExtractor(model_dir, pca=8, proba_weight=1.0)
    training = once.fit_transform(tiny)  # one pass of the network: the same state and vectors as fit + transform
    np.testing.assert_allclose(once.components_, fused.components_, atol=1e-5)
    np.testing.assert_allclose(training[:4], vectors, atol=1e-5)


def test_product_fusion_ranks_by_embedding_similarity_plus_weight_times_same_class_probability(tiny, model_dir,
                                                                                                 tmp_path):
    extractor = CnnExtractor(model_dir, proba_weight=4.0, proba_fusion="product", bf16=False)
    engine = Engine.build(tiny, extractor, progress=False)
    assert extractor.dim == 16 + 3 + 1 and extractor.get_config()["proba_fusion"] == "product"
    plain = CnnExtractor(model_dir, bf16=False).fit(tiny)
    queries, indexed = tiny.images[:5], tiny.images
    score = (plain.transform(queries) @ plain.transform(indexed, indexing=True).T
             + 4.0 * plain.predict_proba(queries) @ plain._forward(indexed, indexing=True)[1].T)
    position = {id_: i for i, id_ in enumerate(tiny.ids)}
    for row, result in zip(score, engine.search(queries, k=len(tiny))):
        ranked = row[[position[h.id] for h in result.hits]]
        assert np.all(np.diff(ranked) <= 1e-5) and ranked[0] == pytest.approx(row.max())
    engine.save(tmp_path / "engine")
    np.testing.assert_allclose(Engine.load(tmp_path / "engine").embed(queries), engine.embed(queries), atol=1e-6)
    with pytest.raises(ValueError, match="product"):
        CnnExtractor(model_dir, proba_weight=1.0, proba_fusion="sum")


def test_a_supervised_cnn_base_with_pca_runs_the_network_once_per_training_image(tiny, model_dir):
    base = CnnExtractor(model_dir, pca=8)
    seen = []
    original = base._forward
    base._forward = lambda images, indexing=False: (seen.append(len(images)), original(images, indexing))[1]
    SupervisedExtractor(base, cs=(1.0,), cv_images=len(tiny)).fit(tiny)
    assert sum(seen) == len(tiny) and base.components_.shape[1] == 8


def test_indexed_images_can_be_described_single_view_while_queries_stay_flip_averaged(tiny, model_dir, tmp_path):
    single = CnnExtractor(model_dir, tta=False, bf16=False).fit(tiny)
    flipped = CnnExtractor(model_dir, bf16=False).fit(tiny)
    assert "index_tta" not in flipped.get_config()  # engines saved before the option keep their hash
    cheap = CnnExtractor(model_dir, index_tta=False, bf16=False)
    engine = Engine.build(tiny.subset(range(20)), cheap, progress=False)  # fit_transform indexes the first 20
    engine.add(tiny.subset(range(20, len(tiny))), batch_size=7, progress=False)
    ids, vectors = engine.index.vectors()
    order = [ids.index(id_) for id_ in tiny.ids]
    np.testing.assert_allclose(vectors[order], single.transform(tiny.images), atol=1e-5)
    queries = tiny.images[:5]
    np.testing.assert_allclose(engine.embed(queries), flipped.transform(queries), atol=1e-5)
    assert not np.allclose(single.transform(queries), flipped.transform(queries), atol=1e-3)
    engine.save(tmp_path / "e")
    loaded = Engine.load(tmp_path / "e")
    assert loaded.extractor.index_tta is False
    np.testing.assert_allclose(loaded.extractor.transform(queries, indexing=True), single.transform(queries), atol=1e-5)


@pytest.mark.parametrize("wrapper", ["fused", "supervised"])
def test_wrapped_cnn_features_index_single_view_whichever_way_images_are_added(tiny, model_dir, wrapper):
    cnn = CnnExtractor(model_dir, index_tta=False, bf16=False)
    extractor = (FusedExtractor([cnn, HOG()], name="cnn-hog") if wrapper == "fused"
                 else SupervisedExtractor(cnn, cs=(1.0,), name="cnn-sup"))
    engine = Engine.build(tiny.stratified(21), extractor, progress=False)  # fit_transform: 21 images
    assert engine.add_new(tiny, batch_size=7, progress=False) == (len(tiny) - 21, 0)  # transform: the rest
    ids, vectors = engine.index.vectors()
    expected = extractor.transform(tiny.images, indexing=True)
    np.testing.assert_allclose(vectors[[ids.index(id_) for id_ in tiny.ids]], expected, atol=1e-4)
    assert not np.allclose(extractor.transform(tiny.images[:5]), expected[:5], atol=1e-3)  # queries: flip TTA


def test_tta_views_are_the_flips_of_the_images_and_of_their_moved_copies():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    plain = tta_views(x)
    assert [w for _, w in plain] == [0.5, 0.5]
    assert torch.equal(plain[0][0], x) and torch.equal(plain[1][0], x.flip(3))
    assert len(tta_views(x, flip=False, shift=2)) == 1 and torch.equal(tta_views(x, flip=False)[0][0], x)
    views = tta_views(x, shift=2)
    assert len(views) == 6 and sum(w for _, w in views) == 1 and [w for _, w in views[:2]] == [0.25, 0.25]
    (up_left, _), (up_left_flipped, _), (down_right, _) = views[2:5]
    assert torch.equal(up_left[:, :, 2:, 2:], x[:, :, :-2, :-2]) and torch.equal(up_left_flipped, up_left.flip(3))
    assert torch.equal(down_right[:, :, :-2, :-2], x[:, :, 2:, 2:])
    assert torch.equal(up_left[:, :, 0, 2:], x[:, :, 2, :-2])  # the border reflected, not blank


def test_predict_averages_the_views(tiny, model_dir):
    model, _ = load_model(model_dir)
    images = tiny.images[:6]
    one, flipped = (predict(model, view, torch.device("cpu"), bf16=False, tta=False)
                    for view in (images, [np.ascontiguousarray(im[:, ::-1]) for im in images]))
    torch.testing.assert_close(predict(model, images, torch.device("cpu"), bf16=False), (one + flipped) / 2)
    moved = predict(model, images, torch.device("cpu"), bf16=False, shift=1)
    assert moved.shape == one.shape and not torch.allclose(moved, (one + flipped) / 2, atol=1e-4)


def test_the_extractor_can_also_average_moved_views(tiny, model_dir, tmp_path):
    flips = CnnExtractor(model_dir, bf16=False).fit(tiny)
    moved = CnnExtractor(model_dir, bf16=False, tta_shift=1).fit(tiny)
    assert "tta_shift" not in flips.get_config() and moved.get_config()["tta_shift"] == 1
    queries = tiny.images[:5]
    assert not np.allclose(moved.transform(queries), flips.transform(queries), atol=1e-3)
    single = CnnExtractor(model_dir, bf16=False, tta=False, tta_shift=1).fit(tiny)
    np.testing.assert_allclose(single.transform(queries), CnnExtractor(model_dir, bf16=False, tta=False)
                               .fit(tiny).transform(queries), atol=1e-6)  # moved views only widen flip TTA
    np.testing.assert_allclose(moved.transform(queries, indexing=True), flips.transform(queries, indexing=True),
                               atol=1e-6)  # indexed images keep their flips: they are many, queries few
    moved.save(tmp_path / "x")
    np.testing.assert_allclose(load_extractor(tmp_path / "x").transform(queries), moved.transform(queries), atol=1e-6)
    for bad in (-1, 9):
        with pytest.raises(CbirError, match="tta_shift moves the views 0 to 8 pixels"):
            make_extractor("cnn", options={"tta_shift": bad})


def test_int8_inference_agrees_with_the_float_network_and_round_trips(tiny, model_dir, tmp_path):
    float_ = CnnExtractor(model_dir, bf16=False).fit(tiny)
    int8 = CnnExtractor(model_dir, int8=True).fit(tiny)
    assert len(int8.ranges_) == 1 + 6 and "int8" not in float_.get_config()
    assert int8.config_hash() != float_.config_hash()
    expected, got = float_.transform(tiny.images), int8.transform(tiny.images)
    assert np.median(np.sum(expected * got, axis=1)) > 0.99
    agree = float_.predict_proba(tiny.images).argmax(1) == int8.predict_proba(tiny.images).argmax(1)
    assert agree.mean() > 0.9
    int8.save(tmp_path / "x")
    loaded = load_extractor(tmp_path / "x")
    assert loaded.int8_net_ is not None
    np.testing.assert_array_equal(loaded.transform(tiny.images[:8]), got[:8])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(int8)).transform(tiny.images[:8]), got[:8])  # Ray


@pytest.mark.parametrize("residual", [False, True])
def test_deeper_blocks_train_save_and_run_in_int8(tiny, tmp_path, residual):
    out = tmp_path / "deep"
    train(tiny, out, tiny_config(epochs=6), ModelConfig(**{**vars(TINY), "depth": 3, "residual": residual}),
          progress=False)
    model, _ = load_model(out)
    assert model.config.depth == 3 and [len(block.layers()) for block in model.blocks] == [3, 3, 3]
    plain = CifarNet(ModelConfig(**{**vars(model.config), "residual": False})).eval()
    plain.load_state_dict(model.state_dict())
    x = compact_input(tiny.images[:8])
    with torch.no_grad():
        assert torch.equal(plain.embed(x), model.embed(x)) != residual  # the sum is in the forward pass
    float_ = CnnExtractor(out, bf16=False).fit(tiny)
    int8 = CnnExtractor(out, int8=True).fit(tiny)
    assert len(int8.ranges_) == 1 + 9 + (3 if residual else 0)  # input, convolutions, residual sums
    assert np.median(np.sum(float_.transform(tiny.images) * int8.transform(tiny.images), axis=1)) > 0.99


def test_int8_stored_weights_are_what_int8_inference_computes_in_half_the_space(tiny, model_dir, tmp_path):
    from cbir.features.cnn.int8 import Int8Net, calibrate

    model, classes = load_model(model_dir)
    card = json.loads((model_dir / "model_card.json").read_text())
    save_model(model, card, tmp_path / "int8", int8_weights=True)
    stored = torch.load(tmp_path / "int8" / "weights.pt", weights_only=True)
    convs = [k for k in stored if k.startswith("blocks.") and k.endswith(".weight") and stored[k].ndim == 4]
    assert len(convs) == 6 and all(stored[k].dtype == torch.int8 for k in convs)
    int8_model = load_model(tmp_path / "int8")[0]
    x = compact_input(tiny.images[:64])
    net = Int8Net(int8_model, calibrate(int8_model, x))
    for conv, key in zip(net.convs, convs):  # BatchNorm folding did not move a single int8 weight
        assert torch.equal(conv.weight().int_repr(), stored[key])
    with torch.no_grad():
        cosine = torch.nn.functional.cosine_similarity(model.embed(x), int8_model.embed(x))
    assert float(cosine.min()) > 0.99
    fp16_bytes = sum(model.state_dict()[k].numel() * 2 for k in convs)
    assert sum(stored[k].numel() for k in convs) == fp16_bytes // 2


def test_model_configs_saved_before_depth_existed_have_two_convolutions_per_block():
    saved = ModelConfig(**vars(TINY)).to_dict()
    del saved["depth"]
    assert ModelConfig.from_dict(saved).depth == 2
    assert "blocks.0.conv3.weight" not in CifarNet(ModelConfig.from_dict(saved)).state_dict()


def test_int8_calibrates_on_images_spread_over_a_class_sorted_collection(tiny, monkeypatch):
    from cbir.features.cnn import extractor

    assert tiny.labels == sorted(tiny.labels)  # folders load class by class
    monkeypatch.setattr(extractor, "CALIBRATION_IMAGES", 6)
    sample = extractor.calibration_sample(tiny)
    assert len(sample) == 6 and set(sample.labels) == set(tiny.labels)


def test_without_int8_kernels_int8_falls_back_to_the_float_network(tiny, model_dir, tmp_path, monkeypatch):
    from cbir.features.cnn import int8

    monkeypatch.setattr(int8, "supported", lambda: False)
    with pytest.warns(UserWarning, match="AVX2 or AVX512-VNNI"):
        extractor = CnnExtractor(model_dir, int8=True).fit(tiny)
    assert extractor.int8_net_ is None and extractor.ranges_ is not None
    assert extractor.precision == CnnExtractor(model_dir).precision != "int8"
    expected = CnnExtractor(model_dir).fit(tiny).transform(tiny.images[:8])
    np.testing.assert_array_equal(extractor.transform(tiny.images[:8]), expected)


@pytest.mark.parametrize("capabilities, bf16, int8", [
    ({"avx2": True}, False, True),  # e.g. AMD Zen 2-3: bf16 emulated (~8x slower than float32), int8 via AVX2
    ({"avx2": True, "avx512_f": True, "avx512_vnni": True}, False, True),  # e.g. Intel Cascade Lake
    ({"avx2": True, "avx512_vnni": True, "avx512_bf16": True}, True, True),  # e.g. AMD Zen 4
    ({"avx2": True, "amx_bf16": True}, True, True),  # Intel Sapphire Rapids
    ({}, False, False),  # e.g. an ARM CPU: float32, the float network
])
def test_reduced_precision_runs_only_where_the_cpu_computes_it(tiny, model_dir, monkeypatch, capabilities,
                                                                bf16, int8):
    from cbir.features.cnn import int8 as int8_module

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert fast_bf16() is bf16 and fast_bf16("cuda") and int8_module.supported() is int8
    extractor = CnnExtractor(model_dir)
    assert extractor.precision == ("bf16" if bf16 else "float32")
    assert CnnExtractor(model_dir, bf16=False).precision == "float32"
    vectors = extractor.fit(tiny).transform(tiny.images[:8])
    exact = CnnExtractor(model_dir, bf16=False).fit(tiny).transform(tiny.images[:8])
    assert np.array_equal(vectors, exact) != bf16  # bf16 autocast ran exactly when it is fast
    np.testing.assert_allclose(vectors, exact, atol=0.05)
    model, _ = load_model(model_dir)
    logits = [predict(model, tiny.images[:8], torch.device("cpu"), bf16=asked, tta=False) for asked in (True, False)]
    assert torch.equal(*logits) != bf16  # predict (validation, test reports) alike


def test_int8_needs_positive_batchnorm_scales_before_the_pool(tiny, model_dir):
    extractor = CnnExtractor(model_dir, int8=True)
    extractor._ensure_model()
    with torch.no_grad():
        extractor.net_.blocks[0].norm1.weight[0] = -1.0
    with pytest.raises(CbirError, match="positive BatchNorm"):
        extractor.fit(tiny)


def test_other_weights_are_refused(tiny, model_dir, tmp_path):
    extractor = CnnExtractor(model_dir).fit(tiny)
    extractor.save(tmp_path / "x")
    weights = tmp_path / "x" / "model" / "weights.pt"
    state = torch.load(weights)
    state = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, weights)
    with pytest.raises(CbirError, match="weights"):
        load_extractor(tmp_path / "x")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(CbirError, match="cbir train"):
        CnnExtractor(tmp_path / "none").fit(None)
    assert make_extractor("cnn").name == "cnn"


@pytest.mark.cifar10
def test_shipped_checkpoint_classifies_real_cifar10_images(real_cifar10):
    from cbir.datasets import load_cifar10
    from cbir.features.cnn.extractor import SHIPPED

    test = load_cifar10("test", data=real_cifar10, progress=False).stratified(300, seed=1)
    calibration = load_cifar10("train", data=real_cifar10, progress=False).stratified(200, seed=1)
    extractor = make_extractor("cnn").fit(calibration)
    assert extractor.model_path == SHIPPED and extractor.dim == 256
    predicted = np.asarray(extractor.classes_)[extractor.predict_proba(test.images).argmax(axis=1)]
    assert np.mean(predicted == np.asarray(test.labels)) > 0.85
    in_bf16 = CnnExtractor().fit(calibration).predict_proba(test.images).argmax(axis=1)
    assert np.mean(np.asarray(extractor.classes_)[in_bf16] == predicted) > 0.97
    card = json.loads((SHIPPED / "model_card.json").read_text())
    assert card["test_accuracy"] >= 0.85 and "cbir train" in card["command"]


def test_the_class_of_an_image_just_searched_with_comes_from_that_search(tiny, model_dir):
    """The page asks for the predicted class right after the search: the network does not run again."""
    import pickle

    extractor = CnnExtractor(model_dir).fit(tiny)
    expected = extractor.predict_proba(tiny.images[:3])
    extractor.transform(tiny.images[:3])  # the search
    forward, calls = extractor._forward, []
    extractor._forward = lambda images, **kw: calls.append(len(images)) or forward(images, **kw)
    np.testing.assert_array_equal(extractor.predict_proba(tiny.images[1:2]), expected[1:2])
    assert calls == []
    assert extractor.predict_proba(tiny.images[3:4]).shape == (1, 3) and calls == [1]  # not searched: computed
    assert pickle.loads(pickle.dumps(extractor.recent_)).get(tiny.images[1:2]) is None  # pickled empty
