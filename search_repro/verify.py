"""Does the search find better networks? ``python -m search_repro.verify STEP ...``.

From one or more results folders of ``moga-zoo search`` (each with the latency table it was
searched on), steps in order, each resumable (repeat a command to go on):

* ``picks``: for each of MoGA-A/B/C, the front member with the best supernet score whose latency
  predicted by the same table is at most that model's (:func:`pick_rule`) -> ``OUT/picks.json``;
* ``train``: every pick and MoGA-A/B/C stand-alone with the proxy protocol's recipe and seeds,
  one JSON per run in ``OUT/runs/<architecture>/seed<k>.json`` (sharded with ``--shard I/N``;
  ``--references`` copies matching runs of :mod:`search_repro.protocol` instead of retraining);
* ``latency``: every pick and MoGA-A/B/C timed end to end at the tables' resolution, batch and
  threads, on every runtime (PyTorch eager and onnxruntime for CPU tables), all interleaved in one
  process, in rounds -> ``OUT/latency.json``;
* ``report``: a markdown table, JSON and plot with the verdict per pick (:func:`verdict`) and the
  device-awareness comparison (:func:`device_awareness`).

``run`` does all four; with ``--shard`` only the last shard to finish training measures and
reports.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from moga_zoo.cli.options import Parser, output_folder
from moga_zoo.errors import UsageError, run_reporting
from moga_zoo.fileio import replace_atomic, write_json_atomic, write_text_atomic
from moga_zoo.records import read_record
from moga_zoo.search_space import NAMED_ARCHITECTURES, Architecture

from .protocol import (parse_seeds, proxy_title, read_runs, reusable_runs, train_set,
                       training_arguments)
from .records import Front, LatencyRounds, Picks
from .proxy import DISPLAY

__all__ = ["pick_rule", "architectures", "latency_targets", "verdict", "latency_comparison",
           "device_awareness", "build_report", "render_markdown", "plot_report", "main",
           "seed_noise", "VerifyError", "PICK_RULE", "NOISE_RULE", "NOISE_ALPHA", "LATENCY_RULE"]

PICK_RULE = ("for each of MoGA-A/B/C: among the front members whose latency predicted by the "
             "search's table is <= that model's latency predicted by the same table, the one with "
             "the highest supernet score; ties go to the lower predicted latency, then to the "
             "lexicographically first architecture string; no qualifying member: no pick")

#: Two architectures' mean accuracies differ beyond seed noise when a two-sided Student t-test
#: with the pooled seed SD rejects equal means at this level.
NOISE_ALPHA = 0.05
NOISE_RULE = ("d = mean(pick) - mean(MoGA) over seeds; s = the seed SD pooled over every "
              "architecture of the report (ddof 1 within each; 2-3 seeds alone give too rough an "
              "SD), df = its degrees of freedom; SE = s * sqrt(1/n_pick + 1/n_MoGA); better if "
              f"d > t(df) * SE, worse if d < -t(df) * SE, with t(df) the two-sided "
              f"{1 - NOISE_ALPHA:.0%} quantile of Student's t (a pooled two-sample t-test at "
              f"p < {NOISE_ALPHA:g}), else equal within seed noise")

LATENCY_RULE = ("faster / slower: every round median of one is below / above every round "
                "median of the other; otherwise the same within the spread of the rounds")


class VerifyError(UsageError):
    """Bad input to the command: one line, exit code 2."""


# --- the pick rule -------------------------------------------------------------------------------

def pick_rule(front: Sequence[Mapping], predict: Callable[[np.ndarray], np.ndarray],
              models: Mapping[str, Architecture] = NAMED_ARCHITECTURES) -> dict[str, dict]:
    """Apply :data:`PICK_RULE` to a front (records with ``arch``, ``codes``, ``accuracy``).

    ``predict`` maps integer codes of shape (N, 14) to milliseconds (a table's ``predict``).
    Per model: its predicted latency, how many front members qualify, and the pick (``None``
    with a ``reason`` when none qualifies).
    """
    latency = (np.asarray(predict(np.array([r["codes"] for r in front])), np.float64)
               if front else np.zeros(0))
    out = {}
    for name, arch in models.items():
        budget = float(np.asarray(predict(np.array([arch.encode()])), np.float64)[0])
        qualifying = [i for i in range(len(front)) if latency[i] <= budget]
        entry = {"model": name, "model_latency_ms": budget, "qualifying": len(qualifying),
                 "pick": None, "reason": None}
        if not front:
            entry["reason"] = "the front is empty"
        elif not qualifying:
            entry["reason"] = (f"no front member is predicted at or below {DISPLAY.get(name, name)}"
                               f"'s {budget:.3f} ms (the fastest is predicted at "
                               f"{latency.min():.3f} ms)")
        else:
            best = min(qualifying, key=lambda i: (-front[i]["accuracy"], latency[i],
                                                  front[i]["arch"]))
            entry["pick"] = {"arch": front[best]["arch"],
                             "codes": [int(c) for c in front[best]["codes"]],
                             "supernet_accuracy": float(front[best]["accuracy"]),
                             "latency_ms": float(latency[best])}
        out[name] = entry
    return out


def _load_search(spec: str) -> dict:
    """A results folder (``DIR`` or ``DIR=TABLE``) checked against its table, with its picks."""
    from search_repro.latency import load_table

    folder, _, table_source = spec.partition("=")
    path = Path(folder) / "front.json"
    if not path.is_file():
        raise VerifyError(f"no front.json in {folder}; give a results folder written by "
                          f"`moga-zoo search`")
    data = read_record(path, Front, "search front (front.json)",
                       "give a results folder written by `moga-zoo search`")
    artifacts = data.get("config", {}).get("artifacts", {})
    table_source = table_source or artifacts.get("table")
    if not table_source:
        raise VerifyError(f"{path} names no latency table; give it as {folder}=TABLE")
    table = load_table(table_source)
    front = data["front"]
    if front:
        predicted = table.predict(np.array([r["codes"] for r in front]))
        recorded = np.array([r["latency_ms"] for r in front])
        if not np.allclose(predicted, recorded, rtol=1e-6, atol=1e-9):
            raise VerifyError(f"the latencies in {path} were not predicted by table "
                              f"{table_source}; give the table the search used as "
                              f"{folder}=TABLE")
    picks = pick_rule(front, table.predict)
    scored = {r.get("set"): r.get("accuracy") for r in data.get("references", [])}
    for name, entry in picks.items():
        entry["model_supernet_accuracy"] = scored.get(name)
    return {
        "label": Path(table_source).stem if Path(table_source).suffix else table_source,
        "results": Path(folder).name, "table": table_source,
        "table_device": table.data["device"], "table_runtime": table.data["runtime"],
        "resolution": table.resolution, "batch": table.batch,
        "supernet_sha256": artifacts.get("supernet_sha256"),
        "front_size": len(front), "picks": picks,
    }


def cmd_picks(args: argparse.Namespace) -> int:
    searches = [_load_search(s) for s in args.results]
    labels = [s["label"] for s in searches]
    if len(set(labels)) != len(labels):
        raise VerifyError(f"two results folders were searched on the same table ({labels}); "
                          f"verify them in separate --out folders")
    target = Path(args.out) / "picks.json"
    write_json_atomic(target, {"command": "python -m search_repro.verify picks "
                                          + " ".join(args.results),
                               "rule": PICK_RULE, "searches": searches})
    for s in searches:
        for name, p in s["picks"].items():
            what = (f"{p['pick']['arch']} (supernet {p['pick']['supernet_accuracy']:.4f}, "
                    f"{p['pick']['latency_ms']:.2f} ms)" if p["pick"]
                    else f"no pick: {p['reason']}")
            print(f"{s['label']}: {DISPLAY[name]} ({p['model_latency_ms']:.2f} ms, "
                  f"{p['qualifying']} qualify) -> {what}")
    print(f"wrote {target}")
    return 0


def _read_picks(out: Path) -> dict:
    path = out / "picks.json"
    if not path.is_file():
        raise VerifyError(f"no {path}; run `python -m search_repro.verify picks RESULTS... "
                          f"--out {out}` first")
    return read_record(path, Picks, "picks file", f"run `python -m search_repro.verify picks "
                       f"RESULTS... --out {out}` again")


def _read_latency(path: Path) -> dict:
    return read_record(path, LatencyRounds, "latency file", "delete it and run `python -m "
                       "search_repro.verify latency` again")


def architectures(picks: dict) -> dict[str, Architecture]:
    """MoGA-A/B/C and every pick, keyed by architecture string (a pick chosen twice is one)."""
    archs = {str(a): a for a in NAMED_ARCHITECTURES.values()}
    for s in picks["searches"]:
        for p in s["picks"].values():
            if p["pick"]:
                archs.setdefault(p["pick"]["arch"], Architecture.from_string(p["pick"]["arch"]))
    return archs


# --- stand-alone training ------------------------------------------------------------------------

def _missing_runs(runs: Path, archs: Mapping[str, Architecture], seeds: list[int]) -> list:
    return [(a, s) for s in seeds for a in archs if not (runs / a / f"seed{s}.json").exists()]


def cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    archs = architectures(_read_picks(out))
    return train_set("verify", out / "runs", archs, args,
                     reuse=[Path(args.references)] if args.references else [])


# --- measured latency ----------------------------------------------------------------------------

def latency_targets(searches: Sequence[dict]) -> list[dict]:
    """Where to time: every table's device and runtime, and for CPU tables both CPU runtimes,
    at the tables' thread count (CPU tables must agree on it)."""
    targets: dict[str, dict] = {}
    cpu_threads = {s["table_device"]["threads"] for s in searches
                   if s["table_device"]["type"] == "cpu"}
    if len(cpu_threads) > 1:
        raise VerifyError(f"the CPU tables were measured with different thread counts "
                          f"({sorted(cpu_threads)}); verify them in separate --out folders")
    for s in searches:
        device = s["table_device"]["type"]
        runtimes = ("torch", "onnxruntime") if device == "cpu" else (s["table_runtime"]["name"],)
        for runtime in runtimes:
            targets[f"{device}-{runtime}"] = {"device": device, "runtime": runtime,
                                              "threads": s["table_device"]["threads"]}
    return [{"key": k, **v} for k, v in sorted(targets.items())]


def _machine(runtimes: Mapping[str, object]) -> dict:
    from search_repro.latency.runtimes import cpu_name

    machine = {"cpu_name": cpu_name(), "torch": torch.__version__,
               "runtimes": {key: {"name": rt.name, "version": rt.version, "clock": rt.clock,
                                  "allocator": rt.allocator} for key, rt in runtimes.items()}}
    if any(rt.device == "cuda" for rt in runtimes.values()):
        machine["gpu_name"] = torch.cuda.get_device_name()
    return machine


def cmd_latency(args: argparse.Namespace) -> int:
    from search_repro.latency.blocks import build_model
    from search_repro.latency.measure import measure_interleaved
    from search_repro.latency.runtimes import get_runtime

    out = Path(args.out)
    picks = _read_picks(out)
    searches = picks["searches"]
    settings = {(s["resolution"], s["batch"]) for s in searches}
    if len(settings) > 1:
        raise VerifyError(f"the tables were measured at different (resolution, batch) "
                          f"{sorted(settings)}; verify them in separate --out folders")
    (resolution, batch), = settings
    targets = latency_targets(searches)
    if args.runtimes:
        wanted = args.runtimes.split(",")
        unknown = set(wanted) - {t["key"] for t in targets}
        if unknown:
            raise VerifyError(f"--runtimes {','.join(sorted(unknown))} is not among the tables' "
                              f"runtimes ({', '.join(t['key'] for t in targets)})")
        targets = [t for t in targets if t["key"] in wanted]
    archs = architectures(picks)
    runtimes = {t["key"]: get_runtime(t["runtime"], t["device"], t["threads"]) for t in targets}
    identity = {"settings": {"resolution": resolution, "batch": batch, "warmup": args.warmup,
                             "repeats": args.repeats, "seed": args.seed},
                "targets": targets, "architectures": list(archs), "machine": _machine(runtimes)}
    target = out / "latency.json"
    state = _read_latency(target) if target.exists() else {**identity, "rounds": []}
    differs = [k for k in identity if state.get(k) != identity[k]]
    if differs:
        raise VerifyError(f"{target} was measured with other {', '.join(differs)}; delete it to "
                          f"measure again, or use another --out")
    if len(state["rounds"]) >= args.rounds:
        print(f"latency: {len(state['rounds'])} rounds already in {target}")
        return 0
    shape = (batch, 3, resolution, resolution)
    print(f"latency: building {len(archs)} x {len(runtimes)} timed models ...", flush=True)
    timers = {f"{key}|{a}": rt.timer(build_model(arch), shape)
              for key, rt in runtimes.items() for a, arch in archs.items()}
    while len(state["rounds"]) < args.rounds:
        r = len(state["rounds"])
        tic = time.monotonic()
        stats = measure_interleaved(timers, args.warmup, args.repeats, args.seed + r)
        state["rounds"].append({t["key"]: {a: stats[f"{t['key']}|{a}"]["median_ms"]
                                           for a in archs} for t in targets})
        write_json_atomic(target, state)
        print(f"  round {r + 1}/{args.rounds} ({time.monotonic() - tic:.0f} s)", flush=True)
    print(f"wrote {target}")
    return 0


# --- verdicts ------------------------------------------------------------------------------------

def seed_noise(accuracy: Mapping[str, Sequence[float]]) -> dict:
    """The seed SD pooled over architectures (per-seed values by architecture), its degrees of
    freedom and the t quantile that :data:`NOISE_RULE` applies."""
    from scipy import stats

    values = [np.asarray(v, np.float64) for v in accuracy.values()]
    if any(len(v) < 2 for v in values):
        raise VerifyError("a verdict needs at least 2 seeds per architecture")
    df = sum(len(v) - 1 for v in values)
    sd = float(np.sqrt(sum(v.var(ddof=1) * (len(v) - 1) for v in values) / df))
    return {"pooled_sd": sd, "df": df, "t": float(stats.t.ppf(1 - NOISE_ALPHA / 2, df))}


def verdict(pick: Sequence[float], model: Sequence[float], noise: Mapping[str, float]) -> dict:
    """Accuracy of ``pick`` against ``model`` (per-seed values) under :data:`NOISE_RULE`, with
    ``noise`` from :func:`seed_noise`."""
    a, b = np.asarray(pick, np.float64), np.asarray(model, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise VerifyError("a verdict needs at least 2 seeds per architecture")
    d = float(a.mean() - b.mean())
    se = noise["pooled_sd"] * float(np.sqrt(1 / len(a) + 1 / len(b)))
    threshold = noise["t"] * se
    word = ("equal within seed noise" if abs(d) <= threshold else "better" if d > 0 else "worse")
    return {"verdict": word, "difference": d, "standard_error": se, "threshold": threshold}


def latency_comparison(a_rounds: Sequence[float], b_rounds: Sequence[float]) -> dict:
    """``a`` against ``b`` from their per-round medians, under :data:`LATENCY_RULE`."""
    a, b = np.asarray(a_rounds, np.float64), np.asarray(b_rounds, np.float64)
    word = ("faster" if a.max() < b.min() else "slower" if a.min() > b.max()
            else "same within round spread")
    return {"comparison": word, "ratio": float(np.median(a) / np.median(b))}


def device_awareness(searches: Sequence[dict], accuracy: Mapping[str, Sequence[float]],
                     rounds: Mapping[str, Mapping[str, Sequence[float]]],
                     noise: Mapping[str, float]) -> list[dict]:
    """For every two searches on tables of different runtimes and every MoGA model both picked
    for: is each search's pick faster on its own table's runtime than the other's pick, and are
    their accuracies equal within seed noise? A pair of architectures picked for several models
    counts once (``models`` lists them). ``accuracy``: per-seed values by architecture;
    ``rounds``: per runtime key, round medians by architecture; ``noise``: :func:`seed_noise`."""
    rows: dict[tuple[str, ...], dict] = {}
    for i, s in enumerate(searches):
        for t in searches[i + 1:]:
            ks, kt = _key(s), _key(t)
            if ks == kt or ks not in rounds or kt not in rounds:
                continue
            for name in s["picks"]:
                ps, pt = s["picks"][name]["pick"], t["picks"].get(name, {}).get("pick")
                if not ps or not pt:
                    continue
                a, b = ps["arch"], pt["arch"]
                if (s["label"], t["label"], a, b) in rows:
                    rows[s["label"], t["label"], a, b]["models"].append(name)
                    continue
                rows[s["label"], t["label"], a, b] = {
                    "models": [name], "searches": [s["label"], t["label"]],
                    "architectures": [a, b], "same_architecture": a == b,
                    "accuracy": verdict(accuracy[a], accuracy[b], noise),
                    f"on_{ks}": latency_comparison(rounds[ks][a], rounds[ks][b]),
                    f"on_{kt}": latency_comparison(rounds[kt][b], rounds[kt][a]),
                    "own_runtime_keys": [ks, kt]}
    return list(rows.values())


def _key(search: dict) -> str:
    return f"{search['table_device']['type']}-{search['table_runtime']['name']}"


def _awareness_summary(rows: Sequence[dict]) -> list[str]:
    """One plain sentence per (search, runtime) direction, counting the pairs."""
    lines = []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r["searches"]), []).append(r)
    for (s, t), group in groups.items():
        ks, kt = group[0]["own_runtime_keys"]
        n = len(group)
        similar = sum(r["accuracy"]["verdict"] == "equal within seed noise" for r in group)
        same = sum(r["same_architecture"] for r in group)
        for own, other, key in ((s, t, ks), (t, s, kt)):
            words = [r[f"on_{key}"]["comparison"] for r in group]  # own pick vs the other's
            faster, slower = words.count("faster"), words.count("slower")
            lines.append(f"On {key}, the picks searched on {own} are faster than those searched "
                         f"on {other} in {faster} of {n} pairs of architectures, slower in "
                         f"{slower}, the same within round spread in {n - faster - slower}.")
        lines.append(f"Accuracy of the two searches' picks: equal within seed noise in {similar} "
                     f"of {n} pairs of architectures"
                     + (f"; {same} pair(s) are the same architecture" if same else "") + ".")
    return lines


