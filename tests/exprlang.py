"""A small evaluator of the expr-lang that Argo runs in ``{{= ... }}`` tags and in
``valueFrom.expression``, for the subset the Argo backend emits, with the functions Argo
gives it. Tests only: it lets a test decide a ``when`` or compute a loop's fan-in the way the
controller does, from the emitted Workflow.

Sources (expr-lang/expr v1.17.8, the version argoproj/argo-workflows v4 pins in go.mod):
- builtin/lib.go: ``int`` (Argo's ``asInt``) parses a string with ``strconv.Atoi`` and
  ``float`` (``asFloat``) with ``strconv.ParseFloat``; both fail on anything else.
- builtin/builtin.go: ``trim`` is ``strings.TrimSpace``; ``fromJSON``; ``len``, ``map``,
  ``filter`` with ``#`` the current element.
- argo-workflows util/expr/env/env.go: ``asInt``, ``asFloat``, ``toJson`` (``json.Marshal``:
  compact, a whole float64 written without a fraction).
A failing function raises ExprError, as the engine fails the node.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from cnai.output_text import GO_SPACE

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>\d+\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!?:()\[\],.\#+])
)""", re.VERBOSE)
_GO_INT = re.compile(r"[+-]?\d+")
_GO_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?i:inf|infinity|nan)")


class ExprError(Exception):
    """The expression fails to evaluate: Argo fails the node."""


def go_atoi(text: str) -> int:
    if not _GO_INT.fullmatch(text):
        raise ExprError(f"invalid operation: int({text})")
    return int(text)


def go_parse_float(text: str) -> float:
    if not _GO_FLOAT.fullmatch(text):
        raise ExprError(f"invalid operation: float({text})")
    return float(text)


