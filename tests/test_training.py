"""The training package on its own and with a pretrained backbone: `cbir train --backbone` fine-tunes EfficientNet-Lite0
into a model folder that `--model` indexes like any other, resumes, teaches the compact network, and the command line
is built from the recipe's one set of defaults."""

import itertools
import json

import numpy as np
import pytest
import torch

from cbir import Engine
from cbir.cli import build_parser, main
from cbir.cli.models import model_config, train_config
from cbir.errors import CbirError, TrainingError
from cbir.features.cnn.backbone import BackboneNet
from cbir.features.cnn.config import BackboneConfig, ModelConfig
from cbir.features.cnn.model import CifarNet
from cbir.features.cnn.store import load_model
from cbir.training.budget import EpochKind, probe_seconds
from cbir.training.config import BACKBONE_RECIPE, SMALL_COLLECTION, SMALL_RECIPE, TrainConfig, recipe
from cbir.training.loop import train
from cbir.training.networks import network
from cbir.training.teachers import taught_logits

BACKBONE = BackboneConfig(resolution=32)  # the smallest the network takes: fast enough for a test


def small(**kw) -> TrainConfig:
    return recipe(True, **{"epochs": 2, "batch_size": 15, "val_images": 15, **kw})


@pytest.fixture(scope="module")
def tuned(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned")
    return out, train(tiny, out, small(), BACKBONE, progress=False)


def test_a_backbone_fine_tunes_from_the_imagenet_weights_into_a_model_folder(tiny, tuned):
    out, card = tuned
    assert json.loads((out / "config.json").read_text())["model"] == {
        "backbone": "efficientnet-lite0", "resolution": 32, "embedding_dim": 256, "num_classes": 3, "logit_scale": 1.0}
    assert card["recipe"]["lr"] == BACKBONE_RECIPE["lr"] and card["recipe"]["bf16"] is False
    assert (out / "weights.pt").stat().st_size < 10e6  # float16: 3.7 M parameters
    net, classes = load_model(out)
    assert isinstance(net, BackboneNet) and classes == tiny.classes
    start, fresh = BackboneNet.pretrained(BACKBONE), BackboneNet(BACKBONE)
    stem = [n.body._conv_stem.weight.flatten() for n in (net, start, fresh)]
    assert torch.cosine_similarity(stem[0], stem[1], 0) > 0.99 > torch.cosine_similarity(stem[0], stem[2], 0)
    assert [h["epoch"] for h in card["history"]] == [1, 2] and 0 <= card["validation_accuracy_tta"] <= 1


def test_a_new_classifier_on_the_imagenet_features_separates_the_classes_before_any_training(tiny):
    from cbir.training.validation import accuracy, split_validation

    train_part, held_out = split_validation(tiny, 15, 0)
    net, images = network(small(), BACKBONE, tiny.classes, train_part)
    assert images.shape == (45, 32, 32, 3)
    assert accuracy(net, held_out, tiny.classes, torch.device("cpu"), bf16=False) == 1.0  # class means imprinted


def test_the_fine_tuned_folder_indexes_searches_and_says_what_it_is(tiny, tuned, tiny_collection, tmp_path, capsys):
    out, _ = tuned
    engine = tmp_path / "engine"
    assert main(["index", "--dataset", str(tiny_collection), "--split", "train", "--features", "cnn", "--model",
                 str(out), "--out", str(engine)]) == 0  # the shipped cnn's int8 stays the compact network's
    assert main(["info", str(engine)]) == 0
    assert "efficientnet-lite0 fine-tuned at 32 px" in capsys.readouterr().out
    loaded = Engine.load(engine)
    result = loaded.search(tiny.images[:1], k=5)[0]
    assert result.hits[0].label == tiny.labels[0]
    folded, (unfolded, _) = loaded.extractor.net_, load_model(out)  # run with its BatchNorms folded, the same function
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.body.modules())
    x = unfolded.input_of(tiny.images[:8])
    with torch.inference_mode():
        assert torch.allclose(folded.embed(x), unfolded.embed(x), atol=1e-4)
    assert main(["index", "--dataset", str(tiny_collection), "--features", "cnn", "--model", str(out), "--set",
                 "int8=true", "--out", str(tmp_path / "int8")]) == 2
    assert "int8 inference (int8=true) runs the compact CIFAR network only" in capsys.readouterr().err


