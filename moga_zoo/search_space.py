"""The MoGA search space, defined once.

The fixed skeleton (stem, first block, head) and the 14 searchable layers, each with 12 choices
(kernel 3/5/7 x expansion 3/6 x squeeze-excite off/on). MoGA-A/B/C, supernet subnets and search
results are all :class:`Architecture` points of this space.
"""
from __future__ import annotations

import hashlib
import json
import operator
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .errors import MogaZooError

__all__ = [
    "Choice", "LayerSpec", "Architecture", "ArchitectureError",
    "KERNELS", "EXPANSIONS", "SE_OPTIONS", "CHOICES", "LAYERS", "STAGE_SIZES", "SKELETON",
    "NUM_LAYERS", "NUM_CHOICES", "MOGA_A", "MOGA_B", "MOGA_C", "NAMED_ARCHITECTURES", "space_hash",
    "IMAGENET_STRIDES", "check_strides", "layer_specs", "BLOCK_POSITIONS", "block_path",
    "check_codes",
]


class ArchitectureError(MogaZooError, ValueError):
    """An architecture that is not a point of the MoGA search space."""


@dataclass(frozen=True)
class Choice:
    """One candidate block of a searchable layer."""

    kernel: int
    expansion: int
    se: bool

    def __str__(self) -> str:
        return f"e{self.expansion}k{self.kernel}{'se' if self.se else ''}"


@dataclass(frozen=True)
class LayerSpec:
    """What a searchable layer fixes: output channels, stride and activation."""

    out_chs: int
    stride: int
    act: str  # "relu" or "hard_swish"


KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
SE_OPTIONS = (False, True)
SE_RATIO = 0.25
#: All 12 choices; a choice's integer code is its index here.
CHOICES: tuple[Choice, ...] = tuple(
    Choice(k, e, se) for k in KERNELS for e in EXPANSIONS for se in SE_OPTIONS
)
NUM_CHOICES = len(CHOICES)

_OUT = (24, 24, 40, 40, 40, 80, 80, 80, 80, 112, 112, 160, 160, 160)
_STRIDE2 = (1, 3, 6, 12)  # 1-based layers with stride 2
LAYERS: tuple[LayerSpec, ...] = tuple(
    LayerSpec(c, 2 if i in _STRIDE2 else 1, "relu" if i <= 5 else "hard_swish")
    for i, c in enumerate(_OUT, start=1)
)
NUM_LAYERS = len(LAYERS)
#: Searchable layers per timm stage (the stages of mobilenetv3_large_100).
STAGE_SIZES = (2, 3, 4, 2, 3)

#: The searchable layers' strides in the MoGA networks (ImageNet, 224 px: total stride 32).
IMAGENET_STRIDES: tuple[int, ...] = tuple(s.stride for s in LAYERS)

#: (stage, index) of each searchable layer inside a timm model's ``blocks`` (stage 0 holds the
#: fixed first block, the last stage the 960-channel 1x1 conv).
BLOCK_POSITIONS: tuple[tuple[int, int], ...] = tuple(
    (stage, j) for stage, size in enumerate(STAGE_SIZES, start=1) for j in range(size))

#: The fixed parts around the searchable layers.
SKELETON = {
    "stem": {"kernel": 3, "stride": 2, "out_chs": 16, "act": "hard_swish"},
    "first_block": {"type": "depthwise_separable", "kernel": 3, "stride": 1, "out_chs": 16,
                    "act": "relu", "residual": False},
    "head": {"conv_chs": 960, "act": "hard_swish", "num_features": 1280, "head_bias": False,
             "drop_rate": 0.2},
    "se": {"ratio": SE_RATIO, "round": "int", "act": "block", "gate": "hard_sigmoid"},
}

_TOKEN = re.compile(r"^e(\d+)k(\d+)(se)?$")
_ALLOWED = "e{3,6}k{3,5,7} optionally followed by 'se' (e.g. e6k5, e3k7se)"


