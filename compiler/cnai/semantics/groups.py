"""Walk a pipeline's items: find every declaration and the groups (loops, if/else branches,
finally) each step sits in."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics.units import Names, k8s_name
from cnai.source import Span
from cnai.syntax import ast


@dataclass(frozen=True)
class Context:
    """Where a declaration sits: its innermost group and enclosing loops (outer first)."""

    group: str | None = None
    loops: tuple[str, ...] = ()
    in_finally: bool = False


TOP = Context()


@dataclass
class LoopDecl:
    id: str
    decl: ast.ForBlock
    outer: Context  # the context the loop itself sits in
    inner: Context  # the context of its body


@dataclass
class BranchDecl:
    id: str
    chain: str
    index: int
    condition: ast.Expr | None
    span: Span
    outer: Context


@dataclass
class Collected:
    params: list[ast.ParamDecl] = field(default_factory=list)
    datasets: list[ast.DatasetDecl] = field(default_factory=list)
    volumes: list[ast.VolumeDecl] = field(default_factory=list)
    steps: list[tuple[ast.StepDecl, Context]] = field(default_factory=list)
    templates: list[ast.TemplateDef] = field(default_factory=list)
    settings: list[ast.Assignment | ast.Block] = field(default_factory=list)
    loops: list[LoopDecl] = field(default_factory=list)
    branches: list[BranchDecl] = field(default_factory=list)
    finally_span: Span | None = None
    outputs: list[ast.PipelineOutput] = field(default_factory=list)  # a pipeline used as a step


class GroupWalker:
    def __init__(self, diagnostics: DiagnosticBag) -> None:
        self.diagnostics = diagnostics
        self.found = Collected()
        self._loop_ids = Names()
        self._chains = 0
        self._branches = 0

    def walk(self, items: tuple[ast.PipelineItem, ...], ctx: Context = TOP) -> Collected:
        for item in items:
            if isinstance(item, ast.StepDecl):
                self.found.steps.append((item, ctx))
            elif isinstance(item, ast.ForBlock):
                self._loop(item, ctx)
            elif isinstance(item, ast.IfBlock):
                self._chain(item, ctx)
            elif isinstance(item, ast.FinallyBlock):
                self._finally(item, ctx)
            elif ctx != TOP:
                self._top_level_only(item)
            elif isinstance(item, ast.ParamDecl):
                self.found.params.append(item)
            elif isinstance(item, ast.DatasetDecl):
                self.found.datasets.append(item)
            elif isinstance(item, ast.VolumeDecl):
                self.found.volumes.append(item)
            elif isinstance(item, ast.TemplateDef):
                self.found.templates.append(item)
            elif isinstance(item, ast.PipelineOutput):
                self.found.outputs.append(item)
            else:
                self.found.settings.append(item)
        return self.found

    def _top_level_only(self, item: ast.PipelineItem) -> None:
        what = {ast.ParamDecl: "params", ast.DatasetDecl: "data sets",
                ast.VolumeDecl: "volumes", ast.TemplateDef: "templates",
                ast.PipelineOutput: "outputs",
                }.get(type(item), "pipeline settings")
        self.diagnostics.error("E0208", f"{what} are declared at the top level of the pipeline",
                               item.span, "inside a block", help=["move it out of the block"])

    def _loop(self, item: ast.ForBlock, ctx: Context) -> None:
        if ctx.in_finally:
            self.diagnostics.error("E0401", "loops inside `finally` are not supported",
                                   item.span, "not supported")
            return
        loop_id = self._loop_ids.take(f"for-{k8s_name(item.var.name)}")
        inner = Context(loop_id, (*ctx.loops, loop_id), ctx.in_finally)
        self.found.loops.append(LoopDecl(loop_id, item, ctx, inner))
        self.walk(item.items, inner)

    def _chain(self, item: ast.IfBlock, ctx: Context) -> None:
        self._chains += 1
        chain = f"chain-{self._chains}"
        index = 0
        branch: ast.IfBlock | tuple[ast.PipelineItem, ...] | None = item
        while branch is not None:
            self._branches += 1
            branch_id = f"condition-{self._branches}"
            if isinstance(branch, ast.IfBlock):
                condition, items, span = branch.condition, branch.items, branch.span
            else:
                condition, items = None, branch
                span = items[0].span if items else item.span
            self.found.branches.append(BranchDecl(branch_id, chain, index, condition, span, ctx))
            self.walk(items, Context(branch_id, ctx.loops, ctx.in_finally))
            branch = branch.orelse if isinstance(branch, ast.IfBlock) else None
            index += 1

    def _finally(self, item: ast.FinallyBlock, ctx: Context) -> None:
        if ctx != TOP:
            self.diagnostics.error("E0208", "`finally` belongs at the top level of the pipeline",
                                   item.span, "inside a block")
            return
        if self.found.finally_span is not None:
            self.diagnostics.error("E0110", "a pipeline has one `finally` block", item.span,
                                   "second `finally`",
                                   secondary=[Label(self.found.finally_span, "first here")])
            return
        self.found.finally_span = item.span
        self.walk(item.items, Context("finally", (), True))
