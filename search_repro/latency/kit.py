"""The phone kit: every model a latency table needs, timed by the runtime's own benchmark tool.

``write_kit`` exports (through ``moga-zoo export``'s validated path) the table's fixed parts and
14 x 12 blocks, the networks its end-to-end correction is fitted on and the validation networks
(MoGA-A/B/C and random ones), and writes ``manifest.json`` (space hash, shapes, runtime and
version, sha256 of each file), ``order.txt`` (the shuffled round-robin order of the timed runs)
and ``run_on_phone.sh``, which times them over ``adb`` with LiteRT's ``benchmark_model`` (CPU
with one thread, and GPU) or ExecuTorch's ``executor_runner`` and keeps every raw log under
``logs/MODE/roundR/``. ``run_kit`` times the kit here with the runtime's Python interpreter (the
calling thread's CPU time with one thread, as ``lut build``) and writes logs in the tools'
formats; ``import_kit`` turns the logs into a table and its
validation report.

Each log starts with one line ``moga_zoo-kit: kit=ID model=FILE mode=MODE round=R`` (written by
the script or ``run_kit``) followed by the tool's output, so a log from another kit is refused.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from moga_zoo.errors import MissingFileError, MogaZooError, UsageError
from moga_zoo.fileio import check_output_folder, sha256_file, write_json_atomic, write_text_atomic
from moga_zoo.inference import mobile
from moga_zoo.inference.export import SUFFIX, export_model
from moga_zoo.records import read_json
from moga_zoo.search_space import NAMED_ARCHITECTURES, NUM_LAYERS, Architecture, space_hash

from .blocks import build_model, check_resolution, fixed_parts, input_shapes, layer_parts
from .end_to_end import calibration_architectures, fit_correction, random_architectures
from .measure import summarize
from .phone_logs import PARSERS, LogParseError
from .runtimes import cpu_name
from .schema import FORMAT, FORMAT_VERSION, FIXED_PARTS
from .table import LatencyTable
from .validation import comparison_report

__all__ = ["KIT_FORMAT", "TOOLS", "MODES", "KitError", "write_kit", "run_kit", "import_kit",
           "read_manifest"]

KIT_FORMAT = "moga_zoo.latency_kit"
KIT_VERSION = 1
#: The benchmark tool that times each runtime's files on a phone.
TOOLS = {"litert": "benchmark_model", "executorch": "executor_runner"}
#: How each runtime's kit is timed: LiteRT on the CPU (one thread) and on the GPU.
MODES = {"litert": ("cpu", "gpu"), "executorch": ("cpu",)}
_HEADER = re.compile(r"^moga_zoo-kit: kit=(\S+) model=(\S+) mode=(\S+) round=(\d+)")
_SETTINGS = ("runtime", "resolution", "batch", "calibration_samples", "samples", "seed",
             "validation_seed", "rounds", "warmup", "runs")


class KitError(MogaZooError, ValueError):
    """A kit folder, or a log in it, that cannot be used as it is."""


@dataclass(frozen=True)
class _Planned:
    """A model the kit holds, before it is written."""

    file: str
    kind: str  # fixed | block | calibration | validation
    key: str
    layer: int | None
    arch: str | None
    name: str
    input_shape: tuple[int, ...]
    build: Callable[[], torch.nn.Module]


def _plan(runtime: str, resolution: int, calibration_samples: int, samples: int, seed: int,
          validation_seed: int) -> list[_Planned]:
    suffix = SUFFIX[runtime]
    shapes = input_shapes(resolution, 1)
    plan = [_Planned(f"models/fixed_{p.key}{suffix}", "fixed", p.key, None, None, "",
                     p.input_shape, lambda p=p: p.module) for p in fixed_parts(resolution, 1)]
    for i in range(NUM_LAYERS):
        for p in layer_parts(i, resolution, 1):
            plan.append(_Planned(f"models/layer{i + 1:02d}_{p.key}{suffix}", "block", p.key,
                                 i + 1, None, "", p.input_shape, lambda p=p: p.module))
    net = (1, 3, resolution, resolution)
    calibration = (calibration_architectures(calibration_samples, seed)
                   if calibration_samples else [])
    for j, arch in enumerate(calibration):
        plan.append(_Planned(f"models/calibration{j:02d}{suffix}", "calibration", str(arch),
                             None, str(arch), "", net, lambda a=arch: build_model(a)))
    taken = {str(a) for a in calibration}
    validation = list(dict(NAMED_ARCHITECTURES).items()) + [
        ("", a) for a in random_architectures(samples, validation_seed) if str(a) not in taken]
    for j, (name, arch) in enumerate(validation):
        plan.append(_Planned(f"models/validation{j:02d}{'_' + name if name else ''}{suffix}",
                             "validation", str(arch), None, str(arch), name, net,
                             lambda a=arch: build_model(a)))
    assert shapes["stem"] == net
    return plan


def _export_part(module: torch.nn.Module, path: Path, runtime: str,
                 input_shape: tuple[int, ...]) -> None:
    """One kit model, through ``moga-zoo export``'s validated path."""
    export_model(module, path, runtime, input_size=input_shape[1:])


