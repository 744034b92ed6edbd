"""The weighted NSGA-II search on cheap stand-in objectives: determinism, duplicates, results."""
import csv
import json

import numpy as np
import pytest

from moga_zoo import create
from moga_zoo.profile import count_params
from moga_zoo.search_space import Architecture
from search_repro.search.config import SearchConfig
from search_repro.search.objectives import ArchitectureProblem, fastest_architecture
from search_repro.search.runner import run_search
from search_repro.search.state import StateError
from search_helpers import RecordingAccuracy, toy_latency, toy_scorer

SMALL = dict(pop_size=12, generations=5, random_samples=10, artifacts={"table": "toy"})


def _front(folder):
    return json.loads((folder / "front.json").read_text())["front"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    accuracy = RecordingAccuracy()
    outcome = run_search(SearchConfig(**SMALL), toy_scorer(accuracy), out, progress=False)
    return out, outcome, accuracy


def test_same_seed_same_front_other_seed_other_front(baseline, tmp_path):
    out, _, _ = baseline
    run_search(SearchConfig(**SMALL), toy_scorer(), tmp_path / "again", progress=False)
    assert (tmp_path / "again" / "front.json").read_bytes() == (out / "front.json").read_bytes()
    assert (tmp_path / "again" / "history.csv").read_bytes() == (out / "history.csv").read_bytes()
    run_search(SearchConfig(**{**SMALL, "seed": 1}), toy_scorer(), tmp_path / "seed1", progress=False)
    assert _front(tmp_path / "seed1") != _front(out)


def test_no_architecture_is_evaluated_twice(baseline):
    _, outcome, accuracy = baseline
    search_calls = accuracy.calls[:len(outcome.history)]  # then MoGA-A/B/C and the random cloud
    assert len(search_calls) == len(set(search_calls)) == SMALL["pop_size"] * SMALL["generations"]
    assert [tuple(r) for r in outcome.history.codes.tolist()] == search_calls


def test_front_is_non_dominated_and_buildable(baseline):
    out, outcome, _ = baseline
    front = _front(out)
    assert front and len(front) == len(outcome.front)
    acc = np.array([r["accuracy"] for r in front])
    lat = np.array([r["latency_ms"] for r in front])
    par = np.array([r["params"] for r in front])
    for i in range(len(front)):  # nobody in the front is dominated by anybody evaluated
        h = outcome.history.metrics
        dominated = ((h["accuracy"] >= acc[i]) & (h["latency_ms"] <= lat[i]) & (h["params"] >= par[i])
                     & ((h["accuracy"] > acc[i]) | (h["latency_ms"] < lat[i]) | (h["params"] > par[i])))
        assert not dominated.any()
    model = create(arch=front[0]["arch"])
    assert count_params(model) == front[0]["params"]
    assert list(Architecture.from_string(front[0]["arch"]).encode()) == front[0]["codes"]


def test_results_folder_is_complete(baseline):
    out, outcome, _ = baseline
    for name in ("history.csv", "front.csv", "front.json", "references.csv", "search.png",
                 "state.json", "run.json"):
        assert (out / name).stat().st_size > 0, name
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 1 + len(outcome.history)
    refs = (out / "references.csv").read_text().splitlines()
    assert len(refs) == 1 + 3 + SMALL["random_samples"]
    assert refs[1].startswith("moga_a,e6k5-e6k7-e6k3-e6k3se")
    assert (out / "search.png").read_bytes()[:4] == b"\x89PNG"


def test_latency_budget_is_a_constraint(tmp_path):
    budget = float(np.median(toy_latency(np.random.default_rng(0).integers(0, 12, (500, 14)))))
    run_search(SearchConfig(**SMALL, max_latency_ms=budget), toy_scorer(), tmp_path, progress=False)
    front = _front(tmp_path)
    assert front and all(r["latency_ms"] <= budget for r in front)


def test_impossible_budgets_fail_early_with_the_best_value(tmp_path):
    codes, fastest = fastest_architecture(toy_latency)
    sample = toy_latency(np.random.default_rng(0).integers(0, 12, (2000, 14)))
    assert fastest <= sample.min() and fastest == toy_latency(codes[None])[0]
    with pytest.raises(ValueError, match=f"fastest under this table is {fastest:.3f} ms"):
        run_search(SearchConfig(**SMALL, max_latency_ms=fastest * 0.99), toy_scorer(), tmp_path)
    with pytest.raises(ValueError, match="no architecture meets the MAC budget"):
        run_search(SearchConfig(**SMALL, max_macs=1_000_000), toy_scorer(), tmp_path)
    assert not (tmp_path / "state.json").exists()


def test_corrupt_or_foreign_state_is_refused_and_kept(baseline, tmp_path):
    out, _, _ = baseline
    folder = tmp_path / "run"
    folder.mkdir()
    state = (out / "state.json").read_text()
    (folder / "state.json").write_text(state[: len(state) // 2])
    with pytest.raises(StateError, match="corrupt.*left untouched"):
        run_search(SearchConfig(**SMALL), toy_scorer(), folder, progress=False)
    assert (folder / "state.json").read_text() == state[: len(state) // 2]
    (folder / "state.json").write_text(state)
    with pytest.raises(StateError, match="other settings.*pop_size: saved 12 vs now 16"):
        run_search(SearchConfig(**{**SMALL, "pop_size": 16}), toy_scorer(), folder, progress=False)
    assert (folder / "state.json").read_text() == state


def test_maximising_params_and_optional_macs_objective():
    problem = ArchitectureProblem(toy_scorer(), None, ("accuracy", "latency", "params", "macs"))
    metrics = {"accuracy": np.array([0.5]), "latency_ms": np.array([3.0]),
               "params": np.array([5_000_000]), "macs": np.array([200_000_000])}
    assert problem.minimised(metrics).tolist() == [[-0.5, 3.0, -5e6, 2e8]]


@pytest.mark.parametrize("kwargs, match", [
    ({"objectives": ("accuracy", "speed")}, "objectives must be"),
    ({"weights": (1, 1)}, "one crowding weight per objective"),
    ({"pop_size": 2}, "pop_size"),
    ({"max_latency_ms": -1}, "max_latency_ms must be positive"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchConfig(**{**SMALL, **kwargs})


class _Interrupted(Exception):
    pass


def test_every_invocation_is_logged_when_it_starts_and_a_resume_says_so(tmp_path, capsys):
    class StopAfter(RecordingAccuracy):
        def __call__(self, codes):
            if len(self.calls) >= 2 * SMALL["pop_size"]:
                raise _Interrupted  # killed during generation 3
            return super().__call__(codes)

    with pytest.raises(_Interrupted):
        run_search(SearchConfig(**SMALL), toy_scorer(StopAfter()), tmp_path, progress=False)
    started = json.loads((tmp_path / "run.json").read_text())["invocations"]
    assert [(i["resumed_from_generation"], i["finished"]) for i in started] == [(None, False)]
    capsys.readouterr()
    outcome = run_search(SearchConfig(**SMALL), toy_scorer(), tmp_path, progress=True)
    err = capsys.readouterr().err
    assert f"resumed from generation 2 of {SMALL['generations']}" in err
    assert "MoGA-A/B/C + random sample" in err and "writing history.csv" in err
    assert f"plotting {tmp_path / 'search.png'}" in err
    both = json.loads((tmp_path / "run.json").read_text())["invocations"]
    assert both[0] == started[0]
    assert (both[1]["resumed_from_generation"], both[1]["finished"]) == (2, True)
    assert both[1]["generations_done"] == outcome.timing["generations_done"] == SMALL["generations"]


def test_csv_files_are_rounded_and_json_keeps_full_precision(baseline):
    out, outcome, _ = baseline
    front = json.loads((out / "front.json").read_text())["front"]
    assert any(round(r["accuracy"], 4) != r["accuracy"] for r in front)  # toy scores: long floats
    assert any(round(r["latency_ms"], 2) != r["latency_ms"] for r in front)
    for name in ("front.csv", "history.csv", "references.csv"):
        rows = list(csv.DictReader((out / name).open()))
        for r in rows:
            assert len(r["accuracy"].partition(".")[2]) <= 4, (name, r["accuracy"])
            assert len(r["latency_ms"].partition(".")[2]) <= 2, (name, r["latency_ms"])
            assert r["params"].isdigit() and r["macs"].isdigit()
    rows = list(csv.DictReader((out / "front.csv").open()))
    assert [float(r["accuracy"]) for r in rows] == [round(r["accuracy"], 4) for r in front]
    assert [float(r["latency_ms"]) for r in rows] == [round(r["latency_ms"], 2) for r in front]


def test_plot_axis_names_data_split_and_size():
    from search_repro.search.plot import accuracy_label

    label = accuracy_label({"data": "Fashion-MNIST", "evaluator": {"val_size": 1000}})
    assert label == "supernet accuracy\nFashion-MNIST\nsearch-validation split (first 1,000 images)"
    assert "Fashion-MNIST" in accuracy_label({"supernet": "bundled"})
    assert "--" not in label