def test_a_backbone_run_resumes_after_an_interruption_and_refuses_another_network(tiny, tuned, tmp_path,
                                                                                  monkeypatch):
    import cbir.training.loop as loop

    real_accuracy, calls = loop.accuracy, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # during the second epoch's validation
        return real_accuracy(*args, **kwargs)

    resumed = tmp_path / "resumed"
    monkeypatch.setattr(loop, "accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny, resumed, small(), BACKBONE, progress=False)
    monkeypatch.undo()
    with pytest.raises(TrainingError, match="another network"):
        train(tiny, resumed, small(), BackboneConfig(resolution=40), progress=False)
    card = train(tiny, resumed, small(), BACKBONE, progress=False)
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    straight = torch.load(tuned[0] / "weights.pt")
    again = torch.load(resumed / "weights.pt")
    assert all(torch.allclose(straight[k].float(), again[k].float(), rtol=1e-2, atol=1e-2) for k in straight)


def test_a_fine_tuned_backbone_teaches_the_compact_network_at_its_own_input_size(tiny, tuned, tmp_path):
    teacher, _ = load_model(tuned[0])
    student = CifarNet(ModelConfig(widths=(8, 16, 16), embedding_dim=16, num_classes=3))
    x = student.input_of(tiny.images[:6])  # the student's batch, 32 x 32: the teacher (at 32 px) sees the same
    with torch.no_grad():
        assert torch.allclose(taught_logits([teacher], student, x), teacher.eval()(teacher.input_of(tiny.images[:6])),
                              atol=1e-3)
    card = train(tiny, tmp_path / "student", TrainConfig(epochs=1, batch_size=15, val_images=15, lr=0.2,
                                                         teachers=(str(tuned[0]),), distill=0.5),
                 ModelConfig(widths=(8, 16, 16), embedding_dim=16), progress=False)
    assert card["recipe"]["teachers"] == (str(tuned[0]),)
    with pytest.raises(TrainingError, match="did not hold out this run's validation images"):
        train(tiny, tmp_path / "leaky", TrainConfig(epochs=1, batch_size=15, val_images=12, teachers=(str(tuned[0]),),
                                                    distill=0.5), ModelConfig(widths=(8, 16, 16)), progress=False)


def test_frozen_norms_keep_the_imagenet_statistics_and_a_small_collection_gets_them(tiny, tuned, tiny_collection,
                                                                                      tmp_path):
    def statistics(net):
        return torch.cat([m.running_mean.float() for m in net.body.modules() if isinstance(m, torch.nn.BatchNorm2d)])

    imagenet = statistics(BackboneNet.pretrained(BACKBONE))
    train(tiny, tmp_path / "frozen", small(frozen_norms=True), BACKBONE, progress=False)
    assert torch.allclose(statistics(load_model(tmp_path / "frozen")[0]), imagenet, atol=1e-2)  # stored as float16
    assert not torch.allclose(statistics(load_model(tuned[0])[0]), imagenet, atol=0.1)  # the batches' instead
    assert main(["train", "--dataset", str(tiny_collection), "--split", "train", "--backbone", "efficientnet-lite0",
                 "--resolution", "32", "--epochs", "1", "--val-images", "15", "--out", str(tmp_path / "cli")]) == 0
    card = json.loads((tmp_path / "cli" / "model_card.json").read_text())
    assert card["recipe"]["frozen_norms"] and card["recipe"]["lr"] == SMALL_RECIPE["lr"]  # 60 images: a small one


def test_the_command_line_is_built_from_the_recipe_with_the_backbone_defaults(tuned):
    def parsed(*args):
        parsed_args = build_parser().parse_args(["train", "--out", "m", *args])
        return model_config(parsed_args), train_config(parsed_args)

    assert parsed() == (ModelConfig(), TrainConfig())
    assert parsed("--backbone", "efficientnet-lite0") == (BackboneConfig(), TrainConfig(**BACKBONE_RECIPE))
    assert parsed("--init", str(tuned[0]))[1] == recipe(True, init=str(tuned[0]))  # going on with a fine-tuned one
    network, config = parsed("--backbone", "efficientnet-lite0", "--resolution", "128", "--lr", "0.01")
    assert network.resolution == 128 and config.lr == 0.01 and config.batch_size == BACKBONE_RECIPE["batch_size"]
    assert recipe(True, images=1000) == TrainConfig(**BACKBONE_RECIPE | SMALL_RECIPE)  # a small collection's
    assert recipe(True, images=SMALL_COLLECTION + 1) == recipe(True) and recipe(False, images=1000) == TrainConfig()
    assert recipe(True, images=1000, lr=0.01).lr == 0.01 and SMALL_RECIPE["frozen_norms"]  # what is given wins
    with pytest.raises(CbirError, match="--widths, --depth shape the compact network only"):
        parsed("--backbone", "efficientnet-lite0", "--widths", "8", "8", "8", "--depth", "3")
    with pytest.raises(CbirError, match="--resolution is a backbone's"):
        parsed("--resolution", "64")
    with pytest.raises(TrainingError, match="--small-crop shape the compact network only"):
        parsed("--backbone", "efficientnet-lite0", "--small-crop", "24")[1].check(backbone=True)
    with pytest.raises(CbirError, match="resolution must be 32 pixels or more"):
        BackboneConfig(resolution=16)
    with pytest.raises(TrainingError, match="not both"):
        train(None, "m", recipe(True, init="elsewhere"), BackboneConfig())  # checked before any data is read


def test_the_speed_probe_times_each_kind_of_epoch_on_an_injected_clock(tiny):
    ticks = itertools.count()
    clock = lambda: float(next(ticks))  # noqa: E731  one second per reading
    net = CifarNet(ModelConfig(widths=(8, 16, 16), embedding_dim=16, num_classes=3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    steps = []

    def step(probe, optimizer, x, y):
        steps.append(x.shape)

    def inputs(probe, images, generator, flips, crop):
        return probe.to_input(images[:, :crop or None, :crop or None])

    images = torch.from_numpy(np.stack(tiny.images))
    config = TrainConfig(batch_size=15, whiten_bias_epochs=1, small_crop=24)
    seconds, validation = probe_seconds(net, step, inputs, images, torch.zeros(len(images), dtype=torch.long), config,
                                        10, torch.device("cpu"), False, np.stack(tiny.images[:45]), clock=clock)
    # each timed step reads the clock twice: 1 s a step, 10 steps an epoch; validation: one read around 15 of 45
    assert seconds == {EpochKind(False, False): 10.0, EpochKind(True, False): 10.0, EpochKind(False, True): 10.0,
                       EpochKind(True, True): 10.0}
    assert validation == 3.0 and len(steps) == 4 * 6 and {s[-1] for s in steps} == {32, 24}
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # a throw-away copy was timed


def test_inference_never_imports_the_training_package():
    import subprocess
    import sys

    def loaded(code: str) -> list[str]:
        code += "; import sys; print(sorted(m for m in sys.modules if m.startswith('cbir.training') or m == 'torch'))"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    library = ("from cbir import Engine; import cbir.web; from cbir.features import make_extractor; "
               "make_extractor('cnn').describe()")
    assert loaded(library) == "['torch']"  # the network loaded, nothing of training
    assert loaded("from cbir.cli import build_parser; build_parser()") == "['cbir.training', 'cbir.training.config']"


def test_an_epoch_far_off_its_plan_has_the_rest_planned_again():
    from cbir.training.budget import TimePlan

    whole = EpochKind(False, False)
    plan = TimePlan(0.0, 1000.0, {whole: 90.0}, 10.0, 0.0, None).measured(0, 9, 100.0)  # as estimated: 100 s
    assert plan.epochs(100.0, done=1) == 9  # 850 s left (5% in reserve once every kind is timed): 8 more
    assert not plan.replans_after(1, 9, 110.0)  # within 15% of the plan
    assert plan.replans_after(1, 9, 60.0)  # the machine got quieter (another job ended)
    quieter = plan.measured(1, 9, 60.0)
    assert quieter.seconds[whole] == pytest.approx(54.0) and quieter.validation == pytest.approx(6.0)
    assert quieter.epochs(160.0, done=2) == 15  # 790 s left at 60 s an epoch: 13 more
