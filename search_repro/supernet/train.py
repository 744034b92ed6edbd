"""Train a supernet with FairNAS strict fairness: ``python -m search_repro.supernet.train``.

Runs as one process or under ``torchrun --nproc_per_node N`` (DDP: gloo on CPU, nccl on GPU).
Every ``--save-every`` steps and at ``--max-minutes`` the full training state is saved to
``OUT/state.pt``; running the same command again resumes from it. At the last step the trained
weights go to ``OUT/supernet.safetensors`` with ``OUT/supernet.json`` beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler
from tqdm import tqdm

from moga_zoo.cli.options import (Parser, add_dataclass_options, checked, dataclass_from_args,
                                  non_negative_int, output_folder, positive_int)
from moga_zoo import interrupts
from moga_zoo.errors import UsageError, run_reporting
from moga_zoo.fileio import write_text_atomic
from moga_zoo.search_space import check_strides, space_hash
from search_repro.allocator import reuse_freed_memory
from search_repro.data import load_splits, task_option
from search_repro.depthwise import speed_up_depthwise
from search_repro.pointwise import speed_up_pointwise

from .checkpoint import load_state, save_state, save_supernet
from .fairness import coupling_at, fair_paths, fair_step
from .images import train_batches
from .model import Supernet

__all__ = ["TrainConfig", "StepBatchSampler", "make_optimizer", "make_schedule", "train_supernet",
           "add_train_arguments", "config_from_args", "main"]


@dataclass
class TrainConfig:
    """Everything that determines a supernet training run (recorded in the sidecar)."""

    out: str
    data_root: str | None = None
    steps: int = 3000
    batch_size: int = 256          # per process
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 4e-5
    clip_grad_norm: float = 0.0     # 0: no clipping
    coupled_warmup_steps: int = 1200  # 0: FairNAS's independent permutations from step 0
    channel_multiplier: float = 0.25
    resolution: int = 32
    task: str = "plain"            # see search_repro.data.parse_task
    strides: tuple[int, ...] | None = None  # searchable layers' strides (None: MoGA's own)
    search_val_size: int = 5000
    seed: int = 0
    save_every: int = 100
    max_minutes: float = 0.0       # 0: no limit; else save and stop after this long (resume later)
    threads: int = 0               # 0: torch's default
    device: str = "auto"
    workers: int = 0
    channels_last: bool = True     # memory format only: 2-3x faster depthwise convs on CPU

    def __post_init__(self) -> None:
        if self.strides is not None:
            self.strides = check_strides(self.strides)


class StepBatchSampler(Sampler[list[int]]):
    """Index batches for steps ``start..steps-1``: a seeded permutation per epoch, sliced by rank.

    The batch of a step depends only on (seed, step, rank, world size), so a resumed run sees the
    same data as an uninterrupted one.
    """

    def __init__(self, n: int, batch_size: int, steps: int, seed: int, start: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.n, self.batch_size, self.steps, self.seed = n, batch_size, steps, seed
        self.start, self.rank, self.world_size = start, rank, world_size
        self.per_epoch = n // (batch_size * world_size)
        if self.per_epoch < 1:
            raise UsageError(f"{n} training images are fewer than one global batch "
                             f"({batch_size} x {world_size} processes); lower --batch-size")

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self) -> Iterator[list[int]]:
        perm, epoch = None, -1
        for step in range(self.start, self.steps):
            if step // self.per_epoch != epoch:
                epoch = step // self.per_epoch
                perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            first = (step % self.per_epoch) * self.batch_size * self.world_size
            first += self.rank * self.batch_size
            yield perm[first:first + self.batch_size].tolist()


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=True)


def make_schedule(optimizer: torch.optim.Optimizer, steps: int
                  ) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine decay from the optimizer's lr to 0 over ``steps`` (stepped once per step)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)


def _setup_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {cfg.device!r}")
    if use_cuda and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA device is visible")
    if world > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _summary(log_path: Path) -> dict:
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    losses = [r["loss"] for r in rows]
    tail = losses[-max(1, len(losses) // 10):]
    return {"steps_logged": len(rows), "first_loss": losses[0], "final_loss_mean_last_10pct":
            float(np.mean(tail)), "train_seconds": float(sum(r["seconds"] for r in rows)),
            "log": log_path.name}


def train_supernet(cfg: TrainConfig) -> Path | None:
    """Train (or resume) the supernet described by ``cfg``; returns the weights path when done."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    reuse_freed_memory()
    rank, world, device = _setup_distributed(cfg)
    try:
        return _train(cfg, rank, world, device)
    finally:
        if world > 1:
            dist.destroy_process_group()


