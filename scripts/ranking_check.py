"""Does the supernet rank architectures like stand-alone training does? (Kendall tau + plot)

    python scripts/ranking_check.py train --out RUNS    # stand-alone training, resumable per arch
    python scripts/ranking_check.py report --out RUNS   # supernet estimates, tau, plot, JSON

``train`` trains each architecture from scratch on the same proxy data, split, width, resolution,
batch size and step count as the bundled supernet (SGD, cosine lr) and writes ``RUNS/<name>.json``; finished
architectures are skipped, so the command can be repeated in chunks (``--max-minutes``).
``report`` scores the same architectures with the supernet evaluator and writes
``docs/supernet_ranking.json`` and ``docs/supernet_ranking.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
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
from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, SupernetEvaluator
from search_repro.supernet.train import StepBatchSampler, TrainConfig, lr_at, make_optimizer

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: MoGA-A/B/C and five more spread over the MAC range (uniform smallest, largest, two uniform
#: middles, one random draw).
ARCHITECTURES: dict[str, Architecture] = {
    "moga_a": MOGA_A,
    "moga_b": MOGA_B,
    "moga_c": MOGA_C,
    "all_e3k3": Architecture.decode([0] * 14),
    "all_e6k3": Architecture.decode([2] * 14),
    "all_e3k5se": Architecture.decode([5] * 14),
    "all_e6k7se": Architecture.decode([11] * 14),
    "random_seed0": Architecture.decode(np.random.default_rng(0).integers(0, 12, 14).tolist()),
}


#: Stand-alone schedule (ours): the supernet's data, split, width, resolution, batch size, step
#: count and optimizer defaults of :class:`TrainConfig`.
STANDALONE = TrainConfig(out="")


@torch.no_grad()
def _accuracy(model: torch.nn.Module, dataset) -> float:
    model.eval()
    correct = 0
    for x, y in DataLoader(dataset, batch_size=500):
        correct += int((model(x).argmax(1) == y).sum())
    return correct / len(dataset)


def train_one(arch: Architecture, cfg: TrainConfig, data) -> dict:
    """Stand-alone training with the supernet's data order, optimizer and schedule."""
    torch.manual_seed(cfg.seed)
    model = moga_zoo.create(arch=arch, num_classes=data.num_classes, in_chans=data.in_chans,
                            channel_multiplier=cfg.channel_multiplier)
    optimizer = make_optimizer(model, cfg)
    sampler = StepBatchSampler(len(data.train), cfg.batch_size, cfg.steps, cfg.seed)
    model.train()
    tic, losses = time.monotonic(), []
    for step, (x, y) in enumerate(DataLoader(data.train, batch_sampler=sampler)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg.steps, cfg.lr)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    seconds = time.monotonic() - tic
    return {"arch": str(arch), "codes": list(arch.encode()),
            "test_accuracy": _accuracy(model, data.test),
            "search_val_accuracy": _accuracy(model, data.search_val),
            "final_loss_mean_last_10pct": float(np.mean(losses[-max(1, len(losses) // 10):])),
            "train_seconds": round(seconds, 1), "steps": cfg.steps, "batch_size": cfg.batch_size,
            "params": count_params(model),
            "macs": count_macs(model, (data.in_chans, data.resolution, data.resolution))}


def cmd_train(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    cfg = dataclasses.replace(STANDALONE, steps=args.steps)
    data = load_splits(None, cfg.resolution, cfg.search_val_size, cfg.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    shard, shards = (int(v) for v in args.shard.split("/"))
    for index, (name, arch) in enumerate(ARCHITECTURES.items()):
        target = out / f"{name}.json"
        if target.exists() or index % shards != shard:
            continue
        if args.max_minutes and time.monotonic() - began > 60 * args.max_minutes:
            print("time is up; run the same command again to continue")
            return 0
        result = train_one(arch, cfg, data)
        write_json_atomic(target, result)
        print(f"{name}: test {result['test_accuracy']:.4f} ({result['train_seconds']} s)",
              flush=True)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from scipy.stats import kendalltau, spearmanr

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    missing = [n for n in ARCHITECTURES if not (out / f"{n}.json").exists()]
    if missing:
        raise SystemExit(f"stand-alone results missing in {out}: {', '.join(missing)}; run "
                         f"`python scripts/ranking_check.py train --out {out}` first")
    runs = {n: json.loads((out / f"{n}.json").read_text()) for n in ARCHITECTURES}
    evaluator = SupernetEvaluator.from_checkpoint(args.checkpoint)
    codes = np.array([runs[n]["codes"] for n in ARCHITECTURES])
    estimate = evaluator.accuracy(codes)
    test = np.array([runs[n]["test_accuracy"] for n in ARCHITECTURES])
    val = np.array([runs[n]["search_val_accuracy"] for n in ARCHITECTURES])
    tau_test, p_test = kendalltau(estimate, test)
    tau_val, _ = kendalltau(estimate, val)
    rho, _ = spearmanr(estimate, test)
    report = {
        "command": "python scripts/ranking_check.py report --out " + str(args.out),
        "checkpoint": Path(args.checkpoint).name,
        "evaluator": evaluator.describe()["settings"],
        "kendall_tau_vs_test": float(tau_test), "kendall_p_value": float(p_test),
        "kendall_tau_vs_search_val": float(tau_val), "spearman_vs_test": float(rho),
        "architectures": {n: {**runs[n], "supernet_estimate": float(e)}
                          for n, e in zip(ARCHITECTURES, estimate)},
    }
    DOCS.mkdir(exist_ok=True)
    write_json_atomic(DOCS / "supernet_ranking.json", report)
    _plot(list(ARCHITECTURES), estimate, test, tau_test, DOCS / "supernet_ranking.png")
    for n, e, t in zip(ARCHITECTURES, estimate, test):
        print(f"{n:14s} supernet {e:.4f}  stand-alone test {t:.4f}")
    print(f"Kendall tau (supernet estimate vs stand-alone test accuracy): {tau_test:.3f} "
          f"(p={p_test:.3f}); vs stand-alone search-val accuracy: {tau_val:.3f}")
    return 0


def _plot(names: list[str], estimate: np.ndarray, test: np.ndarray, tau: float,
          path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(estimate * 100, test * 100)
    for n, e, t in zip(names, estimate, test):
        ax.annotate(n, (e * 100, t * 100), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xlabel("supernet estimate, search-val accuracy (%)")
    ax.set_ylabel("stand-alone test accuracy (%)")
    ax.set_title(f"Fashion-MNIST proxy: Kendall tau = {tau:.3f} ({len(names)} architectures)")
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
        if name == "train":
            p.add_argument("--max-minutes", type=float, default=0.0)
            p.add_argument("--steps", type=int, default=STANDALONE.steps,
                           help="training steps per architecture (cosine lr over them)")
            p.add_argument("--shard", default="0/1", metavar="I/N",
                           help="train only architectures I, I+N, ... (run N processes at once)")
        else:
            p.add_argument("--checkpoint", default=BUNDLED_CHECKPOINT)
        p.set_defaults(func=fn)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
