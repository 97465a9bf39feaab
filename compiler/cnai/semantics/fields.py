"""Which fields each block takes, and readers for literal field values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnai.diagnostics import DiagnosticBag, Label
from cnai.limits import DURATION_MAX_SECONDS, INT32_MAX, QUANTITY_MAX, shown
from cnai.semantics.resolver import close_matches, did_you_mean
from cnai.semantics.settings import BY_CONTEXT, Setting
from cnai.semantics.units import is_quantity, parse_duration, quantity_value
from cnai.source import Span
from cnai.syntax import ast


def assigned(item: ast.Assignment | ast.Block) -> ast.Expr:
    """The value of a field the reader has already checked is ``name = value``."""
    assert isinstance(item, ast.Assignment)
    return item.value


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The values a reader gave (FieldReader.read), those it refused (None) left out: they
    leave the model's own, as the refusal fails the compilation anyway. ``values`` itself
    when none was refused, as is usual."""
    if None in values.values():
        return {attr: value for attr, value in values.items() if value is not None}
    return values


def fill(model: object, values: dict[str, Any]) -> None:
    """Set each attribute ``values`` gives (see given) on ``model``."""
    for attr, value in given(values).items():
        setattr(model, attr, value)


def block_of(item: ast.Assignment | ast.Block) -> ast.Block:
    """A field the reader has already checked is a block."""
    assert isinstance(item, ast.Block)
    return item


# Each context's fields, from the settings' declarations (settings.py); settings written with
# a syntax of their own ("decl": `distributed FRAMEWORK { ... }`) are not fields.
FIELDS: dict[str, dict[str, Setting]] = {
    context: {name: setting for name, setting in settings.items() if setting.is_field}
    for context, settings in BY_CONTEXT.items()}

# Each context's required fields, in FIELDS order (the order missing ones are reported in).
REQUIRED: dict[str, tuple[str, ...]] = {
    context: tuple(name for name, spec in specs.items() if spec.required)
    for context, specs in FIELDS.items()}

# Each context's simple settings (Setting.generic), which FieldReader.read reads.
GENERIC: dict[str, dict[str, Setting]] = {
    context: {name: setting for name, setting in specs.items() if setting.generic}
    for context, specs in FIELDS.items()}

Field = ast.Assignment | ast.Block