def check_strides(strides: "Sequence[int] | None") -> tuple[int, ...]:
    """A validated stride schedule of the searchable layers (None: :data:`IMAGENET_STRIDES`).

    A schedule is one stride (1 or 2) per searchable layer; it changes the feature-map sizes,
    not the weights, so one set of weights runs under any schedule.
    """
    if strides is None:
        return IMAGENET_STRIDES
    values = _as_list(strides, f"a stride schedule of {NUM_LAYERS} strides")
    if len(values) != NUM_LAYERS or any(isinstance(v, bool) or v not in (1, 2) for v in values):
        raise ArchitectureError(
            f"a stride schedule is {NUM_LAYERS} strides of 1 or 2 (one per searchable layer), "
            f"got {str(values)[:200]}")
    return tuple(int(v) for v in values)


def layer_specs(strides: "Sequence[int] | None" = None) -> tuple[LayerSpec, ...]:
    """The searchable layers' specs under a stride schedule (None: the MoGA networks' own)."""
    return tuple(LayerSpec(spec.out_chs, stride, spec.act)
                 for spec, stride in zip(LAYERS, check_strides(strides)))


def block_path(layer: int) -> str:
    """timm module path (``blocks.S.J``) of searchable layer ``layer`` (0-based)."""
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < NUM_LAYERS:
        raise ArchitectureError(f"searchable layer index must be 0..{NUM_LAYERS - 1}, got {layer!r}")
    stage, j = BLOCK_POSITIONS[layer]
    return f"blocks.{stage}.{j}"


def check_codes(codes: object) -> np.ndarray:
    """Architectures as an ``(N, 14)`` int64 array of choice codes (one row, or one 1-d row),
    every code in ``0..11``; anything else raises :class:`ArchitectureError`."""
    try:
        arr = np.asarray(codes)
    except (ValueError, TypeError) as e:
        raise ArchitectureError(f"architecture codes must be an (N, {NUM_LAYERS}) integer "
                                f"array ({e})") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, NUM_LAYERS) if arr.size == 0 else arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != NUM_LAYERS:
        raise ArchitectureError(f"architecture codes must have shape (N, {NUM_LAYERS}), got "
                                f"{arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ArchitectureError(f"architecture codes must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_CHOICES):
        raise ArchitectureError(f"architecture codes must be in 0..{NUM_CHOICES - 1}, got "
                                f"{int(arr.min())}..{int(arr.max())}")
    return arr


