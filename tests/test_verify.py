"""The verification command: the pick rule, the verdict rules, the report, and one tiny run."""
from __future__ import annotations

import json

import numpy as np
import pytest
from search_helpers import toy_accuracy, toy_latency
from supernet_helpers import fake_fashion_mnist

from moga_zoo.search_space import MOGA_A, MOGA_B, MOGA_C, NAMED_ARCHITECTURES, Architecture
from search_repro import verify
from search_repro.latency import load_table
from search_repro.proxy import ProxySpec
from search_repro.standalone import Recipe

BUDGET = sum(MOGA_A.encode())


def _predict(codes):
    """A tiny fabricated table: an architecture's latency is the sum of its codes."""
    return np.asarray(codes, np.float64).sum(1)


def _codes(total: int, shift: int = 0) -> list[int]:
    """14 codes in 0..11 summing to ``total``; ``shift`` rotates them (same sum, other arch)."""
    codes = [min(11, max(0, total - 11 * i)) for i in range(14)]
    assert sum(codes) == total
    return codes[shift:] + codes[:shift]


def _member(total: int, accuracy: float, shift: int = 0) -> dict:
    codes = _codes(total, shift)
    return {"arch": str(Architecture.decode(codes)), "codes": codes, "accuracy": accuracy}


def test_pick_is_the_best_score_at_or_under_the_models_latency():
    front = [_member(BUDGET - 5, 0.80), _member(BUDGET, 0.85), _member(BUDGET + 1, 0.95)]
    picks = verify.pick_rule(front, _predict, {"moga_a": MOGA_A})
    a = picks["moga_a"]
    assert a["model_latency_ms"] == BUDGET and a["qualifying"] == 2 and a["reason"] is None
    assert a["pick"]["arch"] == front[1]["arch"]  # latency equal to MoGA-A's qualifies
    assert a["pick"]["latency_ms"] == BUDGET and a["pick"]["supernet_accuracy"] == 0.85


def test_pick_ties_go_to_the_lower_latency_then_the_first_string():
    front = [_member(BUDGET, 0.85), _member(BUDGET - 2, 0.85), _member(BUDGET - 2, 0.85, 3)]
    pick = verify.pick_rule(front, _predict, {"moga_a": MOGA_A})["moga_a"]["pick"]
    assert pick["latency_ms"] == BUDGET - 2
    assert pick["arch"] == min(front[1]["arch"], front[2]["arch"]) != front[0]["arch"]
    again = verify.pick_rule(front[::-1], _predict, {"moga_a": MOGA_A})["moga_a"]["pick"]
    assert again == pick  # independent of the front's order


def test_no_qualifying_member_is_no_pick_with_the_reason():
    fastest = Architecture.decode([0] * 14)
    picks = verify.pick_rule([_member(3, 0.9), _member(5, 0.7)], _predict,
                             {"moga_c": fastest})
    c = picks["moga_c"]
    assert c["pick"] is None and c["qualifying"] == 0
    assert "no front member is predicted at or below MoGA-C's 0.000 ms" in c["reason"]
    assert "fastest is predicted at 3.000 ms" in c["reason"]
    empty = verify.pick_rule([], _predict)
    assert set(empty) == {"moga_a", "moga_b", "moga_c"}
    assert all(p["pick"] is None and p["reason"] == "the front is empty" for p in empty.values())


def test_picks_agree_with_brute_force_on_a_random_front():
    codes = np.random.default_rng(0).integers(0, 12, (300, 14))
    front = [{"arch": str(Architecture.decode(c)), "codes": c.tolist(), "accuracy": float(a)}
             for c, a in zip(codes, np.round(toy_accuracy(codes), 2))]  # rounded: many ties
    latency = dict(zip((r["arch"] for r in front), toy_latency(codes)))
    picks = verify.pick_rule(front, toy_latency)
    for name, p in picks.items():
        budget = float(toy_latency(np.array([NAMED_ARCHITECTURES[name].encode()]))[0])
        allowed = [r for r in front if latency[r["arch"]] <= budget]
        assert allowed and p["qualifying"] == len(allowed)
        best = min(allowed, key=lambda r: (-r["accuracy"], latency[r["arch"]], r["arch"]))
        assert p["pick"]["arch"] == best["arch"] and p["pick"]["latency_ms"] <= budget


