"""Loops, if/else branches and finally: their IR groups, checked in the context they sit in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnai.limits import INT32_MAX
from cnai.semantics import ir
from cnai.semantics.gates import GateChecker
from cnai.semantics.groups import Collected, LoopDecl
from cnai.semantics.steps import StepChecker, constant_type
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

LoopSource = ir.Literal_ | ir.ParamRef | ir.OutputRef | ir.LoopVarRef


class LoopItems:
    """What a loop iterates over: a literal list, a list param, a list output, or a list
    loop variable of an enclosing loop."""

    def __init__(self, checker: Checker, loop: LoopDecl) -> None:
        self.checker = checker
        self.loop = loop
        self.diagnostics = checker.diagnostics

    def resolve(self) -> tuple[LoopSource, ir.Type] | None:
        expr = self.loop.decl.iterable
        if isinstance(expr, ast.ListLit):
            return self._literal(expr)
        if not isinstance(expr, ast.Ref):
            self.diagnostics.error("E0201", "a loop runs over a list: a literal, a list param "
                                   "or a list output", expr.span, "not a list")
            return None
        source = StepChecker(self.checker, self.loop.outer).source_of(expr)
        if source is None:
            return None
        if isinstance(source, ir.PipelineStatus) or source.type.name != "list" or (
                source.type.item is None):
            self.diagnostics.error("E0201", f"a loop runs over a list, found {source.type}",
                                   expr.span, f"this is a {source.type}")
            return None
        if isinstance(source, ir.OutputRef) and self.loop.id in self._loops_of(source.step):
            self.diagnostics.error("E0301", f"the loop runs over `{expr.dotted}`, which is "
                                   "produced inside the loop", expr.span, "produced inside")
            return None
        return source, source.type.item

    def _loops_of(self, step: str) -> tuple[str, ...]:
        symbol = self.checker.scope.get(step)
        return symbol.loops if symbol is not None else ()

    def _literal(self, expr: ast.ListLit) -> tuple[LoopSource, ir.Type] | None:
        list_type = constant_type(expr)
        if list_type is None:
            self.diagnostics.error("E0201", "a literal loop list holds literals of one type",
                                   expr.span, "mixed or non-literal items")
            return None
        if list_type.item is None:
            self.diagnostics.error("E0208", "the loop runs over an empty list", expr.span,
                                   "no items")
            return None
        value = self.checker.literal(expr, list_type)
        return ir.Literal_(value=value, type=list_type), list_type.item


class GroupChecker:
    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.diagnostics = checker.diagnostics

    def check(self, found: Collected) -> list[ir.Group]:
        groups: list[tuple[int, ir.Group]] = []
        for loop in found.loops:
            resolved = self.checker.loop_sources.get(loop.id)
            if resolved is None:
                continue
            items, item_type = resolved
            parallel = loop.decl.parallel
            if parallel is not None and parallel.value < 1:
                self.diagnostics.error("E0208", "`parallel` is at least 1", parallel.span,
                                       "must be >= 1")
            elif parallel is not None and parallel.value > INT32_MAX:
                # Kubeflow's ParallelFor keeps it in an int32 (parallelism_limit).
                self.diagnostics.error("E0208", f"`parallel` is at most {INT32_MAX}",
                                       parallel.span, f"must be <= {INT32_MAX}")
            groups.append((loop.decl.span.start, ir.Loop(
                id=loop.id, var=loop.decl.var.name, items=items, item_type=item_type,
                parallelism=parallel.value if parallel is not None else None,
                parent=loop.outer.group, span=loop.decl.span)))
        for branch in found.branches:
            gate = None
            if branch.condition is not None:
                resolver = StepChecker(self.checker, branch.outer)
                text = self.checker.source_text(branch.condition)
                gate = GateChecker(self.diagnostics, resolver.gate_ref).check(
                    branch.condition, text)
                if gate is None:
                    continue
            groups.append((branch.span.start, ir.Branch(
                id=branch.id, chain=branch.chain, index=branch.index, condition=gate,
                parent=branch.outer.group, span=branch.span)))
        if found.finally_span is not None:
            groups.append((found.finally_span.start, ir.Finally(span=found.finally_span)))
        return [group for _, group in sorted(groups, key=lambda g: g[0])]