def _as_list(values: object, expected: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ArchitectureError(f"expected {expected}, got {type(values).__name__}")
    return list(values)


def _layer_name(i: int) -> str:
    spec = LAYERS[i]
    return f"layer {i + 1} (out {spec.out_chs}, stride {spec.stride})"


@dataclass(frozen=True)
class Architecture:
    """A point of the search space: one :class:`Choice` per searchable layer."""

    choices: tuple[Choice, ...]

    def __post_init__(self) -> None:
        choices = _as_list(self.choices, "a sequence of Choice")
        if len(choices) != NUM_LAYERS:
            raise ArchitectureError(
                f"an architecture has {NUM_LAYERS} searchable layers, got {len(choices)}")
        for i, c in enumerate(choices):
            if not isinstance(c, Choice) or c not in CHOICES:
                raise ArchitectureError(
                    f"{_layer_name(i)}: {c!r} is not a valid choice; allowed: {_ALLOWED}")
        # the canonical CHOICES entries: Choice(3, 3, 1) == Choice(3, 3, True) but prints differently
        object.__setattr__(self, "choices", tuple(CHOICES[CHOICES.index(c)] for c in choices))

    # --- string form ---------------------------------------------------------------------
    def __str__(self) -> str:
        return "-".join(str(c) for c in self.choices)

    @classmethod
    def from_string(cls, text: str) -> "Architecture":
        """Parse the string form, e.g. ``e6k5-e6k7-...-e6k5se`` (14 tokens joined by '-')."""
        if not isinstance(text, str):
            raise ArchitectureError(f"expected an architecture string, got {type(text).__name__}")
        tokens = text.strip().split("-") if text.strip() else []
        if len(tokens) != NUM_LAYERS:
            raise ArchitectureError(
                f"an architecture string has {NUM_LAYERS} '-'-separated layers, got "
                f"{len(tokens)} in {text!r}; each layer is {_ALLOWED}")
        choices = []
        for i, tok in enumerate(tokens):
            m = _TOKEN.match(tok.strip().lower())
            choice = Choice(int(m[2]), int(m[1]), bool(m[3])) if m else None
            if choice not in CHOICES:
                raise ArchitectureError(f"{_layer_name(i)}: {tok!r} is not a valid choice; "
                                        f"allowed: {_ALLOWED}")
            choices.append(choice)
        return cls(tuple(choices))

    # --- integer encoding ------------------------------------------------------------------
    def encode(self) -> tuple[int, ...]:
        """Integer codes (index into :data:`CHOICES`) per layer."""
        return tuple(CHOICES.index(c) for c in self.choices)

    @classmethod
    def decode(cls, codes: Iterable[int]) -> "Architecture":
        """Inverse of :meth:`encode`."""
        codes = _as_list(codes, f"{NUM_LAYERS} integer codes")
        if len(codes) != NUM_LAYERS:
            raise ArchitectureError(
                f"an encoding has {NUM_LAYERS} integers, got {len(codes)}")
        choices = []
        for i, code in enumerate(codes):
            try:
                if isinstance(code, bool):
                    raise TypeError
                code = operator.index(code)
            except TypeError:
                raise ArchitectureError(f"{_layer_name(i)}: code {code!r} is not an integer; "
                                        f"allowed: 0..{NUM_CHOICES - 1}") from None
            if not 0 <= code < NUM_CHOICES:
                raise ArchitectureError(f"{_layer_name(i)}: code {code} out of range; "
                                        f"allowed: 0..{NUM_CHOICES - 1}")
            choices.append(CHOICES[code])
        return cls(tuple(choices))

    @classmethod
    def parse(cls, value: "str | Sequence[int] | Sequence[Choice] | Architecture") -> "Architecture":
        """Accept an Architecture, its string form, a named one (``moga_a``), integer codes (a
        list, tuple or 1-d array) or a sequence of :class:`Choice`."""
        if isinstance(value, Architecture):
            return value
        if isinstance(value, str):
            named = NAMED_ARCHITECTURES.get(value.strip().lower())
            return named if named is not None else cls.from_string(value)
        if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
            items = list(value)
            if items and all(isinstance(c, Choice) for c in items):
                return cls(tuple(items))
            return cls.decode(items)
        raise ArchitectureError(
            f"cannot make an architecture from {type(value).__name__}; give a string such as "
            f"'{MOGA_A}', a name ({', '.join(NAMED_ARCHITECTURES)}) or {NUM_LAYERS} integer codes")

    def layers(self, strides: "Sequence[int] | None" = None
               ) -> tuple[tuple[LayerSpec, Choice], ...]:
        """Pairs of (fixed layer spec, chosen block), in order, under a stride schedule."""
        return tuple(zip(layer_specs(strides), self.choices))


def _arch(*tokens: str) -> Architecture:
    return Architecture.from_string("-".join(tokens))


# From the authors' model files (docs/moga-facts.md).
MOGA_A = _arch("e6k5", "e6k7", "e6k3", "e6k3se", "e3k3se", "e6k3se", "e6k3", "e6k7", "e3k7se",
               "e6k7", "e6k3", "e6k3", "e6k5se", "e6k5se")
MOGA_B = _arch("e3k3", "e3k3", "e6k7", "e3k3", "e6k5", "e6k3se", "e6k5se", "e3k3", "e6k7se",
               "e6k7", "e3k5", "e6k7se", "e6k7se", "e6k3se")
MOGA_C = _arch("e3k5", "e3k3", "e3k5", "e3k3", "e3k5", "e3k5", "e6k5se", "e3k5", "e3k5",
               "e6k3", "e6k3se", "e6k3se", "e6k3se", "e6k3se")
NAMED_ARCHITECTURES: dict[str, Architecture] = {"moga_a": MOGA_A, "moga_b": MOGA_B, "moga_c": MOGA_C}


def space_hash() -> str:
    """Short sha256 of the space definition; artifacts (latency tables, supernets) record it."""
    definition = {
        "skeleton": SKELETON,
        "layers": [vars(s) for s in LAYERS],
        "choices": [vars(c) for c in CHOICES],
        "stages": STAGE_SIZES,
    }
    blob = json.dumps(definition, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