def _train(cfg: TrainConfig, rank: int, world: int, device: torch.device) -> Path | None:
    out = Path(cfg.out)
    state_path, log_path = out / "state.pt", out / "log.jsonl"
    data = load_splits(cfg.data_root, cfg.resolution, cfg.search_val_size, cfg.seed, cfg.task)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    supernet = Supernet(num_classes=data.num_classes, in_chans=data.in_chans,
                        channel_multiplier=cfg.channel_multiplier,
                        strides=cfg.strides).to(device, memory_format=fmt)
    speed_up_depthwise(supernet)  # the same numbers; a faster weight gradient on CPU
    speed_up_pointwise(supernet)  # the same numbers to rounding; faster 1x1 on pooled maps
    optimizer = make_optimizer(supernet, cfg)
    schedule = make_schedule(optimizer, cfg.steps)
    start = 0
    if state_path.is_file():
        state = load_state(state_path)
        if state["config"] != _resumable(cfg) or state["space_hash"] != space_hash():
            raise UsageError(f"{state_path} was written by a different training config; use "
                             f"another --out or the same settings "
                             f"({json.dumps(state['config'], sort_keys=True)})")
        supernet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start = int(state["step"])
        if rank == 0 and log_path.is_file():  # drop steps logged after the saved state
            kept = [line for line in log_path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= start]
            write_text_atomic(log_path, "".join(line + "\n" for line in kept))
    interrupts.resumable(f"step {start} of {cfg.steps} in {state_path}" if start else None)
    model: nn.Module = supernet
    if world > 1:
        model = DistributedDataParallel(supernet, find_unused_parameters=True,
                                        device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    sampler = StepBatchSampler(len(data.train), cfg.batch_size, cfg.steps, cfg.seed, start,
                               rank, world)
    loader = train_batches(data.train, sampler, cfg.workers)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    bar = tqdm(total=cfg.steps, initial=start, desc="supernet", disable=rank != 0,
               dynamic_ncols=True)
    step = start
    for images, labels in loader:
        tic = time.monotonic()
        lr = optimizer.param_groups[0]["lr"]
        paths = fair_paths(np.random.default_rng([cfg.seed, 1, step]),  # same on every rank
                           coupling_at(step, cfg.coupled_warmup_steps))
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout: resumable, like the data
        loss = fair_step(model, images.to(device, memory_format=fmt), labels.to(device), optimizer,
                         paths, clip_grad_norm=cfg.clip_grad_norm or None,
                         mixed_precision=device.type == "cuda")
        schedule.step()
        step += 1
        if rank == 0:
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "loss": round(loss, 5), "lr": round(lr, 6), "seconds": round(
                    time.monotonic() - tic, 4)}) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
        out_of_time = cfg.max_minutes and time.monotonic() - began > 60 * cfg.max_minutes
        if step == cfg.steps or step % cfg.save_every == 0 or out_of_time:
            if rank == 0:
                save_state(state_path, {"model": supernet.state_dict(),
                                        "optimizer": optimizer.state_dict(),
                                        "schedule": schedule.state_dict(), "step": step,
                                        "config": _resumable(cfg), "space_hash": space_hash()})
                interrupts.resumable(f"step {step} of {cfg.steps} in {state_path}")
            if out_of_time and step < cfg.steps:
                break
    bar.close()
    if step < cfg.steps:
        if rank == 0:
            print(f"stopped at step {step}/{cfg.steps} after --max-minutes {cfg.max_minutes}; "
                  f"run the same command again to resume")
        return None
    if rank != 0:
        return None
    training = {**asdict(cfg), "world_size": world, "data": data.describe(),
                "trained_on": device.type,
                "mixed_precision": "bf16 autocast" if device.type == "cuda" else None,
                "strict_fairness_paths_per_step": 12, "gradient": "choice blocks: their one path's "
                "gradient; stem and head: mean over the 12 paths; one SGD update"}
    weights = save_supernet(out / "supernet", supernet.cpu(), training, _summary(log_path))
    print(f"saved {weights}")
    return weights


def _resumable(cfg: TrainConfig) -> dict:
    """The settings a resumed run must share with the run that wrote the state."""
    keep = {f.name for f in fields(TrainConfig)} - {"out", "save_every", "max_minutes", "threads",
                                                    "device", "workers", "data_root",
                                                    "channels_last"}
    return {k: v for k, v in asdict(cfg).items() if k in keep}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """One option per :class:`TrainConfig` field."""
    add_dataclass_options(p, TrainConfig, help_text={
        "out": "output folder (state.pt, log.jsonl, supernet.safetensors + .json)",
        "data_root": "train/ + val/ class folders, or the Fashion-MNIST files (default: the "
                     "Debian dataset-fashion-mnist files)",
        "task": "Fashion-MNIST task: plain or canvas (see docs/supernet.md)",
        "strides": "the searchable layers' 14 strides, comma-separated (default: MoGA's "
                   "2,1,2,1,1,2,1,1,1,1,1,2,1,1)",
        "channels_last": "channels_last memory format (benchmarks/supernet_step.py measures the "
                         "speed-up)",
    }, parsers={"strides": checked(_strides), "task": checked(task_option), "out": output_folder(),
                "steps": positive_int, "batch_size": positive_int, "save_every": positive_int,
                "threads": non_negative_int, "workers": non_negative_int,
                "coupled_warmup_steps": non_negative_int})


def _strides(text: str) -> tuple[int, ...]:
    try:
        return check_strides([int(s) for s in text.split(",")])
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return dataclass_from_args(TrainConfig, args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m search_repro.supernet.train", description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    return run_reporting(parser.prog, lambda: train_supernet(config_from_args(args)) and 0,
                         ["python", "-m", "search_repro.supernet.train",
                          *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
