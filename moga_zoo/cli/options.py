"""Every command's options go through here: one declared range per numeric option and environment
variable, checked where the value is parsed.

:data:`RANGES` holds the range of each numeric option by flag (the same flag means the same range
in every command) and of each numeric environment variable. :class:`Parser` (the parser class of
``moga-zoo`` and of the module CLIs) gives every ``type=int``/``type=float`` option its declared
range and refuses to register a numeric option that has none, so a new command cannot skip it;
:func:`env_number` reads a numeric environment variable through the same table. A value outside
its range, NaN or infinite is one line, exit code 2, before any work.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

from ..errors import MogaZooError, UsageError, one_line

__all__ = ["Range", "Numbers", "checked", "output_file", "output_folder", "RANGES", "ENVIRONMENT", "Parser", "option_type",
           "env_number", "add_dataclass_options", "dataclass_from_args", "positive_int",
           "non_negative_int"]

T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """A finite closed interval ``[low, high]`` of ``kind`` (int or float) values; called with an
    option's text it parses and checks it (an argparse ``type=``)."""

    kind: type
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.kind not in (int, float) or not (math.isfinite(self.low) and math.isfinite(self.high)
                                                 and self.low <= self.high):
            raise TypeError(f"a range needs int or float and finite low <= high, got {self}")

    @property
    def __name__(self) -> str:  # argparse names the type in some messages
        return self.kind.__name__

    def parse(self, text: str) -> "int | float":
        """``text`` as a value in range, else ValueError (with the message to show)."""
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            noun = "an integer" if self.kind is int else "a number"
            raise ValueError(f"expected {noun}, got {text!r}") from None
        return self.check(value)

    def check(self, value: "int | float") -> "int | float":
        """``value`` itself if it is finite and in range, else ValueError."""
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value}")
        if value < self.low:
            if self.kind is int and self.low == 1:
                noun = "a positive integer"
            else:
                noun = f"{'an integer' if self.kind is int else 'a number'} >= {_fmt(self.low)}"
            raise ValueError(f"expected {noun}, got {_fmt(value)}")
        if value > self.high:
            raise ValueError(f"expected at most {_fmt(self.high)}, got {_fmt(value)}")
        return value

    def __call__(self, text: str) -> "int | float":
        try:
            return self.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    def __str__(self) -> str:
        return f"{_fmt(self.low)}..{_fmt(self.high)}"


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Numbers:
    """``sep``-separated values, each in ``item`` (e.g. ``--seeds 0,1,2``), ``count`` of them if
    given; an argparse ``type=`` returning a tuple."""

    item: Range
    sep: str = ","
    count: int | None = None
    most: int = 10_000

    __name__ = "numbers"

    @property
    def _separated(self) -> str:
        return "comma-separated" if self.sep == "," else f"{self.sep!r}-separated"

    def __call__(self, text: str) -> tuple:
        parts = [p.strip() for p in text.split(self.sep)]
        try:
            if not text.strip() or any(not p for p in parts):
                raise ValueError("empty")
            values = tuple(self.item.kind(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self._separated} numbers, got {text!r}") from None
        if self.count is not None and len(values) != self.count:
            raise argparse.ArgumentTypeError(f"expected {self.count} {self._separated} numbers, got "
                                             f"{len(values)} in {text!r}")
        if len(values) > self.most:
            raise argparse.ArgumentTypeError(f"expected at most {self.most} values, got {len(values)}")
        for v in values:
            try:
                self.item.check(v)
            except ValueError as e:
                raise argparse.ArgumentTypeError(f"{e} in {text!r}") from None
        return values


def checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type=`` from ``parse``, whose :class:`MogaZooError` (or ValueError) becomes
    the option's one-line error: for options whose values hold numbers in a form of their own
    (``--task canvas:clutter=6``, ``--candidates 1000x2``); ``parse`` checks their ranges."""
    def parse_option(text: str) -> T:
        try:
            return parse(text)
        except (MogaZooError, ValueError) as e:
            raise argparse.ArgumentTypeError(one_line(e)) from None
    parse_option.__name__ = getattr(parse, "__name__", "value")
    parse_option.checked = True  # type: ignore[attr-defined]
    return parse_option


def output_file() -> Callable[[str], str]:
    """An argparse ``type=`` for a file the command writes: checked when the option is parsed,
    before any work (:func:`moga_zoo.fileio.check_output_file`); empty text means none."""
    from ..fileio import check_output_file

    return checked(lambda text: text and str(check_output_file(text, "")))


def output_folder() -> Callable[[str], str]:
    """An argparse ``type=`` for a folder the command writes into: checked when the option is
    parsed (:func:`moga_zoo.fileio.check_output_folder`); empty text means none."""
    from ..fileio import check_output_folder

    return checked(lambda text: text and str(check_output_folder(text, "")))


_THREADS = Range(int, 1, 1024)
_SEED = Range(int, 0, 2**32 - 1)
_STEPS = Range(int, 1, 10**8)
_REPEATS = Range(int, 1, 10**6)

#: The declared range of every numeric option (by flag) and environment variable (by name).
RANGES: dict[str, Range] = {
    # threads, sizes, counts
    "--threads": _THREADS, "--top-k": Range(int, 1, 10_000), "--batch-size": Range(int, 1, 65_536),
    "--batch": Range(int, 1, 4096), "--resolution": Range(int, 16, 4096),
    "--input-size": Range(int, 32, 4096), "--opset": Range(int, 7, 30),
    "--search-val-size": Range(int, 1, 50_000), "--val-size": Range(int, 1, 10**7),
    "--calib-batches": Range(int, 1, 64), "--calib-batch-size": Range(int, 1, 1024),
    "--eval-batch-size": Range(int, 1, 65_536), "--workers": Range(int, 0, 64),
    "--parent": Range(int, 1, 2**31 - 1),  # a process id
    "--channel-multiplier": Range(float, 0.05, 4.0),
    # measurement
    "--warmup": Range(int, 0, 10**6), "--repeats": _REPEATS, "--e2e-repeats": _REPEATS,
    "--rounds": Range(int, 1, 1000), "--samples": Range(int, 2, 100_000),
    "--calibration-samples": Range(int, 0, 100_000),
    # seeds
    "--seed": _SEED, "--calib-seed": _SEED,
    # training
    "--steps": _STEPS, "--coupled-warmup-steps": Range(int, 0, 10**8), "--save-every": _STEPS,
    "--epochs": Range(float, 0.01, 1000.0), "--lr": Range(float, 1e-8, 10.0),
    "--momentum": Range(float, 0.0, 0.999), "--weight-decay": Range(float, 0.0, 1.0),
    "--clip-grad-norm": Range(float, 0.0, 1e6), "--warmup-epochs": Range(float, 0.0, 1000.0),
    "--label-smoothing": Range(float, 0.0, 0.99), "--ema-decay": Range(float, 0.0, 0.99999),
    "--max-minutes": Range(float, 0.0, 1e6),
    # protocol and search
    "--ladder": Range(int, 2, 64), "--random": Range(int, 0, 100_000),
    "--pop-size": Range(int, 2, 100_000), "--generations": Range(int, 1, 100_000),
    "--random-samples": Range(int, 0, 10**6), "--max-latency": Range(float, 1e-6, 1e6),
    "--max-macs": Range(float, 1e-6, 1e6),
    # environment
    "MOGA_ZOO_CACHE_MAX_MB": Range(float, 0.0, float(2**20)),
}

#: Every environment variable moga_zoo reads, with what it holds (numbers have a :data:`RANGES`
#: entry and are read with :func:`env_number`).
ENVIRONMENT: dict[str, str] = {
    "MOGA_ZOO_CACHE_MAX_MB": "number", "MOGA_ZOO_CACHE": "folder", "MOGA_ZOO_WEIGHTS": "folder",
    "MOGA_ZOO_MANIFEST": "file",
}

#: Generic count types; an option whose flag has a declared range gets that range instead.
positive_int = Range(int, 1, 2**31 - 1)
non_negative_int = Range(int, 0, 2**31 - 1)
_GENERIC = (int, float, positive_int, non_negative_int)


def option_type(flag: str, given: Any) -> Any:
    """The argparse ``type=`` of option ``flag`` declared with ``given``: its :data:`RANGES` entry
    for a plain number type, the given :class:`Range` or parser otherwise; a number type with no
    declared range is a TypeError (declare it in :data:`RANGES`)."""
    if any(given is g for g in _GENERIC):
        declared = RANGES.get(flag)
        kind = given.kind if isinstance(given, Range) else given
        if declared is not None:
            if declared.kind is not kind:
                raise TypeError(f"{flag} is declared as {declared.kind.__name__}, not {kind.__name__}")
            return declared
        if isinstance(given, Range):
            return given
        raise TypeError(f"numeric option {flag} has no declared range: add it to "
                        f"moga_zoo.cli.options.RANGES or give type=Range(...)")
    return given


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), and every numeric option given its
    declared range (:func:`option_type`); subcommands' parsers are of this class too."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        flags = [a for a in args if isinstance(a, str) and a.startswith("--")]
        given = kwargs.get("type")
        if given is None and isinstance(kwargs.get("default"), (int, float)) \
                and not isinstance(kwargs.get("default"), bool) and kwargs.get("action") is None:
            given = type(kwargs["default"])
        if given is not None and (flags or args):
            kwargs["type"] = option_type(flags[0] if flags else str(args[0]), given)
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def env_number(name: str, default: float) -> float:
    """The numeric environment variable ``name`` checked against its declared range (``default``
    when unset or empty); a bad value is a :class:`UsageError` naming the variable."""
    text = os.environ.get(name, "")
    if not text.strip():
        return default
    try:
        return RANGES[name].parse(text)
    except ValueError as e:
        raise UsageError(f"{name} must be a number in {RANGES[name]}: {e}") from None


def _option_kind(annotation: Any) -> tuple[type, bool]:
    """The value type of a field annotation and whether it is optional (``X | None``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"no command-line option for a field of type {annotation}")
        return args[0], True
    return annotation, False


def add_dataclass_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    help_text: Mapping[str, str] | None = None,
    parsers: Mapping[str, Any] | None = None,
) -> None:
    """One ``--field-name`` option per field of the dataclass ``cls``, in field order.

    A field without a default is a required option; ``bool`` fields get ``--x/--no-x``;
    ``X | None`` fields take an ``X`` and default to None; numeric fields get their flag's
    declared range (:func:`option_type`). ``help_text`` adds text (the default is always
    appended); ``parsers`` replaces the parser of a field's values.
    """
    hints = typing.get_type_hints(cls)
    wanted = None if only is None else set(only)
    help_text, parsers = help_text or {}, parsers or {}
    for f in dataclasses.fields(cls):
        if (wanted is not None and f.name not in wanted) or f.name in skip:
            continue
        kind, optional = _option_kind(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        text = help_text.get(f.name, "")
        kw: dict[str, Any] = {"dest": f.name}
        if default is dataclasses.MISSING:
            kw["required"] = True
        else:
            kw["default"] = default
            text = f"{text} (default: {default})".strip() if text else f"default: {default}"
        if kind is bool and not optional:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = option_type(flag, parsers.get(f.name, kind))
            kw["metavar"] = kind.__name__.upper()
        parser.add_argument(flag, help=text, **kw)


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """An instance of the dataclass ``cls`` from the options :func:`add_dataclass_options` added."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**values, **overrides})
