"""Run a Python function as a cnai step: ``python3 -m cnai_runtime.function``.

The compiler writes the command line (cnai/semantics/pyfunctions.py)::

    python3 -m cnai_runtime.function FUNCTION [KIND:TYPE NAME VALUE]... SOURCE_FILE

``KIND`` is ``in`` (a parameter: its text, decoded as ``TYPE``; an artifact's path for
an artifact type), ``out`` (an ``Output[T]`` parameter: the path to write) or ``ret`` (a
return value: the path its text is written to; ``NAME`` is the field of a NamedTuple, or
``Output`` for a single value). ``SOURCE_FILE`` is the function's file, staged by the engine;
a file whose first line is ``# cnai: base64`` holds the source in base64 (the compiler
embeds it so when the engine would change ``{{`` or ``$`` in it).

The file is loaded as a module (not as ``__main__``: an ``if __name__ == "__main__"`` block
does not run), then the function is called with keyword arguments and its return value
written in the shared text encoding (:mod:`cnai_runtime.values`).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnai_runtime.artifacts import ARTIFACT_TYPES
from cnai_runtime.values import format_value, parse_value

STAGED_BASE64 = "# cnai: base64"
SINGLE_OUTPUT = "Output"
SCALARS: dict[str, Any] = {"string": str, "int": int, "float": float, "bool": bool}


class UsageError(Exception):
    pass


def load_source(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.strip() == STAGED_BASE64:
        return base64.b64decode("".join(rest.split())).decode("utf-8")
    return text


def load_function(path: Path, name: str) -> Any:
    source = load_source(path)
    module_name = path.stem if path.stem.isidentifier() else "cnai_function"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    exec(compile(source, str(path), "exec"), module.__dict__)  # the step's own code
    function = getattr(module, name, None)
    if not callable(function):
        raise UsageError(f"{path} has no function `{name}`")
    return function


def decode(type_text: str, text: str) -> Any:
    """A parameter's text as the function's annotation reads it: a scalar by the shared
    encoding, a list of scalars item by item, a record (a dict) or a list of records as
    JSON."""
    if type_text in SCALARS:
        return parse_value(text, SCALARS[type_text])
    item = SCALARS.get(type_text.removeprefix("list[").removesuffix("]"))
    if type_text.startswith("list[") and item is not None:
        return parse_value(text, list[item])  # type: ignore[valid-type]
    if type_text == "record" or type_text.startswith("list["):
        return json.loads(text)
    raise UsageError(f"unknown type {type_text!r}")


Returns = list[tuple[str, str, str]]  # (name, type, path) of each return value


def parse(argv: Sequence[str]) -> tuple[str, Path, dict[str, Any], Returns]:
    """(function, source file, keyword arguments, returns)."""
    if len(argv) < 2 or (len(argv) - 2) % 3:
        raise UsageError("usage: python -m cnai_runtime.function FUNCTION "
                         "[KIND:TYPE NAME VALUE]... SOURCE_FILE")
    function, *groups, source = argv
    arguments: dict[str, Any] = {}
    returns: Returns = []
    for index in range(0, len(groups), 3):
        kind_type, name, value = groups[index:index + 3]
        kind, _, type_text = kind_type.partition(":")
        if kind == "ret":
            returns.append((name, type_text, value))
        elif type_text in ARTIFACT_TYPES:
            if kind == "out":
                Path(value).parent.mkdir(parents=True, exist_ok=True)
            arguments[name] = ARTIFACT_TYPES[type_text](name, value)
        elif kind == "in":
            arguments[name] = decode(type_text, value)
        else:
            raise UsageError(f"unknown argument kind {kind_type!r}")
    return function, Path(source), arguments, returns


def write_returns(result: Any, returns: Returns, function: str) -> None:
    for name, _, path in returns:
        if name == SINGLE_OUTPUT and len(returns) == 1:
            value = result
        elif isinstance(result, dict):
            value = result[name]
        else:
            value = getattr(result, name)
        if value is None:
            raise UsageError(f"`{function}` returned no value for output {name!r}")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(format_value(value), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        given = list(sys.argv[1:] if argv is None else argv)
        name, source, arguments, returns = parse(given)
        function = load_function(source, name)
    except (UsageError, OSError, ValueError) as error:
        print(f"cnai_runtime.function: {error}", file=sys.stderr)
        return 2
    result = function(**arguments)
    try:
        write_returns(result, returns, name)
    except (UsageError, AttributeError, KeyError, ValueError) as error:
        print(f"cnai_runtime.function: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
