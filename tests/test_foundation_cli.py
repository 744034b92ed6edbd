"""``moga-zoo list`` and ``moga-zoo info``: text, JSON, and clean errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from moga_zoo.cli import main
from moga_zoo.search_space import MOGA_A, MOGA_C

# From docs/moga-facts.md
SIZES = {"moga_a": (5_159_802, "304.0"), "moga_b": (5_506_236, "248.6"), "moga_c": (5_488_200, "221.1")}


def _console_script() -> list[str]:
    exe = shutil.which("moga-zoo")
    assert exe, "the moga-zoo console script is not installed; run pip install -e ."
    return [exe]


def test_list_text(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["moga_a", "moga_b", "moga_c"]


def test_list_json_in_a_real_subprocess():
    proc = subprocess.run(_console_script() + ["list", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == ["moga_a", "moga_b", "moga_c"]
    assert all(isinstance(r["pretrained_tags"], list) for r in rows)


def test_info_text(capsys):
    assert main(["info", "moga_a"]) == 0
    out = capsys.readouterr().out
    assert str(MOGA_A) in out
    assert "params: 5,159,802" in out and "MACs @224: 304.0 M" in out
    assert "bilinear" in out and "0.875" in out
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(table) == 14
    # layer 1 of MoGA-A: out 24, stride 2, relu, k5, e6, no SE; layer 14: 160, 1, hard_swish, k5, e6, SE
    assert table[0] == ["1", "24", "2", "relu", "5", "6", "-"]
    assert table[13] == ["14", "160", "1", "hard_swish", "5", "6", "yes"]


def test_info_json_for_names_and_an_arch_string(capsys):
    assert main(["info", "moga_b", "moga_c", str(MOGA_C), "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    assert [i["params"] for i in infos[:2]] == [SIZES["moga_b"][0], SIZES["moga_c"][0]]
    assert [f"{i['macs'] / 1e6:.1f}" for i in infos[:2]] == [SIZES["moga_b"][1], SIZES["moga_c"][1]]
    by_name, by_string = infos[1], infos[2]
    assert by_string["architecture"] == by_name["architecture"] == str(MOGA_C)
    assert by_string["encoding"] == list(MOGA_C.encode())
    assert (by_string["params"], by_string["macs"]) == (by_name["params"], by_name["macs"])
    assert by_name["input"] == {"input_size": [3, 224, 224], "crop_pct": 0.875,
                                "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406],
                                "std": [0.229, 0.224, 0.225]}
    assert len(by_name["layers"]) == 14 and by_name["layers"][6]["se"] is True


def test_info_resolution(capsys):
    assert main(["info", "moga_c", "--resolution", "160", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resolution"] == 160 and info["macs"] < 221_089_920 / 1.9


@pytest.mark.parametrize("argv, needle", [
    (["info", str(MOGA_A).replace("e6k7", "e5k7", 1)], "layer 2 (out 24, stride 1)"),
    (["info", "e6k5-e6k7"], "14 '-'-separated layers, got 2"),
    (["info", "moga_d"], "Did you mean 'moga_c'"),
    (["info", "moga_a", "--resolution", "0"], "--resolution: expected an integer >= 16, got 0"),
])
def test_user_mistakes_exit_2_with_one_clean_line(argv, needle, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # a value refused where its option is parsed
        code = e.code
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert err.startswith("moga-zoo info: error: ") and "\n" not in err
    assert needle in err


def test_bad_arch_through_python_dash_m_has_no_traceback():
    bad = str(MOGA_A).replace("e6k5se", "e6k4se")
    proc = subprocess.run([sys.executable, "-m", "moga_zoo", "info", bad], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "layer 13" in proc.stderr and "e{3,6}k{3,5,7}" in proc.stderr
