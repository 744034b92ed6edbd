"""Class 3 of docs/bad-input.md: every output is checked before any work
(:func:`moga_zoo.fileio.check_output_file` / ``check_output_folder``, at parse time through
:func:`moga_zoo.cli.options.output_file` / ``output_folder`` in the module CLIs).

The walk finds every option of every command line that names an output; each must have a row in
:data:`BASE` (so a new command with an output fails until it has one), and each row is run with
its output under a file, on a read-only file system and (for folders) as an existing file:
exit code 2, one line naming the path, nothing written, no work started.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from border_support import check_one_line, every_option, run_cli, snapshot

#: Option names (argparse ``dest``) that name what a command writes.
OUTPUT_DESTS = {"out", "output", "plot", "report", "docs", "report_dir", "json"}
#: Options of those names that a command only reads.
INPUTS = {"protocol report --out", "protocol pilot-report --out"}

#: command path + flag -> (argv with OUT where the output goes, "file" or "folder")
BASE = {
    "moga-zoo convert -o": (["moga-zoo", "convert", "{w}/ckpt.pth", "--model", "moga_a", "-o", "OUT"],
                            "folder"),
    "moga-zoo export -o": (["moga-zoo", "export", "--random-weights", "-o", "OUT/m.onnx"], "file"),
    "moga-zoo lut build -o": (["moga-zoo", "lut", "build", "-o", "OUT/t.json"], "file"),
    "moga-zoo lut validate --plot": (["moga-zoo", "lut", "validate", "cpu-torch-224-b1-t1", "--plot",
                                      "OUT/p.png"], "file"),
    "moga-zoo lut validate --report": (["moga-zoo", "lut", "validate", "cpu-torch-224-b1-t1",
                                        "--report", "OUT/r.json"], "file"),
    "moga-zoo lut kit -o": (["moga-zoo", "lut", "kit", "--runtime", "litert", "-o", "OUT"], "folder"),
    "moga-zoo lut import -o": (["moga-zoo", "lut", "import", "{w}", "-o", "OUT/t.json"], "file"),
    "moga-zoo lut import --report": (["moga-zoo", "lut", "import", "{w}", "-o", "{w}/t.json",
                                      "--report", "OUT/r.json"], "file"),
    "moga-zoo lut import --plot": (["moga-zoo", "lut", "import", "{w}", "-o", "{w}/t.json",
                                    "--plot", "OUT/p.png"], "file"),
    "moga-zoo supernet train --out": (["moga-zoo", "supernet", "train", "--out", "OUT"], "folder"),
    "moga-zoo search --out": (["moga-zoo", "search", "--out", "OUT"], "folder"),
    "protocol pilot --out": (["protocol", "pilot", "--name", "x", "--out", "OUT"], "folder"),
    "protocol references --out": (["protocol", "references", "--out", "OUT"], "folder"),
    "protocol supernet --out": (["protocol", "supernet", "--out", "OUT"], "folder"),
    "protocol evaluator-check --out": (["protocol", "evaluator-check", "--out", "OUT"], "folder"),
    "protocol report --docs": (["protocol", "report", "--out", "{w}", "--docs", "OUT"], "folder"),
    "protocol pilot-report --json": (["protocol", "pilot-report", "--out", "{w}", "--json",
                                      "OUT/p.json"], "file"),
    "verify picks --out": (["verify", "picks", "{w}", "--out", "OUT"], "folder"),
    "verify train --out": (["verify", "train", "--out", "OUT"], "folder"),
    "verify latency --out": (["verify", "latency", "--out", "OUT"], "folder"),
    "verify report --out": (["verify", "report", "--out", "OUT"], "folder"),
    "verify report --report-dir": (["verify", "report", "--out", "{w}", "--report-dir", "OUT"],
                                   "folder"),
    "verify run --out": (["verify", "run", "{w}", "--out", "OUT"], "folder"),
    "verify run --report-dir": (["verify", "run", "{w}", "--out", "{w}/v", "--report-dir", "OUT"],
                                "folder"),
    "reproduce --out": (["reproduce", "--out", "OUT"], "folder"),
    "train --out": (["train", "--out", "OUT"], "folder"),
}


def _outputs() -> set[str]:
    found = set()
    for path, action in every_option():
        if action.dest in OUTPUT_DESTS and action.nargs != 0 and action.option_strings:
            name = f"{path} {action.option_strings[0]}"
            if name not in INPUTS:
                found.add(name)
    return found


def test_every_output_option_has_a_row():
    found = _outputs()
    assert found - set(BASE) == set(), "add a row to BASE for these outputs"
    assert set(BASE) - found == set(), "rows for options that no longer exist"


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """A read-only file system (a tmpfs mounted ro), holding ``cache/onnx/x.onnx``."""
    root = tmp_path_factory.mktemp("ro")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"this machine cannot mount a tmpfs here (needs root): {e}")
    (root / "cache" / "onnx").mkdir(parents=True)
    (root / "cache" / "onnx" / "x.onnx").write_bytes(b"x")
    subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
    yield root
    subprocess.run(["umount", str(root)], check=True)


@pytest.fixture
def work(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    (w / "afile").write_text("x")
    (w / "ckpt.pth").write_bytes(b"not read")
    return w


@pytest.mark.parametrize("where", ["under-a-file", "existing-file", "read-only"])
@pytest.mark.parametrize("name", sorted(BASE))
def test_an_unusable_output_is_refused_before_any_work(name, where, work, read_only, tmp_path,
                                                         monkeypatch, capsys):
    argv, kind = BASE[name]
    if where == "existing-file" and kind == "file":
        pytest.skip("a file output may replace an existing file")
    target = {"under-a-file": work / "afile" / "x", "existing-file": work / "afile",
              "read-only": read_only / "new"}[where]
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{w}", str(work)).replace("OUT", str(target)) for a in argv]
    if where == "existing-file":
        argv = [str(target) if a.startswith(str(target)) else a for a in argv]
    before = snapshot(tmp_path)
    code, out, err = run_cli(argv, capsys)
    where_named = str(target.parent if where == "read-only" else target)
    check_one_line(code, err, "")
    assert where_named in err or str(work / "afile") in err, err
    assert snapshot(tmp_path) == before


def test_cache_clear_on_a_read_only_cache_is_one_line(read_only, monkeypatch, capsys):
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(read_only / "cache"))
    code, out, err = run_cli(["moga-zoo", "cache", "clear"], capsys)
    check_one_line(code, err, r"the export cache .*cache/onnx is not writable")
    assert (read_only / "cache" / "onnx" / "x.onnx").exists()
