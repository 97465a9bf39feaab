"""Values as text and back: ``-p name=value`` overrides, and the outputs steps write.

The text of a value is what the backends pass (runtime_images/README.md, "Value encoding"):
ints in decimal, floats as Python's shortest ``repr``, ``true``/``false``, lists as JSON.
Reading follows the same contract's readers: numbers and bools may have surrounding
whitespace, an int may be written ``90.0``, bools may be ``True``/``False``/``1``/``0``, and
a list of numbers may hold them as strings (what Argo's fan-in gives).
"""

from __future__ import annotations

import difflib
import json
import math
import re

from cnai.backends.argo import param_text
from cnai.semantics import ir
from cnai.usage import UsageError

JSON = ir.JSONValue
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = ("true", "True", "1"), ("false", "False", "0")


def value_text(value: JSON) -> str:
    """The text a step receives for a value (the same as the Argo backend's)."""
    return param_text(value)


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
    raise ValueError(f"{_show(text)} is not {_article(type_)}")


def _item(value: JSON, type_: ir.Type) -> JSON:
    """One element of a JSON list, checked against the list's item type."""
    if type_.name == "list":
        if not isinstance(value, list):
            raise ValueError(f"{json.dumps(value)} is not a list")
        assert type_.item is not None
        return [_item(item, type_.item) for item in value]
    if isinstance(value, str) and type_.name != "string":
        return parse_value(value, type_)
    fits = {"string": isinstance(value, str), "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool)}
    if fits.get(type_.name, False):
        return float(value) if type_.name == "float" else value  # type: ignore[arg-type]
    raise ValueError(f"{json.dumps(value)} is not {_article(type_)}")


def _float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _article(type_: ir.Type) -> str:
    text = str(type_)
    return f"an {text}" if text[0] in "aeiou" else f"a {text}"


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def resolve_params(pipeline: ir.Pipeline, given: dict[str, str]) -> dict[str, JSON]:
    """Every param's value: its default, or the ``-p`` text read as the param's type."""
    declared = {p.name: p for p in pipeline.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        what = f"unknown param `{unknown[0]}`"
        if not declared:
            raise UsageError(f"{what}: the pipeline declares no params")
        listing = ", ".join(f"{p.name}: {p.type}" for p in pipeline.params)
        close = difflib.get_close_matches(unknown[0], list(declared), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise UsageError(f"{what}; the pipeline's params are {listing}{hint}")
    values: dict[str, JSON] = {}
    missing = []
    for param in pipeline.params:
        if param.name in given:
            try:
                values[param.name] = parse_value(given[param.name], param.type)
            except ValueError as error:
                example = " (a JSON list, e.g. '[1, 2]')" if param.type.name == "list" else ""
                raise UsageError(f"-p {param.name}: {error}, expected {_article(param.type)}"
                                 f"{example}") from None
        elif param.default is not None:
            values[param.name] = param.default
        else:
            missing.append(param.name)
    if missing:
        flags = " ".join(f"-p {name}=VALUE" for name in missing)
        raise UsageError(f"no value for {', '.join(f'`{n}`' for n in missing)}; pass {flags}")
    return values
