"""The proxy protocol, one command: ``python -m search_repro.protocol STEP ...``.

Steps, in order (each resumable: finished runs are skipped, so repeat a command to go on, in
chunks with ``--max-minutes``; training steps shard with ``--shard I/N``, one process per core):

* ``pilot``: train a capacity ladder (:func:`search_repro.proxy.capacity_ladder`) on a candidate
  proxy, several seeds each; ``pilot-report`` says whether the ladder's means spread over a range
  >= 7x the per-run seed SD (only then can a ranking show through seed noise);
* ``references``: train the ranking references (:func:`search_repro.proxy.reference_architectures`);
* ``supernet``: train the FairNAS supernet on the same proxy;
* ``evaluator-check``: how stable the supernet's scores are (calibration seeds, settings vs the
  whole split);
* ``report``: Kendall tau of the supernet against the references, with p-value, bootstrap
  interval and noise ceiling (``docs/supernet_ranking.json`` and ``.png``).

Every stand-alone run writes one small JSON: ``OUT/pilots/NAME/<arch>/seed<k>.json`` or
``OUT/references/<arch>/seed<k>.json``. ``--device auto`` trains on CUDA when present (bf16
autocast there).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from moga_zoo.cli.options import (RANGES, Numbers, Parser, Range, checked, output_file,
                                  output_folder)
from moga_zoo import interrupts
from moga_zoo.errors import UsageError, run_reporting
from moga_zoo.fileio import write_json_atomic

from .data import fashion_mnist_source, load_splits, parse_task, task_option
from .proxy import DISPLAY, ProxySpec, capacity_ladder, reference_architectures
from .standalone import Recipe, recorded_recipe, train_standalone
from .supernet.evaluator import EvaluatorSettings
from .supernet.report import data_name
from .supernet.train import TrainConfig, train_supernet

__all__ = ["train_set", "read_run", "read_runs", "reusable_runs", "reuse_runs", "assign_shards",
           "training_arguments", "proxy_from_args", "parse_candidates", "recipe_from_args",
           "parse_seeds", "pilot_summary", "noise_ceiling", "bootstrap_tau", "build_parser", "main"]


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA device is visible")
    return torch.device(name)


#: ``--seeds``: comma-separated seeds in the range of ``--seed``.
SEEDS = Numbers(RANGES["--seed"])


def parse_seeds(value: "str | Sequence[int]") -> list[int]:
    """``--seeds`` (``0,1,2``, or the values the option parsed) as a list without repeats."""
    return list(dict.fromkeys(SEEDS(value) if isinstance(value, str) else value))


def _shard(text: str) -> tuple[int, int]:
    """``--shard I/N``: this process's share of N (at most 1024)."""
    index, count = Numbers(Range(int, 0, 1024), sep="/", count=2)(text)
    if not 0 <= index < count:
        raise UsageError(f"I/N needs 0 <= I < N, got {text!r}")
    return index, count


def _strides(text: str) -> "tuple[int, ...] | None":
    """``--strides``: 14 comma-separated strides, or empty for the proxy's own."""
    from moga_zoo.search_space import check_strides

    return check_strides(Numbers(Range(int, 1, 2), count=14)(text)) if text.strip() else None


def proxy_from_args(args: argparse.Namespace) -> ProxySpec:
    """The proxy that :func:`training_arguments` describes."""
    return ProxySpec(task=args.task, resolution=args.resolution,
                     channel_multiplier=args.channel_multiplier,
                     search_val_size=args.search_val_size,
                     **({"strides": args.strides} if args.strides else {}))


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The stand-alone recipe that :func:`training_arguments` describes."""
    return Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe)})


def assign_shards(jobs: list[tuple[int, str]], cost: dict[str, float], shards: int
                  ) -> list[int]:
    """The shard of each (seed, name) job, so that shards finish together and seeds still come
    in order: seed by seed, the costliest run (``cost[name]``) goes first to the shard with the
    least work so far. Every process computes the same answer from the same job list."""
    load = [0.0] * shards
    owner = [0] * len(jobs)
    for seed in dict.fromkeys(seed for seed, _ in jobs):
        group = sorted((i for i, job in enumerate(jobs) if job[0] == seed),
                       key=lambda i: -cost[jobs[i][1]])
        for i in group:
            k = min(range(shards), key=lambda j: (load[j], j))
            load[k] += cost[jobs[i][1]]
            owner[i] = k
    return owner


def _training_costs(archs: dict, proxy: ProxySpec) -> dict[str, float]:
    """Multiply-accumulates per image of each architecture on the proxy: the shards' scale."""
    import moga_zoo
    from moga_zoo.profile import count_macs

    return {name: float(count_macs(moga_zoo.create(arch=arch, num_classes=10, in_chans=1,
                                                   **proxy.model_kwargs()),
                                   (1, proxy.resolution, proxy.resolution)))
            for name, arch in archs.items()}


def read_run(path: Path) -> dict:
    """One stand-alone run's record (``.../seed<k>.json``), checked against its schema
    (:class:`search_repro.records.StandaloneRun`); a bad one is a one-line error naming it.
    Its recipe reads as :meth:`Recipe.describe` writes it: a quieting option that is absent or 0
    is off, and left out."""
    from .records import read_run_record

    run = read_run_record(path)
    run["recipe"] = recorded_recipe(run["recipe"])
    return run


