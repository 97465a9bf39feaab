"""Reading a value of a cnai type from its text: ``-p name=value`` on `cnai run` and `cnai
submit`, and the outputs steps write.

This is the reading half of the contract in runtime_images/README.md ("Value encoding"), so
every command and the runtime images accept the same texts: numbers and bools may have
surrounding whitespace, an int may be written ``90.0``, bools may be ``true``/``false``,
``True``/``False`` or ``1``/``0``, lists are JSON, and a list of numbers may hold them as
strings (what Argo's fan-in gives). Non-finite floats are refused.
"""

from __future__ import annotations

import json
import math
import re

from cnai.semantics import ir

JSON = ir.JSONValue
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = ("true", "True", "1"), ("false", "False", "0")


def parse_value(text: str, type_: ir.Type) -> JSON:
    """A value of ``type_`` read from its text; ValueError says what is wrong."""
    name = type_.name
    if name == "list":
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f"{_show(text)} is not a JSON list") from None
        if not isinstance(value, list):
            raise ValueError(f"{_show(text)} is not a JSON list")
        assert type_.item is not None
        return [_item(item, type_.item) for item in value]
    if name == "record":
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f"{_show(text)} is not a JSON object") from None
        return _record(value, type_)
    if name == "string":
        return text
    stripped = text.strip()
    if name == "int":
        if _INTEGER.fullmatch(stripped):
            return int(stripped)
        number = _float(stripped)
        if number is not None and number.is_integer():
            return int(number)
    elif name == "float":
        number = _float(stripped)
        if number is not None:
            return number
    elif name == "bool" and stripped in _TRUE + _FALSE:
        return stripped in _TRUE
    raise ValueError(f"{_show(text)} is not {article(type_)}")


def _item(value: JSON, type_: ir.Type) -> JSON:
    """One element of a JSON list, checked against the list's item type."""
    if type_.name == "list":
        if not isinstance(value, list):
            raise ValueError(f"{json.dumps(value)} is not a list")
        assert type_.item is not None
        return [_item(item, type_.item) for item in value]
    if type_.name == "record":
        return _record(value, type_)
    if isinstance(value, str) and type_.name != "string":
        return parse_value(value, type_)
    fits = {"string": isinstance(value, str), "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool)}
    if fits.get(type_.name, False):
        return float(value) if type_.name == "float" else value  # type: ignore[arg-type]
    raise ValueError(f"{json.dumps(value)} is not {article(type_)}")


def _record(value: JSON, type_: ir.Type) -> JSON:
    """A JSON object with exactly the record's fields, each read as its type, in the
    declared order."""
    wanted = dict(type_.fields or ())
    if not isinstance(value, dict) or value.keys() != wanted.keys():
        raise ValueError(f"{json.dumps(value)} is not {article(type_)}")
    return {name: _item(value[name], field_type) for name, field_type in wanted.items()}


def _float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def article(type_: ir.Type) -> str:
    text = str(type_)
    return f"an {text}" if text[0] in "aeiou" else f"a {text}"


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def parse_param(text: str, type_: ir.Type) -> JSON:
    """A ``-p`` value (`cnai run` and `cnai submit` alike): :func:`parse_value`, except that a
    bool's ``true``/``false`` may be in any case (``TRUE``), as people type them. The value is
    passed on in the contract's form, so steps never see the difference."""
    if type_.name == "bool" and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return parse_value(text, type_)
