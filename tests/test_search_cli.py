"""``moga-zoo search`` on the bundled supernet and latency table: a smoke run and bad input."""
import json

import pytest

from moga_zoo import create
from moga_zoo.cli import main
from moga_zoo.profile import count_params
from search_repro.latency import DEFAULT_TABLE, bundled_tables


def _run(capsys, *args):
    rc = main(["search", "--no-progress", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def _needs_bundled_table():
    if DEFAULT_TABLE not in bundled_tables():
        pytest.fail(f"the bundled latency table {DEFAULT_TABLE} is missing")


def test_unknown_table(capsys, tmp_path):
    rc, _, err = _run(capsys, "--table", "no-such-table", "--out", str(tmp_path))
    assert rc == 2 and err.count("\n") == 1 and "no bundled latency table 'no-such-table'" in err


def test_objectives_without_weights(capsys, tmp_path):
    _needs_bundled_table()
    rc, _, err = _run(capsys, "--objectives", "accuracy,latency,params,macs", "--out", str(tmp_path))
    assert rc == 2 and "give --weights (one per objective" in err


def test_budget_no_architecture_meets(capsys, tmp_path):
    _needs_bundled_table()
    rc, _, err = _run(capsys, "--max-latency", "0.01", "--out", str(tmp_path))
    assert rc == 2 and "no architecture meets the latency budget of 0.01 ms" in err
    assert not any(tmp_path.iterdir())


def test_table_for_another_space(capsys, tmp_path):
    _needs_bundled_table()
    table = json.loads(bundled_tables()[DEFAULT_TABLE].read_text())
    table["space_hash"] = "0" * 16
    (tmp_path / "other.json").write_text(json.dumps(table))
    rc, _, err = _run(capsys, "--table", str(tmp_path / "other.json"), "--out", str(tmp_path / "o"))
    assert rc == 2 and "search space" in err


@pytest.mark.slow
def test_smoke_search_writes_results_resumes_and_refuses_a_corrupt_state(capsys, tmp_path):
    _needs_bundled_table()
    out = tmp_path / "run"
    args = ("--budget", "smoke", "--random-samples", "4", "--out", str(out), "--threads", "1")
    rc, text, err = _run(capsys, *args)
    assert rc == 0, err
    front = json.loads((out / "front.json").read_text())
    assert front["front"] and front["config"]["artifacts"]["table"] == DEFAULT_TABLE
    for member in front["front"]:
        assert member["arch"] in text
        assert count_params(create(arch=member["arch"])) == member["params"]
    assert [r["set"] for r in front["references"]] == ["moga_a", "moga_b", "moga_c"]
    before = (out / "front.json").read_bytes()
    rc, _, _ = _run(capsys, *args)
    assert rc == 0 and (out / "front.json").read_bytes() == before
    (out / "state.json").write_text("{not json")
    rc, _, err = _run(capsys, *args)
    assert rc == 2 and "is corrupt" in err and (out / "state.json").read_text() == "{not json"
