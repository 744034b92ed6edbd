"""Command-line options made from dataclass fields, and argument types that refuse bad values."""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Iterable, Mapping, TypeVar

__all__ = ["add_dataclass_options", "dataclass_from_args", "positive_int", "non_negative_int"]

T = TypeVar("T")


def _option_type(annotation: Any) -> tuple[type, bool]:
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
    ``X | None`` fields take an ``X`` and default to None. ``help_text`` adds text (the default is
    always appended); ``parsers`` replaces the parser of a field's values (e.g. :func:`positive_int`).
    """
    hints = typing.get_type_hints(cls)
    wanted = None if only is None else set(only)
    help_text, parsers = help_text or {}, parsers or {}
    for f in dataclasses.fields(cls):
        if (wanted is not None and f.name not in wanted) or f.name in skip:
            continue
        kind, optional = _option_type(hints[f.name])
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
            kw["type"] = parsers.get(f.name, kind)
            kw["metavar"] = kind.__name__.upper()
        parser.add_argument(flag, help=text, **kw)


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """An instance of the dataclass ``cls`` from the options :func:`add_dataclass_options` added."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**values, **overrides})


def _bounded_int(low: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value
    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


#: argparse ``type=`` for counts that must be at least 1 (threads, batch sizes, samples).
positive_int = _bounded_int(1, "a positive integer")
#: argparse ``type=`` for counts that may be 0.
non_negative_int = _bounded_int(0, "an integer >= 0")
