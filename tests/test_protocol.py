"""The proxy protocol's command on tiny fake Fashion-MNIST files: pilot, reports, formats."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from supernet_helpers import TINY, fake_fashion_mnist

from search_repro import protocol
from search_repro.proxy import CANVAS_PROXY, CANVAS_STRIDES, reference_architectures
from search_repro.supernet import Supernet
from search_repro.supernet.checkpoint import save_supernet

FAST = ["--epochs", "1", "--batch-size", "32", "--search-val-size", "20", "--threads", "1",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def fm(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fm"), n_train=120, n_test=30)


def test_pilot_trains_each_run_once_and_reports_the_spread(tmp_path, fm, capsys):
    args = ["pilot", "--out", str(tmp_path), "--name", "p", "--ladder", "2", "--seeds", "0,1",
            "--data-root", str(fm), *FAST]
    assert protocol.main(args + ["--shard", "1/2"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    # split by cost: each shard trains one small and one large network
    assert written == ["pilots/p/ladder0/seed0.json", "pilots/p/ladder1/seed1.json"]
    assert protocol.main(args + ["--shard", "0/2"]) == 0
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}
    assert len(before) == 4
    protocol.main(args)  # everything is done: nothing is retrained
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")} == before
    run = json.loads((tmp_path / "pilots/p/ladder1/seed1.json").read_text())
    assert run["proxy"]["strides"] == list(CANVAS_STRIDES)
    assert run["proxy"]["task"] == CANVAS_PROXY.task
    assert run["recipe"]["epochs"] == 1 and run["seed"] == 1
    assert 0 <= run["test_accuracy"] <= 1 and np.isfinite(run["test_nll"])
    assert len(run["loss_curve"]) == min(20, run["steps"]) and np.isfinite(run["loss_curve"]).all()
    capsys.readouterr()
    assert protocol.main(["pilot-report", "--out", str(tmp_path), "--json",
                          str(tmp_path / "pilots.json")]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and "ladder0" in out
    summary = json.loads((tmp_path / "pilots.json").read_text())["pilots"]["p"]
    assert summary["complete"] and set(summary["architectures"]) == {"ladder0", "ladder1"}


def test_shards_balance_cost_and_keep_seeds_in_order():
    names = [f"a{i}" for i in range(6)]
    cost = {name: float(c) for name, c in zip(names, [1, 1, 1, 1, 1, 5])}
    jobs = [(seed, name) for seed in (0, 1, 2) for name in names]
    owner = protocol.assign_shards(jobs, cost, 2)
    load = [sum(cost[n] for (_, n), k in zip(jobs, owner) if k == j) for j in (0, 1)]
    assert load == [15, 15]  # round robin would give 21 and 9
    for seed in (0, 1, 2):  # within each seed the shards share the work
        per_seed = [sum(cost[n] for (s, n), k in zip(jobs, owner) if k == j and s == seed)
                    for j in (0, 1)]
        assert max(per_seed) <= 6
    assert protocol.assign_shards(jobs, cost, 1) == [0] * len(jobs)
    assert sorted(set(protocol.assign_shards(jobs, cost, 3))) == [0, 1, 2]


def test_pilot_reuses_runs_of_the_same_network_seed_proxy_and_recipe(tmp_path, fm, capsys):
    args = ["pilot", "--out", str(tmp_path), "--ladder", "2", "--seeds", "0,1",
            "--data-root", str(fm), *FAST]
    assert protocol.main(args + ["--name", "two"]) == 0
    first = tmp_path / "pilots/two/ladder1/seed1.json"
    stale = json.loads(first.read_text())  # the same network under another recipe: not reused
    stale["recipe"]["lr"] = 0.5
    (tmp_path / "old/x").mkdir(parents=True)
    (tmp_path / "old/x/seed0.json").write_text(json.dumps({**stale, "seed": 0}))
    assert protocol.main(args + ["--name", "three", "--ladder", "3", "--reuse",
                                 str(tmp_path / "pilots"), "--reuse", str(tmp_path / "old")]) == 0
    out = capsys.readouterr().out
    assert "reused 4 run(s)" in out and "1 run(s) of the same architectures" in out
    # all-e6k7se is rung 1 of a 2-rung ladder and rung 2 of a 3-rung one
    copy = json.loads((tmp_path / "pilots/three/ladder2/seed1.json").read_text())
    assert copy["reused_from"] == "two/ladder1/seed1.json"
    assert copy["test_accuracy"] == json.loads(first.read_text())["test_accuracy"]
    trained = json.loads((tmp_path / "pilots/three/ladder1/seed0.json").read_text())
    assert "reused_from" not in trained
    assert protocol.main(args + ["--name", "four", "--reuse", str(tmp_path / "none")]) == 2
    (tmp_path / "old/x/seed1.json").write_text("{not json")
    capsys.readouterr()
    assert protocol.main(args + ["--name", "four", "--reuse", str(tmp_path / "old")]) == 2
    err = capsys.readouterr().err
    assert "seed1.json is not valid JSON" in err and err.count("\n") == 1
    assert not (tmp_path / "pilots/four").exists()
    (tmp_path / "pilots/two/ladder0/seed0.json").write_text("[]")  # pilot-report reads it too
    assert protocol.main(["pilot-report", "--out", str(tmp_path)]) == 2
    assert "is not a valid stand-alone run record" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--seeds", "a"], ["--seeds", ","], ["--shard", "2/2"],
                                 ["--shard", "x"]])
def test_pilot_bad_arguments_exit_with_one_line(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as exit:  # argparse's own exit, before any work
        protocol.main(["pilot", "--out", str(tmp_path), "--name", "p", *bad])
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert err.count("\n") == 1 and f"error: argument {bad[0]}" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def _fake_references(folder, seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    for i, (name, arch) in enumerate(reference_architectures().items()):
        for seed in seeds:
            run = {"arch": str(arch), "seed": seed, "params": 1000 + i, "macs": 10 + i,
                   "test_accuracy": 0.5 + 0.02 * i + rng.normal(0, 0.002),
                   "final_loss_mean_last_10pct": 1.0 - 0.01 * i, "train_seconds": 10.0 + i,
                   "proxy": {"task": "canvas", "resolution": 64}, "recipe": {"epochs": 3}}
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / f"seed{seed}.json").write_text(json.dumps(run))


def _tiny_supernet(folder):
    torch.manual_seed(0)
    net = Supernet(**TINY, strides=CANVAS_STRIDES)
    training = {"resolution": 64, "search_val_size": 20, "seed": 0, "task": "canvas",
                "strides": list(CANVAS_STRIDES)}
    return save_supernet(folder / "supernet" / "supernet", net, training, {})


def test_report_writes_the_ranking_json_and_plot(tmp_path, fm):
    ckpt = _tiny_supernet(tmp_path)
    _fake_references(tmp_path / "references")
    docs = tmp_path / "docs"
    assert protocol.main(["report", "--out", str(tmp_path), "--checkpoint", str(ckpt),
                          "--data-root", str(fm), "--docs", str(docs), "--val-size", "10",
                          "--calib-batch-size", "8"]) == 0
    report = json.loads((docs / "supernet_ranking.json").read_text())
    assert (docs / "supernet_ranking.png").stat().st_size > 10_000
    assert len(report["ranked_architectures"]) == 12
    assert report["evaluators"]["full_split"]["settings"]["val_size"] == 20
    assert report["evaluators"]["search_default"]["settings"]["val_size"] == 10
    first = report["architectures"]["ref00"]
    assert len(first["test_accuracy_per_seed"]) == 3 and first["arch"]
    assert report["train_seconds_total"] == 3 * sum(10.0 + i for i in range(15))
    spread = np.array([report["architectures"][n]["test_accuracy_per_seed"]
                       for n in report["ranked_architectures"]])
    sd = np.sqrt(spread.var(axis=1, ddof=1).mean())
    assert report["range_over_seed_sd"] == pytest.approx(np.ptp(spread.mean(1)) / sd)
    # the fake references' MACs rise with their accuracy: the capacity baseline ranks them right
    assert report["capacity_baseline"]["kendall_tau_macs_vs_test"] == pytest.approx(1.0)
    assert -1 <= report["capacity_baseline"]["kendall_tau_supernet_full_split_vs_macs"] <= 1
    # the fake references' training loss falls as their accuracy rises
    assert report["training_loss"]["kendall_tau_test_vs_minus_final_train_loss"] == \
        pytest.approx(1.0)
    # the fake references rise by 2 points per architecture with 0.2-point seed noise
    assert report["noise_ceiling_kendall_tau"] > 0.95
    assert min(report["standalone_seed_to_seed_kendall_tau"]) > 0.9
    lo, hi = report["evaluators"]["search_default"]["kendall_tau_95pct_interval"]
    assert -1 <= lo <= report["evaluators"]["search_default"]["kendall_tau_vs_test"] <= hi <= 1


def test_report_refuses_incomplete_references_unless_partial(tmp_path, fm, capsys):
    ckpt = _tiny_supernet(tmp_path)
    _fake_references(tmp_path / "references")
    (tmp_path / "references" / "ref03" / "seed2.json").unlink()
    (tmp_path / "references" / "moga_b" / "seed1.json").unlink()
    docs = tmp_path / "docs"
    common = ["report", "--out", str(tmp_path), "--checkpoint", str(ckpt), "--data-root",
              str(fm), "--docs", str(docs), "--val-size", "10", "--calib-batch-size", "8"]
    assert protocol.main(common) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--partial" in err and not docs.exists()
    # ranked on the one seed all have: no seed-to-seed tau, no noise ceiling, and it says so
    assert protocol.main(common + ["--partial"]) == 0
    report = json.loads((docs / "supernet_ranking.json").read_text())
    assert report["partial"] is True and report["seeds"] == [0]
    assert report["noise_ceiling_kendall_tau"] is None and report["seed_sd_pooled"] is None
    assert report["standalone_seed_to_seed_kendall_tau"] == []
    assert report["architectures"]["ref03"]["test_accuracy_per_seed"] == [
        json.loads((tmp_path / "references" / "ref03" / "seed0.json").read_text())[
            "test_accuracy"]]
    assert "partial: ranked on seeds [0] only" in capsys.readouterr().out
    # a reference not trained at all is left out, and named
    for run in (tmp_path / "references" / "ref05").iterdir():
        run.unlink()
    assert protocol.main(common + ["--partial"]) == 0
    report = json.loads((docs / "supernet_ranking.json").read_text())
    assert report["untrained_references"] == ["ref05"] and "ref05" not in report["architectures"]
    assert len(report["ranked_architectures"]) == 11


def test_evaluator_check_scores_each_candidate_against_the_whole_split(tmp_path, fm, capsys):
    ckpt = _tiny_supernet(tmp_path)
    assert protocol.main(["evaluator-check", "--out", str(tmp_path), "--checkpoint", str(ckpt),
                          "--data-root", str(fm), "--candidates", "10x1,allx2", "--random", "3",
                          "--calib-batch-size", "8"]) == 0
    result = json.loads((tmp_path / "evaluator_check.json").read_text())
    assert result["architectures"] == 18 and len(result["codes"]) == 18
    # "all" resolves to the whole search-validation split (20 images here)
    assert [(c["label"], c["settings"]) for c in result["candidates"]] == [
        ("10x1", {"val_size": 10, "calib_batches": 1, "calib_batch_size": 8}),
        ("allx2", {"val_size": 20, "calib_batches": 2, "calib_batch_size": 8})]
    assert result["whole_split"] == {"val_size": 20, "calib_batches": 8, "calib_seed": 2,
                                     "calib_batch_size": 8}
    assert set(result["scores"]) == {"whole_split", "10x1_calib_seed_0", "10x1_calib_seed_1",
                                     "allx2_calib_seed_0", "allx2_calib_seed_1"}
    scores = {k: np.array(v) for k, v in result["scores"].items()}
    # 10 images: every score is a multiple of 1/10; the two calibration seeds differ somewhere
    tenths = scores["10x1_calib_seed_0"] * 10
    assert np.allclose(tenths, np.round(tenths))
    assert not np.array_equal(scores["allx2_calib_seed_0"], scores["allx2_calib_seed_1"])
    for row in result["candidates"]:
        assert -1 <= row["tau_between_calibration_seeds"] <= 1
        assert row["seconds_per_architecture"] > 0
    assert "two calibration seeds" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["1000", "ax2", "0x2", ",", "allx0", "all"])
def test_evaluator_check_bad_candidates_exit_with_one_line(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as exit:  # checked where the option is parsed
        protocol.main(["evaluator-check", "--out", str(tmp_path), "--candidates", bad])
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert err.count("\n") == 1 and "--candidates" in err and "Traceback" not in err


def test_noise_ceiling_and_bootstrap_behave():
    rng = np.random.default_rng(1)
    ceilings = [protocol.noise_ceiling(np.linspace(0.5, 0.8, 12)[:, None]
                                       + rng.normal(0, sd, (12, 3)), draws=300)
                for sd in (0.001, 0.05, 0.2)]
    assert ceilings[0] > 0.99 > ceilings[1] > ceilings[2] and ceilings[2] < 0.7
    x = np.arange(12.0)
    lo, hi = protocol.bootstrap_tau(x, x)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    lo, hi = protocol.bootstrap_tau(x, -x + np.random.default_rng(0).normal(0, 3, 12))
    assert -1 <= lo < hi < 0