# --- the report ----------------------------------------------------------------------------------

def _load_runs(runs: Path, archs: Mapping[str, Architecture], out: Path) -> dict[str, list]:
    paths = {a: sorted((runs / a).glob("seed*.json")) for a in archs}
    records = iter(read_runs(p for a in archs for p in paths[a]))
    loaded = {a: sorted((next(records) for _ in paths[a]), key=lambda r: r["seed"]) for a in archs}
    foreign = [a for a, rs in loaded.items() if any(r["arch"] != a for r in rs)]
    if foreign:
        raise VerifyError(f"{runs / foreign[0]} holds runs of another architecture")
    short = [a for a, rs in loaded.items() if len(rs) < 2]
    if short:
        raise VerifyError(f"{len(short)} architecture(s) have fewer than 2 finished seeds in "
                          f"{runs}; run `python -m search_repro.verify train --out {out}` (every "
                          f"shard) first")
    return loaded


def build_report(picks: dict, runs: Mapping[str, Sequence[dict]], latency: dict,
                 sizes: Mapping[str, tuple[int, int]],
                 predicted: Mapping[str, Mapping[str, float]]) -> dict:
    """The report's content from ``picks.json``, the training runs by architecture, the
    ``latency.json`` rounds, params/MACs at the tables' resolution and each table's predicted
    milliseconds by architecture."""
    searches = picks["searches"]
    archs = architectures(picks)
    keys = [t["key"] for t in latency["targets"]]
    if not latency["rounds"] or latency["architectures"] != list(archs):
        raise VerifyError("latency.json does not cover these picks; run the latency step again")
    accuracy = {a: [r["test_accuracy"] for r in runs[a]] for a in archs}
    noise = seed_noise(accuracy)
    rounds = {k: {a: [rd[k][a] for rd in latency["rounds"]] for a in archs} for k in keys}
    roles: dict[str, list[str]] = {a: [] for a in archs}
    for name, arch in NAMED_ARCHITECTURES.items():
        roles[str(arch)].append(DISPLAY[name])
    for s in searches:
        for name, p in s["picks"].items():
            if p["pick"]:
                roles[p["pick"]["arch"]].append(f"pick for {DISPLAY[name]} on {s['label']}")
    entries = {a: {
        "roles": roles[a], "seeds": [r["seed"] for r in runs[a]],
        "test_accuracy_per_seed": accuracy[a],
        "test_accuracy_mean": float(np.mean(accuracy[a])),
        "test_accuracy_sd": float(np.std(accuracy[a], ddof=1)),
        "reused_runs": sum("reused_from" in r for r in runs[a]),
        "params": int(sizes[a][0]), "macs": int(sizes[a][1]),
        "proxy_params": runs[a][0]["params"], "proxy_macs": runs[a][0]["macs"],
        "predicted_ms": {label: float(ms[a]) for label, ms in predicted.items()},
        "measured_ms": {k: {"median_ms": float(np.median(rounds[k][a])),
                            "round_medians": rounds[k][a]} for k in keys},
    } for a in archs}
    pairs = []
    for s in searches:
        for name, p in s["picks"].items():
            row = {"search": s["label"], "model": name, "pick": None, "reason": p["reason"],
                   "verdict": "no pick"}
            if p["pick"]:
                pick, model = p["pick"]["arch"], str(NAMED_ARCHITECTURES[name])
                acc = verdict(accuracy[pick], accuracy[model], noise)
                supernet = p["pick"]["supernet_accuracy"], p.get("model_supernet_accuracy")
                row.update(pick=pick, same_architecture=pick == model, accuracy=acc,
                           supernet_difference=(None if supernet[1] is None
                                                else supernet[0] - supernet[1]),
                           verdict=acc["verdict"], own_runtime=_key(s) if _key(s) in keys else None,
                           latency={k: latency_comparison(rounds[k][pick], rounds[k][model])
                                    for k in keys})
            pairs.append(row)
    aware = device_awareness(searches, accuracy, rounds, noise)
    first = next(iter(runs.values()))[0]
    machine = latency["machine"]
    return {
        "pick_rule": PICK_RULE, "noise_rule": NOISE_RULE, "latency_rule": LATENCY_RULE,
        "seed_noise": noise,
        "proxy": first["proxy"], "recipe": first["recipe"],
        "searches": [{k: s[k] for k in ("label", "results", "table", "table_device",
                                        "table_runtime", "supernet_sha256", "front_size")}
                     for s in searches],
        "latency_settings": {**latency["settings"], "rounds": len(latency["rounds"]),
                             "targets": latency["targets"]},
        "machine": machine,
        "same_cpu_as_tables": all(s["table_device"]["name"] == machine.get("cpu_name")
                                  for s in searches if s["table_device"]["type"] == "cpu"),
        "architectures": entries, "pairs": pairs,
        "device_awareness": aware, "device_awareness_summary": _awareness_summary(aware),
    }


