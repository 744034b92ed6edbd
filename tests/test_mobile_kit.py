"""The phone kit: the log parsers on real tool output, and kit -> kit-run -> import end to end
(with a few distinct block files standing in for the 171 exports, which the export tests
check), including every refusal."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from moga_zoo.cli import main
from moga_zoo.inference.export import SUFFIX, export_model
from search_repro.latency import load_table
from search_repro.latency import kit as kit_module
from search_repro.latency.phone_logs import (LogParseError, parse_benchmark_model,
                                             parse_executor_runner)

from mobile_support import require

LOGS = Path(__file__).parent / "fixtures" / "phone_logs"
MODULE = {"litert": "ai_edge_litert", "executorch": "executorch"}


def test_benchmark_model_real_logs():
    cpu = parse_benchmark_model((LOGS / "benchmark_model_cpu.log").read_text())
    assert cpu.model_path == "/usr/share/oob-demo-assets/models/ssd_mobilenet_v2_coco.tflite"
    assert cpu.samples_ms == (1239.807,) and cpu.runs == 50 and cpu.min_ms == 1238.588
    xnn = parse_benchmark_model((LOGS / "benchmark_model_xnnpack.log").read_text())
    assert xnn.samples_ms == (899.281,) and xnn.runs == 50 and xnn.min_ms == 898.007


def test_benchmark_model_without_median_uses_the_mean():
    text = (LOGS / "benchmark_model_cpu.log").read_text()
    old = re.sub(r" p5=\S+ median=\S+ p95=\S+", "", text)  # releases before the percentiles
    assert parse_benchmark_model(old).samples_ms == (1240.27,)


def test_executor_runner_real_log():
    run = parse_executor_runner((LOGS / "executor_runner.log").read_text())
    assert run.samples_ms == (15.013292,) and run.runs == 1 and run.model_path is None


@pytest.mark.parametrize("name, parser", [("benchmark_model_cpu.log", parse_benchmark_model),
                                          ("executor_runner.log", parse_executor_runner)])
def test_cut_logs_are_refused(name, parser):
    text = (LOGS / name).read_text()
    cut = text[:text.index("count=50")] if "count=50" in text else text[:text.index("Model exec")]
    with pytest.raises(LogParseError, match="failed or was cut short"):
        parser(cut)


@pytest.fixture(scope="module", params=["litert", "executorch"])
def timed_kit(request, tmp_path_factory):
    """A small kit (32 px, 2 calibration and 2 random validation networks, 2 rounds) whose 178
    models are copies of three real exported modules: a heavy one for every e6k7se block and for
    the e6k7se-only calibration network and MoGA-A's validation network, light ones for the rest
    (so the fitted correction is certain to slope upwards, and the validation networks' times
    differ: the light ones take a few microseconds, the timer's step, and can all tie); timed
    here with kit-run."""
    runtime = request.param
    require(MODULE[runtime])
    root = tmp_path_factory.mktemp(f"kit_{runtime}")
    torch.manual_seed(0)
    sources = []
    for i, (module, side) in enumerate([
            (torch.nn.Conv2d(3, 8, 3), 24),
            (torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU()), 24),
            (torch.nn.Conv2d(3, 64, 7), 96)]):
        path = root / f"source{i}{SUFFIX[runtime]}"
        export_model(module, path, runtime, input_size=(3, side, side))
        sources.append(path)
    light = iter(range(10**6))

    def stand_in(module, path, rt, shape):
        heavy = any(part in path.name for part in ("e6k7se", "calibration01", "validation00"))
        shutil.copyfile(sources[2] if heavy else sources[next(light) % 2], path)
    monkey = pytest.MonkeyPatch()
    monkey.setattr(kit_module, "_export_part", stand_in)
    folder = root / "kit"
    try:
        assert main(["lut", "kit", "--runtime", runtime, "-o", str(folder), "--resolution", "32",
                     "--calibration-samples", "2", "--samples", "2", "--rounds", "2",
                     "--warmup", "1", "--runs", "4", "--quiet"]) == 0
    finally:
        monkey.undo()
    assert main(["lut", "kit-run", str(folder), "--quiet"]) == 0
    return runtime, folder


def _independent_stats(folder: Path, file: str, runtime: str) -> tuple[float, int]:
    """Median and run count of one model, read from its logs without the project's parser."""
    samples, runs = [], 0
    for log in sorted((folder / "logs" / "cpu").glob(f"round*/{Path(file).name}.log")):
        text = log.read_text()
        if runtime == "litert":
            last = re.findall(r"count=(\d+) .* median=(\d+)", text)[-1]
            samples.append(float(last[1]) / 1000)
            runs += int(last[0])
        else:
            times = [float(t) for t in re.findall(r"Iteration \d+ of \d+: ([0-9.]+) ms", text)]
            samples += times[1:]  # --warmup 1
            runs += len(times) - 1
    return float(np.median(samples)), runs


def test_kit_files_manifest_and_script(timed_kit):
    runtime, folder = timed_kit
    manifest = json.loads((folder / "manifest.json").read_text())
    kinds = [m["kind"] for m in manifest["models"]]
    assert kinds.count("fixed") == 3 and kinds.count("block") == 14 * 12
    assert kinds.count("calibration") == 2 and kinds.count("validation") == 5
    assert {m["name"] for m in manifest["models"] if m["kind"] == "validation"} >= {
        "moga_a", "moga_b", "moga_c"}
    assert manifest["runtime"]["name"] == runtime and manifest["complete"]
    layer1 = next(m for m in manifest["models"] if m["layer"] == 1)
    assert layer1["input_shape"] == [1, 16, 16, 16]  # 32 px input, after stem and first block
    order = (folder / "order.txt").read_text().split("\n")[:-1]
    assert len(order) == 2 * len(manifest["models"])
    script = folder / "run_on_phone.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(script)], check=True)
    text = script.read_text()
    assert manifest["kit_id"] in text
    assert ("--use_gpu=true" in text and "--num_threads=1" in text) if runtime == "litert" \
        else "--cpu_threads=1" in text


def test_import_builds_the_table_and_report(timed_kit, tmp_path, capsys):
    runtime, folder = timed_kit
    out = tmp_path / "table.json"
    assert main(["lut", "import", str(folder), "-o", str(out)]) == 0
    table = load_table(out)
    manifest = json.loads((folder / "manifest.json").read_text())
    for m in manifest["models"][:20]:
        median, runs = _independent_stats(folder, m["file"], runtime)
        stats = (table.data["fixed"][m["key"]] if m["kind"] == "fixed" else
                 table.data["layers"][m["layer"] - 1]["choices"][m["key"]] if m["kind"] == "block"
                 else None)
        if stats is not None:
            assert stats["median_ms"] == pytest.approx(median, abs=1e-5) and stats["runs"] == runs
    assert table.data["runtime"]["name"] == runtime and table.correction is not None
    report = json.loads((tmp_path / "table.validation.json").read_text())
    assert [r["name"] for r in report["architectures"][:3]] == ["moga_a", "moga_b", "moga_c"]
    assert report["samples"] == 2 and report["corrected"] is not None
    capsys.readouterr()
    assert main(["lut", "show", str(out)]) == 0
    assert "correction" in capsys.readouterr().out


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "kit"
    shutil.copytree(folder, copy)
    return copy


def _refused(kit: Path, tmp_path: Path, capsys, needle: str) -> None:
    out = tmp_path / "t.json"
    assert main(["lut", "import", str(kit), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and re.search(needle, err), err
    assert not out.exists() and not (tmp_path / "t.validation.json").exists()


def test_import_refuses_a_log_of_another_kit(timed_kit, tmp_path, capsys):
    kit = _copy(timed_kit[1], tmp_path)
    log = next((kit / "logs" / "cpu" / "round2").glob("layer05_*"))
    text = log.read_text()
    log.write_text(re.sub(r"kit=\w+", "kit=0123456789abcdef", text, count=1))
    _refused(kit, tmp_path, capsys, r"is a log of kit 0123456789abcdef, not of this kit")


def test_import_refuses_a_missing_model(timed_kit, tmp_path, capsys):
    kit = _copy(timed_kit[1], tmp_path)
    (kit / "models" / f"layer03_e6k5{SUFFIX[timed_kit[0]]}").unlink()
    _refused(kit, tmp_path, capsys, r"model models/layer03_e6k5\S* of the manifest is missing")


def test_import_refuses_an_unparsable_log(timed_kit, tmp_path, capsys):
    kit = _copy(timed_kit[1], tmp_path)
    log = next((kit / "logs" / "cpu" / "round1").glob("fixed_head*"))
    log.write_text("\n".join(log.read_text().splitlines()[:4]) + "\n")
    _refused(kit, tmp_path, capsys, r"fixed_head\S*: no \w+ (timing lines|line)")


def test_import_refuses_a_missing_log(timed_kit, tmp_path, capsys):
    kit = _copy(timed_kit[1], tmp_path)
    next((kit / "logs" / "cpu" / "round2").glob("validation00*")).unlink()
    _refused(kit, tmp_path, capsys, r"missing log .*validation00")


def test_kit_refuses_a_folder_with_other_files(tmp_path, capsys):
    require("ai_edge_litert")
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["lut", "kit", "--runtime", "litert", "-o", str(tmp_path)]) == 2
    assert "is not empty and holds no kit" in capsys.readouterr().err


def test_a_real_kit_block_is_the_table_block(tmp_path):
    """Without the stand-ins: the kit's file for a block takes the block's input shape and
    computes the block (validated on export)."""
    require("ai_edge_litert")
    from moga_zoo.inference import mobile
    item = next(p for p in kit_module._plan("litert", 32, 0, 2, 0, 1) if p.key == "e6k7se"
                and p.layer == 14)
    path = tmp_path / "block.tflite"
    kit_module._export_part(item.build(), path, "litert", item.input_shape)
    assert mobile.input_shape_of("litert", str(path)) == item.input_shape


@pytest.mark.parametrize("runtime", ["litert", "executorch"])
def test_latency_runtime_times_the_exported_block(runtime):
    require(MODULE[runtime])
    from search_repro.latency.blocks import layer_part
    from search_repro.latency.runtimes import get_runtime
    rt = get_runtime(runtime, "cpu", 1)
    assert rt.clock == "thread_cpu" and rt.version
    part = layer_part(13, 11, 64, 1)  # layer 14, e6k7se
    assert rt.timer(part.module, part.input_shape)() > 0
    with pytest.raises(ValueError, match="batch 1 only"):
        rt.timer(part.module, (2, *part.input_shape[1:]))


def test_latency_runtime_refusals(tmp_path):
    from search_repro.latency import build_table
    from search_repro.latency.runtimes import get_runtime
    with pytest.raises(ValueError, match="batch 1 only"):
        build_table(tmp_path / "t.json", runtime="litert", batch=2, progress=False)
    with pytest.raises(ValueError, match="phone's GPU, timed on the phone"):
        get_runtime("torch", "gpu", 1)
    assert not (tmp_path / "t.json").exists()


@pytest.mark.slow
def test_lut_validate_reads_an_imported_table(timed_kit, tmp_path, capsys):
    """kit -> kit-run -> import -> lut validate: the imported table is validated here by fresh
    end-to-end runs of the same runtime (networks exported again)."""
    runtime, folder = timed_kit
    if runtime != "litert":
        pytest.skip("one runtime is enough for the validate step")
    out = tmp_path / "table.json"
    assert main(["lut", "import", str(folder), "-o", str(out)]) == 0
    report = tmp_path / "here.json"
    assert main(["lut", "validate", str(out), "--samples", "2", "--warmup", "1", "--repeats", "2",
                 "--quiet", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["runtime"].startswith("litert") and len(data["architectures"]) >= 5


def test_an_interrupted_kit_resumes_and_other_settings_are_refused(tmp_path, monkeypatch, capsys):
    require("ai_edge_litert")
    source = tmp_path / "source.tflite"
    export_model(torch.nn.Conv2d(3, 4, 3), source, input_size=(3, 8, 8))
    written = []

    def stand_in(module, path, rt, shape):
        if len(written) == 5 and not (tmp_path / "resumed").exists():
            raise KeyboardInterrupt
        written.append(path.name)
        shutil.copyfile(source, path)
    monkeypatch.setattr(kit_module, "_export_part", stand_in)
    folder = tmp_path / "kit"
    args = dict(runtime="litert", resolution=32, calibration_samples=2, samples=2, rounds=1,
                progress=False)
    with pytest.raises(KeyboardInterrupt):
        kit_module.write_kit(folder, **args)
    partial = json.loads((folder / "manifest.json").read_text())
    assert not partial["complete"] and len(partial["models"]) == 5
    assert main(["lut", "kit", "--runtime", "litert", "-o", str(folder), "--resolution", "32",
                 "--calibration-samples", "2", "--samples", "2", "--rounds", "3"]) == 2
    assert "other settings (rounds)" in capsys.readouterr().err
    (tmp_path / "resumed").touch()
    manifest = kit_module.write_kit(folder, **args)
    assert manifest["complete"] and len(written) == len(manifest["models"])  # none twice
    assert main(["lut", "kit", "--runtime", "litert", "-o", str(folder)]) == 2
    assert "already holds a complete kit" in capsys.readouterr().err
