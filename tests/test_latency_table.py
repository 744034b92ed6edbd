"""The bundled table and the predictor: format checks, refusals, prediction = independent sums."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moga_zoo.fileio import sha256_file
from moga_zoo.search_space import CHOICES, MOGA_A, MOGA_B, MOGA_C, NUM_LAYERS
from search_repro.latency import (DEFAULT_TABLE, LatencyTable, TableFormatError, bundled_tables,
                                  load_table)
from search_repro.latency import bundled

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw_default():
    return json.loads(bundled_tables()[DEFAULT_TABLE].read_text())


def _independent_sum(data, codes):
    """Sum straight from the JSON, no numpy tables involved."""
    total = sum(data["fixed"][p]["median_ms"] for p in ("stem", "first_block", "head"))
    for layer, code in zip(data["layers"], codes):
        total += layer["choices"][str(CHOICES[code])]["median_ms"]
    return total


def test_default_table_is_bundled_and_loads():
    assert DEFAULT_TABLE in bundled_tables()
    t = load_table(DEFAULT_TABLE, resolution=224, batch=1)
    assert t.resolution == 224 and t.batch == 1
    assert t.device.startswith("cpu:") and "1 thread" in t.device
    assert t.runtime.startswith("torch ")
    assert t.layer_ms.shape == (NUM_LAYERS, len(CHOICES))


def test_predict_equals_independent_sum(raw_default):
    t = load_table(DEFAULT_TABLE)
    codes = np.random.default_rng(0).integers(0, 12, size=(200, NUM_LAYERS))
    raw = t.predict(codes, corrected=False)
    assert raw.shape == (200,) and raw.dtype == np.float64
    expected = [_independent_sum(raw_default, row) for row in codes]
    np.testing.assert_allclose(raw, expected, rtol=1e-12)
    a, b = raw_default["correction"]["a"], raw_default["correction"]["b"]
    np.testing.assert_allclose(t.predict(codes), a * np.array(expected) + b, rtol=1e-12)


def test_predict_arch_matches_predict():
    t = load_table(DEFAULT_TABLE)
    for arch in (MOGA_A, MOGA_B, MOGA_C):
        assert t.predict_arch(arch) == pytest.approx(t.predict(np.array([arch.encode()]))[0])
    assert t.predict_arch("moga_a") == t.predict_arch(MOGA_A)
    assert t.predict(np.array(MOGA_A.encode())).shape == (1,)


def test_more_expensive_choices_cost_more():
    """Sanity of the measurements: at every layer e6k7se is slower than e3k3."""
    t = load_table(DEFAULT_TABLE)
    assert str(CHOICES[0]) == "e3k3" and str(CHOICES[-1]) == "e6k7se"
    assert (t.layer_ms[:, -1] > t.layer_ms[:, 0]).all()


@pytest.mark.parametrize("codes, match", [
    (np.zeros((3, 13), int), "shape"),
    (np.full((2, NUM_LAYERS), 12), "0..11"),
    (np.full((2, NUM_LAYERS), -1), "0..11"),
    (np.zeros((2, NUM_LAYERS)), "integers"),
])
def test_predict_rejects_bad_codes(codes, match):
    with pytest.raises(ValueError, match=match):
        load_table(DEFAULT_TABLE).predict(codes)


def test_refuses_wrong_space(raw_default, tmp_path):
    bad = dict(raw_default, space_hash="0123456789abcdef")
    with pytest.raises(TableFormatError, match="search space 0123456789abcdef"):
        LatencyTable(bad)
    p = tmp_path / "t.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(TableFormatError, match="rebuild"):
        load_table(p)


def test_refuses_wrong_resolution_or_batch():
    with pytest.raises(TableFormatError, match="resolution 224, not 320"):
        load_table(DEFAULT_TABLE, resolution=320)
    with pytest.raises(TableFormatError, match="batch 1, not 8"):
        load_table(DEFAULT_TABLE, batch=8)


def test_refuses_missing_entries(raw_default, tmp_path):
    data = json.loads(json.dumps(raw_default))
    del data["layers"][6]["choices"]["e6k5se"]
    with pytest.raises(TableFormatError, match=r"layer 7.*missing \['e6k5se'\]"):
        LatencyTable(data)
    data = json.loads(json.dumps(raw_default))
    data["layers"][13] = None
    with pytest.raises(TableFormatError, match="incomplete table, missing layer 14; resume"):
        LatencyTable(data)
    data = json.loads(json.dumps(raw_default))
    data["layers"][2]["choices"]["e3k3"]["median_ms"] = -1.0
    with pytest.raises(TableFormatError, match="layer 3, choice e3k3"):
        LatencyTable(data)


def test_refuses_truncated_json(tmp_path):
    src = bundled_tables()[DEFAULT_TABLE].read_text()
    p = tmp_path / "trunc.json"
    p.write_text(src[: len(src) // 2])
    with pytest.raises(TableFormatError, match="corrupt or truncated"):
        load_table(p)
    with pytest.raises(FileNotFoundError, match="no latency table"):
        load_table(tmp_path / "absent.json")
    with pytest.raises(ValueError, match="no bundled latency table 'nope'"):
        load_table("nope")


def test_bundled_sha256_is_checked(tmp_path, monkeypatch):
    for f in bundled.TABLES_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(bundled, "TABLES_DIR", tmp_path)
    monkeypatch.setattr(bundled, "INDEX", tmp_path / "index.json")
    load_table(DEFAULT_TABLE)  # intact copy loads
    path = bundled_tables()[DEFAULT_TABLE]
    path.write_text(path.read_text().replace('"median_ms": ', '"median_ms": 1', 1))
    with pytest.raises(TableFormatError, match="sha256"):
        load_table(DEFAULT_TABLE)


def test_every_bundled_table_matches_index():
    index = json.loads(bundled.INDEX.read_text())["tables"]
    assert index, "no bundled tables"
    for name, entry in index.items():
        path = bundled.TABLES_DIR / entry["file"]
        assert sha256_file(path) == entry["sha256"]
        assert path.stat().st_size < 15e6
        load_table(name)


def test_reindex_reproduces_the_index(tmp_path, monkeypatch):
    original = json.loads(bundled.INDEX.read_text())
    for f in bundled.TABLES_DIR.glob("*.json"):
        if f.name != "index.json":
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(bundled, "TABLES_DIR", tmp_path)
    monkeypatch.setattr(bundled, "INDEX", tmp_path / "index.json")
    bundled.reindex()
    assert json.loads((tmp_path / "index.json").read_text()) == original
    (tmp_path / "broken.json").write_text('{"format": "moga_zoo.latency_table"}')
    with pytest.raises(TableFormatError, match="broken.json"):
        bundled.reindex()


def test_reports_name_bundled_tables_without_machine_paths(tmp_path):
    bundled_table = load_table(DEFAULT_TABLE)
    assert bundled_table.label == DEFAULT_TABLE
    assert load_table(str(bundled.TABLES_DIR / f"{DEFAULT_TABLE}.json")).label == DEFAULT_TABLE
    copy = tmp_path / "mine.json"
    shutil.copy(bundled.TABLES_DIR / f"{DEFAULT_TABLE}.json", copy)
    assert load_table(str(copy)).label == str(copy)


@pytest.mark.parametrize("name", sorted(bundled_tables()))
def test_every_bundled_table_predicts_what_its_committed_validation_measured(name):
    """docs/latency/NAME.validation.json holds the end-to-end medians the table was validated
    against: the table must still predict them as recorded, within the docs' bar (MAPE <= 5 %)."""
    report = json.loads((ROOT / "docs" / "latency" / f"{name}.validation.json").read_text())
    table = load_table(name)
    assert Path(report["table"]).name.removesuffix(".json") == name and report["samples"] >= 50
    archs = report["architectures"]
    assert {a.get("name") for a in archs} >= {"moga_a", "moga_b", "moga_c"}
    predicted = np.array([table.predict_arch(a["arch"]) for a in archs])
    assert predicted == pytest.approx([a["corrected_ms"] for a in archs], rel=1e-4)
    measured = np.array([a["measured_ms"] for a in archs])
    assert 100 * np.mean(np.abs(predicted - measured) / measured) <= 5.0
