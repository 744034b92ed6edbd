"""scripts/gpu_awareness.py across tables: rank agreement, MoGA-A/B/C orders, front shares."""
import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS, Architecture
from search_repro.latency import DEFAULT_TABLE, bundled_tables, load_table

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_awareness",
                                              ROOT / "scripts" / "gpu_awareness.py")
aw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(aw)

# Layer 1 differs (kernel 3 once, kernel 5 once, kernel 7 twice; SE twice; expansion 6 once);
# the other 13 layers are all e3k3.
HAND_FRONT = ["e3k3", "e6k5se", "e3k7se", "e3k7"]


def _arch(first: str) -> Architecture:
    return Architecture.from_string("-".join([first] + ["e3k3"] * (NUM_LAYERS - 1)))


def _costs(table, per_choice):
    """``table`` with every layer's 12 choices costing ``per_choice`` ms and no correction."""
    out = copy.copy(table)
    out.layer_ms = np.tile(np.asarray(per_choice, dtype=float), (NUM_LAYERS, 1))
    out.correction = None
    return out


@pytest.fixture(scope="module")
def tables():
    t = load_table(DEFAULT_TABLE)
    return {"real": t, "copy": copy.copy(t),
            "by_code": _costs(t, np.arange(NUM_CHOICES)),          # cost = choice code
            "reversed": _costs(t, NUM_CHOICES - 1 - np.arange(NUM_CHOICES))}


def _write_front(folder: Path, table_name: str, table, firsts: list[str]) -> None:
    archs = [_arch(f) for f in firsts]
    members = [{"arch": str(a), "codes": list(a.encode()), "accuracy": 0.2 + 0.01 * i,
                "latency_ms": table.predict_arch(a), "params": 4_000_000}
               for i, a in enumerate(archs)]
    refs = [{"set": n, "accuracy": 0.25, "latency_ms": table.predict_arch(n)}
            for n in ("moga_a", "moga_b", "moga_c")]
    folder.mkdir(parents=True)
    (folder / "front.json").write_text(json.dumps(
        {"config": {"artifacts": {"table": table_name}}, "front": members, "references": refs}))


def test_pairwise_rank_agreement(tables):
    report = aw.analyse_all(tables, {}, samples=2000, seed=3)
    pairs = {(p["a"], p["b"]): p for p in report["pairwise"]}
    assert len(pairs) == 6
    assert pairs["real", "copy"]["kendall_tau"] == pytest.approx(1.0)
    assert pairs["real", "copy"]["spearman_rho"] == pytest.approx(1.0)
    assert pairs["by_code", "reversed"]["kendall_tau"] == pytest.approx(-1.0)
    assert pairs["by_code", "reversed"]["per_layer_kendall_tau"] == pytest.approx(
        [-1.0] * NUM_LAYERS)
    # the same random architectures and tau subsample as the two-table mode
    two = aw.analyse(tables["real"], tables["by_code"], samples=2000, seed=3)
    assert pairs["real", "by_code"]["kendall_tau"] == pytest.approx(two["kendall_tau"])
    assert pairs["real", "by_code"]["spearman_rho"] == pytest.approx(two["spearman_rho"])


def test_moga_orders_against_the_paper(tables):
    named = aw.analyse_all(tables, {}, samples=100, seed=0)["named"]
    # code sums: MoGA-A 74, MoGA-B 76, MoGA-C 45; reversed: 154 minus those
    assert named["by_code"]["order"] == ["moga_c", "moga_a", "moga_b"]
    assert named["by_code"]["ms"]["moga_c"] == pytest.approx(45 + tables["real"].fixed_ms)
    assert named["reversed"]["order"] == ["moga_b", "moga_a", "moga_c"]
    for col in aw.PAPER_MS:  # the paper: MoGA-C < MoGA-B < MoGA-A on every device
        assert named["by_code"]["pairs_agreeing_with_paper"][col] == 2
        assert named["reversed"]["pairs_agreeing_with_paper"][col] == 1
    assert named["by_code"]["relative_to_moga_c"]["moga_b"] == pytest.approx(
        (76 + tables["real"].fixed_ms) / (45 + tables["real"].fixed_ms))
    assert aw.order(aw.PAPER_MS["Lat_c (Pixel 1 CPU)"]) == ["moga_c", "moga_b", "moga_a"]


def test_layer_shares_by_hand():
    rows = aw.layer_shares([_arch(f).encode() for f in HAND_FRONT])
    assert rows[0] == {"layer": 1, "kernel_3": 0.25, "kernel_5": 0.25, "kernel_7": 0.5,
                       "expansion_6": 0.25, "se": 0.5}
    assert all(r == {"layer": i + 2, "kernel_3": 1.0, "kernel_5": 0.0, "kernel_7": 0.0,
                     "expansion_6": 0.0, "se": 0.0} for i, r in enumerate(rows[1:]))


def test_fronts_matched_by_recorded_table(tables, tmp_path):
    _write_front(tmp_path / "mine", "real", tables["real"], HAND_FRONT)
    _write_front(tmp_path / "stale", "by_code", tables["real"], HAND_FRONT)  # other table's ms
    _write_front(tmp_path / "unrelated", "some-other-table", tables["real"], HAND_FRONT)
    fronts, notes = aw.find_fronts(["real", "by_code", "reversed"], tmp_path)
    assert fronts == {"real": tmp_path / "mine", "by_code": tmp_path / "stale"}
    assert len(notes) == 1 and notes[0].startswith("reversed: no front")
    report = aw.analyse_all(tables, fronts, samples=100, seed=0)["fronts"]
    assert report["real"]["latency_matches_table"]
    assert not report["by_code"]["latency_matches_table"]
    assert report["real"]["members"] == 4
    assert report["real"]["per_layer"][0]["kernel_7"] == 0.5
    assert report["real"]["all_layers"]["kernel_3"] == pytest.approx((0.25 + 13) / 14)
    assert report["real"]["all_layers"]["se"] == pytest.approx(0.5 / 14)


def test_all_tables_cli(tmp_path, capsys):
    _write_front(tmp_path / "fronts" / "default", DEFAULT_TABLE, load_table(DEFAULT_TABLE),
                 HAND_FRONT)
    out, png = tmp_path / "aw.json", tmp_path / "aw.png"
    assert aw.main(["--samples", "300", "--fronts", str(tmp_path / "fronts"),
                    "--report", str(out), "--plot", str(png)]) == 0
    report = json.loads(out.read_text())
    names = list(bundled_tables())
    assert list(report["tables"]) == names
    assert len(report["pairwise"]) == len(names) * (len(names) - 1) // 2
    assert list(report["fronts"]) == [DEFAULT_TABLE]
    assert len(report["notes"]) == len(names) - 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        aw.main(["--a", DEFAULT_TABLE])
    assert "give both --a and --b" in capsys.readouterr().err
