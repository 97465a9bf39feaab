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
    elif value.__class__ is str and "\n" not in value:
        out.append(_plain_line(value))
    else:
        out.append(" " + _scalar(value, indent) + "\n")


# Memos of the text of keys and one-line strings: a large pipeline repeats both (every task
# has `componentRef`, `taskInfo`, types like NUMBER_DOUBLE), and quoting is the costly part.
_KEYS: dict[str, str] = {}
_LINES: dict[str, str] = {}


def _plain_line(value: str) -> str:
    """`` value\n`` for a string without a line break."""
    text = _LINES.get(value)
    if text is None:
        text = _LINES[value] = " " + _string(value) + "\n"
    return text


def _sorted_keys(value: dict[str, Any]) -> list[str]:
    """Keys in order: ``name`` first, then the rest sorted."""
    keys = sorted(value)
    if "name" in value and keys[0] != "name":
        keys.remove("name")
        keys.insert(0, "name")
    return keys


def _mapping(value: dict[str, Any], indent: str, out: list[str], first: str | None = None) -> None:
    nested = indent + "  "
    for index, key in enumerate(_sorted_keys(value)):
        item = value[key]
        prefix = first if (first is not None and index == 0) else indent
        label = _KEYS.get(key)
        if label is None:
            label = _string(str(key))
            if len(label) < _IMPLICIT_KEY_MAX:
                label = _KEYS[key] = label + ":"
            else:  # written at this indentation, so not memoized
                label = f"? {label}\n{indent}:"
        out.append(prefix + label)
        # Lists under a key sit at the key's indentation, as kubectl and PyYAML write them.
        _emit(item, indent if isinstance(item, list) else nested, out)


# YAML keeps an implicit key to one line of at most 1024 characters (YAML 1.2, 7.4: "the
# key is restricted to a single line ... not exceed 1024 Unicode characters"; PyYAML refuses
# a longer one). A longer key is written as an explicit one, `? key` then `: value`.
_IMPLICIT_KEY_MAX = 1024


def _sequence(value: list[Any], indent: str, out: list[str]) -> None:
    for item in value:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", out, first=indent + "- ")
        else:
            out.append(f"{indent}-")
            _emit(item, indent + "  ", out)
        if len(out) > _CHUNK:  # no caller holds a position in ``out``: it only appends
            _CHUNKS.append("".join(out))
            out.clear()


# The pieces are joined every _CHUNK of them: a list of pieces takes eight bytes each and a
# 10,000-step pipeline makes two million, more memory than the text they join into.
_CHUNK = 1 << 16
_CHUNKS: list[str] = []


def to_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """Documents as one YAML stream, ``---`` between them; byte-identical for equal input."""
    _KEYS.clear()  # the memos live for one call: a long-lived process does not grow them
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
