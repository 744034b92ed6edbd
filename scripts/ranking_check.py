"""Does the supernet rank architectures like stand-alone training does? (Kendall tau + plot)

    python scripts/ranking_check.py train --out RUNS --seeds 0,1   # stand-alone, resumable
    python scripts/ranking_check.py report --out RUNS              # estimates, tau, plot, JSON

``train`` trains each architecture from scratch on the supernet's proxy data and split (same
width and resolution; its own schedule, :data:`STANDALONE`) once per seed and writes
``RUNS/<name>/seed<k>.json``; finished runs are skipped, so the command can be repeated in chunks
(``--max-minutes``) or split over processes (``--shard I/N``). ``report`` scores the same
architectures with the supernet evaluator (the search's default settings, and the whole
search-validation split) and writes ``docs/supernet_ranking.json`` and ``docs/supernet_ranking.png``.
The seed-to-seed tau of the stand-alone runs says how far a ranking can be trusted at all.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import moga_zoo
from moga_zoo.fileio import replace_atomic, write_json_atomic
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import MOGA_A, MOGA_B, MOGA_C, Architecture
from search_repro.data import load_splits
from search_repro.supernet.checkpoint import read_sidecar
from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, SupernetEvaluator
from search_repro.supernet.train import StepBatchSampler, TrainConfig, lr_at, make_optimizer

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: MoGA-A/B/C, four uniform networks spread over the MAC range (smallest, largest, two middles)
#: and five random draws (what the search mostly sees).
ARCHITECTURES: dict[str, Architecture] = {
    "moga_a": MOGA_A,
    "moga_b": MOGA_B,
    "moga_c": MOGA_C,
    "all_e3k3": Architecture.decode([0] * 14),
    "all_e6k3": Architecture.decode([2] * 14),
    "all_e3k5se": Architecture.decode([5] * 14),
    "all_e6k7se": Architecture.decode([11] * 14),
    **{f"random_seed{seed}": Architecture.decode(
        np.random.default_rng(seed).integers(0, 12, 14).tolist()) for seed in range(5)},
}

#: Stand-alone schedule (ours): 10 epochs of the supernet's training split, batch 256, SGD
#: nesterov, lr 0.1 cosine to 0, the supernet's width, resolution and weight decay.
STANDALONE = dict(epochs=10, batch_size=256, lr=0.1)

#: The evaluator settings reported besides the search's defaults: the whole split, more
#: calibration images.
FULL_SPLIT = dict(val_size=5000, calib_batches=8)


@torch.no_grad()
def _accuracy(model: torch.nn.Module, dataset) -> float:
    model.eval()
    correct = 0
    for x, y in DataLoader(dataset, batch_size=500):
        correct += int((model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y)
                       .sum())
    return correct / len(dataset)


def train_one(arch: Architecture, cfg: TrainConfig, data, seed: int) -> dict:
    """Stand-alone training; ``seed`` sets the initial weights, data order and dropout."""
    torch.manual_seed(seed)
    model = moga_zoo.create(arch=arch, num_classes=data.num_classes, in_chans=data.in_chans,
                            channel_multiplier=cfg.channel_multiplier)
    model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg)
    sampler = StepBatchSampler(len(data.train), cfg.batch_size, cfg.steps, seed)
    model.train()
    tic, losses = time.monotonic(), []
    for step, (x, y) in enumerate(DataLoader(data.train, batch_sampler=sampler)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg.steps, cfg.lr)
        loss = F.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    seconds = time.monotonic() - tic
    return {"arch": str(arch), "codes": list(arch.encode()), "seed": seed,
            "test_accuracy": _accuracy(model, data.test),
            "search_val_accuracy": _accuracy(model, data.search_val),
            "final_loss_mean_last_10pct": float(np.mean(losses[-max(1, len(losses) // 10):])),
            "train_seconds": round(seconds, 1), "steps": cfg.steps, "batch_size": cfg.batch_size,
            "lr": cfg.lr, "params": count_params(model),
            "macs": count_macs(model, (data.in_chans, data.resolution, data.resolution))}


def cmd_train(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    sn = read_sidecar(args.checkpoint)["training"]
    data = load_splits(None, sn["resolution"], sn["search_val_size"], sn["seed"])
    steps = args.epochs * (len(data.train) // args.batch_size)
    cfg = TrainConfig(out="", steps=steps, batch_size=args.batch_size, lr=args.lr,
                      weight_decay=sn["weight_decay"], momentum=sn["momentum"],
                      channel_multiplier=sn["channel_multiplier"], resolution=sn["resolution"])
    out = Path(args.out)
    began = time.monotonic()
    shard, shards = (int(v) for v in args.shard.split("/"))
    jobs = list(itertools.product(_seeds(args.seeds), ARCHITECTURES.items()))
    for index, (seed, (name, arch)) in enumerate(jobs):
        target = out / name / f"seed{seed}.json"
        if target.exists() or index % shards != shard:
            continue
        if args.max_minutes and time.monotonic() - began > 60 * args.max_minutes:
            print("time is up; run the same command again to continue")
            return 0
        result = train_one(arch, cfg, data, seed)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, result)
        print(f"{name} seed {seed}: test {result['test_accuracy']:.4f} "
              f"({result['train_seconds']} s)", flush=True)
    return 0


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def _load_runs(out: Path) -> dict[str, list[dict]]:
    runs = {n: [json.loads(p.read_text()) for p in sorted((out / n).glob("seed*.json"))]
            for n in ARCHITECTURES}
    missing = [n for n, r in runs.items() if not r]
    if missing:
        raise SystemExit(f"stand-alone results missing in {out}: {', '.join(missing)}; run "
                         f"`python scripts/ranking_check.py train --out {out}` first")
    seeds = {n: sorted(r["seed"] for r in rs) for n, rs in runs.items()}
    if len({tuple(s) for s in seeds.values()}) != 1:
        raise SystemExit(f"architectures have different seeds in {out}: {seeds}; finish "
                         f"`python scripts/ranking_check.py train` first")
    return runs


def cmd_report(args: argparse.Namespace) -> int:
    from scipy.stats import kendalltau, rankdata, spearmanr

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    runs = _load_runs(out)
    names = list(ARCHITECTURES)
    per_seed = np.array([[r["test_accuracy"] for r in runs[n]] for n in names])  # (arch, seed)
    per_seed_val = np.array([[r["search_val_accuracy"] for r in runs[n]] for n in names])
    test, val = per_seed.mean(1), per_seed_val.mean(1)
    codes = np.array([ARCHITECTURES[n].encode() for n in names])
    estimates, taus = {}, {}
    for label, settings in (("search_default", {}), ("full_split", FULL_SPLIT)):
        evaluator = SupernetEvaluator.from_checkpoint(args.checkpoint, **settings)
        est = evaluator.accuracy(codes)
        tau, p = kendalltau(est, test)
        estimates[label] = est
        taus[label] = {"settings": evaluator.describe()["settings"],
                       "kendall_tau_vs_test": float(tau), "kendall_p_value": float(p),
                       "kendall_tau_vs_search_val": float(kendalltau(est, val)[0]),
                       "spearman_vs_test": float(spearmanr(est, test)[0]),
                       "kendall_tau_vs_each_seed": [float(kendalltau(est, per_seed[:, k])[0])
                                                    for k in range(per_seed.shape[1])]}
    seed_pairs = [float(kendalltau(per_seed[:, i], per_seed[:, j])[0])
                  for i, j in itertools.combinations(range(per_seed.shape[1]), 2)]
    seeds = [r["seed"] for r in runs[names[0]]]
    rank = {"standalone": rankdata(-test, method="min"),  # 1 = best; ties share the best rank
            **{k: rankdata(-e, method="min") for k, e in estimates.items()}}
    spread = {"standalone_test_accuracy_range": [float(test.min()), float(test.max())],
              "largest_seed_to_seed_difference": float(np.ptp(per_seed, axis=1).max())}
    report = {
        "command": f"python scripts/ranking_check.py report --out {args.out}",
        "checkpoint": Path(args.checkpoint).name,
        "supernet_sha256": evaluator.describe()["sha256"],
        "standalone_schedule": {k: runs[names[0]][0][k] for k in ("steps", "batch_size", "lr")},
        "seeds": seeds,
        "standalone_seed_to_seed_kendall_tau": seed_pairs,
        **spread,
        "evaluators": taus,
        "architectures": {n: {"arch": str(ARCHITECTURES[n]), "params": runs[n][0]["params"],
                              "macs": runs[n][0]["macs"],
                              "test_accuracy_mean": float(test[i]),
                              "test_accuracy_per_seed": per_seed[i].tolist(),
                              "search_val_accuracy_mean": float(val[i]),
                              "train_seconds_per_seed": [r["train_seconds"] for r in runs[n]],
                              **{f"supernet_estimate_{k}": float(e[i])
                                 for k, e in estimates.items()},
                              **{f"rank_{k}": int(r[i]) for k, r in rank.items()}}
                          for i, n in enumerate(names)},
    }
    DOCS.mkdir(exist_ok=True)
    write_json_atomic(DOCS / "supernet_ranking.json", report)
    _plot(names, estimates["search_default"], per_seed, taus["search_default"],
          DOCS / "supernet_ranking.png")
    print(f"{'architecture':14s} {'supernet':>9s} {'full split':>10s} {'stand-alone test':>17s}"
          f"  ranks (supernet, full split, stand-alone)")
    for i, n in enumerate(names):
        print(f"{n:14s} {estimates['search_default'][i]:9.4f} {estimates['full_split'][i]:10.4f} "
              f"{test[i]:9.4f} ({', '.join(f'{a:.4f}' for a in per_seed[i])})  "
              f"{rank['search_default'][i]}, {rank['full_split'][i]}, {rank['standalone'][i]}")
    lo, hi = spread["standalone_test_accuracy_range"]
    print(f"stand-alone mean test accuracy {lo:.4f}-{hi:.4f} ({(hi - lo) * 100:.1f} points); "
          f"largest seed-to-seed difference {spread['largest_seed_to_seed_difference'] * 100:.1f} "
          f"points")
    for label, t in taus.items():
        print(f"Kendall tau, supernet ({label}) vs mean stand-alone test accuracy: "
              f"{t['kendall_tau_vs_test']:.3f} (p={t['kendall_p_value']:.3f}); per seed "
              f"{', '.join(f'{v:.3f}' for v in t['kendall_tau_vs_each_seed'])}")
    if seed_pairs:
        print(f"Kendall tau between stand-alone seeds: {', '.join(f'{v:.3f}' for v in seed_pairs)}")
    return 0


def _plot(names: list[str], estimate: np.ndarray, per_seed: np.ndarray, tau: dict,
          path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean = per_seed.mean(1) * 100
    spread = np.stack([mean - per_seed.min(1) * 100, per_seed.max(1) * 100 - mean])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.errorbar(estimate * 100, mean, yerr=spread, fmt="o", capsize=3)
    for i, (n, e, t) in enumerate(zip(names, estimate, mean)):  # alternate above and below
        ax.annotate(n, (e * 100, t), textcoords="offset points", xytext=(4, 4 if i % 2 else -11),
                    fontsize=8)
    ax.set_xlabel("supernet estimate, search-val accuracy (%)")
    ax.set_ylabel(f"stand-alone test accuracy (%), mean and range of {per_seed.shape[1]} seeds")
    ax.set_title(f"Fashion-MNIST proxy: Kendall tau = {tau['kendall_tau_vs_test']:.3f} "
                 f"({len(names)} architectures)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in (("train", cmd_train), ("report", cmd_report)):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True, help="folder of the stand-alone results")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--checkpoint", default=BUNDLED_CHECKPOINT,
                       help="the supernet (its sidecar gives the data split and width)")
        if name == "train":
            p.add_argument("--max-minutes", type=float, default=0.0)
            p.add_argument("--seeds", default="0,1", help="comma-separated training seeds")
            p.add_argument("--shard", default="0/1", metavar="I/N",
                           help="train only runs I, I+N, ... (run N processes at once)")
            for key, value in STANDALONE.items():
                p.add_argument("--" + key.replace("_", "-"), type=type(value), default=value,
                               help=f"default {value}")
        p.set_defaults(func=fn)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
