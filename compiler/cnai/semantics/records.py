"""Records and metrics types: ``{lr: float, batch: int}``, record literals ``{lr: 0.1, batch:
32}``, and ``metrics {accuracy: float}`` outputs (docs/language.md, "Records" and "Metrics").

A record's fields are scalars or lists of scalars: records do not nest, so every field is one
step from the record's JSON on both targets (Argo's ``jsonpath(..., '$.FIELD')``, Kubeflow's
``parseJson(string_value)["FIELD"]``).
"""

from __future__ import annotations

from collections.abc import Callable

from cnai.contract import param_text
from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import ir, types
from cnai.semantics.resolver import suggest
from cnai.syntax import ast

# Types a metrics output's declared scalars may have: numbers, as Kubeflow shows them.
METRIC_TYPES = ("float", "int")

TypeOf = Callable[[ast.TypeExpr, bool], "ir.Type | None"]
Constant = Callable[[ast.Expr], "tuple[ir.JSONValue, ir.Type | None]"]


def braced_type(expr: ast.TypeExpr, type_of: TypeOf,
                diagnostics: DiagnosticBag) -> ir.Type | None:
    """The type of ``{...}`` or ``metrics {...}``; other names with braces are refused."""
    assert expr.fields is not None
    name = expr.name.name
    if name not in ("record", "metrics"):
        diagnostics.error("E0202", f"`{name}` takes no fields", expr.span, "unexpected `{...}`",
                          help=["a record is `{lr: float, batch: int}`; a metrics output "
                                "declares its scalars as `metrics {accuracy: float}`"])
        return None
    if not expr.fields:
        diagnostics.error("E0202", "a record type needs at least one field", expr.span,
                          "no fields", help=["e.g. `{lr: float, batch: int}`"])
        return None
    fields: list[tuple[str, ir.Type]] = []
    seen: dict[str, ast.FieldType] = {}
    ok = True
    for field in expr.fields:
        first = seen.get(field.name.name)
        if first is not None:
            diagnostics.error("E0101", f"field `{field.name.name}` is declared twice",
                              field.name.span, "second declaration",
                              secondary=[Label(first.name.span, "first declared here")])
            ok = False
            continue
        seen[field.name.name] = field
        field_type = type_of(field.type, False)
        if field_type is None or not _field_type_ok(name, field, field_type, diagnostics):
            ok = False
        else:
            fields.append((field.name.name, field_type))
    if not ok:
        return None
    return ir.Type(name="metrics" if name == "metrics" else "record", fields=tuple(fields))


def _field_type_ok(kind: str, field: ast.FieldType, field_type: ir.Type,
                   diagnostics: DiagnosticBag) -> bool:
    if kind == "metrics" and field_type.name not in METRIC_TYPES:
        diagnostics.error("E0202", f"a metric is a number, found {field_type}", field.type.span,
                          "not a number", help=["declare it `float` (or `int`)"])
        return False
    if field_type.name == "record" or (field_type.item is not None
                                       and field_type.item.name == "record"):
        diagnostics.error("E0202", "records do not nest", field.type.span, "a record field",
                          help=["flatten the fields into the outer record"])
        return False
    return True


def constant(expr: ast.RecordLit, constant_of: Constant) -> tuple[ir.JSONValue, ir.Type | None]:
    """A record literal's value and type (fields as written), or (None, None) where a field
    is not a literal or a name repeats (reported by :func:`report_literal`)."""
    values: dict[str, ir.JSONValue] = {}
    fields: list[tuple[str, ir.Type]] = []
    for field in expr.fields:
        value, value_type = constant_of(field.value)
        if value_type is None or field.name.name in values or value_type.name == "record":
            return None, None
        values[field.name.name] = value
        fields.append((field.name.name, value_type))
    if not fields:
        return None, None
    return values, ir.Type(name="record", fields=tuple(fields))


def join_types(a: ir.Type, b: ir.Type) -> ir.Type | None:
    """The one type two items of a list literal share, or None: an int and a float make
    floats, an empty list fits any list (`[[1, 2], []]` is a list[list[int]]), and records
    with the same fields join field by field."""
    if a == b:
        return a
    if {a.name, b.name} == {"int", "float"}:
        return types.FLOAT
    if a.name == b.name == "list":
        if a.item is None or b.item is None:
            return a if b.item is None else b
        item = join_types(a.item, b.item)
        return None if item is None else types.list_of(item)
    if a.name == b.name == "record":
        return _join_records(a, b)
    return None


def _join_records(a: ir.Type, b: ir.Type) -> ir.Type | None:
    first, second = dict(a.fields or ()), dict(b.fields or ())
    if set(first) != set(second):
        return None
    fields: list[tuple[str, ir.Type]] = []
    for name, field_type in first.items():
        joined = join_types(field_type, second[name])
        if joined is None:
            return None
        fields.append((name, joined))
    return ir.Type(name="record", fields=tuple(fields))


