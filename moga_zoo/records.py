"""Records read from disk: every JSON file the project reads goes through :func:`read_json`, and
each kind of record is checked against its schema (a pydantic model) by :func:`read_record`.

A file that cannot be read, is not UTF-8 JSON, holds ``NaN``/``Infinity`` (not JSON) or does not
fit its schema is a :class:`RecordError` that names the file and the first field that is wrong,
so a bad record is never mixed into a result. Schemas check values, not only types: finite
numbers, accuracies in [0, 1], positive counts.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MogaZooError, shorten

if TYPE_CHECKING:
    import pydantic

__all__ = ["RecordError", "read_json", "read_record", "check_record", "RECORD_CONFIG"]


class RecordError(MogaZooError, ValueError):
    """A file read from disk that is unreadable or does not fit its schema."""


def _refuse_constant(name: str) -> Any:
    raise RecordError(name)  # NaN, Infinity, -Infinity: Python's json reads them, JSON has none


def _with(hint: str) -> str:
    return f"; {hint}" if hint else ""


def read_json(path: "str | os.PathLike", what: str = "JSON file", hint: str = "") -> Any:
    """The JSON value in ``path``; unreadable, not UTF-8, not JSON (``NaN`` and ``Infinity``
    included) is a :class:`RecordError` naming the file (``hint`` says what to do)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"no {what} at {path}{_with(hint)}") from None
    except UnicodeDecodeError:
        raise RecordError(f"{path} is not a {what}: it is not UTF-8 text (binary data?)"
                          f"{_with(hint)}") from None
    except OSError as e:
        raise RecordError(f"cannot read the {what} {path} ({e.strerror or e}){_with(hint)}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}); the {what} is "
                          f"corrupt or truncated{_with(hint)}") from None
    except RecordError as e:
        raise RecordError(f"{path} holds {e}, which is not JSON; the {what} is corrupt"
                          f"{_with(hint)}") from None
    except RecursionError:
        raise RecordError(f"{path} is nested too deeply to be a {what}{_with(hint)}") from None


def check_record(data: Any, schema: "type[pydantic.BaseModel]", where: str, what: str,
                 hint: str = "") -> Any:
    """``data`` itself if it fits ``schema``, else a :class:`RecordError` naming ``where`` and the
    first field that is wrong."""
    import pydantic

    try:
        schema.model_validate(data)
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "the top level"
        got = "" if first["type"] == "missing" else f" (got {shorten(repr(first.get('input')), 60)})"
        raise RecordError(f"{where} is not a valid {what}: {field}: {first['msg']}{got}"
                          f"{_with(hint)}") from None
    return data


def read_record(path: "str | os.PathLike", schema: "type[pydantic.BaseModel]", what: str,
                hint: str = "") -> Any:
    """The JSON value in ``path``, checked against ``schema`` (returned as read: dicts, lists)."""
    return check_record(read_json(path, what, hint), schema, str(path), what, hint)


#: The configuration of every schema: strict types (no "1" for 1), finite numbers, extra fields
#: allowed (a newer writer may add some).
RECORD_CONFIG: dict[str, Any] = {"strict": True, "allow_inf_nan": False, "extra": "allow"}
