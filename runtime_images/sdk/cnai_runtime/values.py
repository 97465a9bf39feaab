"""Text encoding of typed step parameters, identical on Argo and Kubeflow Pipelines.

One value is one text file (an output) or one environment variable (an input):

=========  ===================================================  ==================
type       text                                                 example
=========  ===================================================  ==================
``int``    decimal digits, optional leading ``-``               ``90``
``float``  shortest round-trip decimal (Python ``repr``)        ``0.93``, ``1e-05``
``bool``   ``true`` or ``false``                                ``true``
``str``    the string itself, no trailing newline added         ``resnet``
``list``   compact JSON array                                   ``[0.1,0.01]``
``dict``   compact JSON object                                  ``{"a":1}``
=========  ===================================================  ==================

Non-finite floats (``nan``, ``inf``) are rejected: neither Argo's expression
language nor the KFP launcher's JSON decoding reads them back as numbers.
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any, TypeVar, cast

T = TypeVar("T")

# Go's strconv.ParseBool, as Kubeflow's launcher and cnai's gates read a bool output.
_TRUE = frozenset({"true", "True", "TRUE", "t", "T", "1"})
_FALSE = frozenset({"false", "False", "FALSE", "f", "F", "0"})


class ValueFormatError(ValueError):
    """A value cannot be encoded, or a text cannot be decoded as the requested type."""


def _check_json(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueFormatError(f"{where}: non-finite float {value!r} cannot be encoded")
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueFormatError(f"{where}: dict keys must be strings, got {key!r}")
            _check_json(item, where)
    elif not (value is None or isinstance(value, str | int | float | bool)):
        raise ValueFormatError(f"{where}: {type(value).__name__} is not JSON-encodable")


def format_value(value: object) -> str:
    """Encode ``value`` as the text stored in an output file or passed as an input."""
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueFormatError(f"non-finite float {value!r} cannot be written as an output")
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | dict):
        _check_json(value, "output")
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    # numpy scalars and similar: use their Python equivalent when they have one.
    item = getattr(value, "item", None)
    if callable(item):
        plain = item()
        if type(plain) in (bool, int, float, str):
            return format_value(plain)
    raise ValueFormatError(
        f"cannot encode {type(value).__name__} as a step output "
        "(supported: int, float, bool, str, list, dict)"
    )


def _parse_int(text: str) -> int:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    # KFP renders integer inputs through float formatting on some paths ("90" or "90.0").
    try:
        number = float(stripped)
    except ValueError:
        raise ValueFormatError(f"expected an integer, got {text!r}") from None
    if not number.is_integer():
        raise ValueFormatError(f"expected an integer, got {text!r}")
    return int(number)


def _parse_float(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueFormatError(f"expected a number, got {text!r}") from None
    if not math.isfinite(number):
        raise ValueFormatError(f"expected a finite number, got {text!r}")
    return number


def _parse_bool(text: str) -> bool:
    stripped = text.strip()
    if stripped in _TRUE:
        return True
    if stripped in _FALSE:
        return False
    raise ValueFormatError(f"expected true or false, got {text!r}")


def _parse_json(text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueFormatError(f"expected a JSON {kind.__name__}, got {text!r}: {exc}") from None
    if not isinstance(value, kind):
        raise ValueFormatError(f"expected a JSON {kind.__name__}, got {text!r}")
    return value


_SCALARS: dict[type, typing.Callable[[str], Any]] = {
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
    str: lambda text: text,
}


def parse_value(text: str, type_: type[T] | Any = str) -> T:
    """Decode ``text`` as ``type_``: ``int``, ``float``, ``bool``, ``str``, ``list``,
    ``dict``, or a parametrised ``list[X]`` / ``dict[str, X]`` with scalar ``X``."""
    origin = typing.get_origin(type_)
    if origin is None:
        if type_ in _SCALARS:
            return cast(T, _SCALARS[type_](text))
        if type_ in (list, dict):
            return cast(T, _parse_json(text, type_))
        raise ValueFormatError(f"unsupported input type {type_!r}")
    if origin is types.UnionType or origin is typing.Union:
        raise ValueFormatError(f"unsupported input type {type_!r}")
    args = typing.get_args(type_)
    if origin is list and len(args) == 1 and args[0] in _SCALARS:
        items = _parse_json(text, list)
        return cast(T, [_coerce(item, args[0]) for item in items])
    if origin is dict and len(args) == 2 and args[0] is str and args[1] in _SCALARS:
        mapping = _parse_json(text, dict)
        return cast(T, {key: _coerce(item, args[1]) for key, item in mapping.items()})
    raise ValueFormatError(f"unsupported input type {type_!r}")


def _coerce(item: Any, kind: type) -> Any:
    """Convert one decoded JSON element to ``kind`` (Argo fan-in lists hold strings)."""
    if kind is str:
        return item if isinstance(item, str) else format_value(item)
    if isinstance(item, str):
        return _SCALARS[kind](item)
    if kind is bool:
        if isinstance(item, bool):
            return item
        raise ValueFormatError(f"expected a bool element, got {item!r}")
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise ValueFormatError(f"expected a {kind.__name__} element, got {item!r}")
    if kind is int:
        return _parse_int(repr(item))
    return float(item)