def read_runs(paths: Iterable[Path]) -> list[dict]:
    """The run records at ``paths``, each checked, and all of one proxy and recipe (the first
    one's): a record of another is named, so it is never mixed into a result."""
    runs: list[dict] = []
    first: Path | None = None
    for path in paths:
        run = read_run(path)
        if runs and (run["proxy"], run["recipe"]) != (runs[0]["proxy"], runs[0]["recipe"]):
            differ = [k for k in ("proxy", "recipe") if run[k] != runs[0][k]]
            ours, theirs = run[differ[0]], runs[0][differ[0]]
            keys = sorted(k for k in {*ours, *theirs} if ours.get(k) != theirs.get(k))
            detail = ", ".join(f"{differ[0]}.{k} {ours.get(k)!r} vs {theirs.get(k)!r}"
                               for k in keys[:3])
            raise UsageError(f"{path} was trained with another {' and '.join(differ)} than "
                             f"{first} ({detail}); the runs of one set must share them: move it "
                             f"away, or retrain it")
        first = first or path
        runs.append(run)
    return runs


def reusable_runs(source: Path, folder: Path) -> list[tuple[Path, dict]]:
    """Every run record under ``source`` (outside ``folder``), each checked."""
    if not source.is_dir():
        raise UsageError(f"{source} is not a folder of stand-alone runs")
    return [(path, read_run(path)) for path in sorted(source.rglob("seed*.json"))
            if folder.resolve() not in path.resolve().parents]


def reuse_runs(source: Path, folder: Path, archs: dict, proxy: ProxySpec, recipe: Recipe,
               seeds: list[int]) -> int:
    """Copy every run under ``source`` (any ``.../seed<k>.json``) of one of ``archs`` (matched by
    architecture string), one of ``seeds``, the same proxy and the same recipe into
    ``folder/<name>/seed<k>.json``, marked ``reused_from``; returns how many were copied. Every
    record is checked before the first is copied."""
    names = {str(arch): name for name, arch in archs.items()}
    want = (json.loads(json.dumps(proxy.describe())), recipe.describe())
    copied, other = 0, []
    for path, run in reusable_runs(source, folder):
        name = names.get(run.get("arch"))
        if name is None or run.get("seed") not in seeds:
            continue
        if (run.get("proxy"), run.get("recipe")) != want:
            other.append(run)
            continue
        target = folder / name / f"seed{run['seed']}.json"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(target, {**run, "reused_from": path.relative_to(source).as_posix()})
            copied += 1
    print(f"reused {copied} run(s) from {source}"
          + (f"; {len(other)} run(s) of the same architectures were trained with another proxy "
             f"or recipe ({other[0].get('proxy')}, {other[0].get('recipe')}) and are not reused: "
             f"give the options they were trained with" if other else ""))
    return copied


def train_set(label: str, folder: Path, archs: dict, args: argparse.Namespace,
              reuse: Sequence[Path] = ()) -> int:
    """Train every (seed, architecture) of this shard not yet in ``folder``; one JSON per run
    (``folder/<name>/seed<k>.json``). ``args`` holds the options of :func:`training_arguments`;
    runs found in the ``reuse`` folders are copied, not retrained."""
    torch.set_num_threads(args.threads)
    proxy = proxy_from_args(args)
    recipe = recipe_from_args(args)
    for source in reuse:  # every input is checked before anything is copied
        reusable_runs(source, folder)
    for source in reuse:
        reuse_runs(source, folder, archs, proxy, recipe, parse_seeds(args.seeds))
    shard, shards = args.shard
    jobs = list(itertools.product(parse_seeds(args.seeds), archs))  # seed-major: seeds in turn
    if shards > 1:
        owner = assign_shards(jobs, _training_costs(archs, proxy), shards)
        jobs = [job for job, k in zip(jobs, owner) if k == shard]
    todo = [(seed, name) for seed, name in jobs
            if not (folder / name / f"seed{seed}.json").exists()]
    if not todo:
        print(f"{label}: shard {shard}/{shards} has nothing left to train")
        return 0
    began = time.monotonic()
    device = _device(args.device)
    print(f"{label}: loading the {proxy.task} data ...", flush=True)
    data = load_splits(args.data_root or None, proxy.resolution, proxy.search_val_size,
                       proxy.data_seed, proxy.task)
    finished = len(jobs) - len(todo)
    interrupts.resumable(f"{finished} of {len(jobs)} finished runs in {folder} (the run in "
                         f"progress starts over)" if finished else None)
    for n, (seed, name) in enumerate(todo):
        if args.max_minutes and time.monotonic() - began > 60 * args.max_minutes:
            print("time is up; run the same command again to continue")
            return 0
        print(f"[{n + 1}/{len(todo)}] {name} seed {seed} ...", flush=True)
        result = train_standalone(archs[name], proxy, recipe, data, seed, device)
        result["set"] = label
        target = folder / name / f"seed{seed}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, result)
        interrupts.resumable(f"{finished + n + 1} of {len(jobs)} finished runs in {folder} (the "
                             f"run in progress starts over)")
        print(f"    test accuracy {result['test_accuracy']:.4f}, NLL {result['test_nll']:.3f} "
              f"({result['train_seconds']:.0f} s)", flush=True)
    return 0


def cmd_pilot(args: argparse.Namespace) -> int:
    return train_set(f"pilot {args.name}", Path(args.out) / "pilots" / args.name,
                     capacity_ladder(args.ladder), args, [Path(p) for p in args.reuse])


def cmd_references(args: argparse.Namespace) -> int:
    return train_set("references", Path(args.out) / "references", reference_architectures(),
                     args, [Path(p) for p in args.reuse])