def read_manifest(folder: "str | Path") -> dict[str, Any]:
    """The kit's manifest, checked to be a kit of this search space."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise MissingFileError(f"{folder} is not a kit (no manifest.json): write one with "
                               f"`moga-zoo lut kit --runtime R -o {folder}`")
    manifest = read_json(path, "kit manifest", "write the kit again")
    if not isinstance(manifest, dict) or manifest.get("format") != KIT_FORMAT:
        raise KitError(f"{path} is not a moga_zoo latency kit manifest")
    if manifest.get("format_version") != KIT_VERSION:
        raise KitError(f"{path}: kit format_version {manifest.get('format_version')!r} is not "
                       f"supported (this version reads {KIT_VERSION})")
    needed = ["runtime", "tool", "settings", "models"] + ["kit_id", "remote_dir"] * bool(
        manifest.get("complete"))
    missing = [k for k in needed if k not in manifest]
    if missing:
        raise KitError(f"{path} lacks {', '.join(missing)}: write the kit again")
    if manifest.get("space_hash") != space_hash():
        raise KitError(f"{folder} was written for search space {manifest.get('space_hash')}, "
                       f"this moga_zoo defines {space_hash()}: write a new kit")
    return manifest


def write_kit(
    folder: "str | Path",
    runtime: str = "litert",
    resolution: int = 224,
    calibration_samples: int = 10,
    samples: int = 30,
    seed: int = 0,
    validation_seed: int = 1,
    rounds: int = 5,
    warmup: int = 10,
    runs: int = 50,
    progress: bool = True,
) -> dict[str, Any]:
    """Write (or finish writing) the kit in ``folder``; returns its manifest.

    The manifest is rewritten after every model, so an interrupted kit resumes when the same
    command runs again; a kit written with other settings is refused.
    """
    if runtime not in TOOLS:
        raise UsageError(f"unknown kit runtime {runtime!r}; choose one of {', '.join(TOOLS)}")
    check_resolution(resolution)
    if calibration_samples == 1 or calibration_samples < 0:
        raise UsageError("--calibration-samples must be 0 (no correction) or at least 2")
    for name, value, low in (("samples", samples, 2), ("rounds", rounds, 1),
                             ("warmup", warmup, 0), ("runs", runs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"--{name} must be an integer >= {low}, got {value!r}")
    mobile.require_extra(runtime)
    folder = check_output_folder(folder, "-o/--output")
    settings = {"runtime": runtime, "resolution": resolution, "batch": 1,
                "calibration_samples": calibration_samples, "samples": samples, "seed": seed,
                "validation_seed": validation_seed, "rounds": rounds, "warmup": warmup,
                "runs": runs}
    done: dict[str, dict] = {}
    if (folder / "manifest.json").exists():
        old = read_manifest(folder)
        if old.get("complete"):
            raise KitError(f"{folder} already holds a complete kit; time it with the script or "
                           f"`moga-zoo lut kit-run {folder}`, or pass another -o folder")
        diff = [k for k in _SETTINGS if old["settings"].get(k) != settings[k]]
        if diff:
            raise KitError(f"{folder} holds a kit started with other settings "
                           f"({', '.join(diff)}); it is left untouched: pass another -o folder")
        done = {m["file"]: m for m in old["models"] if (folder / m["file"]).is_file()
                and sha256_file(folder / m["file"]) == m["sha256"]}
    elif folder.exists() and any(folder.iterdir()):
        raise KitError(f"{folder} is not empty and holds no kit: pass an empty or new folder")
    (folder / "models").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # the random weights of the kit's models (latency ignores them)
    plan = _plan(runtime, resolution, calibration_samples, samples, seed, validation_seed)
    manifest: dict[str, Any] = {
        "format": KIT_FORMAT, "format_version": KIT_VERSION, "space_hash": space_hash(),
        "runtime": {"name": runtime, "version": mobile.version_of(runtime)},
        "tool": TOOLS[runtime], "modes": list(MODES[runtime]), "settings": settings,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "complete": False, "models": []}
    with tqdm(total=len(plan), desc=f"lut kit {runtime}", unit="model",
              disable=not progress) as bar:
        for item in plan:
            entry = done.get(item.file)
            if entry is None:
                path = folder / item.file
                _export_part(item.build(), path, runtime, item.input_shape)
                entry = {"file": item.file, "kind": item.kind, "key": item.key,
                         "layer": item.layer, "arch": item.arch, "name": item.name,
                         "input_shape": list(item.input_shape), "sha256": sha256_file(path)}
            manifest["models"].append(entry)
            write_json_atomic(folder / "manifest.json", manifest, indent=1)
            bar.update(1)
    manifest["kit_id"] = _kit_id(manifest)
    manifest["complete"] = True
    manifest["remote_dir"] = f"/data/local/tmp/moga_kit_{manifest['kit_id']}"
    write_text_atomic(folder / "order.txt", _order(manifest))
    write_text_atomic(folder / "run_on_phone.sh", _script(manifest))
    (folder / "run_on_phone.sh").chmod(0o755)
    write_json_atomic(folder / "manifest.json", manifest, indent=1)
    return manifest


def _kit_id(manifest: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(
        [manifest["settings"], manifest["runtime"], [m["sha256"] for m in manifest["models"]]],
        sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _order(manifest: dict[str, Any]) -> str:
    """``ROUND FILE`` lines: every round runs every model once, in its own shuffled order."""
    settings = manifest["settings"]
    rng = np.random.default_rng(settings["seed"])
    files = [m["file"] for m in manifest["models"]]
    lines = [f"{r} {files[j]}" for r in range(1, settings["rounds"] + 1)
             for j in rng.permutation(len(files))]
    return "\n".join(lines) + "\n"


def _script(manifest: dict[str, Any]) -> str:
    s, runtime = manifest["settings"], manifest["runtime"]["name"]
    if runtime == "litert":
        tool = "/data/local/tmp/benchmark_model"
        command = ('$TOOL --graph=$REMOTE/$file --num_threads=1 --warmup_runs=$WARMUP '
                   '--warmup_min_secs=0 --num_runs=$RUNS --min_secs=0 $extra')
        extra = 'extra=""; [[ $mode == gpu ]] && extra="--use_gpu=true"'
    else:
        tool = "/data/local/tmp/executor_runner"
        command = ('$TOOL --model_path=$REMOTE/$file --cpu_threads=1 '
                   '--num_executions=$((WARMUP + RUNS))')
        extra = "true"
    return f"""#!/usr/bin/env bash
