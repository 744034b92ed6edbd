"""The proxy on which the search's accuracy axis is measured, defined once.

ImageNet is out of reach on a CPU, so supernet training, stand-alone references and the search
all use a Fashion-MNIST proxy: the cluttered canvas task (:class:`search_repro.data.CanvasTask`)
at 64x64 with every garment turned by up to 180 degrees, the MoGA width scaled by 0.25, and a
stride schedule that keeps every searchable layer on a map of at least 4x4, so that kernels 3, 5
and 7 all see different pixels (at total stride 32 a 64 px input ends on 2x2 maps, where a 5x5
or 7x7 kernel's outer taps touch only padding). Of the candidates piloted (``docs/supernet.md``),
the turned canvas spreads the space's networks furthest beyond seed noise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from moga_zoo.search_space import (EXPANSIONS, KERNELS, NUM_LAYERS, SE_OPTIONS, Architecture,
                                   Choice, check_strides)

__all__ = ["ProxySpec", "CANVAS_STRIDES", "CANVAS_PROXY", "DISPLAY", "capacity_ladder",
           "reference_architectures"]

#: How reports name the published models among the references and picks.
DISPLAY = {"moga_a": "MoGA-A", "moga_b": "MoGA-B", "moga_c": "MoGA-C"}

#: Layers 1, 3 and 6 downsample, layer 12 does not (MoGA's schedule has 1, 3, 6 and 12): with the
#: stem's stride 2 a 64 px canvas runs on 32, 16, 8 and 4 px maps.
CANVAS_STRIDES: tuple[int, ...] = (2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1)


@dataclass(frozen=True)
class ProxySpec:
    """Data, input size, width and stride schedule shared by supernet and stand-alone runs."""

    task: str = "canvas:rotate=180"
    resolution: int = 64
    strides: tuple[int, ...] = field(default=CANVAS_STRIDES)
    channel_multiplier: float = 0.25
    search_val_size: int = 5000
    data_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "strides", check_strides(self.strides))

    def model_kwargs(self) -> dict:
        """What ``moga_zoo.create`` needs besides the architecture and the data's shape."""
        return {"channel_multiplier": self.channel_multiplier, "strides": self.strides}

    def describe(self) -> dict:
        return {**asdict(self), "strides": list(self.strides)}


CANVAS_PROXY = ProxySpec()


def capacity_ladder(steps: int = 6, seed: int = 0) -> dict[str, Architecture]:
    """``steps`` architectures from all-e3k3 to all-e6k7se: at rung q (0..1) every layer takes
    the larger kernel, expansion and SE each with probability q (drawn once from ``seed``)."""
    return {f"ladder{i}": arch for i, arch in
            enumerate(_draw([i / (steps - 1) for i in range(steps)], seed))}


def reference_architectures(count: int = 12, seed: int = 1) -> dict[str, Architecture]:
    """The ranking references: ``count`` architectures spread by capacity (rung q = (i + 0.5) /
    count, so none is forced to be uniform: the supernet's coupled warm-up trains the uniform
    networks directly), then MoGA-A/B/C."""
    from moga_zoo.search_space import NAMED_ARCHITECTURES

    spread = _draw([(i + 0.5) / count for i in range(count)], seed)
    return {**{f"ref{i:02d}": arch for i, arch in enumerate(spread)}, **NAMED_ARCHITECTURES}


def _draw(rungs: list[float], seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    archs = []
    for q in rungs:
        choices = []
        for _ in range(NUM_LAYERS):
            k = KERNELS[int(rng.random() < q) + int(rng.random() < q)]  # Binomial(2, q)
            e = EXPANSIONS[int(rng.random() < q)]
            se = SE_OPTIONS[int(rng.random() < q)]
            choices.append(Choice(k, e, se))
        archs.append(Architecture(tuple(choices)))
    return archs