def _pct(values: Sequence[float]) -> str:
    return f"{np.mean(values) * 100:.2f} ± {np.std(values, ddof=1) * 100:.2f} (n={len(values)})"


def render_markdown(report: dict) -> str:
    """The report as markdown: the architecture table, the verdicts and device awareness."""
    keys = [t["key"] for t in report["latency_settings"]["targets"]]
    labels = [s["label"] for s in report["searches"]]
    proxy, recipe, lat, machine = (report["proxy"], report["recipe"], report["latency_settings"],
                                   report["machine"])
    lines = [
        f"Stand-alone: proxy task `{proxy['task']}` at {proxy['resolution']} px, width "
        f"x{proxy['channel_multiplier']}, {recipe['epochs']:g} epoch(s), batch "
        f"{recipe['batch_size']}, lr {recipe['lr']}; test accuracy over seeds. Measured latency: "
        f"{lat['resolution']} px, batch {lat['batch']}, "
        + ", ".join(f"{t['key']} {t['threads']} thread(s)" for t in lat["targets"])
        + f"; median of {lat['rounds']} round medians ({lat['repeats']} runs each, interleaved) "
        f"on {machine['cpu_name']}"
        + (f" and {machine['gpu_name']}" if "gpu_name" in machine else "") + ", "
        + ", ".join(sorted({f"{r['name']} {r['version']}"
                            for r in machine["runtimes"].values()})) + "."
        + ("" if report["same_cpu_as_tables"] else
           " **This is not the CPU the tables were measured on.**"),
        "",
        "| architecture | role | test accuracy % | " + " | ".join(f"{k} ms" for k in keys)
        + " | " + " | ".join(f"predicted ms ({lb})" for lb in labels)
        + " | params M | MACs M |",
        "|---|---|---|" + "---|" * (len(keys) + len(labels)) + "---|---|",
    ]
    for a, e in report["architectures"].items():
        measured = " | ".join(
            f"{m['median_ms']:.2f} ({min(m['round_medians']):.2f}–{max(m['round_medians']):.2f})"
            for m in (e["measured_ms"][k] for k in keys))
        lines.append(f"| `{a}` | {'; '.join(e['roles'])} | {_pct(e['test_accuracy_per_seed'])} | "
                     f"{measured} | " + " | ".join(f"{e['predicted_ms'][lb]:.2f}" for lb in labels)
                     + f" | {e['params'] / 1e6:.2f} | {e['macs'] / 1e6:.0f} |")
    lines += ["", "Verdicts, pick against the MoGA model it was picked for:", "",
              "| searched on | pick for | supernet score difference (points) | stand-alone "
              "accuracy difference (points) | t(df) x SE | verdict | measured on the table's "
              "runtime (pick / MoGA) |", "|---|---|---|---|---|---|---|"]
    for p in report["pairs"]:
        if p["pick"] is None:
            lines.append(f"| {p['search']} | {DISPLAY[p['model']]} | – | – | – | no pick: "
                         f"{p['reason']} | – |")
            continue
        own = p["own_runtime"]
        speed = (f"{p['latency'][own]['comparison']} ({p['latency'][own]['ratio']:.2f}x)"
                 if own else "not measured")
        supernet = ("–" if p["supernet_difference"] is None
                    else f"{p['supernet_difference'] * 100:+.2f}")
        lines.append(f"| {p['search']} | {DISPLAY[p['model']]} | {supernet} | "
                     f"{p['accuracy']['difference'] * 100:+.2f} | "
                     f"{p['accuracy']['threshold'] * 100:.2f} | {p['verdict']}"
                     + (" (same architecture)" if p["same_architecture"] else "")
                     + f" | {speed} |")
    noise = report["seed_noise"]
    lines += ["", f"- Accuracy: {report['noise_rule']}. Here s = {noise['pooled_sd'] * 100:.2f} "
                  f"points, df = {noise['df']}, t(df) = {noise['t']:.2f}.",
              f"- Latency: {report['latency_rule']}.",
              f"- Picks: {report['pick_rule']}.", "", "Device awareness, measured:", ""]
    lines += [f"- {s}" for s in report["device_awareness_summary"]] or [
        "- not measurable: it needs picks from searches on tables of two different runtimes, "
        "both measured"]
    if report["device_awareness"]:
        lines += ["", "| picks for | searches (first, second) | on the first's runtime: first / "
                      "second | on the second's runtime: second / first | accuracy, first - "
                      "second (points) |", "|---|---|---|---|---|"]
    for r in report["device_awareness"]:
        ks, kt = r["own_runtime_keys"]
        lines.append(f"| {', '.join(DISPLAY[m] for m in r['models'])} | "
                     f"{r['searches'][0]}, {r['searches'][1]} | "
                     + " | ".join(f"{k}: {r[f'on_{k}']['comparison']} "
                                  f"({r[f'on_{k}']['ratio']:.2f}x)" for k in (ks, kt))
                     + f" | {r['accuracy']['difference'] * 100:+.2f} ({r['accuracy']['verdict']})"
                     + (", same architecture" if r["same_architecture"] else "") + " |")
    return "\n".join(lines) + "\n"


