"""Stand-alone training of one architecture on the proxy: the reference the supernet must match."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader

import moga_zoo
from moga_zoo.errors import UsageError
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import Architecture

from .allocator import reuse_freed_memory
from .data import DataSplits
from .depthwise import speed_up_depthwise
from .pointwise import speed_up_pointwise
from .proxy import ProxySpec
from .supernet.images import train_batches
from .supernet.train import StepBatchSampler

__all__ = ["Recipe", "QUIETING", "recorded_recipe", "train_standalone", "evaluate"]


@dataclass(frozen=True)
class Recipe:
    """A stand-alone training schedule: SGD nesterov, cosine from ``lr`` to 0.

    The last four fields quiet a run and are off (0) by default: a linear warm-up from
    ``lr / (warmup steps)`` over ``warmup_epochs``, label smoothing of the loss, clipping of the
    gradient's norm, and an exponential moving average of the weights (timm's ``ModelEmaV3``
    with its warm-up; the average is the model that is scored).
    """

    epochs: float = 6.0
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 4e-5
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    clip_grad_norm: float = 0.0
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0 or not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError("--ema-decay and --label-smoothing must be in [0, 1)")
        if min(self.warmup_epochs, self.clip_grad_norm) < 0 or \
                self.warmup_epochs >= self.epochs:
            raise UsageError("--warmup-epochs must be in [0, --epochs) and --clip-grad-norm "
                             ">= 0")

    def steps(self, train_images: int) -> int:
        return max(1, round(self.epochs * (train_images // self.batch_size)))

    def describe(self) -> dict:
        """The recipe as runs record it: the quieting fields only where they are on, so a run
        of the plain recipe reads the same as one recorded before those fields existed."""
        return recorded_recipe(asdict(self))

    def schedule(self, optimizer: torch.optim.Optimizer, steps: int, train_images: int
                 ) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine to 0 over the steps after the warm-up (the whole run without one)."""
        warmup = round(self.warmup_epochs * (train_images // self.batch_size))
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - warmup)
        if not warmup:
            return cosine
        ramp = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0 / warmup, 1.0, total_iters=warmup)
        return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, cosine], [warmup])


QUIETING = ("warmup_epochs", "label_smoothing", "clip_grad_norm", "ema_decay")


def recorded_recipe(fields: dict) -> dict:
    """A recipe's fields as runs record them: a quieting field that is 0 is off, and left out."""
    return {k: v for k, v in fields.items() if k not in QUIETING or v}


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset, device: torch.device,
             memory_format=torch.channels_last) -> dict[str, float]:
    """Top-1 accuracy and mean negative log-likelihood of ``model`` on ``dataset``."""
    model.eval()
    correct, nll, n = 0, 0.0, 0
    for x, y in DataLoader(dataset, batch_size=500):
        logits = model(x.to(device, memory_format=memory_format)).float()
        y = y.to(device)
        correct += int((logits.argmax(1) == y).sum())
        nll += float(F.cross_entropy(logits, y, reduction="sum"))
        n += len(y)
    if not np.isfinite(nll):
        raise FloatingPointError("the trained model's loss is not finite")
    return {"accuracy": correct / n, "nll": nll / n}


def train_standalone(arch: Architecture, proxy: ProxySpec, recipe: Recipe, data: DataSplits,
                     seed: int, device: "str | torch.device" = "cpu") -> dict:
    """Train ``arch`` from scratch; ``seed`` sets initial weights, data order and dropout.

    Returns the result record: test and search-validation accuracy and NLL, training loss (the
    last tenth's mean, and ``loss_curve``: the means of 20 equal parts of training), params, MACs
    and the settings that produced it.
    """
    device = torch.device(device)
    fmt = torch.channels_last
    reuse_freed_memory()
    torch.manual_seed(seed)
    model = moga_zoo.create(arch=arch, num_classes=data.num_classes, in_chans=data.in_chans,
                            **proxy.model_kwargs())
    params = count_params(model)
    macs = count_macs(model, (data.in_chans, data.resolution, data.resolution))
    model = model.to(device, memory_format=fmt)
    speed_up_depthwise(model)  # the same numbers; a faster weight gradient on CPU
    speed_up_pointwise(model)  # the same numbers to rounding; faster 1x1 on pooled maps
    steps = recipe.steps(len(data.train))
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=True)
    schedule = recipe.schedule(optimizer, steps, len(data.train))
    ema = ModelEmaV3(model, decay=recipe.ema_decay, use_warmup=True) if recipe.ema_decay else None
    sampler = StepBatchSampler(len(data.train), recipe.batch_size, steps, seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    model.train()
    tic, losses = time.monotonic(), []
    for x, y in train_batches(data.train, sampler):
        with autocast:
            loss = F.cross_entropy(model(x.to(device, memory_format=fmt)), y.to(device),
                                   label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
        optimizer.step()
        schedule.step()
        if ema is not None:
            ema.update(model, step=len(losses))
        losses.append(float(loss.detach()))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"{arch} seed {seed}: training loss became {losses[-1]} at "
                                     f"step {len(losses)}; lower the learning rate")
    seconds = time.monotonic() - tic
    scored = model if ema is None else ema.module
    test, val = evaluate(scored, data.test, device), evaluate(scored, data.search_val, device)
    extra = {} if ema is None else {  # the trained weights themselves, beside their average
        "trained_weights_test_accuracy": evaluate(model, data.test, device)["accuracy"]}
    return {"arch": str(arch), "codes": list(arch.encode()), "seed": seed,
            "test_accuracy": test["accuracy"], "test_nll": test["nll"],
            "search_val_accuracy": val["accuracy"], "search_val_nll": val["nll"],
            "final_loss_mean_last_10pct": float(np.mean(losses[-max(1, len(losses) // 10):])),
            "loss_curve": [round(float(np.mean(part)), 4)
                           for part in np.array_split(np.asarray(losses), min(20, len(losses)))],
            "steps": steps, "train_seconds": round(seconds, 1), "device": device.type,
            "threads": torch.get_num_threads(), "params": params, "macs": macs,
            "proxy": proxy.describe(), "recipe": recipe.describe(), **extra}