def cmd_supernet(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    cfg = TrainConfig(out=str(Path(args.out) / "supernet"), data_root=args.data_root or None,
                      steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr,
                      coupled_warmup_steps=args.coupled_warmup_steps,
                      channel_multiplier=proxy.channel_multiplier, resolution=proxy.resolution,
                      task=proxy.task, strides=proxy.strides,
                      search_val_size=proxy.search_val_size, seed=proxy.data_seed,
                      max_minutes=args.max_minutes, threads=args.threads, device=args.device)
    train_supernet(cfg)
    return 0


def _checkpoint(args: argparse.Namespace) -> Path:
    path = Path(args.checkpoint or Path(args.out) / "supernet" / "supernet.safetensors")
    if not path.is_file():
        raise UsageError(f"no supernet at {path}; train one with `python -m "
                         f"search_repro.protocol supernet --out {args.out}` or pass --checkpoint")
    return path


#: The evaluator-check's reference calibrates on images no candidate setting uses (those take
#: calibration seeds 0 and 1), so that its agreement with a candidate is never trivially 1.
REFERENCE_CALIB_SEED = 2


def _whole_split(path: Path) -> dict:
    """Evaluator settings that score on the whole search-validation split."""
    from .supernet.checkpoint import read_sidecar

    return {"val_size": read_sidecar(path)["training"]["search_val_size"], "calib_batches": 8}


def _evaluator_settings(args: argparse.Namespace) -> dict:
    return {"val_size": args.val_size, "calib_batches": args.calib_batches,
            "calib_batch_size": args.calib_batch_size}


def parse_candidates(text: str) -> list[dict]:
    """``--candidates`` (``1000x2,allx4``: validation images, or ``all`` of the split, x
    calibration batches) as evaluator settings; a bad value is a one-line exit."""
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        try:
            val, calib = item.split("x")
            val, calib = (None if val == "all" else int(val)), int(calib)
        except ValueError:
            raise UsageError(f"--candidates: {item!r} is not IMAGESxBATCHES (e.g. 1000x2 or "
                             f"allx4)") from None
        try:
            if val is not None:
                RANGES["--val-size"].check(val)
            RANGES["--calib-batches"].check(calib)
        except ValueError as e:
            raise UsageError(f"{item!r}: {e}") from None
        out.append({"val_size": val, "calib_batches": calib})
    if not out:
        raise UsageError("--candidates is empty; give e.g. 1000x2,allx4")
    return out


def candidate_label(settings: dict) -> str:
    """``IMAGESxBATCHES`` of evaluator settings, as ``--candidates`` takes it."""
    val = settings["val_size"]
    return f"{'all' if val is None else val}x{settings['calib_batches']}"


def cmd_evaluator_check(args: argparse.Namespace) -> int:
    """How stable are the supernet's scores under each candidate setting: two calibration
    seeds, and against the whole search-validation split (calibrated on other images), on the
    references plus random architectures."""
    from scipy.stats import kendalltau

    from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS

    from .supernet.checkpoint import read_sidecar
    from .supernet.evaluator import SupernetEvaluator, load_checkpoint_data

    torch.set_num_threads(args.threads)
    candidates = args.candidates
    path = _checkpoint(args)
    rng = np.random.default_rng(args.seed)
    codes = np.concatenate([
        np.array([a.encode() for a in reference_architectures().values()]),
        rng.integers(0, NUM_CHOICES, size=(args.random, NUM_LAYERS))])
    print("loading the data the supernet was trained on ...", flush=True)
    data = load_checkpoint_data(read_sidecar(path), args.data_root or None)

    def score(settings: dict) -> tuple[np.ndarray, float, dict]:
        evaluator = SupernetEvaluator.from_checkpoint(
            path, args.data_root or None, data=data,
            **{**settings, "calib_batch_size": args.calib_batch_size})
        print(f"scoring {len(codes)} architectures with {settings} ...", flush=True)
        scores = evaluator.accuracy(codes)
        return scores, evaluator.seconds / len(codes), asdict(evaluator.settings)

    reference = {**_whole_split(path), "calib_seed": REFERENCE_CALIB_SEED}
    whole, _, _ = score(reference)
    rows, scores = [], {"whole_split": whole.tolist()}
    for cand in candidates:
        first, seconds, used = score({**cand, "calib_seed": 0})
        second, _, _ = score({**cand, "calib_seed": 1})
        label = candidate_label(cand)
        scores[label + "_calib_seed_0"], scores[label + "_calib_seed_1"] = (first.tolist(),
                                                                            second.tolist())
        rows.append({"label": label,
                     "settings": {k: used[k] for k in ("val_size", "calib_batches",
                                                       "calib_batch_size")},
                     "tau_between_calibration_seeds": float(kendalltau(first, second)[0]),
                     "tau_vs_whole_split": float(kendalltau(first, whole)[0]),
                     "seconds_per_architecture": seconds})
    result = {
        "command": "python -m search_repro.protocol evaluator-check " + " ".join(sys.argv[2:]),
        "checkpoint": path.name, "architectures": len(codes),
        "whole_split": {**reference, "calib_batch_size": args.calib_batch_size},
        "candidates": rows, "scores": scores, "codes": codes.tolist()}
    print(f"\nKendall tau on {len(codes)} architectures (both should be >= 0.9); the whole "
          f"split ({reference['val_size']} images) is calibrated with seed "
          f"{REFERENCE_CALIB_SEED}")
    print(f"{'images x calibration batches':>29s} {'two calibration seeds':>22s} "
          f"{'vs whole split':>15s} {'s / architecture':>17s}")
    for row in rows:
        st = row["settings"]
        print(f"{row['label']:>14s} = {st['val_size']:>5d} x {st['calib_batches']:<6d} "
              f"{row['tau_between_calibration_seeds']:22.3f} {row['tau_vs_whole_split']:15.3f} "
              f"{row['seconds_per_architecture']:17.2f}")
    target = Path(args.out) / "evaluator_check.json"
    write_json_atomic(target, result)
    print(f"wrote {target}")
    return 0


def pilot_summary(runs: dict[str, list[dict]]) -> dict:
    """Spread of a ladder against seed noise, from ``{architecture: [run, ...]}``.

    Architectures with at least two runs count, each with all its seeds. The per-run seed SD is
    the pooled within-architecture SD (ddof 1); the ratio the issue asks for is the range of the
    architecture means over it. Seed-to-seed Kendall tau uses the seeds every one of them has.
    Where some architecture lacks seeds that others have, ``seed_sd_pooled_floor`` is the least
    pooled SD the missing runs could bring (each at its architecture's mean: no added squares,
    all the degrees of freedom of the full set); None when none is missing.
    """
    from scipy.stats import kendalltau

    names = [n for n in runs if len(runs[n]) >= 2]
    if len(names) < 2:
        return {"complete": False,
                "runs": {n: {str(r["seed"]): r["test_accuracy"] for r in runs[n]} for n in runs}}
    by_seed = {n: sorted(runs[n], key=lambda r: r["seed"]) for n in names}
    acc = {n: np.array([r["test_accuracy"] for r in by_seed[n]]) for n in names}
    nll = {n: np.array([r["test_nll"] for r in by_seed[n]]) for n in names}

    def pooled_sd(values: dict) -> float:
        dof = sum(len(v) - 1 for v in values.values())
        return float(np.sqrt(sum(v.var(ddof=1) * (len(v) - 1) for v in values.values()) / dof))

    means = np.array([acc[n].mean() for n in names])
    most = max(len(v) for v in acc.values())
    squares = sum(float(((v - v.mean()) ** 2).sum()) for v in acc.values())
    floor = (float(np.sqrt(squares / (len(names) * (most - 1))))
             if any(len(v) < most for v in acc.values()) else None)
    nll_means = np.array([nll[n].mean() for n in names])
    sd, nll_sd = pooled_sd(acc), pooled_sd(nll)
    common = sorted(set.intersection(*(set(r["seed"] for r in runs[n]) for n in names)))
    at = {n: {r["seed"]: r["test_accuracy"] for r in runs[n]} for n in names}
    taus = [_finite(kendalltau([at[n][a] for n in names], [at[n][b] for n in names])[0])
            for a, b in itertools.combinations(common, 2)]
    every = [r for n in names for r in runs[n]]
    first = runs[names[0]][0]
    net_sd = _seed_sd_net_of_shared_offsets(np.array([[at[n][k] for k in common] for n in names]))
    return {
        "complete": True, "seeds": sorted({r["seed"] for r in every}),
        "proxy": first["proxy"], "recipe": first["recipe"],
        "architectures": {n: {"arch": runs[n][0]["arch"], "params": runs[n][0]["params"],
                              "macs": runs[n][0]["macs"],
                              "seeds": [r["seed"] for r in by_seed[n]],
                              "test_accuracy_per_seed": acc[n].tolist(),
                              "test_accuracy_mean": float(acc[n].mean()),
                              "test_nll_mean": float(nll[n].mean()),
                              "train_seconds_mean": float(np.mean(
                                  [r["train_seconds"] for r in runs[n]]))}
                          for n in names},
        "range_of_means": float(np.ptp(means)),
        "largest_seed_to_seed_difference": float(max(np.ptp(acc[n]) for n in names)),
        "final_train_loss_range": [float(min(r["final_loss_mean_last_10pct"] for r in every)),
                                   float(max(r["final_loss_mean_last_10pct"] for r in every))],
        "train_seconds_range": [float(min(r["train_seconds"] for r in every)),
                                float(max(r["train_seconds"] for r in every))],
        "seed_sd_pooled": sd,
        "seed_sd_pooled_floor": floor,
        "range_over_seed_sd": float(np.ptp(means) / sd) if sd > 0 else None,  # None: no noise
        "nll_range_over_seed_sd": float(np.ptp(nll_means) / nll_sd) if nll_sd > 0 else None,
        "seed_to_seed_kendall_tau": taus,
        "seed_sd_net_of_shared_offsets": net_sd,
        "range_over_net_seed_sd": (float(np.ptp(means) / net_sd) if net_sd and net_sd > 0
                                   else None),
    }


def _finite(value: float) -> "float | None":
    """``value``, or None where it is undefined (Kendall tau of tied values is NaN)."""
    return float(value) if np.isfinite(value) else None


def _seed_sd_net_of_shared_offsets(acc: np.ndarray) -> "float | None":
    """Residual SD of ``acc`` (architectures x shared seeds) under an additive model, accuracy =
    architecture effect + seed effect: the scatter left once each seed's offset, shared by all
    networks trained with that seed (the same batch order, the same stem initialisation), is
    removed. Rankings compare networks trained with the same seeds, so the offset cancels
    there. None below two architectures or two shared seeds."""
    a, k = acc.shape
    if a < 2 or k < 2:
        return None
    residual = acc - acc.mean(1, keepdims=True) - acc.mean(0, keepdims=True) + acc.mean()
    return float(np.sqrt((residual ** 2).sum() / ((a - 1) * (k - 1))))


def noise_ceiling(per_seed: np.ndarray, draws: int = 2000, seed: int = 0) -> float:
    """Expected Kendall tau between the true accuracies and a k-seed mean, if the true ones
    were the observed means and each run scattered with the pooled seed SD: what an estimator
    that knew the truth exactly would score against these references (slightly optimistic:
    observed means spread a little wider than true ones)."""
    from scipy.stats import kendalltau

    means, k = per_seed.mean(1), per_seed.shape[1]
    sd = float(np.sqrt(per_seed.var(axis=1, ddof=1).mean())) if k > 1 else 0.0
    rng = np.random.default_rng(seed)
    return float(np.mean([kendalltau(means, means + rng.normal(0, sd / np.sqrt(k), len(means)))[0]
                          for _ in range(draws)]))


def bootstrap_tau(x: np.ndarray, y: np.ndarray, draws: int = 2000, seed: int = 0
                  ) -> tuple[float, float]:
    """95 % percentile interval of Kendall tau, resampling architectures with replacement."""
    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(draws):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
            taus.append(kendalltau(x[idx], y[idx])[0])
    lo, hi = np.percentile(taus, [2.5, 97.5])
    return float(lo), float(hi)


def _load_references(folder: Path, partial: bool = False
                     ) -> tuple[dict[str, list[dict]], bool]:
    """Every reference's runs, seed-sorted, and whether any were left out: all must have the same
    seeds, or with ``partial`` the references not yet trained are left out and only the seeds all
    others have are kept."""
    archs = reference_architectures()
    paths = {n: sorted((folder / n).glob("seed*.json")) for n in archs}
    records = iter(read_runs(p for n in archs for p in paths[n]))
    runs = {n: [next(records) for _ in paths[n]] for n in archs}
    missing = [n for n, r in runs.items() if not r]
    left_out = bool(missing)
    if partial and len(runs) - len(missing) >= 3:
        runs = {n: r for n, r in runs.items() if r}
    elif missing:
        raise UsageError(f"references missing in {folder}: {', '.join(missing)}; run "
                         f"`python -m search_repro.protocol references` first")
    seeds = {n: sorted(r["seed"] for r in rs) for n, rs in runs.items()}
    common = set.intersection(*(set(v) for v in seeds.values()))
    if partial and common:
        kept = {n: [r for r in rs if r["seed"] in common] for n, rs in runs.items()}
        left_out = left_out or any(len(kept[n]) < len(runs[n]) for n in runs)
        runs = kept
    elif len({tuple(v) for v in seeds.values()}) != 1:
        raise UsageError(f"the references have different seeds ({seeds}); finish "
                         f"`python -m search_repro.protocol references` first"
                         + ("" if partial else ", or pass --partial to rank on the seeds "
                            "they all have"))
    for n, rs in runs.items():
        if any(r["arch"] != str(archs[n]) for r in rs):
            raise UsageError(f"{folder / n} holds runs of another architecture")
    return ({n: sorted(rs, key=lambda r: r["seed"]) for n, rs in runs.items()},
            partial and left_out)


def cmd_report(args: argparse.Namespace) -> int:
    """Kendall tau of the supernet's scores against the references' stand-alone accuracy."""
    from scipy.stats import kendalltau, rankdata

    from .supernet.evaluator import SupernetEvaluator

    torch.set_num_threads(args.threads)
    runs, partial = _load_references(Path(args.out) / "references", args.partial)
    path = _checkpoint(args)
    names = list(runs)
    ranked = [n for n in names if n.startswith("ref")]  # tau over the spread set
    per_seed = np.array([[r["test_accuracy"] for r in runs[n]] for n in names])
    test = per_seed.mean(1)
    codes = np.array([reference_architectures()[n].encode() for n in names])
    sel = np.array([n in ranked for n in names])
    estimates, evaluators = {}, {}
    for label, settings in (("search_default", _evaluator_settings(args)),
                            ("full_split", {**_whole_split(path),
                                            "calib_batch_size": args.calib_batch_size})):
        evaluator = SupernetEvaluator.from_checkpoint(path, args.data_root or None, **settings)
        est = evaluator.accuracy(codes)
        tau, p = kendalltau(est[sel], test[sel])
        estimates[label] = est
        evaluators[label] = {
            "settings": evaluator.describe()["settings"],
            "kendall_tau_vs_test": float(tau), "kendall_p_value": float(p),
            "kendall_tau_95pct_interval": bootstrap_tau(est[sel], test[sel]),
            "kendall_tau_with_moga": float(kendalltau(est, test)[0])}
    macs = np.array([runs[n][0]["macs"] for n in names], dtype=np.float64)
    capacity = {  # the baseline a supernet must beat: rank by multiply-accumulates alone
        "kendall_tau_macs_vs_test": float(kendalltau(macs[sel], test[sel])[0]),
        **{f"kendall_tau_supernet_{k}_vs_macs": float(kendalltau(e[sel], macs[sel])[0])
           for k, e in estimates.items()}}
    # how far each reference got in training: does test accuracy follow the training loss (the
    # networks underfit) and does either follow capacity?
    fit = -np.array([np.mean([r["final_loss_mean_last_10pct"] for r in runs[n]])
                     for n in names])
    training_loss = {
        "kendall_tau_test_vs_minus_final_train_loss": float(kendalltau(test[sel], fit[sel])[0]),
        "kendall_tau_macs_vs_minus_final_train_loss": float(kendalltau(macs[sel], fit[sel])[0]),
        **{f"kendall_tau_supernet_{k}_vs_minus_final_train_loss":
           float(kendalltau(e[sel], fit[sel])[0]) for k, e in estimates.items()}}
    multi_seed = per_seed.shape[1] > 1
    seed_taus = [float(kendalltau(per_seed[sel, i], per_seed[sel, j])[0])
                 for i, j in itertools.combinations(range(per_seed.shape[1]), 2)]
    seed_sd = (float(np.sqrt(per_seed[sel].var(axis=1, ddof=1).mean())) if multi_seed
               else None)
    rank = {"standalone": rankdata(-test, method="min"),
            **{k: rankdata(-e, method="min") for k, e in estimates.items()}}
    report = {
        "command": "python -m search_repro.protocol report " + " ".join(sys.argv[2:]),
        "checkpoint": path.name, "supernet_sha256": evaluator.describe()["sha256"],
        "proxy": runs[names[0]][0]["proxy"], "recipe": runs[names[0]][0]["recipe"],
        "seeds": [r["seed"] for r in runs[names[0]]],
        "partial": partial,
        "untrained_references": [n for n in reference_architectures() if n not in runs],
        "ranked_architectures": ranked,
        "standalone_seed_to_seed_kendall_tau": seed_taus,
        "noise_ceiling_kendall_tau": noise_ceiling(per_seed[sel]) if multi_seed else None,
        "standalone_test_accuracy_range": [float(test[sel].min()), float(test[sel].max())],
        "seed_sd_pooled": seed_sd,
        "range_over_seed_sd": (float(np.ptp(test[sel]) / seed_sd) if seed_sd else None),
        "train_seconds_total": float(sum(r["train_seconds"] for rs in runs.values() for r in rs)),
        "evaluators": evaluators,
        "capacity_baseline": capacity,
        "training_loss": training_loss,
        "architectures": {n: {"arch": runs[n][0]["arch"], "params": runs[n][0]["params"],
                              "macs": runs[n][0]["macs"],
                              "test_accuracy_mean": float(test[i]),
                              "test_accuracy_per_seed": per_seed[i].tolist(),
                              **{f"supernet_estimate_{k}": float(e[i])
                                 for k, e in estimates.items()},
                              **{f"rank_{k}": int(r[i]) for k, r in rank.items()}}
                          for i, n in enumerate(names)},
    }
    docs = Path(args.docs)
    write_json_atomic(docs / "supernet_ranking.json", report)
    _plot_ranking(names, estimates["search_default"], per_seed, evaluators["search_default"],
                  report, docs / "supernet_ranking.png")
    print(f"{'architecture':12s} {'supernet':>9s} {'full split':>10s} {'stand-alone test':>17s}"
          f"  ranks (supernet, full split, stand-alone)")
    for i, n in enumerate(names):
        print(f"{n:12s} {estimates['search_default'][i]:9.4f} "
              f"{estimates['full_split'][i]:10.4f} {test[i]:9.4f} "
              f"({', '.join(f'{a:.4f}' for a in per_seed[i])})  {rank['search_default'][i]}, "
              f"{rank['full_split'][i]}, {rank['standalone'][i]}")
    for label, t in evaluators.items():
        lo, hi = t["kendall_tau_95pct_interval"]
        print(f"Kendall tau, supernet ({label}) vs stand-alone ({len(ranked)} references): "
              f"{t['kendall_tau_vs_test']:.3f} (p={t['kendall_p_value']:.3f}, 95 % interval "
              f"{lo:.2f}..{hi:.2f})")
    print(f"capacity baseline: Kendall tau of MACs vs stand-alone "
          f"{capacity['kendall_tau_macs_vs_test']:.3f}; supernet (search_default, full_split) "
          f"vs MACs {capacity['kendall_tau_supernet_search_default_vs_macs']:.3f}, "
          f"{capacity['kendall_tau_supernet_full_split_vs_macs']:.3f}")
    print(f"final training loss (mean over seeds, negated) vs stand-alone test: Kendall tau "
          f"{training_loss['kendall_tau_test_vs_minus_final_train_loss']:.3f}; vs MACs "
          f"{training_loss['kendall_tau_macs_vs_minus_final_train_loss']:.3f}; vs supernet "
          f"(full_split) "
          f"{training_loss['kendall_tau_supernet_full_split_vs_minus_final_train_loss']:.3f}")
    if multi_seed:
        print(f"seed-to-seed tau {', '.join(f'{v:.3f}' for v in seed_taus)}; noise ceiling "
              f"{report['noise_ceiling_kendall_tau']:.3f}; range of the means "
              f"{report['range_over_seed_sd']:.1f}x the pooled seed SD")
    print(f"stand-alone training: {report['train_seconds_total'] / 3600:.1f} h in all")
    if report["partial"]:
        print(f"partial: ranked on seeds {report['seeds']} only, while the references are "
              f"still training" + (f" (not yet trained: "
                                   f"{', '.join(report['untrained_references'])})"
                                   if report["untrained_references"] else ""))
    return 0


def proxy_title(proxy: dict) -> str:
    """A proxy (``ProxySpec.describe()``) in words for plots: its task and input size."""
    task = data_name(fashion_mnist_source("", parse_task(proxy["task"])))
    return f"{task}, {proxy['resolution']} px"


def _plot_ranking(names: list[str], estimate: np.ndarray, per_seed: np.ndarray, tau: dict,
                  report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from moga_zoo.fileio import replace_atomic

    mean = per_seed.mean(1) * 100
    spread = np.stack([mean - per_seed.min(1) * 100, per_seed.max(1) * 100 - mean])
    moga = np.array([not n.startswith("ref") for n in names])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for mask, label, style in ((~moga, "references", "o"), (moga, "MoGA-A/B/C", "s")):
        ax.errorbar(estimate[mask] * 100, mean[mask], yerr=spread[:, mask], fmt=style, capsize=3,
                    label=label)
    for i, (n, e, t) in enumerate(zip(names, estimate, mean)):
        left = n in DISPLAY  # MoGA's labels to the left, so that they clear the references'
        ax.annotate(DISPLAY.get(n, n), (e * 100, t), textcoords="offset points",
                    xytext=(-4 if left else 4, 4 if i % 2 else -11),
                    ha="right" if left else "left", fontsize=7)
    proxy = report["proxy"]
    ax.set_xlabel(f"supernet score: search-validation accuracy (%), "
                  f"{tau['settings']['val_size']} images")
    ax.set_ylabel(f"stand-alone test accuracy (%), mean and range of {per_seed.shape[1]} seeds")
    lo, hi = tau["kendall_tau_95pct_interval"]
    ceiling = report["noise_ceiling_kendall_tau"]
    ax.set_title(f"{proxy_title(proxy)}: does the supernet rank stand-alone accuracy?\n"
                 f"Kendall \u03c4 = {tau['kendall_tau_vs_test']:.2f} (95 % {lo:.2f} to {hi:.2f})"
                 + (f"; a perfect estimator reaches {ceiling:.2f} against these means"
                    if ceiling is not None else "")
                 + (f"\npartial: seeds {report['seeds']} of {len(names)} references, "
                    f"the others still training" if report["partial"] else ""), fontsize=8.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def _load_pilot(folder: Path) -> dict[str, list[dict]]:
    paths = {arch.name: sorted(arch.glob("seed*.json"))
             for arch in sorted(folder.iterdir()) if arch.is_dir()}
    records = iter(read_runs(p for ps in paths.values() for p in ps))
    return {name: [next(records) for _ in ps] for name, ps in paths.items()}


def _ratio(value: "float | None") -> str:
    return "unbounded (no seed noise)" if value is None else f"{value:.1f}"


def cmd_pilot_report(args: argparse.Namespace) -> int:
    root = Path(args.out) / "pilots"
    if not root.is_dir():
        raise UsageError(f"no pilots in {root}; run `python -m search_repro.protocol "
                         f"pilot --out {args.out}` first")
    report = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        summary = pilot_summary(_load_pilot(folder))
        report[folder.name] = summary
        if not summary["complete"]:
            done = "; ".join(f"{n} " + ", ".join(f"seed {k} {v * 100:.1f}"
                                                 for k, v in seeds.items())
                             for n, seeds in summary["runs"].items())
            print(f"\n{folder.name}: incomplete (fewer than two seeds of two architectures); "
                  f"test accuracy %: {done}")
            continue
        recipe, proxy = summary["recipe"], summary["proxy"]
        print(f"\n{folder.name}: task {proxy['task']} at {proxy['resolution']} px, "
              f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, lr {recipe['lr']}, "
              f"seeds {summary['seeds']}")
        print(f"  {'architecture':10s} {'MACs':>6s} {'test accuracy % per seed':>28s} "
              f"{'mean':>6s} {'NLL':>6s}")
        for name, a in summary["architectures"].items():
            got = dict(zip(a["seeds"], a["test_accuracy_per_seed"]))
            per_seed = " ".join(f"{got[k] * 100:5.1f}" if k in got else "    -"
                                for k in summary["seeds"])
            print(f"  {name:10s} {a['macs'] / 1e6:5.1f}M {per_seed:>28s} "
                  f"{a['test_accuracy_mean'] * 100:6.2f} {a['test_nll_mean']:6.3f}")
        taus = ", ".join("-" if t is None else f"{t:.2f}"
                         for t in summary["seed_to_seed_kendall_tau"])
        print(f"  range of means {summary['range_of_means'] * 100:.2f} points, pooled seed SD "
              f"{summary['seed_sd_pooled'] * 100:.2f} points: ratio "
              f"{_ratio(summary['range_over_seed_sd'])} (need >= 7); seed-to-seed tau {taus}; "
              f"the same ratio for test NLL {_ratio(summary['nll_range_over_seed_sd'])}")
        if summary.get("seed_sd_pooled_floor") is not None:
            print(f"  runs missing: whatever they score, the pooled seed SD will be at least "
                  f"{summary['seed_sd_pooled_floor'] * 100:.2f} points")
        if summary["seed_sd_net_of_shared_offsets"] is not None:
            print(f"  net of each seed's offset shared by all networks: seed SD "
                  f"{summary['seed_sd_net_of_shared_offsets'] * 100:.2f} points, ratio "
                  f"{_ratio(summary['range_over_net_seed_sd'])}")
        lo, hi = summary["final_train_loss_range"]
        print(f"  largest seed-to-seed difference "
              f"{summary['largest_seed_to_seed_difference'] * 100:.2f} points; final training "
              f"loss {lo:.3f}-{hi:.3f}; {summary['train_seconds_range'][0]:.0f}-"
              f"{summary['train_seconds_range'][1]:.0f} s per run")
    if args.json:
        write_json_atomic(Path(args.json), {
            "command": f"python -m search_repro.protocol pilot-report --out {args.out}",
            "pilots": report})
        print(f"\nwrote {args.json}")
    return 0


def _data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", default="", help="folder of the four Fashion-MNIST files "
                   "(default: the Debian dataset-fashion-mnist files)")
    p.add_argument("--search-val-size", type=int, default=ProxySpec.search_val_size,
                   help="training images held out for scoring")


def training_arguments(p: argparse.ArgumentParser, out: str = "runs/protocol",
                       reuse: bool = True) -> None:
    """Options of stand-alone training (proxy, recipe, seeds, shard, device): see
    :func:`train_set`."""
    p.add_argument("--out", default=out, type=output_folder(),
                   help=f"results folder (default {out})")
    p.add_argument("--task", default=ProxySpec.task, type=checked(task_option),
                   help=f"plain, canvas or canvas:clutter=N,"
                   f"rotate=DEG,... (default {ProxySpec.task})")
    p.add_argument("--resolution", type=int, default=ProxySpec.resolution)
    p.add_argument("--strides", default="", type=checked(_strides),
                   help="14 comma-separated strides (default: the "
                   "canvas schedule)")
    p.add_argument("--channel-multiplier", type=float, default=ProxySpec.channel_multiplier)
    _data_arguments(p)
    for f in fields(Recipe):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f"default {f.default}")
    p.add_argument("--seeds", default="0,1,2", type=SEEDS)
    p.add_argument("--shard", default="0/1", metavar="I/N", type=checked(_shard),
                   help="train this process's share of the runs, split by cost so that N "
                   "processes (one per core) finish together")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="start no new run after this long (0: no limit)")
    if reuse:
        p.add_argument("--reuse", action="append", default=[], metavar="DIR",
                       help="a folder of finished runs (searched recursively, e.g. another "
                       "pilot); runs of the same architecture, seed, proxy and recipe are "
                       "copied instead of retrained (repeatable)")