def plot_report(report: dict, path: Path) -> None:
    """Accuracy vs measured latency, one panel per runtime, error bars from seeds and rounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [t["key"] for t in report["latency_settings"]["targets"]]
    labels = [s["label"] for s in report["searches"]]
    colours = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        seen = set()
        for a, e in report["architectures"].items():
            rounds = e["measured_ms"][key]["round_medians"]
            x, y = e["measured_ms"][key]["median_ms"], e["test_accuracy_mean"] * 100
            search = next((lb for lb in labels for r in e["roles"] if r.endswith(f"on {lb}")),
                          None)
            legend = "MoGA-A/B/C" if search is None else f"picks, searched on {search}"
            ax.errorbar(x, y, xerr=[[x - min(rounds)], [max(rounds) - x]],
                        yerr=e["test_accuracy_sd"] * 100, capsize=3,
                        fmt="s" if search is None else "o",
                        color="black" if search is None else colours[search],
                        label=None if legend in seen else legend)
            seen.add(legend)
            picked = sorted({r.split(" on ")[0][-1] for r in e["roles"] if r.startswith("pick")})
            text = ", ".join([r for r in e["roles"] if not r.startswith("pick")]
                             + (["pick for MoGA-" + "/".join(picked)] if picked else []))
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(f"measured latency on {key} (ms), median and range of the rounds")
        ax.set_ylabel("stand-alone test accuracy (%), mean \u00b1 SD over seeds")
        ax.set_title(f"{proxy_title(report['proxy'])} proxy (test split)\n"
                     f"vs measured latency on {key}", fontsize=9)
        ax.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def cmd_report(args: argparse.Namespace) -> int:
    from search_repro.latency import load_table
    from search_repro.search.size_model import size_model

    out = Path(args.out)
    picks = _read_picks(out)
    archs = architectures(picks)
    runs = _load_runs(out / "runs", archs, out)
    path = out / "latency.json"
    if not path.is_file():
        raise VerifyError(f"no {path}; run `python -m search_repro.verify latency --out {out}`")
    latency = _read_latency(path)
    resolution = picks["searches"][0]["resolution"]
    sizes = size_model(resolution=resolution)
    codes = np.array([a.encode() for a in archs.values()])
    sizes_by_arch = dict(zip(archs, zip(sizes.params(codes).tolist(), sizes.macs(codes).tolist())))
    predicted = {s["label"]: dict(zip(archs, load_table(s["table"]).predict(codes).tolist()))
                 for s in picks["searches"]}
    report = build_report(picks, runs, latency, sizes_by_arch, predicted)
    command = f"python -m search_repro.verify report --out {args.out}"
    if args.report_dir:
        command += f" --report-dir {args.report_dir}"
    report["commands"] = {"picks": picks["command"], "report": command}
    folder = Path(args.report_dir or out)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "verify.json", report)
    text = render_markdown(report)
    write_text_atomic(folder / "verify.md", text)
    plot_report(report, folder / "verify.png")
    print(text)
    print(f"wrote {folder / 'verify.json'}, verify.md and verify.png")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """All steps; measures and reports only once every run of every shard is done."""
    if args.references:  # every input is checked before anything is written
        reusable_runs(Path(args.references), Path(args.out) / "runs")
    cmd_picks(args)
    cmd_train(args)
    missing = _missing_runs(Path(args.out) / "runs", architectures(_read_picks(Path(args.out))),
                            parse_seeds(args.seeds))
    if missing:
        print(f"{len(missing)} training run(s) are not done yet (another shard, or --max-minutes); "
              f"run the same command again to continue")
        return 0
    cmd_latency(args)
    return cmd_report(args)


# --- the command line ----------------------------------------------------------------------------

DEFAULT_OUT = "runs/verify"


def _latency_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warmup", type=int, default=10, help="untimed runs per model and round")
    p.add_argument("--repeats", type=int, default=50, help="timed runs per model and round")
    p.add_argument("--rounds", type=int, default=5, help="rounds; the latency is the median of "
                   "the round medians")
    p.add_argument("--seed", type=int, default=0, help="seed of the interleaving order")
    p.add_argument("--runtimes", default="", help="only these of the tables' runtimes, e.g. "
                   "cpu-torch (default: all)")


def _results_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", metavar="DIR[=TABLE]",
                   help="a `moga-zoo search` results folder; its table is the one front.json "
                   "names unless given after '='")


def _references_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--references", default="", help="a folder of stand-alone runs "
                   "(<name>/seed<k>.json, e.g. runs/protocol/references) to reuse where "
                   "architecture, seed, proxy and recipe match")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m search_repro.verify", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("picks", help="pick a front member per MoGA model (writes OUT/picks.json)")
    _results_argument(p)
    p.add_argument("--out", default=DEFAULT_OUT, type=output_folder(),
                   help=f"default {DEFAULT_OUT}")
    p.set_defaults(func=cmd_picks)
    p = sub.add_parser("train", help="train every pick and MoGA-A/B/C stand-alone (resumable, "
                       "sharded)")
    training_arguments(p, out=DEFAULT_OUT, reuse=False)
    _references_argument(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("latency", help="time every pick and MoGA-A/B/C end to end, interleaved "
                       "(writes OUT/latency.json)")
    p.add_argument("--out", default=DEFAULT_OUT, type=output_folder(),
                   help=f"default {DEFAULT_OUT}")
    _latency_arguments(p)
    p.set_defaults(func=cmd_latency)
    p = sub.add_parser("report", help="table, verdicts, device awareness and plot")
    p.add_argument("--out", default=DEFAULT_OUT, type=output_folder(),
                   help=f"default {DEFAULT_OUT}")
    p.add_argument("--report-dir", default="", type=output_folder(),
                   help="where verify.{json,md,png} go (default OUT)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("run", help="all steps, resumable: repeat the command to continue")
    _results_argument(p)
    training_arguments(p, out=DEFAULT_OUT, reuse=False)
    _references_argument(p)
    _latency_arguments(p)
    p.add_argument("--report-dir", default="", type=output_folder(),
                   help="where verify.{json,md,png} go (default OUT)")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_reporting(parser.prog, lambda: args.func(args),
                         ["python", "-m", "search_repro.verify",
                          *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
