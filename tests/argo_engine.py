"""What Argo does to a resource template before and after applying it, for tests that read
the output the way Argo would.

- :func:`fill` is the controller's templating of a string field (util/template: fasttemplate
  tags ``{{...}}`` that end at the first ``}}``; simple tags replaced by their value;
  ``{{=...}}`` evaluated with expr-lang and a string result inserted as it is), for the
  subset of expr the compiler writes: string literals, ``+``, ``inputs.parameters['x']``,
  dotted names, integers, ``toJson(x)`` (Go's json.Marshal) and ``sprig.substr``.
- :func:`placeholders` is Argo's validation of a manifest (workflow/validate/validate.go,
  SubstituteResourceManifestExpressions): every ``{{=...}}`` becomes a placeholder.
- :func:`decide` is the executor's verdict on an object (workflow/executor/resource.go,
  matchConditions): conditions parsed as Kubernetes label selectors whose keys are gjson
  paths (apimachinery labels.Parse validates keys as qualified names and values as label
  values), failure requirements first (any one fails), then all success requirements.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

# ---- templating ----------------------------------------------------------------------------


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with every tag replaced; ``values`` maps simple tags (``inputs.parameters.x``,
    ``workflow.uid``) to their text. An unknown simple tag raises, as Argo's strict mode."""
    out = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            out.append(text[position:])
            return "".join(out)
        end = text.find("}}", start + 2)
        assert end >= 0, f"unterminated tag in {text!r}"
        out.append(text[position:start])
        tag = text[start + 2:end]
        if tag.startswith("="):
            result = _Expression(tag[1:], values).evaluate()
            assert isinstance(result, str), result
            out.append(result)
        else:
            out.append(values[tag.strip()])
        position = end + 2


def go_json(value: Any) -> str:
    """Go's json.Marshal of a string or number: HTML characters and U+2028/9 escaped."""
    text = json.dumps(value, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


_TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
                     |(?P<number>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op>[+(),\[\]]))""",
                    re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


def _unescape(body: str) -> str:
    """expr-lang's string literal escapes (parser/lexer/utils.go, unescapeChar)."""
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        code = body[index + 1]
        if code in "uU":
            width = 4 if code == "u" else 8
            out.append(chr(int(body[index + 2:index + 2 + width], 16)))
            index += 2 + width
        elif code in "xX":
            out.append(chr(int(body[index + 2:index + 4], 16)))
            index += 4
        else:
            out.append(_ESCAPES[code])
            index += 2
    return "".join(out)


class _Expression:
    def __init__(self, text: str, values: dict[str, str]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            assert match is not None, f"cannot read {text[position:]!r}"
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.values = values
        self.index = 0

    def evaluate(self) -> Any:
        result = self._sum()
        assert self.index == len(self.tokens), self.tokens[self.index:]
        return result

    def _take(self, op: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.index]
        assert op is None or token == ("op", op), (token, op)
        self.index += 1
        return token

    def _peek(self, op: str) -> bool:
        return self.index < len(self.tokens) and self.tokens[self.index] == ("op", op)

    def _sum(self) -> Any:
        value = self._term()
        while self._peek("+"):
            self._take("+")
            value = value + self._term()
        return value

    def _term(self) -> Any:
        kind, text = self._take()
        if kind == "string":
            return _unescape(text[1:-1])
        if kind == "number":
            return int(text)
        assert kind == "name", text
        if self._peek("("):
            self._take("(")
            arguments = [self._sum()]
            while self._peek(","):
                self._take(",")
                arguments.append(self._sum())
            self._take(")")
            return self._call(text, arguments)
        name = text
        while self._peek("["):
            self._take("[")
            key = self._sum()
            self._take("]")
            name = f"{name}.{key}"
        return self.values[name]

    @staticmethod
    def _call(name: str, arguments: list[Any]) -> Any:
        if name == "toJson":
            return go_json(arguments[0])
        if name == "sprig.substr":
            start, end, text = arguments
            return text[start:end]
        raise AssertionError(f"no function {name} in this model")


def placeholders(manifest: str) -> str:
    """The manifest as Argo's validation reads it: each expression a placeholder."""
    count = 0

    def placeholder(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"placeholder-{count}"

    return re.sub(r"{{\s*=\s*(.+?)\s*}}", placeholder, manifest)


def manifest(template: dict[str, Any], values: dict[str, str]) -> Any:
    """The object a resource template applies, its manifest filled in and parsed."""
    return yaml.safe_load(fill(template["resource"]["manifest"], values))


# ---- conditions ------------------------------------------------------------------------------

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_REQUIREMENT = re.compile(r"^\s*(?P<neg>!)?\s*(?P<key>[^\s!=<>,()]+)\s*"
                          r"(?:(?P<op>==|=|!=|>|<)\s*(?P<value>[^\s,()]*))?\s*$")


def requirements(condition: str) -> list[tuple[str, str, str]]:
    """(key, operator, value) as labels.Parse reads them; invalid keys or values raise."""
    found = []
    for text in condition.split(",") if condition else []:
        match = _REQUIREMENT.match(text)
        assert match, f"labels.Parse refuses {text!r}"
        key, op, value = match["key"], match["op"] or "exists", match["value"] or ""
        prefix, _, name = key.rpartition("/")
        assert len(name) <= 63 and _QUALIFIED_NAME.match(name), f"not a qualified name: {key}"
        assert not prefix or re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", prefix), key
        if match["neg"]:
            assert op == "exists", text
            op = "!exists"
        elif op in (">", "<"):
            int(value)
        elif op != "exists":
            assert len(value) <= 63 and _LABEL_VALUE.match(value), f"not a label value: {value}"
        found.append((key, op, value))
    return found


def _lookup(obj: Any, path: str) -> tuple[bool, str]:
    """gjson's GetBytes(json, path): exists, and the value as Result.String() renders it."""
    node = obj
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False, ""
    if isinstance(node, str):
        return True, node
    if node is None:
        return True, ""
    return True, json.dumps(node, separators=(",", ":"))


def _matches(requirement: tuple[str, str, str], obj: Any) -> bool:
    """labels.Requirement.Matches over gjson lookups."""
    key, op, value = requirement
    found, text = _lookup(obj, key)
    if op == "exists":
        return found
    if op == "!exists":
        return not found
    if op in ("=", "=="):
        return found and text == value
    if op == "!=":
        return not found or text != value
    if not found or not re.fullmatch(r"-?\d+", text):
        return False
    return int(text) > int(value) if op == ">" else int(text) < int(value)


def decide(success: str, failure: str, obj: Any) -> str:
    """``failed``, ``succeeded`` or ``waiting``, as the executor decides on one read."""
    if any(_matches(r, obj) for r in requirements(failure)):
        return "failed"
    if all(_matches(r, obj) for r in requirements(success)):
        return "succeeded"
    return "waiting"