# Times this moga_zoo latency kit on an Android phone over adb with {manifest['tool']}
# ({runtime} {manifest['runtime']['version']} files), keeping every raw log under logs/MODE/roundR/.
# Then: moga-zoo lut import THIS_FOLDER -o TABLE.json  (docs/mobile.md)
# Usage: ./run_on_phone.sh [MODE...]     modes: {' '.join(MODES[runtime])} (default: all)
# Environment: TOOL (the tool's path on the phone, default {tool}), ADB_SERIAL (which phone).
set -euo pipefail
cd "$(dirname "$0")"
KIT_ID={manifest['kit_id']}
REMOTE={manifest['remote_dir']}
TOOL=${{TOOL:-{tool}}}
WARMUP={s['warmup']}
RUNS={s['runs']}
if [[ $# -gt 0 ]]; then MODES=("$@"); else MODES=({' '.join(MODES[runtime])}); fi

phone() {{ adb ${{ADB_SERIAL:+-s "$ADB_SERIAL"}} "$@"; }}

if ! phone shell "test -x $TOOL"; then
  echo "no executable $TOOL on the phone: push {manifest['tool']} there first (docs/mobile.md)" >&2
  exit 2
fi
phone shell "mkdir -p $REMOTE"
phone push models "$REMOTE/" >/dev/null
for mode in "${{MODES[@]}}"; do
  mkdir -p "logs/$mode"
  {{
    echo "kit=$KIT_ID"
    echo "device=$(phone shell getprop ro.product.manufacturer | tr -d '\\r') $(phone shell getprop ro.product.model | tr -d '\\r')"
    echo "soc=$(phone shell getprop ro.soc.model | tr -d '\\r') $(phone shell getprop ro.board.platform | tr -d '\\r')"
    echo "android=$(phone shell getprop ro.build.version.release | tr -d '\\r')"
    echo "tool=$TOOL"
  }} > "logs/$mode/device.txt"
  {extra}
  while read -r round file; do
    mkdir -p "logs/$mode/round$round"
    log="logs/$mode/round$round/$(basename "$file").log"
    echo "$mode round $round: $file"
    {{
      echo "moga_zoo-kit: kit=$KIT_ID model=$file mode=$mode round=$round"
      phone shell "{command}" </dev/null 2>&1 | tr -d '\\r' || echo "moga_zoo-kit: the tool failed"
    }} > "$log"
  done < order.txt
done
phone shell "rm -rf $REMOTE"
echo "done: moga-zoo lut import $(pwd) -o TABLE.json"
"""


def run_kit(folder: "str | Path", modes: "list[str] | None" = None, threads: int = 1,
            progress: bool = True) -> list[str]:
    """Time the kit on this machine with the runtime's Python interpreter (CPU only), writing
    each run's log in its tool's format under ``logs/cpu/``; returns the modes run."""
    folder = Path(folder)
    manifest = _complete_manifest(folder)
    runtime = manifest["runtime"]["name"]
    modes = modes or ["cpu"]
    if modes != ["cpu"]:
        raise UsageError(f"kit-run times on this machine's CPU only (mode cpu), not {modes}: "
                         f"time the GPU with run_on_phone.sh")
    mobile.require_extra(runtime)
    _check_models(folder, manifest)
    s = manifest["settings"]
    clock = "thread_cpu" if threads == 1 else "wall"  # as `lut build` and `lut validate` here
    write_text_atomic(folder / "logs" / "cpu" / "device.txt",
                      f"kit={manifest['kit_id']}\ndevice={cpu_name()}\n"
                      f"tool=moga-zoo lut kit-run ({runtime} {mobile.version_of(runtime)} "
                      f"Python interpreter, {threads} thread(s))\nclock={clock}\n")
    order = _read_order(folder)
    calls: dict[str, Callable[[], None]] = {}
    with tqdm(total=len(order), desc=f"lut kit-run {runtime}", unit="run",
              disable=not progress) as bar:
        for rnd, file in order:
            if file not in calls:
                calls[file] = mobile.invoker(runtime, str(folder / file), threads)
            times = _time(calls[file], s["warmup"], s["runs"], clock)
            header = (f"moga_zoo-kit: kit={manifest['kit_id']} model={file} mode=cpu "
                      f"round={rnd} runner=kit-run")
            text = (_benchmark_model_log if runtime == "litert" else _executor_runner_log)(
                str((folder / file).resolve()), times, s["warmup"], threads)
            write_text_atomic(folder / "logs" / "cpu" / f"round{rnd}" / f"{Path(file).name}.log",
                              header + "\n" + text)
            bar.update(1)
    return modes


def _time(call: Callable[[], None], warmup: int, runs: int, clock: str) -> list[float]:
    """Microseconds of ``warmup + runs`` calls: the calling thread's CPU time with one thread
    (it does all the work; other jobs of a shared machine do not count), else wall time."""
    now = time.thread_time_ns if clock == "thread_cpu" else time.perf_counter_ns
    out = []
    for _ in range(warmup + runs):
        t0 = now()
        call()
        out.append((now() - t0) / 1000)
    return out


def _benchmark_model_log(path: str, us: list[float], warmup: int, threads: int) -> str:
    """``benchmark_model``'s output lines for these timings (its format, recent releases)."""
    def count_line(xs: list[float]) -> str:
        p5, median, p95 = np.percentile(xs, [5, 50, 95])
        std = statistics.pstdev(xs) if len(xs) > 1 else 0.0
        return (f"INFO: count={len(xs)} first={xs[0]:.0f} curr={xs[-1]:.0f} min={min(xs):.0f} "
                f"max={max(xs):.0f} avg={statistics.fmean(xs):g} std={std:.0f} p5={p5:.0f} "
                f"median={median:.0f} p95={p95:.0f}")
    warm, timed = us[:warmup] or us[:1], us[warmup:]
    return "\n".join([
        "INFO: STARTING!", f"INFO: Graph: [{path}]", f"INFO: Num threads: [{threads}]",
        f"INFO: Loaded model {path}",
        f"INFO: Running benchmark for at least {len(warm)} iterations and at least 0 seconds "
        f"but terminate if exceeding 150 seconds.", count_line(warm), "",
        f"INFO: Running benchmark for at least {len(timed)} iterations and at least 0 seconds "
        f"but terminate if exceeding 150 seconds.", count_line(timed), "",
        f"INFO: Inference timings in us: Init: 0, First inference: {us[0]:.0f}, Warmup (avg): "
        f"{statistics.fmean(warm):g}, Inference (avg): {statistics.fmean(timed):g}", ""])


def _executor_runner_log(path: str, us: list[float], warmup: int, threads: int) -> str:
    """``executor_runner``'s output lines for these timings (its format, recent releases)."""
    n = len(us)
    lines = [f"I 00:00:00.000000 executorch:executor_runner.cpp] Model file {path} is loaded."]
    lines += [f"I 00:00:00.000000 executorch:executor_runner.cpp] Iteration {i + 1} of {n}: "
              f"{t / 1000:f} ms" for i, t in enumerate(us)]
    lines.append(f"I 00:00:00.000000 executorch:executor_runner.cpp] Model executed "
                 f"successfully {n} time(s) in {sum(us) / 1000:f} ms.")
    return "\n".join(lines) + "\n"


def _complete_manifest(folder: Path) -> dict[str, Any]:
    manifest = read_manifest(folder)
    if not manifest.get("complete"):
        raise KitError(f"{folder} holds an unfinished kit: finish it by rerunning the same "
                       f"`moga-zoo lut kit ... -o {folder}` command")
    return manifest


def _check_models(folder: Path, manifest: dict[str, Any]) -> None:
    for m in manifest["models"]:
        path = folder / m["file"]
        if not path.is_file():
            raise MissingFileError(f"{folder}: model {m['file']} of the manifest is missing; "
                                   f"write the kit again")
        if path.stat().st_size == 0 or sha256_file(path) != m["sha256"]:
            raise KitError(f"{folder}: model {m['file']} does not match the manifest's sha256; "
                           f"write the kit again")


def _read_order(folder: Path) -> list[tuple[int, str]]:
    path = folder / "order.txt"
    if not path.is_file():
        raise MissingFileError(f"{folder}: order.txt is missing; write the kit again")
    return [(int(r), f) for r, f in (line.split() for line in path.read_text().splitlines())]


def _logs(folder: Path, manifest: dict[str, Any], mode: str) -> Iterator[tuple[dict, int, Path]]:
    for m in manifest["models"]:
        for rnd in range(1, manifest["settings"]["rounds"] + 1):
            yield m, rnd, folder / "logs" / mode / f"round{rnd}" / f"{Path(m['file']).name}.log"


def _device(folder: Path, manifest: dict[str, Any], mode: str) -> dict[str, str]:
    path = folder / "logs" / mode / "device.txt"
    if not path.is_file():
        raise MissingFileError(f"{folder}: no logs for mode {mode} (logs/{mode}/device.txt): "
                               f"run ./run_on_phone.sh {mode} or `moga-zoo lut kit-run {folder}`")
    info = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    if info.get("kit") != manifest["kit_id"]:
        raise KitError(f"{path} comes from kit {info.get('kit')!r}, not this kit "
                       f"{manifest['kit_id']}: time this kit again")
    return info


def _parse_log(path: Path, manifest: dict[str, Any], model: dict, mode: str, rnd: int):
    if not path.is_file():
        raise MissingFileError(f"missing log {path}: the timing of {model['file']} (mode {mode}, "
                               f"round {rnd}) did not run; run the kit again")
    text = path.read_text(errors="replace")
    header = _HEADER.match(text)
    if header is None:
        raise KitError(f"{path} does not start with the kit's 'moga_zoo-kit:' line: not a log "
                       f"of this kit")
    if header[1] != manifest["kit_id"]:
        raise KitError(f"{path} is a log of kit {header[1]}, not of this kit "
                       f"{manifest['kit_id']}")
    if (header[2], header[3], int(header[4])) != (model["file"], mode, rnd):
        raise KitError(f"{path} holds the log of {header[2]} (mode {header[3]}, round "
                       f"{header[4]}), not of {model['file']} (mode {mode}, round {rnd})")
    try:
        run = PARSERS[manifest["runtime"]["name"]](text, manifest["settings"]["warmup"])
    except LogParseError as e:
        raise LogParseError(f"{path}: {e}") from None
    if run.model_path is not None and not run.model_path.endswith(model["file"]):
        raise KitError(f"{path}: the tool ran {run.model_path}, not {model['file']}")
    return run


def _stats(runs: list) -> dict[str, float | int]:
    """Statistics over every round's samples: median and quartiles of the samples, the smallest
    time the tool saw, and the number of timed executions."""
    samples = np.array([x for r in runs for x in r.samples_ms])
    stats = summarize(samples)
    stats["min_ms"] = round(min(min(r.min_ms for r in runs), stats["min_ms"]), 5)
    stats["runs"] = int(sum(r.runs for r in runs))
    return stats


def import_kit(folder: "str | Path", output: "str | Path", mode: str = "cpu"
               ) -> tuple[LatencyTable, dict[str, Any]]:
    """The table and validation report of a timed kit (``mode``: ``cpu`` or, for LiteRT,
    ``gpu``). Writes the table to ``output``; returns it and the report."""
    folder = Path(folder)
    manifest = _complete_manifest(folder)
    runtime, s = manifest["runtime"]["name"], manifest["settings"]
    if mode not in MODES[runtime]:
        raise UsageError(f"a {runtime} kit has modes {', '.join(MODES[runtime])}, not {mode!r}")
    _check_models(folder, manifest)
    device = _device(folder, manifest, mode)
    per_model: dict[str, list] = {}
    for model, rnd, path in _logs(folder, manifest, mode):
        per_model.setdefault(model["file"], []).append(_parse_log(path, manifest, model, mode, rnd))
    stats = {file: _stats(runs) for file, runs in per_model.items()}
    models = manifest["models"]
    table: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "space_hash": manifest["space_hash"],
        "resolution": s["resolution"], "batch": 1, "dtype": "float32",
        "device": {"type": mode, "name": device.get("device", "unknown").strip(), "threads": 1},
        "runtime": {"name": runtime, "version": manifest["runtime"]["version"]},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "measurement": {"clock": device.get("clock", "wall"), "allocator": "default",
                        "warmup": s["warmup"], "repeats": s["rounds"], "calibration_samples": s["calibration_samples"],
                        "e2e_repeats": s["rounds"], "seed": s["seed"], "runs": s["runs"],
                        "tool": device.get("tool", manifest["tool"]),
                        "kit": manifest["kit_id"]},
        "fixed": {m["key"]: {"input_shape": m["input_shape"], **stats[m["file"]]}
                  for m in models if m["kind"] == "fixed"},
        "layers": [{"layer": i + 1, "input_shape": None, "choices": {}} for i in range(NUM_LAYERS)],
        "correction": None}
    for m in models:
        if m["kind"] == "block":
            layer = table["layers"][m["layer"] - 1]
            layer["input_shape"] = m["input_shape"]
            layer["choices"][m["key"]] = stats[m["file"]]
    assert set(table["fixed"]) == set(FIXED_PARTS)
    calibration = [m for m in models if m["kind"] == "calibration"]
    if calibration:
        raw = LatencyTable(table, str(output))
        archs = [Architecture.parse(m["arch"]) for m in calibration]
        sums = raw.predict(np.array([a.encode() for a in archs]), corrected=False)
        measured = [stats[m["file"]] for m in calibration]
        try:
            a, b = fit_correction(sums, np.array([x["median_ms"] for x in measured]))
        except ValueError as e:
            raise KitError(f"{folder}: {e}") from None
        table["correction"] = {
            "type": "linear", "a": round(a, 6), "b": round(b, 6),
            "calibration": [{"arch": m["arch"], "table_sum_ms": round(float(t), 5), **x}
                            for m, t, x in zip(calibration, sums, measured)]}
    result = LatencyTable(table, str(output))
    write_json_atomic(output, table, indent=1)
    validation = [m for m in models if m["kind"] == "validation"]
    notes = [f"measured from kit {manifest['kit_id']} logs ({device.get('tool', '')})"]
    report = comparison_report(result, [Architecture.parse(m["arch"]) for m in validation],
                               [m["name"] for m in validation],
                               [stats[m["file"]] for m in validation],
                               seed=s["validation_seed"], warmup=s["warmup"], repeats=s["rounds"],
                               notes=notes)
    return result, report
