"""An independent re-implementation of MoGA in the authors' module layout (xiaomi-automl/MoGA).

Written from docs/moga-facts.md and docs/search-space.md with plain torch.nn modules only (no timm), so that comparing
it with our timm models after the key mapping checks every architectural detail.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# (out channels, stride, activation) of the 14 searchable layers, from docs/search-space.md
LAYERS = [(24, 2, "relu"), (24, 1, "relu"), (40, 2, "relu"), (40, 1, "relu"), (40, 1, "relu"),
          (80, 2, "hswish"), (80, 1, "hswish"), (80, 1, "hswish"), (80, 1, "hswish"),
          (112, 1, "hswish"), (112, 1, "hswish"),
          (160, 2, "hswish"), (160, 1, "hswish"), (160, 1, "hswish")]

# (expansion, kernel, se) per layer, from the authors' model files
MOGA_A = [(6, 5, 0), (6, 7, 0), (6, 3, 0), (6, 3, 1), (3, 3, 1), (6, 3, 1), (6, 3, 0), (6, 7, 0),
          (3, 7, 1), (6, 7, 0), (6, 3, 0), (6, 3, 0), (6, 5, 1), (6, 5, 1)]
MOGA_B = [(3, 3, 0), (3, 3, 0), (6, 7, 0), (3, 3, 0), (6, 5, 0), (6, 3, 1), (6, 5, 1), (3, 3, 0),
          (6, 7, 1), (6, 7, 0), (3, 5, 0), (6, 7, 1), (6, 7, 1), (6, 3, 1)]
MOGA_C = [(3, 5, 0), (3, 3, 0), (3, 5, 0), (3, 3, 0), (3, 5, 0), (3, 5, 0), (6, 5, 1), (3, 5, 0),
          (3, 5, 0), (6, 3, 0), (6, 3, 1), (6, 3, 1), (6, 3, 1), (6, 3, 1)]


class HSwish(nn.Module):
    def forward(self, x):
        return x * F.relu6(x + 3.0) / 6.0


class HSigmoid(nn.Module):
    def forward(self, x):
        return F.relu6(x + 3.0) / 6.0


def _act(name: str) -> nn.Module:
    return nn.ReLU(inplace=False) if name == "relu" else HSwish()


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, act: str):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels // 4, 1, bias=True), _act(act))
        self.fc = nn.Sequential(nn.Conv2d(channels // 4, channels, 1, bias=True), HSigmoid())

    def forward(self, x):
        y = F.adaptive_avg_pool2d(x, 1)
        return x * self.fc(self.conv(y))


class MBBlock(nn.Module):
    def __init__(self, in_chs, out_chs, stride, expansion, kernel, se, act):
        super().__init__()
        hidden = in_chs * expansion
        self.use_res = stride == 1 and in_chs == out_chs
        self.conv1 = nn.Conv2d(in_chs, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.act = _act(act)
        self.mid_se = SqueezeExcite(hidden, act) if se else None
        self.conv3 = nn.Conv2d(hidden, out_chs, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_chs)

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)))
        y = self.act(self.bn2(self.conv2(y)))
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.bn3(self.conv3(y))
        return x + y if self.use_res else y


class MoGAAuthors(nn.Module):
    """MoGA in the authors' layout; ``choices`` is a list of (expansion, kernel, se)."""

    def __init__(self, choices, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  HSwish())
        self.separable_conv = nn.Sequential(
            nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        blocks, in_chs = [], 16
        for (out, stride, act), (e, k, se) in zip(LAYERS, choices):
            blocks.append(MBBlock(in_chs, out, stride, e, k, bool(se), act))
            in_chs = out
        self.mb_module = nn.Sequential(*blocks)
        self.conv_before_pooling = nn.Sequential(nn.Conv2d(160, 960, 1, bias=False),
                                                 nn.BatchNorm2d(960), HSwish())
        self.conv_head = nn.Sequential(nn.Conv2d(960, 1280, 1, bias=False), HSwish())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.separable_conv(self.stem(x))
        x = self.conv_before_pooling(self.mb_module(x))
        x = self.conv_head(F.adaptive_avg_pool2d(x, 1))
        return self.classifier(self.dropout(torch.flatten(x, 1)))


def randomize_and_calibrate(model: nn.Module, batches: int = 3, size: int = 64, seed: int = 0) -> None:
    """Make a randomly initialised model input-sensitive (the facts file's testing pitfall):
    random BN affine parameters, then BN statistics from a few train-mode batches."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 1.5 + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(batches):
            model(torch.randn(4, 3, size, size, generator=g))
    model.eval()
