"""The proxy protocol: ``python -m search_repro.protocol pilot|pilot-report ...``.

``pilot`` trains a capacity ladder (:func:`search_repro.proxy.capacity_ladder`) stand-alone,
several seeds each, on a candidate proxy task and writes one small JSON per run to
``OUT/pilots/NAME/<architecture>/seed<k>.json``. Finished runs are skipped, so the command is
resumable (``--max-minutes`` stops between runs) and shardable (``--shard I/N``: run N
processes, one per core). ``pilot-report`` summarises every pilot under ``OUT/pilots``: a
ladder whose means spread over a range >= 7x the per-run seed SD can show a ranking.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from moga_zoo.fileio import write_json_atomic

from .data import load_splits
from .proxy import ProxySpec, capacity_ladder
from .standalone import Recipe, train_standalone

__all__ = ["pilot_summary", "main"]


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda was asked for but no CUDA device is visible")
    return torch.device(name)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"error: --seeds takes comma-separated integers, got {text!r}") from None
    if not seeds:
        raise SystemExit("error: --seeds is empty")
    return seeds


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise SystemExit(f"error: --shard takes I/N, got {text!r}") from None
    if not 0 <= index < count:
        raise SystemExit(f"error: --shard I/N needs 0 <= I < N, got {text!r}")
    return index, count


def cmd_pilot(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    proxy = ProxySpec(task=args.task, resolution=args.resolution,
                      channel_multiplier=args.channel_multiplier,
                      **({"strides": tuple(int(s) for s in args.strides.split(","))}
                         if args.strides else {}))
    recipe = Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe)})
    ladder = capacity_ladder(args.ladder)
    folder = Path(args.out) / "pilots" / args.name
    shard, shards = _shard(args.shard)
    jobs = [(seed, name) for seed, name in itertools.product(_seeds(args.seeds), ladder)]
    todo = [(i, job) for i, job in enumerate(jobs)
            if i % shards == shard and not (folder / job[1] / f"seed{job[0]}.json").exists()]
    if not todo:
        print(f"pilot {args.name}: shard {args.shard} has nothing left to train")
        return 0
    began = time.monotonic()
    print(f"pilot {args.name}: loading {proxy.task} data ...", flush=True)
    data = load_splits(None, proxy.resolution, proxy.search_val_size, proxy.data_seed, proxy.task)
    device = _device(args.device)
    for n, (_, (seed, name)) in enumerate(todo):
        if args.max_minutes and time.monotonic() - began > 60 * args.max_minutes:
            print("time is up; run the same command again to continue")
            return 0
        print(f"[{n + 1}/{len(todo)}] {name} seed {seed} ...", flush=True)
        result = train_standalone(ladder[name], proxy, recipe, data, seed, device)
        result["pilot"] = args.name
        target = folder / name / f"seed{seed}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, result)
        print(f"    test accuracy {result['test_accuracy']:.4f}, NLL {result['test_nll']:.3f} "
              f"({result['train_seconds']:.0f} s)", flush=True)
    return 0


def pilot_summary(runs: dict[str, list[dict]]) -> dict:
    """Spread of a ladder against seed noise, from ``{architecture: [run, ...]}``.

    The per-run seed SD is the pooled within-architecture SD (ddof 1); the ratio the issue asks
    for is the range of the architecture means over it.
    """
    from scipy.stats import kendalltau

    names = [n for n in runs if len(runs[n]) >= 2]
    seeds = sorted(set.intersection(*(set(r["seed"] for r in runs[n]) for n in names))) \
        if names else []
    if len(names) < 2 or len(seeds) < 2:
        return {"architectures": len(names), "complete": False}
    acc = np.array([[next(r for r in runs[n] if r["seed"] == s)["test_accuracy"] for s in seeds]
                    for n in names])
    nll = np.array([[next(r for r in runs[n] if r["seed"] == s)["test_nll"] for s in seeds]
                    for n in names])
    means = acc.mean(1)
    sd = float(np.sqrt(acc.var(axis=1, ddof=1).mean()))
    taus = [float(kendalltau(acc[:, i], acc[:, j])[0])
            for i, j in itertools.combinations(range(len(seeds)), 2)]
    first = runs[names[0]][0]
    return {
        "complete": True, "seeds": seeds, "proxy": first["proxy"], "recipe": first["recipe"],
        "architectures": {n: {"arch": runs[n][0]["arch"], "params": runs[n][0]["params"],
                              "macs": runs[n][0]["macs"],
                              "test_accuracy_per_seed": acc[i].tolist(),
                              "test_accuracy_mean": float(means[i]),
                              "test_nll_mean": float(nll[i].mean()),
                              "train_seconds_mean": float(np.mean(
                                  [r["train_seconds"] for r in runs[n]]))}
                          for i, n in enumerate(names)},
        "range_of_means": float(np.ptp(means)),
        "seed_sd_pooled": sd,
        "range_over_seed_sd": float(np.ptp(means) / sd) if sd > 0 else float("inf"),
        "seed_to_seed_kendall_tau": taus,
    }


def _load_pilot(folder: Path) -> dict[str, list[dict]]:
    return {arch.name: [json.loads(p.read_text()) for p in sorted(arch.glob("seed*.json"))]
            for arch in sorted(folder.iterdir()) if arch.is_dir()}


def cmd_pilot_report(args: argparse.Namespace) -> int:
    root = Path(args.out) / "pilots"
    if not root.is_dir():
        raise SystemExit(f"error: no pilots in {root}; run `python -m search_repro.protocol "
                         f"pilot --out {args.out}` first")
    report = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        summary = pilot_summary(_load_pilot(folder))
        report[folder.name] = summary
        if not summary["complete"]:
            print(f"{folder.name}: incomplete (fewer than two seeds of two architectures)")
            continue
        recipe, proxy = summary["recipe"], summary["proxy"]
        print(f"\n{folder.name}: task {proxy['task']} at {proxy['resolution']} px, "
              f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, lr {recipe['lr']}, "
              f"seeds {summary['seeds']}")
        print(f"  {'architecture':10s} {'MACs':>6s} {'test accuracy % per seed':>28s} "
              f"{'mean':>6s} {'NLL':>6s}")
        for name, a in summary["architectures"].items():
            per_seed = " ".join(f"{v * 100:5.1f}" for v in a["test_accuracy_per_seed"])
            print(f"  {name:10s} {a['macs'] / 1e6:5.1f}M {per_seed:>28s} "
                  f"{a['test_accuracy_mean'] * 100:6.2f} {a['test_nll_mean']:6.3f}")
        print(f"  range of means {summary['range_of_means'] * 100:.2f} points, pooled seed SD "
              f"{summary['seed_sd_pooled'] * 100:.2f} points: ratio "
              f"{summary['range_over_seed_sd']:.1f} (need >= 7); seed-to-seed tau "
              f"{', '.join(f'{t:.2f}' for t in summary['seed_to_seed_kendall_tau'])}")
    if args.json:
        write_json_atomic(Path(args.json), {
            "command": f"python -m search_repro.protocol pilot-report --out {args.out}",
            "pilots": report})
        print(f"\nwrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search_repro.protocol",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pilot", help="train a capacity ladder on a candidate proxy")
    p.add_argument("--out", default="runs/protocol", help="results folder (default runs/protocol)")
    p.add_argument("--name", required=True, help="the pilot's name (its folder)")
    p.add_argument("--task", default="canvas", help="plain, canvas or canvas:clutter=N,...")
    p.add_argument("--resolution", type=int, default=ProxySpec.resolution)
    p.add_argument("--strides", default="", help="14 comma-separated strides (default: the "
                   "canvas schedule)")
    p.add_argument("--channel-multiplier", type=float, default=ProxySpec.channel_multiplier)
    for f in fields(Recipe):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f"default {f.default}")
    p.add_argument("--ladder", type=int, default=6, help="architectures on the ladder")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--shard", default="0/1", metavar="I/N")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.set_defaults(func=cmd_pilot)
    r = sub.add_parser("pilot-report", help="ladder spread vs seed noise of every pilot")
    r.add_argument("--out", default="runs/protocol")
    r.add_argument("--json", default="", help="also write the summary to this JSON file")
    r.set_defaults(func=cmd_pilot_report)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
