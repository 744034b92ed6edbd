"""Stand-alone training of one architecture on the proxy: the reference the supernet must match."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import moga_zoo
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import Architecture

from .data import DataSplits
from .proxy import ProxySpec
from .supernet.images import train_batches
from .supernet.train import StepBatchSampler

__all__ = ["Recipe", "train_standalone", "evaluate"]


@dataclass(frozen=True)
class Recipe:
    """A stand-alone training schedule: SGD nesterov, cosine from ``lr`` to 0, no warm-up."""

    epochs: float = 6.0
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 4e-5

    def steps(self, train_images: int) -> int:
        return max(1, round(self.epochs * (train_images // self.batch_size)))


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
    torch.manual_seed(seed)
    model = moga_zoo.create(arch=arch, num_classes=data.num_classes, in_chans=data.in_chans,
                            **proxy.model_kwargs())
    params = count_params(model)
    macs = count_macs(model, (data.in_chans, data.resolution, data.resolution))
    model = model.to(device, memory_format=fmt)
    steps = recipe.steps(len(data.train))
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    sampler = StepBatchSampler(len(data.train), recipe.batch_size, steps, seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    model.train()
    tic, losses = time.monotonic(), []
    for x, y in train_batches(data.train, sampler):
        with autocast:
            loss = F.cross_entropy(model(x.to(device, memory_format=fmt)), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"{arch} seed {seed}: training loss became {losses[-1]} at "
                                     f"step {len(losses)}; lower the learning rate")
    seconds = time.monotonic() - tic
    test, val = evaluate(model, data.test, device), evaluate(model, data.search_val, device)
    return {"arch": str(arch), "codes": list(arch.encode()), "seed": seed,
            "test_accuracy": test["accuracy"], "test_nll": test["nll"],
            "search_val_accuracy": val["accuracy"], "search_val_nll": val["nll"],
            "final_loss_mean_last_10pct": float(np.mean(losses[-max(1, len(losses) // 10):])),
            "loss_curve": [round(float(np.mean(part)), 4)
                           for part in np.array_split(np.asarray(losses), min(20, len(losses)))],
            "steps": steps, "train_seconds": round(seconds, 1), "device": device.type,
            "threads": torch.get_num_threads(), "params": params, "macs": macs,
            "proxy": proxy.describe(), "recipe": asdict(recipe)}
