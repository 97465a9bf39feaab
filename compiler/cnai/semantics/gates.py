"""Typing of `when` gates: comparisons between compatible types, boolean connectives, no
artifacts. The result is an IR expression whose every operand is typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from cnai.diagnostics import DiagnosticBag
from cnai.semantics import ir, types
from cnai.syntax import ast

# Resolves a reference in a gate to a typed IR operand, or reports and returns None.
RefResolver = Callable[
    [ast.Ref], "ir.ParamRef | ir.OutputRef | ir.LoopVarRef | ir.PipelineStatus | None"]


class GateChecker:
    def __init__(self, diagnostics: DiagnosticBag, resolve: RefResolver) -> None:
        self.diagnostics = diagnostics
        self.resolve = resolve

    def check(self, expr: ast.Expr, text: str) -> ir.Gate | None:
        typed = self.expr(expr)
        if typed is None:
            return None
        node, node_type = typed
        if node_type != types.BOOL:
            self.diagnostics.error(
                "E0205", f"a gate must be a condition, found {node_type}", expr.span,
                f"this is a {node_type}", help=["compare it: `when x > 0.5`, `when name == \"a\"`"])
            return None
        return ir.Gate(expr=node, text=text, span=expr.span)

    def expr(self, expr: ast.Expr) -> tuple[ir.Expr, ir.Type] | None:
        if isinstance(expr, ast.Compare):
            return self._compare(expr)
        if isinstance(expr, ast.BoolOp):
            operands = [self._condition(o) for o in expr.operands]
            if any(o is None for o in operands):
                return None
            # The grammar's `and` / `or` (and the comparison operators below) are the IR's.
            kind = cast(ir.BoolKind, expr.op)
            return ir.BoolOp(kind=kind, operands=[o for o in operands if o]), types.BOOL
        if isinstance(expr, ast.Not):
            operand = self._condition(expr.operand)
            return None if operand is None else (ir.Not(operand=operand), types.BOOL)
        return self._operand(expr)

    def _condition(self, expr: ast.Expr) -> ir.Expr | None:
        typed = self.expr(expr)
        if typed is None:
            return None
        node, node_type = typed
        if node_type != types.BOOL:
            self.diagnostics.error(
                "E0205", f"`and`, `or` and `not` take conditions, found {node_type}", expr.span,
                f"this is a {node_type}")
            return None
        return node

    def _compare(self, expr: ast.Compare) -> tuple[ir.Expr, ir.Type] | None:
        left, right = self._operand(expr.left), self._operand(expr.right)
        if left is None or right is None:
            return None
        (left_node, left_type), (right_node, right_type) = left, right
        if not types.comparable(left_type, right_type, expr.op):
            hint = ("`<`, `<=`, `>`, `>=` compare numbers only"
                    if types.comparable(left_type, right_type, "==") else
                    "convert one side, or compare with a value of the same type")
            self.diagnostics.error(
                "E0203", f"cannot compare {left_type} with {right_type} using `{expr.op}`",
                expr.op_span, f"{left_type} {expr.op} {right_type}", help=[hint])
            return None
        return ir.Compare(op=cast(ir.CompareOp, expr.op), left=left_node,
                          right=right_node), types.BOOL

    def _operand(self, expr: ast.Expr) -> tuple[ir.Expr, ir.Type] | None:
        if isinstance(expr, ast.IntLit):
            return ir.Literal_(value=expr.value, type=types.INT), types.INT
        if isinstance(expr, ast.FloatLit):
            return ir.Literal_(value=expr.value, type=types.FLOAT), types.FLOAT
        if isinstance(expr, ast.BoolLit):
            return ir.Literal_(value=expr.value, type=types.BOOL), types.BOOL
        if isinstance(expr, ast.StringLit):
            if not expr.is_plain:
                self.diagnostics.error(
                    "E0201", "a gate compares values directly; `${...}` is not needed here",
                    expr.span, "interpolated string in a gate",
                    help=["write the reference itself: `when train.status == \"ok\"`"])
                return None
            return ir.Literal_(value=expr.text, type=types.STRING), types.STRING
        if isinstance(expr, ast.Ref):
            resolved = self.resolve(expr)
            if resolved is None:
                return None
            if types.is_artifact(resolved.type):
                self.diagnostics.error(
                    "E0204", f"`{expr.dotted}` is an artifact ({resolved.type}); gates read "
                    "parameter values only", expr.span, "artifact in a gate",
                    help=["declare a parameter output (e.g. `output accuracy: float`) and "
                          "gate on it"])
                return None
            if resolved.type.name == "record":
                self.diagnostics.error(
                    "E0201", f"`{expr.dotted}` is a record; gates compare its scalar fields",
                    expr.span, "record in a gate", help=[
                        f"e.g. `{expr.dotted}.{resolved.type.fields[0][0]}`"
                        if resolved.type.fields else "compare one of its fields"])
                return None
            if resolved.type.name == "list":
                self.diagnostics.error(
                    "E0201", f"`{expr.dotted}` is a {resolved.type}; gates compare single "
                    "values", expr.span, "list in a gate")
                return None
            return resolved, resolved.type
        if isinstance(expr, (ast.Compare, ast.BoolOp, ast.Not)):
            return self.expr(expr)
        what = "a list" if isinstance(expr, ast.ListLit) else "a function call"
        self.diagnostics.error("E0201", f"{what} cannot be used in a gate", expr.span,
                               f"{what} in a gate")
        return None
