"""The one place documents become text: block-style YAML, keys sorted with ``name`` first,
literal block scalars for multi-line strings, deterministic to the byte.

Why not PyYAML's dumper: at 1,000 steps its Python representer took 0.8 s, most of the
compile. Our documents are plain JSON data (dicts, lists, str, int, float, bool, None), for
which an emitter is short. Strings are quoted whenever YAML 1.1 or 1.2 could read them as
anything else, so PyYAML (KFP), Go's yaml (Argo, kubectl) and JSON-minded tools agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from cnai.backends.verbatim import Verbatim

# Plain (unquoted) only if it looks like an identifier, path or URL and starts with a letter or
# `/`: a leading digit, sign or dot could be a number, date or time in YAML 1.1.
_PLAIN = re.compile(r"^[A-Za-z/_][A-Za-z0-9_./@+=,~-]*(?::[A-Za-z0-9_./@+=,~-]+)*$")
_RESERVED = frozenset(
    word for base in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for word in (base, base.capitalize(), base.upper())) | {"~"}


def _string(text: str) -> str:
    if _PLAIN.fullmatch(text) and text not in _RESERVED:
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def _double_quoted(text: str) -> str:
    """YAML's double-quoted style: escapes for quotes, backslashes and non-printables."""
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _literal_block(text: str, indent: str) -> str | None:
    """``|`` / ``|-`` block for multi-line text that a block scalar keeps exactly."""
    body = text[:-1] if text.endswith("\n") else text
    lines = body.split("\n")
    if (text.endswith("\n\n") or not lines[0] or lines[0][0] in " \t"
            or any(not line.isprintable() or line != line.rstrip() for line in lines)):
        return None
    header = "|" if text.endswith("\n") else "|-"
    return header + "".join(f"\n{indent}{line}" if line else "\n" for line in lines)


def _scalar(value: Any, indent: str) -> str:
    if isinstance(value, Verbatim):
        assert "\n" not in value, value
        return str(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        if "\n" in value:
            block = _literal_block(value, indent)
            if block is not None:
                return block
        return _string(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 floats need the dot
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _emit(value: Any, indent: str, out: list[str]) -> None:
    """Append ``value`` as the block content that follows ``key:`` or ``- ``."""
    if isinstance(value, dict):
        if not value:
            out.append(" {}\n")
            return
        out.append("\n")
        _mapping(value, indent, out)
    elif isinstance(value, list):
        if not value:
            out.append(" []\n")
            return
        out.append("\n")
        _sequence(value, indent, out)
    elif value.__class__ is str:
        out.append(_LINES.get(value) or _line(value, indent))
    else:
        out.append(" " + _scalar(value, indent) + "\n")


# Memos of the text of keys and one-line strings: a large pipeline repeats both (every task
# has `componentRef`, `taskInfo`, types like NUMBER_DOUBLE), and quoting is the costly part.
# A key's line start is kept per indentation, the indentation included, so that writing a
# key is one look-up and one piece: _LEVELS maps an indentation to those labels and to the
# indentation of the values under them.
_LEVELS: dict[str, tuple[dict[str, str], str]] = {}
_LINES: dict[str, str] = {}


def _line(value: str, indent: str) -> str:
    """`` value\n`` for a ``str`` (memoized when it has no line break, which a block scalar
    would indent)."""
    if "\n" in value:
        return " " + _scalar(value, indent) + "\n"
    text = _LINES[value] = " " + _string(value) + "\n"
    return text


def _label(key: str, indent: str) -> str:
    """``key:`` at ``indent``, the indentation included."""
    label = _string(str(key))
    if len(label) < _IMPLICIT_KEY_MAX:
        return f"{indent}{label}:"
    return f"{indent}? {label}\n{indent}:"


def _mapping(value: dict[str, Any], indent: str, out: list[str], first: str | None = None) -> None:
    """The keys, ``name`` first and the rest sorted. The common values (one-line strings,
    mappings, lists, booleans) are written here rather than through _emit: this runs for
    every mapping of the documents, and a call per value was most of its time."""
    level = _LEVELS.get(indent)
    if level is None:
        level = _LEVELS[indent] = ({}, indent + "  ")
    labels, nested = level
    keys = sorted(value)
    if "name" in value and keys[0] != "name":
        keys.remove("name")
        keys.insert(0, "name")
    for key in keys:
        label = labels.get(key)
        if label is None:
            label = labels[key] = _label(key, indent)
        if first is not None:  # the first key of a list item follows its `- `
            label = first + label[len(indent):]
            first = None
        out.append(label)
        item = value[key]
        kind = item.__class__
        if kind is str:
            out.append(_LINES.get(item) or _line(item, nested))
        elif kind is dict:
            if item:
                out.append("\n")
                _mapping(item, nested, out)
            else:
                out.append(" {}\n")
        elif kind is list:
            # Lists under a key sit at the key's indentation, as kubectl and PyYAML write them.
            if item:
                out.append("\n")
                _sequence(item, indent, out)
            else:
                out.append(" []\n")
        elif kind is bool:
            out.append(" true\n" if item else " false\n")
        else:  # numbers and None
            _emit(item, nested, out)


# YAML keeps an implicit key to one line of at most 1024 characters (YAML 1.2, 7.4: "the
# key is restricted to a single line ... not exceed 1024 Unicode characters"; PyYAML refuses
# a longer one). A longer key is written as an explicit one, `? key` then `: value`.
_IMPLICIT_KEY_MAX = 1024


def _sequence(value: list[Any], indent: str, out: list[str]) -> None:
    nested = indent + "  "
    dash = indent + "-"
    first = indent + "- "
    for item in value:
        if item.__class__ is str:
            out.append(dash)
            out.append(_LINES.get(item) or _line(item, nested))
        elif isinstance(item, dict) and item:
            _mapping(item, nested, out, first)
        else:
            out.append(dash)
            _emit(item, nested, out)
        if len(out) > _CHUNK:  # no caller holds a position in ``out``: it only appends
            _CHUNKS.append("".join(out))
            out.clear()


# The pieces are joined every _CHUNK of them: a list of pieces takes eight bytes each and a
# 10,000-step pipeline makes two million, more memory than the text they join into.
_CHUNK = 1 << 16
_CHUNKS: list[str] = []


def to_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """Documents as one YAML stream, ``---`` between them; byte-identical for equal input."""
    _LEVELS.clear()  # the memos live for one call: a long-lived process does not grow them
    _LINES.clear()
    parts = []
    for document in documents:
        out: list[str] = []
        _mapping(document, "", out)
        _CHUNKS.append("".join(out))
        out.clear()
        parts.append(_CHUNKS[0] if len(_CHUNKS) == 1 else "".join(_CHUNKS))
        _CHUNKS.clear()
        if not parts[-1]:
            parts[-1] = "{}\n"
    # One document (the common case) is returned as it is, not copied by a join.
    return parts[0] if len(parts) == 1 else "---\n".join(parts)