class FieldReader:
    """Collects a block's fields, reporting unknown, duplicate and missing ones."""

    def __init__(self, diagnostics: DiagnosticBag) -> None:
        self.diagnostics = diagnostics

    def collect(self, items: Sequence[object], context: str, owner: ast.Ident | None,
                owner_span: Span, report_missing: bool = True) -> dict[str, Field]:
        specs = FIELDS[context]
        found: dict[str, Field] = {}
        misspelled: set[str] = set()  # fields an unknown key was probably meant as
        for item in items:
            if isinstance(item, ast.Assignment):
                key, is_block = item.key, False
            elif isinstance(item, ast.Block):
                key, is_block = item.name, True
            else:
                continue
            if key.quoted:
                self.diagnostics.error("E0201", f"`{context}`'s fields are written without "
                                       "quotes", key.span, "quoted field name",
                                       help=["quoted keys are for labels, annotations and "
                                             "node selectors"])
                continue
            spec = specs.get(key.name)
            if spec is None:
                misspelled.update(self._unknown(key, context, specs))
                continue
            if (spec.kind == "block") != is_block:
                self._wrong_form(key, spec)
                continue
            if key.name in found:
                first = found[key.name]
                first_key = first.key if isinstance(first, ast.Assignment) else first.name
                self.diagnostics.error(
                    "E0110", f"`{key.name}` is set twice", key.span, "set again here",
                    secondary=[Label(first_key.span, "first set here")])
                continue
            found[key.name] = item
        if report_missing:
            for name in REQUIRED[context]:
                # `imgae = ...` was reported with "did you mean `image`?": not missing too.
                if name not in found and name not in misspelled:
                    where = f"`{owner.name}`" if owner else f"this `{context}` block"
                    self.diagnostics.error(
                        "E0106", f"{where} is missing the required field `{name}`",
                        owner.span if owner else owner_span, f"needs `{name} = ...`")
        return found

    def entries(self, block: ast.Block, what: str) -> list[ast.Assignment]:
        """The ``KEY = value`` entries of a block whose keys are the user's (labels, node
        selectors, ...), each key once: anything else is E0201, a key set again E0110."""
        entries: list[ast.Assignment] = []
        seen: dict[str, ast.Ident] = {}
        for item in block.items:
            if not isinstance(item, ast.Assignment):
                self.diagnostics.error("E0201", f"`{block.name.name}` holds `KEY = value` "
                                       "entries", item.span, f"not a {what}")
                continue
            key = item.key
            if key.name in seen:
                self.diagnostics.error(
                    "E0110", f"{what} `{key.name}` is set twice", key.span, "set again",
                    secondary=[Label(seen[key.name].span, "first set here")])
                continue
            seen[key.name] = key
            entries.append(item)
        return entries

    def _unknown(self, key: ast.Ident, context: str, specs: dict[str, Setting]
                 ) -> list[str]:
        """Report an unknown field; return the fields it resembles."""
        close = close_matches(key.name, specs)
        hints = did_you_mean(close)
        if not hints:
            hints = [f"`{context}` takes: " + ", ".join(f"`{n}`" for n in sorted(specs))]
        self.diagnostics.error("E0105", f"unknown field `{key.name}` in {context}", key.span,
                               f"`{context}` has no field `{key.name}`", help=hints)
        return close

    def _wrong_form(self, key: ast.Ident, spec: Setting) -> None:
        if spec.kind == "block":
            self.diagnostics.error("E0201", f"`{key.name}` is a block", key.span,
                                   "expected a block", help=[f"write `{key.name} {{ ... }}`"])
        else:
            self.diagnostics.error("E0201", f"`{key.name}` is a field, not a block", key.span,
                                   "expected a value", help=[f"write `{key.name} = ...`"])

    # ---- literal values ---------------------------------------------------------------

    def read(self, found: dict[str, Field], context: str) -> dict[str, Any]:
        """The simple settings among ``found`` (settings.Setting.generic), each read by its
        declared kind and range: {the IR attribute it fills: its value, None if refused}.
        The others (custom readers, blocks) are left to the caller."""
        values: dict[str, Any] = {}
        generic = GENERIC[context]
        for name, item in found.items():
            setting = generic.get(name)
            if setting is not None:
                values[setting.ir] = self.literal(setting, assigned(item))
        return values

    def literal(self, setting: Setting, expr: ast.Expr) -> object:
        """``expr`` read as ``setting`` declares; None (reported) if it is not one."""
        kind = setting.kind
        if kind == "string":
            text = self.string(expr)
            if text is not None and setting.choices and text not in setting.choices:
                allowed = ", ".join(f'"{c}"' for c in setting.choices)
                self.diagnostics.error(
                    "E0208", f"`{setting.name}` is one of {allowed}", expr.span,
                    f'"{shown(text)}" is not allowed')
                return None
            return text
        if kind == "int":
            return self.integer(expr, setting.minimum, setting.maximum)
        if kind == "bool":
            return self.boolean(expr)
        if kind == "duration":
            return self.duration(expr)
        assert kind == "quantity", kind
        return self.quantity(expr, setting.label or setting.name)

    def _mismatch(self, expr: ast.Expr, expected: str, found: str | None = None) -> None:
        found = found or _describe(expr)
        self.diagnostics.error("E0201", f"expected {expected}, found {found}", expr.span,
                               f"expected {expected}")

    def string(self, expr: ast.Expr) -> str | None:
        if type(expr) is ast.StringLit:
            parts = expr.parts
            if len(parts) == 1 and type(parts[0]) is str:  # the usual string: one piece
                return parts[0]
        if isinstance(expr, ast.StringLit):
            if expr.is_plain:
                return expr.text
            self._mismatch(expr, "a plain string", "an interpolated string")
        else:
            self._mismatch(expr, "a string")
        return None

    def integer(self, expr: ast.Expr, minimum: int = 0, maximum: int = INT32_MAX
                ) -> int | None:
        """A count; Kubernetes and Argo keep counts in 32 bits unless ``maximum`` says."""
        if isinstance(expr, ast.IntLit):
            if expr.value < minimum:
                self.diagnostics.error("E0208", f"`{expr.value}` is below the minimum "
                                       f"{minimum}", expr.span, f"must be >= {minimum}")
                return None
            if expr.value > maximum:
                self.diagnostics.error(
                    "E0208", f"`{expr.value}` is above the maximum {maximum}", expr.span,
                    f"must be <= {maximum}",
                    help=["Kubernetes and Argo hold this number in 32 bits"]
                    if maximum == INT32_MAX else [])
                return None
            return expr.value
        self._mismatch(expr, "an integer")
        return None

    def boolean(self, expr: ast.Expr) -> bool | None:
        if isinstance(expr, ast.BoolLit):
            return expr.value
        self._mismatch(expr, "`true` or `false`")
        return None

    def duration(self, expr: ast.Expr) -> int | None:
        text = self.string(expr)
        if text is None:
            return None
        seconds = parse_duration(text)
        if seconds is None:
            self.diagnostics.error(
                "E0207", f"invalid duration \"{shown(text)}\"", expr.span, "not a duration",
                help=['write a number with a unit: "30s", "5m", "2h", "1d", or "1h30m"'])
        elif seconds > DURATION_MAX_SECONDS:
            self.diagnostics.error(
                "E0208", f"duration \"{shown(text)}\" is too long", expr.span, "out of range",
                help=[f"at most {DURATION_MAX_SECONDS} seconds (68 years): Argo's deadlines "
                      "and Go's durations hold no more"])
            return None
        return seconds

    def quantity(self, expr: ast.Expr, name: str) -> str | None:
        if isinstance(expr, ast.IntLit):
            text = str(expr.value)
        elif isinstance(expr, ast.FloatLit):
            text = repr(expr.value)
        else:
            found = self.string(expr)
            if found is None:
                return None
            text = found
        if not is_quantity(text):
            self.diagnostics.error(
                "E0206", f"invalid {name} quantity \"{text}\"", expr.span,
                "not a Kubernetes quantity",
                help=['examples: "500m" or 2 (cpu), "512Mi" or "64Gi" (memory); binary '
                      "suffixes are Ki Mi Gi Ti Pi Ei, decimal ones k M G T P E"])
            return None
        value = quantity_value(text)
        if not value <= QUANTITY_MAX:  # also inf and nan
            self.diagnostics.error(
                "E0206", f"{name} quantity \"{shown(text)}\" is too large", expr.span,
                "out of range", help=["a Kubernetes quantity is at most 2^63-1 "
                                      "(9223372036854775807)"])
            return None
        if name == "memory" and text.endswith("m"):
            self.diagnostics.warn(
                "W0101", f"memory \"{text}\" is in thousandths of a byte", expr.span,
                "`m` means milli", help=[f'did you mean "{text[:-1]}Mi"?'])
        return text


def _describe(expr: ast.Expr) -> str:
    return {
        ast.StringLit: "a string", ast.IntLit: "an integer", ast.FloatLit: "a number",
        ast.BoolLit: "a boolean", ast.ListLit: "a list", ast.Ref: "a reference",
        ast.Call: "a function call", ast.Compare: "a comparison", ast.BoolOp: "a condition",
        ast.Not: "a condition",
    }.get(type(expr), "an expression")