def build_parser() -> Parser:
    """The parser of every step."""
    parser = Parser(prog="python -m search_repro.protocol", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pilot", help="train a capacity ladder on a candidate proxy")
    p.add_argument("--name", required=True, help="the pilot's name (its folder)")
    p.add_argument("--ladder", type=int, default=6, help="architectures on the ladder")
    training_arguments(p)
    p.set_defaults(func=cmd_pilot)
    p = sub.add_parser("references", help="train the ranking references (12 architectures "
                       "spread by capacity, and MoGA-A/B/C)")
    training_arguments(p)
    p.set_defaults(func=cmd_references)
    t = sub.add_parser("supernet", help="train the supernet on the proxy (resumable: run the "
                       "same command again)")
    t.add_argument("--out", default="runs/protocol", type=output_folder())
    t.add_argument("--task", default=ProxySpec.task, type=checked(task_option))
    t.add_argument("--resolution", type=int, default=ProxySpec.resolution)
    t.add_argument("--strides", default="", type=checked(_strides))
    t.add_argument("--channel-multiplier", type=float, default=ProxySpec.channel_multiplier)
    _data_arguments(t)
    defaults = TrainConfig(out="")
    for name in ("steps", "batch_size", "lr", "coupled_warmup_steps", "max_minutes", "threads"):
        value = getattr(defaults, name)
        t.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                       help=f"default {value}")
    t.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    t.set_defaults(func=cmd_supernet)
    for name, fn, text in (("evaluator-check", cmd_evaluator_check, "stability of the supernet's "
                            "scores (calibration seeds; chosen settings vs the whole split)"),
                           ("report", cmd_report, "the ranking check: supernet vs references "
                            "(writes DOCS/supernet_ranking.json and .png)")):
        e = sub.add_parser(name, help=text)
        e.add_argument("--out", default="runs/protocol",  # evaluator-check writes into it
                       **({"type": output_folder()} if fn is cmd_evaluator_check else {}))
        e.add_argument("--checkpoint", default="", help="default OUT/supernet/supernet.safetensors")
        e.add_argument("--threads", type=int, default=1)
        e.add_argument("--data-root", default="", help="the Fashion-MNIST files the supernet "
                       "was trained on (default: the Debian package's)")
        defaults = EvaluatorSettings()
        e.add_argument("--calib-batch-size", type=int, default=defaults.calib_batch_size)
        if fn is cmd_evaluator_check:
            e.add_argument("--candidates", type=checked(parse_candidates),
                           default=f"1000x2,2500x8,{candidate_label(asdict(defaults))}",
                           metavar="IMAGESxBATCHES,...",
                           help="evaluator settings to check: validation images (or 'all' of "
                           "the split) x BN calibration batches (default: two cheaper ones and "
                           "the search's)")
            e.add_argument("--random", type=int, default=9,
                           help="random architectures besides the 15 references")
            e.add_argument("--seed", type=int, default=0)
        else:
            e.add_argument("--val-size", type=int, default=defaults.val_size,
                           help="the search's settings: validation images (default: the whole "
                           "split)")
            e.add_argument("--calib-batches", type=int, default=defaults.calib_batches,
                           help="the search's settings: BN calibration batches")
            e.add_argument("--partial", action="store_true",
                           help="references still training: rank on the seeds every reference "
                           "has (the report says so)")
            e.add_argument("--docs", default="docs", type=output_folder(),
                           help="where the report goes")
        e.set_defaults(func=fn)
    r = sub.add_parser("pilot-report", help="ladder spread vs seed noise of every pilot")
    r.add_argument("--out", default="runs/protocol")
    r.add_argument("--json", default="", type=output_file(),
                   help="also write the summary to this JSON file")
    r.set_defaults(func=cmd_pilot_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_reporting(f"{parser.prog} {args.command}", lambda: args.func(args),
                         ["python", "-m", "search_repro.protocol",
                          *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