def widen(value: ir.JSONValue, expected: ir.Type,
          widen_of: Callable[[ir.JSONValue, ir.Type], ir.JSONValue]) -> ir.JSONValue:
    """A record value in the declared field order, each field widened (ints to floats)."""
    assert isinstance(value, dict)
    return {name: widen_of(value[name], field_type) for name, field_type in expected.fields or ()
            if name in value}


def report_literal(expr: ast.Expr, expected: ir.Type, constant_of: Constant,
                   diagnostics: DiagnosticBag) -> bool:
    """Report what is wrong with the record literal(s) in ``expr`` for ``expected``, at the
    field: a repeated, unknown or missing field, or a field of the wrong type. False when
    nothing was found to report (the caller reports the whole value)."""
    if isinstance(expr, ast.ListLit) and expected.name == "list" and expected.item is not None:
        return any([report_literal(item, expected.item, constant_of, diagnostics)
                    for item in expr.items])
    if not isinstance(expr, ast.RecordLit) or expected.name != "record":
        return False
    wanted = dict(expected.fields or ())
    seen: dict[str, ast.FieldValue] = {}
    reported = False
    for field in expr.fields:
        name = field.name.name
        if name in seen:
            diagnostics.error("E0101", f"field `{name}` is given twice", field.name.span,
                              "second value", secondary=[Label(seen[name].name.span,
                                                               "first given here")])
            reported = True
            continue
        seen[name] = field
        if name not in wanted:
            diagnostics.error("E0105", f"unknown field `{name}` for {expected}", field.name.span,
                              "not a field of the record", help=suggest(name, wanted) or [
                                  "its fields: " + ", ".join(wanted)])
            reported = True
            continue
        found = constant_of(field.value)[1]
        if found is None or not types.assignable(found, wanted[name]):
            if report_literal(field.value, wanted[name], constant_of, diagnostics):
                reported = True
                continue
            what = "not a literal" if found is None else f"this is a {found}"
            diagnostics.error("E0201", f"field `{name}` is a {wanted[name]}"
                              + ("" if found is None else f", found {found}"),
                              field.value.span, what)
            reported = True
    missing = [name for name in wanted if name not in seen]
    if missing:
        diagnostics.error("E0201", "missing field" + ("s " if len(missing) > 1 else " ")
                          + ", ".join(f"`{m}`" for m in missing) + f" of {expected}",
                          expr.span, "incomplete record",
                          help=["give every field: " + ", ".join(f"{n}: ..." for n in wanted)])
        reported = True
    return reported


def field_of(owner: str, record: ir.Type, field: ast.Ident,
             diagnostics: DiagnosticBag) -> ir.Type | None:
    """The type of ``OWNER.FIELD`` for a record (or a metrics output), or a reported E0104
    with the closest field names."""
    found = record.field(field.name)
    if found is None:
        names = [name for name, _ in record.fields or ()]
        diagnostics.error("E0104", f"`{owner}` has no field `{field.name}`", field.span,
                          "unknown field", help=suggest(field.name, names) or [
                              f"its fields: {', '.join(names)}"])
    return found


def literal_text(expr: ast.RecordLit, constant_of: Constant) -> str | None:
    """A record literal's text as a step receives a record (JSON, as contract.param_text
    writes it), or None when a field is not a literal."""
    value, found = constant(expr, constant_of)
    return None if found is None else param_text(value)


def field_value(bound: ast.RecordLit, field: str) -> ast.Expr | None:
    """The value given for ``field`` in a record literal (a template argument)."""
    return next((f.value for f in bound.fields if f.name.name == field), None)


def literal_value(expr: ast.Expr) -> tuple[ir.JSONValue, ir.Type | None]:
    """A literal's value and type (list items joined: int and float make floats), or
    (None, None) for anything but a literal."""
    if isinstance(expr, ast.BoolLit):
        return expr.value, types.BOOL
    if isinstance(expr, ast.IntLit):
        return expr.value, types.INT
    if isinstance(expr, ast.FloatLit):
        return expr.value, types.FLOAT
    if isinstance(expr, ast.StringLit) and expr.is_plain:
        return expr.text, types.STRING
    if isinstance(expr, ast.ListLit):
        values = [literal_value(item) for item in expr.items]
        if any(t is None for _, t in values):
            return None, None
        item: ir.Type | None = None
        for _, item_type in values:
            assert item_type is not None
            item = item_type if item is None else join_types(item, item_type)
            if item is None:
                return None, None
        return [v for v, _ in values], ir.Type(name="list", item=item)
    if isinstance(expr, ast.RecordLit):
        return constant(expr, literal_value)
    return None, None
