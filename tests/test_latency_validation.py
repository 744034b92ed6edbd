"""Validation metrics against scipy, the validation run, the CLI and the awareness script."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from moga_zoo.cli import main
from search_repro.latency import (DEFAULT_TABLE, accuracy_metrics, build_table, load_table,
                                  plot_validation, validate_table)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("lutv") / "tiny.json"
    build_table(path, resolution=32, warmup=1, repeats=2, calibration_samples=3, e2e_repeats=2,
                progress=False)
    return path


def test_kendall_tau_is_tau_b_with_ties():
    # 6 pairs: 4 concordant, 0 discordant, one tied in each list -> 4 / sqrt(5 * 5)
    m = accuracy_metrics(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 3.0]))
    assert m["kendall_tau"] == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, 40).astype(float)  # many ties
    y = x + rng.integers(0, 4, 40)
    i, j = np.triu_indices(x.size, k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])  # tau-b from its definition
    tau_b = (dx * dy).sum() / np.sqrt(np.count_nonzero(dx) * np.count_nonzero(dy))
    assert accuracy_metrics(x, y)["kendall_tau"] == pytest.approx(tau_b)
    z = rng.normal(size=50) + 3
    assert accuracy_metrics(z, -z + 10)["kendall_tau"] == pytest.approx(-1.0)


def test_accuracy_metrics_by_hand():
    measured = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = np.array([11.0, 18.0, 30.0, 50.0])  # errors 10 %, 10 %, 0 %, 25 %
    m = accuracy_metrics(predicted, measured)
    assert m["mape_pct"] == pytest.approx(11.25)
    assert m["within_10pct"] == pytest.approx(75.0)
    assert m["kendall_tau"] == pytest.approx(1.0)
    assert m["pearson_r"] == pytest.approx(stats.pearsonr(predicted, measured).statistic)


def test_validate_reports_and_plots(tiny, tmp_path):
    table = load_table(tiny)
    report = validate_table(table, samples=3, seed=5, warmup=1, repeats=2, progress=False)
    rows = report["architectures"]
    assert [r["name"] for r in rows[:3]] == ["moga_a", "moga_b", "moga_c"] and len(rows) == 6
    codes = np.array([[int(c) for c in _encode(r["arch"])] for r in rows])
    np.testing.assert_allclose([r["raw_ms"] for r in rows], table.predict(codes, False), rtol=1e-4)
    np.testing.assert_allclose([r["corrected_ms"] for r in rows], table.predict(codes), rtol=1e-4)
    measured = np.array([r["measured_ms"] for r in rows])
    again = accuracy_metrics(np.array([r["corrected_ms"] for r in rows]), measured)
    assert report["corrected"] == pytest.approx(again, rel=1e-4)
    png = tmp_path / "v.png"
    plot_validation(report, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _encode(arch):
    from moga_zoo.search_space import Architecture
    return Architecture.from_string(arch).encode()


def test_cli_show_and_errors(capsys, tmp_path):
    assert main(["lut", "show"]) == 0
    assert f"{DEFAULT_TABLE}  (default)" in capsys.readouterr().out
    assert main(["lut", "show", DEFAULT_TABLE, "--arch", "moga_a"]) == 0
    out = capsys.readouterr().out
    expected = load_table(DEFAULT_TABLE).predict_arch("moga_a")
    assert f"moga_a: {expected:.3f} ms" in out and "e6k7se" in out
    assert main(["lut", "build", "--device", "tpu", "-o", str(tmp_path / "t.json")]) == 2
    assert "unknown device 'tpu'; choose one of: cpu, cuda" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["lut", "validate", str(bad)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert main(["lut", "show", "missing-table"]) == 2
    assert "no bundled latency table 'missing-table'" in capsys.readouterr().err


def test_cli_validate_writes_report(tiny, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert main(["lut", "validate", str(tiny), "--samples", "2", "--repeats", "2", "--warmup", "1",
                 "--report", str(report), "--quiet"]) == 0
    assert "corrected:" in capsys.readouterr().out
    assert json.loads(report.read_text())["samples"] == 2


def test_awareness_script(tiny, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_awareness",
                                                  ROOT / "scripts" / "gpu_awareness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    t = load_table(DEFAULT_TABLE)
    same = mod.analyse(t, t, samples=500, seed=0)
    assert same["spearman_rho"] == pytest.approx(1.0) and same["kendall_tau"] == pytest.approx(1.0)
    assert all(r["kendall_tau"] == pytest.approx(1.0) for r in same["per_layer"])
    share = same["named"]["moga_a"]["a_faster_than_pct"]
    pa = same["_points"][0]
    assert share == pytest.approx(100 * np.mean(pa > t.predict_arch("moga_a")))
    assert mod.main(["--a", DEFAULT_TABLE, "--b", str(tiny), "--samples", "10"]) == 2
    assert "different resolutions" in capsys.readouterr().err
    out = tmp_path / "aw.json"
    assert mod.main(["--a", DEFAULT_TABLE, "--b", DEFAULT_TABLE, "--samples", "300",
                     "--report", str(out), "--plot", str(tmp_path / "aw.png")]) == 0
    assert json.loads(out.read_text())["samples"] == 300


def test_cli_build_without_correction(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["lut", "build", "--resolution", "32", "--warmup", "0", "--repeats", "1",
                 "--calibration-samples", "0", "-o", str(out), "--quiet"]) == 0
    table = load_table(out)
    assert table.correction is None
    assert table.predict_arch("moga_b") == table.predict_arch("moga_b", corrected=False)
    assert f"moga_b: {table.predict_arch('moga_b'):.3f} ms" in capsys.readouterr().out
    assert main(["lut", "build", "-o", str(tmp_path / "t.txt")]) == 2
    assert "must name a .json file" in capsys.readouterr().err