def go_json(value: Any) -> str:
    """encoding/json.Marshal, compact; float64 values that are whole print without ``.0``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExprError("json: unsupported value")
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)}:{go_json(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(pairs) + "}"
    raise ExprError(f"cannot marshal {value!r}")


def _expect(kind: type, value: Any, name: str) -> Any:
    if not isinstance(value, kind):
        raise ExprError(f"{name}: {value!r} is not a {kind.__name__}")
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        return go_atoi(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise ExprError(f"invalid operation: int({value!r})")


def _as_float(value: Any) -> float:
    if isinstance(value, str):
        return go_parse_float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ExprError(f"invalid operation: float({value!r})")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": _as_int,
    "asFloat": _as_float,
    "trim": lambda s: _expect(str, s, "trim").strip(GO_SPACE),
    "toJson": go_json,
    "fromJSON": lambda s: json.loads(_expect(str, s, "fromJSON")),
    "len": lambda v: len(v),
    # util/expr/env/env.go: jsonPath unmarshals the text and queries it; the compiler writes
    # only `$.FIELD` paths (a record's field), which is all this emulates.
    "jsonpath": lambda s, path: _json_field(_expect(str, s, "jsonpath"), path),
}


def _json_field(text: str, path: str) -> Any:
    if not path.startswith("$.") or "." in path[2:]:
        raise ExprError(f"unsupported jsonpath {path!r}")
    value = json.loads(text)
    if not isinstance(value, dict) or path[2:] not in value:
        raise ExprError(f"jsonpath {path!r} finds nothing in {text!r}")
    return value[path[2:]]


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """The value of ``text``; ``env`` maps top-level names (``tasks``, ``inputs``,
    ``workflow``) to nested dicts, as Argo expands its flat scope (util/expand)."""
    tokens: list[tuple[str | None, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExprError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind or "op")))
        position = match.end()
    parser = _Parser(tokens, env)
    value = parser.ternary()
    if parser.position != len(tokens):
        raise ExprError(f"unexpected {tokens[parser.position][1]!r} in {text!r}")
    return value


_LAZY = object()


class _Parser:
    """Parses and evaluates at once; the arguments of ``map``/``filter`` and the branches of
    ``?:`` are parsed as closures."""

    def __init__(self, tokens: list[tuple[str | None, str]], env: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.position = 0
        self.env = env

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str | None, str]:
        if self.position >= len(self.tokens):
            raise ExprError("unexpected end")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise ExprError(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    # Each level returns a thunk so that closures (map/filter bodies, ternary branches) can
    # be evaluated later, per element, or not at all.
    def ternary(self) -> Any:
        return self._ternary()(None)

    def _ternary(self) -> Callable[[Any], Any]:
        condition = self._or()
        if self.peek() != "?":
            return condition
        self.take("?")
        yes = self._ternary()
        self.take(":")
        no = self._ternary()
        return lambda it: yes(it) if _expect(bool, condition(it), "?:") else no(it)

    def _or(self) -> Callable[[Any], Any]:
        left = self._and()
        while self.peek() == "||":
            self.take()
            right, first = self._and(), left
            left = (lambda a, b: lambda it: _expect(bool, a(it), "||") or
                    _expect(bool, b(it), "||"))(first, right)
        return left

    def _and(self) -> Callable[[Any], Any]:
        left = self._compare()
        while self.peek() == "&&":
            self.take()
            right, first = self._compare(), left
            left = (lambda a, b: lambda it: _expect(bool, a(it), "&&") and
                    _expect(bool, b(it), "&&"))(first, right)
        return left

    def _compare(self) -> Callable[[Any], Any]:
        left = self._additive()
        op = self.peek()
        if op not in ("==", "!=", "<", "<=", ">", ">=", "in"):
            return left
        self.take()
        right = self._additive()
        return lambda it: _binary(op, left(it), right(it))

    def _additive(self) -> Callable[[Any], Any]:
        left = self._unary()
        while self.peek() == "+":
            self.take()
            right, first = self._unary(), left
            left = (lambda a, b: lambda it: a(it) + b(it))(first, right)
        return left

    def _unary(self) -> Callable[[Any], Any]:
        if self.peek() == "!":
            self.take()
            operand = self._unary()
            return lambda it: not _expect(bool, operand(it), "!")
        return self._postfix()

    def _postfix(self) -> Callable[[Any], Any]:
        value = self._primary()
        while self.peek() in ("[", "."):
            if self.take()[1] == "[":
                index = self._ternary()
                self.take("]")
                value = (lambda v, i: lambda it: _index(v(it), i(it)))(value, index)
            else:
                name = self.take()[1]
                value = (lambda v, n: lambda it: _index(v(it), n))(value, name)
        return value

    def _primary(self) -> Callable[[Any], Any]:
        kind, text = self.take()
        if kind == "number":
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return lambda it: number
        if kind == "string":
            literal = _unquote(text)
            return lambda it: literal
        if text == "#":
            return lambda it: it
        if text == "(":
            inner = self._ternary()
            self.take(")")
            return inner
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self._ternary())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return lambda it: [item(it) for item in items]
        if kind != "name":
            raise ExprError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return lambda it: text == "true"
        if text in ("map", "filter"):
            self.take("(")
            array = self._ternary()
            self.take(",")
            body = self._ternary()
            self.take(")")
            if text == "map":
                return lambda it: [body(e) for e in _expect(list, array(it), "map")]
            return lambda it: [e for e in _expect(list, array(it), "filter")
                               if _expect(bool, body(e), "filter")]
        if self.peek() == "(":
            self.take("(")
            arguments = []
            while self.peek() != ")":
                arguments.append(self._ternary())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            function = FUNCTIONS[text]
            return lambda it: function(*[a(it) for a in arguments])
        env = self.env
        return lambda it: env.get(text)


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "'": "'", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if code[0] in "uU" and len(code) > 1 else _SIMPLE[code]

    return _ESCAPE.sub(escape, text[1:-1])


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key)  # a missing key is nil in expr-lang
    if isinstance(value, list) and isinstance(key, int):
        if not -len(value) <= key < len(value):
            raise ExprError(f"index out of range: {key}")
        return value[key]
    raise ExprError(f"cannot index {value!r} with {key!r}")


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "in":
        return left in _expect(list, right, "in")
    if op == "==":  # numbers compare across int and float; a bool equals only a bool
        return isinstance(left, bool) == isinstance(right, bool) and left == right
    if op == "!=":
        return not _binary("==", left, right)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not (numbers or all(isinstance(v, str) for v in (left, right))):
        raise ExprError(f"invalid operation: {left!r} {op} {right!r}")
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