def _results(folder, table="cpu-torch-224-b1-t1", members=((0, 0.9),)):
    """A results folder whose front.json latencies come from a bundled table."""
    t = load_table(table)
    front = []
    for shift, acc in members:
        codes = [(c + shift) % 4 for c in range(14)] if shift else [0] * 14
        front.append({"arch": str(Architecture.decode(codes)), "codes": codes, "accuracy": acc,
                      "latency_ms": float(t.predict(np.array([codes]))[0]),
                      "params": 1, "macs": 1})
    folder.mkdir(parents=True)
    (folder / "front.json").write_text(json.dumps(
        {"config": {"artifacts": {"table": table, "supernet_sha256": "ab"}}, "front": front,
         "references": [{"set": "moga_a", "accuracy": 0.8}]}))
    return folder


def test_picks_command_checks_the_table_against_the_front(tmp_path, capsys):
    res = _results(tmp_path / "search")
    assert verify.main(["picks", str(res), "--out", str(tmp_path / "v")]) == 0
    picks = json.loads((tmp_path / "v" / "picks.json").read_text())
    (search,) = picks["searches"]
    assert search["label"] == "cpu-torch-224-b1-t1" and search["table_runtime"]["name"] == "torch"
    assert {p["pick"]["arch"] for p in search["picks"].values()} == {"e3k3-" * 13 + "e3k3"}
    assert search["picks"]["moga_a"]["model_supernet_accuracy"] == 0.8
    assert search["picks"]["moga_b"]["model_supernet_accuracy"] is None
    capsys.readouterr()
    # the front's latencies are not the onnxruntime table's: refused, one line, exit 2
    assert verify.main(["picks", f"{res}=cpu-onnxruntime-224-b1-t1",
                        "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "not predicted by table cpu-onnxruntime-224-b1-t1" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "w").exists()
    assert verify.main(["picks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "w")]) == 2
    assert verify.main(["picks", str(res), str(res), "--out", str(tmp_path / "w")]) == 2
    assert "same table" in capsys.readouterr().err


def test_seed_noise_pools_the_within_architecture_variance():
    noise = verify.seed_noise({"a": [0.80, 0.82], "b": [0.70, 0.71, 0.75], "c": [0.5, 0.5]})
    assert noise["df"] == 1 + 2 + 1
    assert noise["pooled_sd"] == pytest.approx(np.sqrt((0.0002 + 0.0014) / 4))
    assert noise["t"] == pytest.approx(2.776, abs=1e-3)  # Student's t, 97.5 %, 4 df
    with pytest.raises(ValueError, match="at least 2 seeds"):
        verify.seed_noise({"a": [0.8], "b": [0.7, 0.71]})


@pytest.mark.parametrize("pick, model", [
    ([0.80, 0.81, 0.82], [0.70, 0.71, 0.72]), ([0.70, 0.71, 0.72], [0.80, 0.81, 0.82]),
    ([0.5, 0.6, 0.7], [0.4, 0.5, 0.6]), ([0.5, 0.6, 0.7], [0.3, 0.35, 0.4]),
    ([0.5, 0.52], [0.49, 0.50, 0.51]), ([0.5, 0.52], [0.40, 0.41, 0.43])])
def test_verdict_is_scipys_pooled_t_test_on_two_architectures(pick, model):
    from scipy import stats

    got = verify.verdict(pick, model, verify.seed_noise({"p": pick, "m": model}))
    assert got["difference"] == pytest.approx(np.mean(pick) - np.mean(model))
    result = stats.ttest_ind(pick, model, equal_var=True)
    expected = ("equal within seed noise" if not result.pvalue < verify.NOISE_ALPHA
                else "better" if result.statistic > 0 else "worse")
    assert got["verdict"] == expected


def test_verdict_noise_comes_from_every_architecture():
    pick, model = [0.5, 0.6, 0.7], [0.4, 0.45, 0.5]
    alone = verify.seed_noise({"p": pick, "m": model})
    quiet = verify.seed_noise({"p": pick, "m": model, **{f"q{i}": [0.6, 0.6] for i in range(20)}})
    assert quiet["pooled_sd"] < alone["pooled_sd"] and quiet["t"] < alone["t"]
    assert verify.verdict(pick, model, alone)["verdict"] == "equal within seed noise"
    assert verify.verdict(pick, model, quiet)["verdict"] == "better"
    with pytest.raises(ValueError, match="at least 2 seeds"):
        verify.verdict([0.8], [0.7, 0.71], alone)


def test_latency_comparison_needs_separated_rounds():
    faster = verify.latency_comparison([1.0, 1.1], [1.2, 1.3])
    assert faster == {"comparison": "faster", "ratio": pytest.approx(1.05 / 1.25)}
    assert verify.latency_comparison([1.31, 1.4], [1.2, 1.3])["comparison"] == "slower"
    assert verify.latency_comparison([1.0, 1.25], [1.2, 1.3])["comparison"] == \
        "same within round spread"


def test_latency_targets_are_both_cpu_runtimes_and_every_tables_own():
    cpu = _search("t", "torch", {})
    gpu = {**_search("g", "torch", {}), "table_device": {"type": "cuda", "name": "GPU",
                                                        "threads": 1}}
    assert [t["key"] for t in verify.latency_targets([cpu])] == ["cpu-onnxruntime", "cpu-torch"]
    assert [t["key"] for t in verify.latency_targets([cpu, gpu])] == [
        "cpu-onnxruntime", "cpu-torch", "cuda-torch"]
    assert [t["key"] for t in verify.latency_targets([gpu])] == ["cuda-torch"]
    two = {**cpu, "table_device": {**cpu["table_device"], "threads": 2}}
    with pytest.raises(ValueError, match="different thread counts"):
        verify.latency_targets([cpu, two])


# --- the report on fabricated results ------------------------------------------------------------

TORCH_PICK = "e3k3-" * 13 + "e3k3"
ORT_PICK = "e6k3-" * 13 + "e6k3"


def _search(label, runtime, picks):
    return {"label": label, "results": label, "table": label,
            "table_device": {"type": "cpu", "name": "Test CPU", "threads": 1},
            "table_runtime": {"name": runtime, "version": "1"}, "resolution": 224, "batch": 1,
            "supernet_sha256": "ab", "front_size": 3,
            "picks": {name: {"model": name, "model_latency_ms": 10.0, "qualifying": int(bool(a)),
                             "model_supernet_accuracy": 0.75 if runtime == "torch" else None,
                             "pick": {"arch": a, "codes": [], "supernet_accuracy": 0.8,
                                      "latency_ms": 9.0} if a else None,
                             "reason": None if a else "no front member is predicted at or "
                                                      "below MoGA-C's 10.000 ms"}
                      for name, a in picks.items()}}


def _fabricated():
    picks = {"searches": [
        _search("torch-table", "torch", {"moga_a": TORCH_PICK, "moga_b": TORCH_PICK,
                                         "moga_c": None}),
        _search("ort-table", "onnxruntime", {"moga_a": ORT_PICK, "moga_b": ORT_PICK,
                                             "moga_c": ORT_PICK})]}
    archs = list(verify.architectures(picks))
    accuracy = {str(MOGA_A): [0.70, 0.71, 0.72], str(MOGA_B): [0.80, 0.81, 0.82],
                str(MOGA_C): [0.74, 0.75, 0.76], TORCH_PICK: [0.75, 0.76, 0.74],
                ORT_PICK: [0.74, 0.76, 0.75]}
    runs = {a: [{"seed": s, "test_accuracy": v, "params": 100, "macs": 1000,
                 "proxy": {"task": "canvas", "resolution": 64, "channel_multiplier": 0.25},
                 "recipe": {"epochs": 3.0, "batch_size": 128, "lr": 0.1}}
                | ({"reused_from": f"moga/seed{s}.json"} if a == str(MOGA_A) else {})
                for s, v in enumerate(accuracy[a])] for a in archs}
    # torch: the torch-table pick is the fastest; onnxruntime: the ort-table pick is
    ms = {"cpu-torch": {str(MOGA_A): 20, str(MOGA_B): 18, str(MOGA_C): 17, TORCH_PICK: 10,
                        ORT_PICK: 15},
          "cpu-onnxruntime": {str(MOGA_A): 6, str(MOGA_B): 5, str(MOGA_C): 4.5, TORCH_PICK: 4.4,
                              ORT_PICK: 3}}
    latency = {"settings": {"resolution": 224, "batch": 1, "warmup": 1, "repeats": 5, "seed": 0},
               "targets": [{"key": k, "device": "cpu", "runtime": k[4:], "threads": 1}
                           for k in ("cpu-onnxruntime", "cpu-torch")],
               "architectures": archs,
               "rounds": [{k: {a: v * f for a, v in m.items()} for k, m in ms.items()}
                          for f in (1.0, 1.01, 0.99)],
               "machine": {"cpu_name": "Test CPU", "torch": "2", "runtimes": {
                   "cpu-torch": {"name": "torch", "version": "2.0", "clock": "thread_cpu"},
                   "cpu-onnxruntime": {"name": "onnxruntime", "version": "1.9",
                                       "clock": "thread_cpu"}}}}
    sizes = {a: (5_000_000, 300_000_000) for a in archs}
    predicted = {"torch-table": {a: 1.0 for a in archs}, "ort-table": {a: 2.0 for a in archs}}
    return verify.build_report(picks, runs, latency, sizes, predicted)


def test_report_verdicts_and_device_awareness():
    report = _fabricated()
    pairs = {(p["search"], p["model"]): p for p in report["pairs"]}
    assert pairs["torch-table", "moga_a"]["verdict"] == "better"
    assert pairs["torch-table", "moga_b"]["verdict"] == "worse"
    assert pairs["ort-table", "moga_c"]["verdict"] == "equal within seed noise"
    assert pairs["torch-table", "moga_c"]["verdict"] == "no pick"
    assert "MoGA-C's 10.000 ms" in pairs["torch-table", "moga_c"]["reason"]
    assert pairs["torch-table", "moga_a"]["own_runtime"] == "cpu-torch"
    assert pairs["torch-table", "moga_a"]["latency"]["cpu-torch"]["comparison"] == "faster"
    assert pairs["ort-table", "moga_c"]["latency"]["cpu-onnxruntime"]["ratio"] == \
        pytest.approx(3 / 4.5)
    a = report["architectures"][str(MOGA_A)]
    assert a["roles"] == ["MoGA-A"] and a["reused_runs"] == 3
    assert a["measured_ms"]["cpu-torch"]["median_ms"] == 20
    assert report["architectures"][TORCH_PICK]["roles"] == [
        "pick for MoGA-A on torch-table", "pick for MoGA-B on torch-table"]
    aware = report["device_awareness"]
    # one pair of architectures, picked for MoGA-A and B; MoGA-C has no torch-table pick
    assert [r["models"] for r in aware] == [["moga_a", "moga_b"]]
    assert aware[0]["architectures"] == [TORCH_PICK, ORT_PICK] and not aware[0]["same_architecture"]
    assert all(r["on_cpu-torch"]["comparison"] == r["on_cpu-onnxruntime"]["comparison"] == "faster"
               for r in aware)
    assert report["device_awareness_summary"] == [
        "On cpu-torch, the picks searched on torch-table are faster than those searched on "
        "ort-table in 1 of 1 pairs of architectures, slower in 0, the same within round spread "
        "in 0.",
        "On cpu-onnxruntime, the picks searched on ort-table are faster than those searched on "
        "torch-table in 1 of 1 pairs of architectures, slower in 0, the same within round spread "
        "in 0.",
        "Accuracy of the two searches' picks: equal within seed noise in 1 of 1 pairs of "
        "architectures."]
    assert report["same_cpu_as_tables"]


def test_report_markdown_and_plot(tmp_path):
    report = _fabricated()
    text = verify.render_markdown(report)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| architecture |"))
    assert header == ("| architecture | role | test accuracy % | cpu-onnxruntime ms | "
                      "cpu-torch ms | predicted ms (torch-table) | predicted ms (ort-table) | "
                      "params M | MACs M |")
    row = next(line for line in lines if line.startswith(f"| `{MOGA_A}`"))
    assert ("| MoGA-A | 71.00 ± 1.00 (n=3) | 6.00 (5.94–6.06) | 20.00 (19.80–20.20) | 1.00 | "
            "2.00 | 5.00 | 300 |") in row
    assert ("| MoGA-A, MoGA-B | torch-table, ort-table | cpu-torch: faster (0.67x) | "
            "cpu-onnxruntime: faster (0.68x) | +0.00 (equal within seed noise) |") in text
    # 5 architectures x 3 seeds, each seed SD 1 point: s = 1, df = 10, t = 2.23, SE = sqrt(2/3)
    assert "Here s = 1.00 points, df = 10, t(df) = 2.23." in text
    assert "| torch-table | MoGA-A | +5.00 | +4.00 | 1.82 | better | faster (0.50x) |" in text
    assert "| ort-table | MoGA-C | – | +0.00 | 1.82 | equal within seed noise |" in text
    assert "| torch-table | MoGA-C | – | – | – | no pick: no front member" in text
    assert "- On cpu-onnxruntime, the picks searched on ort-table are faster" in text
    assert "interleaved) on Test CPU, onnxruntime 1.9, torch 2.0." in text
    assert "not the CPU" not in text
    other = {**report, "same_cpu_as_tables": False}
    assert "**This is not the CPU the tables were measured on.**" in verify.render_markdown(other)
    verify.plot_report(report, tmp_path / "v.png")
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


# --- the whole command on tiny fake data ---------------------------------------------------------

FAST = ["--epochs", "1", "--batch-size", "32", "--search-val-size", "20", "--threads", "1",
        "--device", "cpu", "--seeds", "0,1"]
LATENCY = ["--runtimes", "cpu-torch", "--warmup", "0", "--repeats", "2", "--rounds", "2"]


def test_run_end_to_end_resumes_and_reuses_references(tmp_path, capsys):
    fm = fake_fashion_mnist(tmp_path / "fm", n_train=100, n_test=20)
    res = _results(tmp_path / "search")
    refs = tmp_path / "references"
    proxy = json.loads(json.dumps(ProxySpec(search_val_size=20).describe()))
    recipe = Recipe(epochs=1.0, batch_size=32).describe()
    for name, arch in NAMED_ARCHITECTURES.items():
        for seed in (0, 1):
            (refs / name).mkdir(parents=True, exist_ok=True)
            (refs / name / f"seed{seed}.json").write_text(json.dumps(
                {"arch": str(arch), "seed": seed, "test_accuracy": 0.5 + 0.01 * seed,
                 "params": 1, "macs": 1, "proxy": proxy, "recipe": recipe}))
    (refs / "aa_old").mkdir()  # MoGA-C under another recipe: never reused
    (refs / "aa_old" / "seed1.json").write_text(json.dumps(
        {"arch": str(MOGA_C), "seed": 1, "test_accuracy": 0.99, "params": 1, "macs": 1,
         "proxy": proxy, "recipe": {**recipe, "epochs": 3.0}}))
    out = tmp_path / "v"
    args = ["run", str(res), "--out", str(out), "--data-root", str(fm),
            "--references", str(refs), *FAST, *LATENCY]
    assert verify.main(args) == 0
    runs = sorted(p.relative_to(out / "runs").as_posix() for p in (out / "runs").rglob("*.json"))
    assert len(runs) == 8  # MoGA-A/B/C copied from the references, the one pick trained
    moga = json.loads((out / "runs" / str(MOGA_B) / "seed1.json").read_text())
    assert moga["reused_from"] == "moga_b/seed1.json"
    assert json.loads((out / "runs" / str(MOGA_C) / "seed1.json").read_text())[
        "test_accuracy"] == 0.51
    assert "1 run(s) of the same architectures were trained with another" in \
        capsys.readouterr().out
    trained = json.loads((out / "runs" / TORCH_PICK / "seed0.json").read_text())
    assert "reused_from" not in trained and trained["recipe"] == recipe
    latency = json.loads((out / "latency.json").read_text())
    assert len(latency["rounds"]) == 2 and latency["machine"]["torch"]
    assert latency["machine"]["cpu_name"]
    assert latency["machine"]["runtimes"]["cpu-torch"]["clock"] == "thread_cpu"
    report = json.loads((out / "verify.json").read_text())
    assert [p["verdict"] in ("better", "worse", "equal within seed noise")
            for p in report["pairs"]] == [True] * 3
    assert (out / "verify.md").read_text().count("| cpu-torch-224-b1-t1 | MoGA-") == 3
    assert (out / "verify.png").stat().st_size > 10_000
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*.json")}
    before[out / "latency.json"] = (out / "latency.json").stat().st_mtime_ns
    capsys.readouterr()
    assert verify.main(args) == 0  # everything done: nothing retrained or remeasured
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert "2 rounds already" in capsys.readouterr().out
    assert verify.main(["latency", "--out", str(out), *LATENCY[:-2], "--rounds", "3",
                        "--repeats", "3"]) == 2
    assert "measured with other settings" in capsys.readouterr().err


# --- the committed report ------------------------------------------------------------------------

def test_docs_quote_the_report_the_committed_runs_give(tmp_path):
    """docs/search/verify.md is what `verify report` makes of evidence/verify today, and
    docs/search.md quotes every line of it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert verify.main(["report", "--out", str(root / "evidence" / "verify"),
                        "--report-dir", str(tmp_path)]) == 0
    committed = (root / "docs" / "search" / "verify.md").read_text()
    assert (tmp_path / "verify.md").read_text() == committed
    page = (root / "docs" / "search.md").read_text()
    assert [line for line in committed.splitlines() if line and line not in page] == []
    report = json.loads((root / "docs" / "search" / "verify.json").read_text())
    assert report["commands"]["report"] == ("python -m search_repro.verify report --out "
                                            "evidence/verify --report-dir docs/search")
