"""The stand-alone recipe's quieting options: warm-up, label smoothing, clipping, EMA."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from supernet_helpers import fake_fashion_mnist

from search_repro import protocol
from search_repro.standalone import Recipe

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "1", "--batch-size", "32", "--search-val-size", "20", "--threads", "1",
        "--device", "cpu", "--ladder", "2", "--seeds", "0"]


@pytest.fixture(scope="module")
def fm(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fm"), n_train=120, n_test=30)


def test_the_plain_recipe_reads_like_runs_recorded_before_the_quieting_options():
    committed = json.loads((ROOT / "evidence/proxy/pilots/rot180-e6/ladder0/seed0.json")
                           .read_text())["recipe"]
    assert Recipe(**committed).describe() == committed
    quiet = Recipe(ema_decay=0.998, warmup_epochs=0.5).describe()
    assert quiet["ema_decay"] == 0.998 and quiet["warmup_epochs"] == 0.5
    assert "label_smoothing" not in quiet and "clip_grad_norm" not in quiet


def _rates(recipe: Recipe, steps: int, images: int) -> list[float]:
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=recipe.lr)
    schedule, rates = recipe.schedule(optimizer, steps, images), []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def test_warm_up_ramps_linearly_then_follows_the_cosine_to_zero():
    recipe = Recipe(epochs=2.0, batch_size=10, lr=0.4, warmup_epochs=0.5)  # 10 steps per epoch
    warm, steps = 5, 20
    expected = [0.4 * (1 / warm + (1 - 1 / warm) * s / warm) for s in range(warm)] + \
               [0.2 * (1 + math.cos(math.pi * (s - warm) / (steps - warm))) for s in range(warm, steps)]
    assert _rates(recipe, steps, 100) == pytest.approx(expected, rel=1e-9)
    plain = _rates(Recipe(epochs=2.0, batch_size=10, lr=0.4), steps, 100)
    assert plain == pytest.approx([0.2 * (1 + math.cos(math.pi * s / steps)) for s in range(steps)])


def test_a_quiet_recipe_scores_the_average_and_records_the_trained_weights_beside_it(tmp_path, fm):
    args = ["pilot", "--out", str(tmp_path), "--data-root", str(fm), *FAST]
    quiet = ["--ema-decay", "0.9", "--warmup-epochs", "0.25", "--label-smoothing", "0.1",
             "--clip-grad-norm", "1"]
    assert protocol.main(args + ["--name", "plain"]) == 0
    assert protocol.main(args + ["--name", "quiet", *quiet, "--reuse", str(tmp_path / "pilots")]) == 0
    plain = json.loads((tmp_path / "pilots/plain/ladder1/seed0.json").read_text())
    run = json.loads((tmp_path / "pilots/quiet/ladder1/seed0.json").read_text())
    assert "reused_from" not in run  # another recipe: trained, not copied from the plain run
    assert "trained_weights_test_accuracy" not in plain
    assert run["recipe"] == {**plain["recipe"], "ema_decay": 0.9, "warmup_epochs": 0.25,
                             "label_smoothing": 0.1, "clip_grad_norm": 1.0}
    assert 0 <= run["trained_weights_test_accuracy"] <= 1 and 0 <= run["test_accuracy"] <= 1
    assert run["test_nll"] != plain["test_nll"]


@pytest.mark.parametrize("bad, says", [
    (["--ema-decay", "1"], "--ema-decay"), (["--label-smoothing", "-0.1"], "--label-smoothing"),
    (["--warmup-epochs", "1"], "--warmup-epochs must be in [0, --epochs)"),
])
def test_quieting_options_out_of_range_exit_with_one_line(tmp_path, fm, bad, says, capsys):
    try:
        code = protocol.main(["pilot", "--out", str(tmp_path), "--name", "p",
                              "--data-root", str(fm), *FAST, *bad])
    except SystemExit as exit:  # argparse's own range check
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and says in err and "Traceback" not in err
    assert not (tmp_path / "pilots").exists()
