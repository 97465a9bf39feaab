"""Success/failure conditions: Argo's resource-template syntax, plus list filters.

A condition is a comma-separated list of requirements, read like a Kubernetes label
selector whose keys are JSON paths into the object (this is how Argo evaluates
``successCondition``/``failureCondition`` of resource templates)::

    status.phase = Complete
    status.replicaStatuses.Worker.succeeded > 0
    status.phase in (Failed, Error)
    status.conditions[type=Succeeded].status == True, status.completionTime

Requirements: ``path = v`` / ``path == v``, ``path != v``, ``path > n``, ``path < n``,
``path in (a, b)``, ``path notin (a, b)``, ``path`` (exists), ``!path`` (does not exist).

Paths are dot-separated keys; a numeric segment indexes a list (``conditions.0.type``);
``\\.`` is a literal dot in a key (``labels.app\\.kubernetes\\.io/name``). The one
extension over Argo: ``key[field=value]`` selects the first element of list ``key``
whose ``field`` equals ``value`` (``conditions[type=Ready]``).

Values compare as text, the way Argo's gjson lookup renders them: strings as they are,
numbers in their JSON form, booleans as ``true``/``false``, null as the empty string.
``>``/``<`` compare numerically and are false when either side is not a number.

A success condition holds when all its requirements match. A failure condition holds
when any one of its requirements matches (Argo evaluates failure requirements one by
one). A path that does not exist matches only ``!=``, ``notin`` and ``!path``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_PATH = r"(?:\\.|\[[^\]]*\]|[^\s=!<>,()\[\]\\])+"
_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s,()"]+)'
_REQUIREMENT = re.compile(
    rf"""^\s*(?:
        (?P<neg>!)\s*(?P<npath>{_PATH})
      | (?P<path>{_PATH})\s*(?:
            (?P<op>==|=|!=|>|<)\s*(?P<value>{_VALUE})
          | \s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\)
        )?
    )\s*$""",
    re.VERBOSE,
)
_FILTER = re.compile(rf"^(?P<key>(?:\\.|[^\[\]\\])+)\[(?P<field>[^=\]]+)=(?P<value>{_VALUE})\]$")


class ConditionError(ValueError):
    """The condition text does not parse."""


@dataclass(frozen=True)
class Segment:
    key: str
    filter_field: str | None = None
    filter_value: str | None = None


@dataclass(frozen=True)
class Requirement:
    path: tuple[Segment, ...]
    op: str  # "=", "!=", ">", "<", "in", "notin", "exists", "!exists"
    values: tuple[str, ...]
    text: str

    def matches(self, obj: Any) -> bool:
        found, value = resolve(obj, self.path)
        if self.op == "exists":
            return found
        if self.op == "!exists":
            return not found
        if self.op in ("!=", "notin"):
            return not found or render(value) not in self.values
        if not found:
            return False
        if self.op in ("=", "in"):
            return render(value) in self.values
        left, right = _number(render(value)), _number(self.values[0])
        if left is None or right is None:
            return False
        return left > right if self.op == ">" else left < right


@dataclass(frozen=True)
class Condition:
    requirements: tuple[Requirement, ...]
    text: str

    def all_match(self, obj: Any) -> bool:
        """Success semantics: every requirement matches (an empty condition never holds)."""
        return bool(self.requirements) and all(r.matches(obj) for r in self.requirements)

    def any_match(self, obj: Any) -> Requirement | None:
        """Failure semantics: the first requirement that matches, if any."""
        return next((r for r in self.requirements if r.matches(obj)), None)

    def __bool__(self) -> bool:
        return bool(self.requirements)


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return str(json.loads(token))
    return token


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _split_keys(path: str) -> list[str]:
    keys, current, depth, i = [], "", 0, 0
    while i < len(path):
        char = path[i]
        if char == "\\" and i + 1 < len(path):
            current += path[i : i + 2]
            i += 2
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "." and depth == 0:
            keys.append(current)
            current = ""
        else:
            current += char
        i += 1
    keys.append(current)
    return keys


def parse_path(path: str) -> tuple[Segment, ...]:
    segments = []
    for raw in _split_keys(path):
        if not raw:
            raise ConditionError(f"empty segment in path {path!r}")
        match = _FILTER.match(raw)
        if match:
            key = match.group("key").replace("\\.", ".")
            value = _unquote(match.group("value"))
            segments.append(Segment(key, match.group("field").strip(), value))
        elif "[" in raw or "]" in raw:
            raise ConditionError(f"bad list filter {raw!r} (expected key[field=value])")
        else:
            segments.append(Segment(raw.replace("\\.", ".")))
    return tuple(segments)


def _split_requirements(text: str) -> list[str]:
    parts, current, depth, quoted = [], "", 0, False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def parse(text: str) -> Condition:
    """Parse a condition; the empty string gives an empty condition."""
    if not text.strip():
        return Condition((), text)
    requirements = []
    for part in _split_requirements(text):
        values: tuple[str, ...] = ()
        match = _REQUIREMENT.match(part)
        if not match:
            raise ConditionError(f"cannot parse requirement {part.strip()!r} in {text!r}")
        if match.group("neg"):
            path, op = match.group("npath"), "!exists"
        elif match.group("op"):
            op = "=" if match.group("op") == "==" else match.group("op")
            path, values = match.group("path"), (_unquote(match.group("value")),)
            if op in (">", "<") and _number(values[0]) is None:
                raise ConditionError(f"{part.strip()!r}: '{op}' needs a number")
        elif match.group("setop"):
            path, op = match.group("path"), match.group("setop")
            values = tuple(_unquote(v.strip()) for v in match.group("values").split(","))
            if not all(values):
                raise ConditionError(f"{part.strip()!r}: empty value in set")
        else:
            path, op = match.group("path"), "exists"
        requirements.append(Requirement(parse_path(path), op, values, part.strip()))
    return Condition(tuple(requirements), text)


def resolve(obj: Any, path: tuple[Segment, ...]) -> tuple[bool, Any]:
    current = obj
    for segment in path:
        if isinstance(current, dict) and segment.key in current:
            current = current[segment.key]
        elif isinstance(current, list) and segment.key.isdigit():
            index = int(segment.key)
            if index >= len(current):
                return False, None
            current = current[index]
        else:
            return False, None
        if segment.filter_field is not None:
            if not isinstance(current, list):
                return False, None
            current = next(
                (
                    item
                    for item in current
                    if isinstance(item, dict)
                    and segment.filter_field in item
                    and render(item[segment.filter_field]) == segment.filter_value
                ),
                _NOTHING,
            )
            if current is _NOTHING:
                return False, None
    return True, current


_NOTHING = object()


def render(value: Any) -> str:
    """A JSON value as text, the way Argo's gjson ``String()`` renders it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))
