"""A pipeline used as a step: ``import "prep.cnai"`` and ``step prep { use prep(rows = 10) }``.

The imported file's pipeline is checked on its own (its names are its own: they never clash
with the outer pipeline's), with the step's arguments as its params and its
``output NAME: TYPE = STEP.OUT`` declarations as the step's outputs, read as ``prep.NAME``.
Its steps are then inlined into the outer pipeline, in the group the step sits in: renamed
``prep_STEP`` (Kubernetes names ``prep-step``), its params replaced by the arguments (or their
defaults), its loops and branches renamed likewise; what waits for the step (``after prep``)
waits for all of them, and ``prep.NAME`` reads the step that makes it. Both targets and
``cnai run --local`` then run them as any other steps: no target needs a construct of its own.

What belongs to a run and not to its steps (data sets, volumes, ``finally``, a schedule, a
quota, the run's timeout, labels or locks) cannot be set by a pipeline used as a step (E0401):
its steps run in the outer run. Import cycles are refused where files are imported
(imports.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from cnai.diagnostics import DiagnosticBag, Label, Severity
from cnai.semantics import ir, types
from cnai.semantics.groups import Context
from cnai.semantics.resolver import suggest
from cnai.semantics.units import k8s_name
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

# What a pipeline used as a step cannot set: the run's own settings, by IR attribute.
RUN_SETTINGS = ("schedule", "quota", "timeout_seconds", "ttl_seconds", "pod_gc", "parallelism",
                "labels", "annotations", "run_priority", "mutexes", "semaphores", "datasets",
                "volumes")


def pipeline_outputs(checker: Checker, decls: list[ast.PipelineOutput]
                     ) -> list[ir.PipelineOutput]:
    """``output NAME: TYPE = STEP.OUT``: each names an output of a step outside loops and
    ``finally``, of the declared type."""
    found: dict[str, ir.PipelineOutput] = {}
    for decl in decls:
        declared = checker.type_of(decl.type, allow_artifacts=True)
        source = _output_ref(checker, decl)
        if declared is None or source is None:
            continue
        if source.type != declared:
            symbol = checker.scope.get(source.step)
            made = symbol.outputs[source.output].span if symbol is not None else None
            checker.diagnostics.error(
                "E0201", f"output `{decl.name.name}` is declared {declared}, but "
                f"`{source.step}.{source.output}` is {source.type}", decl.value.span,
                f"this is a {source.type}",
                secondary=[Label(decl.type.span, f"declared {declared}")]
                + ([Label(made, f"{source.type} here")] if made is not None else []))
            continue
        if decl.name.name in found:
            checker.diagnostics.error(
                "E0101", f"output `{decl.name.name}` is declared twice", decl.name.span,
                "second declaration", secondary=[Label(found[decl.name.name].span,
                                                       "first declared here")])
            continue
        found[decl.name.name] = ir.PipelineOutput(name=decl.name.name, source=source,
                                                  span=decl.name.span)
    return list(found.values())


def _output_ref(checker: Checker, decl: ast.PipelineOutput) -> ir.OutputRef | None:
    value = decl.value
    symbol = checker.scope.get(value.parts[0].name) if isinstance(value, ast.Ref) else None
    if not isinstance(value, ast.Ref) or len(value.parts) != 2 or symbol is None \
            or symbol.kind != "step" or value.parts[1].name not in symbol.outputs:
        checker.diagnostics.error(
            "E0201", f"output `{decl.name.name}` is an output of a step: `STEP.OUTPUT`",
            value.span, "not a step's output", help=["e.g. `output n: int = count.n`"])
        return None
    if symbol.loops or symbol.in_finally:
        where = "in a loop" if symbol.loops else "in `finally`"
        checker.diagnostics.error(
            "E0401", f"output `{decl.name.name}` reads `{symbol.name}`, {where}",
            value.span, f"made {where}",
            help=["read an output of a step at the pipeline's top level"])
        return None
    output = symbol.outputs[value.parts[1].name]
    return ir.OutputRef(step=symbol.name, output=output.name, type=output.type)


@dataclass
class Call:
    """One step running a pipeline: where it sits, and the pipeline as checked."""

    decl: ast.StepDecl
    ctx: Context
    use: ast.UseDecl
    pipeline: ir.Pipeline
    params: dict[str, ir.Source] = field(default_factory=dict)  # bound in splice()

    @property
    def prefix(self) -> str:
        return f"{self.decl.name.name}_"


class NestedCalls:
    """The outer pipeline's steps that run a pipeline, checked and then inlined."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.diagnostics = checker.diagnostics
        self.calls: dict[str, Call] = {}
        self.given: list[ir.OutputRef] = []  # the inlined outputs the calls' pipelines give

    def match(self, decl: ast.StepDecl) -> ast.UseDecl | None:
        """The step's `use` if it names an imported pipeline (and no template of that name)."""
        library = self.checker.library
        if not library.pipelines:  # most programs import none
            return None
        for item in decl.items:
            if isinstance(item, ast.UseDecl) and item.template.name in library.pipelines \
                    and item.template.name not in library.templates:
                return item
        return None

    def add(self, decl: ast.StepDecl, ctx: Context, use: ast.UseDecl) -> None:
        """Check the pipeline ``decl`` runs and declare its outputs as the step's."""
        for item in decl.items:
            if item is not use:
                self.diagnostics.error(
                    "E0208", f"`{decl.name.name}` runs pipeline `{use.template.name}`: it holds "
                    "`use` alone", item.span, "not with a pipeline",
                    help=["set it in the pipeline's own steps"])
        if decl.when is not None:
            self.diagnostics.error(
                "E0401", f"`{decl.name.name}` runs a pipeline: it takes no `when`",
                decl.when.span, "a gate on a pipeline",
                help=[f"put the step in an `if` block: `if COND {{ step {decl.name.name} "
                      "{ ... } }`"])
        if decl.kind != "step":
            self.diagnostics.error("E0208", "a service cannot run a pipeline", decl.name.span,
                                   "a service", help=["write `step`"])
            return
        pipeline = self._check(use)
        if pipeline is None:
            return
        for name in RUN_SETTINGS:
            if getattr(pipeline, name):
                self.diagnostics.error(
                    "E0401", f"pipeline `{pipeline.name}` sets its run's own "
                    f"`{name.removesuffix('_seconds')}`, which a pipeline used as a step "
                    "cannot", use.template.span, "used as a step here",
                    secondary=[Label(pipeline.span, "its pipeline")],
                    help=["its steps run in the outer run: set it on the outer pipeline"])
        if any(isinstance(g, ir.Finally) for g in pipeline.groups):
            self.diagnostics.error(
                "E0401", f"pipeline `{pipeline.name}` has a `finally` block, which a pipeline "
                "used as a step cannot", use.template.span, "used as a step here",
                help=["move `finally` to the outer pipeline"])
        symbol = self.checker.scope.get(decl.name.name)
        assert symbol is not None
        for output in pipeline.outputs:
            symbol.outputs[output.name] = ir.Output.of(output.name, output.source.type, None,
                                                       output.span)
        self.calls[decl.name.name] = Call(decl, ctx, use, pipeline)

    def _check(self, use: ast.UseDecl) -> ir.Pipeline | None:
        from cnai.semantics.checker import Checker

        decl, module = self.checker.library.pipelines[use.template.name]
        outer = self.checker
        inner = Checker(outer.sources[module.file], outer.diagnostics, outer.sources)
        # The files being checked stay on the import stack: a file they import again is a
        # cycle (reported once: the same record as the outer importer's), never a recursion.
        inner.import_stack = (*outer.import_stack, os.path.normpath(module.file))
        inner.importer.load(module, inner.library, inner.import_stack)
        for template in module.templates:
            inner.library.add(template)
        before = _errors(outer.diagnostics)
        pipeline = inner.check_pipeline(decl)
        return pipeline if _errors(outer.diagnostics) == before else None

    # ---- inlining -----------------------------------------------------------------------

    def splice(self, steps: list[ir.Step], groups: list[ir.Group],
               outputs: list[ir.PipelineOutput]
               ) -> tuple[list[ir.Step], list[ir.Group], list[ir.PipelineOutput]]:
        """The outer pipeline's steps, groups and outputs with every call inlined; ``given``
        then holds what the calls' pipelines give."""
        if not self.calls:
            return steps, groups, outputs
        taken = {k8s_name(s.name): s.name for s in steps}
        made: dict[tuple[str, str], ir.OutputRef] = {}  # (call, output) -> what makes it
        members: dict[str, list[str]] = {}  # call -> its inlined steps
        inlined_steps: list[ir.Step] = []
        inlined_groups: list[ir.Group] = []
        given: list[ir.OutputRef] = []
        for call in self.calls.values():
            self._bind(call)
            renamed = Renaming(call)
            for step in call.pipeline.steps:
                copy = renamed.step(step)
                if self._clashes(copy, call, taken):
                    continue
                inlined_steps.append(copy)
            inlined_groups += [renamed.group(g) for g in call.pipeline.groups]
            members[call.decl.name.name] = [renamed.steps[s.name] for s in call.pipeline.steps]
            for output in call.pipeline.outputs:
                made[call.decl.name.name, output.name] = renamed.output_ref(output.source)
            given += [renamed.output_ref(ref) for ref in call.pipeline.given]  # deeper calls'
        self.given = [*made.values(), *given]
        reading = Reading(made, members)
        kept = [reading.step(s) for s in steps]
        return ([*kept, *(reading.step(s) for s in inlined_steps)],
                [reading.group(g) for g in [*groups, *inlined_groups]],
                [o.model_copy(update={"source": reading.source(o.source)}) for o in outputs])

    def _clashes(self, step: ir.Step, call: Call, taken: dict[str, str]) -> bool:
        other = taken.get(step.k8s_name) or (step.name if self.checker.scope.get(step.name)
                                             else None)
        if other is not None:
            self.diagnostics.error(
                "E0107", f"step `{step.name.removeprefix(call.prefix)}` of pipeline "
                f"`{call.pipeline.name}` runs here as `{step.name}`, a name `{other}` has",
                call.decl.name.span, "names clash",
                help=["rename this step, or the other one"])
            return True
        taken[step.k8s_name] = step.name
        return False

    def _bind(self, call: Call) -> None:
        """The step's arguments, each checked against its param: the values of the params."""
        from cnai.semantics.steps import StepChecker

        params = {p.name: p for p in call.pipeline.params}
        reader = StepChecker(self.checker, call.ctx)
        reader.symbol = self.checker.scope.get(call.decl.name.name)
        given: dict[str, ast.Argument] = {}
        for argument in call.use.args:
            name = argument.name.name
            param = params.get(name)
            if param is None:
                self.diagnostics.error(
                    "E0113", f"pipeline `{call.pipeline.name}` has no param `{name}`",
                    argument.name.span, "unknown argument",
                    help=suggest(name, params) or [f"its params: {', '.join(params) or 'none'}"])
            elif name in given:
                self.diagnostics.error("E0110", f"param `{name}` is given twice",
                                       argument.name.span, "given again",
                                       secondary=[Label(given[name].name.span, "first given")])
            else:
                given[name] = argument
                source = self._argument(reader, argument.value, param, call.pipeline.name)
                if source is not None:
                    call.params[name] = source
        for param in call.pipeline.params:
            if param.name in given:
                continue
            if param.default is None:
                self.diagnostics.error(
                    "E0106", f"`{call.decl.name.name}` does not give param `{param.name}` of "
                    f"pipeline `{call.pipeline.name}`, which has no default",
                    call.use.span, f"needs `{param.name} = ...`",
                    secondary=[Label(param.span, "declared here")])
            else:
                call.params[param.name] = ir.Literal_(value=param.default, type=param.type)

    def _argument(self, reader: object, value: ast.Expr, param: ir.Param,
                  pipeline: str) -> ir.Source | None:
        from cnai.semantics.steps import StepChecker, constant_type

        assert isinstance(reader, StepChecker)
        source: ir.Source | None = None
        if isinstance(value, ast.Ref):
            source = reader.source_of(value)
            found = None if source is None else source.type
        else:
            found = constant_type(value)
            if found is None:
                self.diagnostics.error("E0201", "a pipeline's argument is a literal or a "
                                       "reference", value.span, "not allowed here")
                return None
        if found is not None and not types.assignable(found, param.type):
            self.diagnostics.error(
                "E0201", f"param `{param.name}` of pipeline `{pipeline}` is {param.type}, "
                f"found {found}", value.span, f"this is a {found}",
                secondary=[Label(param.span, f"declared {param.type}")])
            return None
        if isinstance(value, ast.Ref):
            return source
        literal = self.checker.literal(value, param.type)
        return None if literal is None else ir.Literal_(value=literal, type=param.type)


class Renaming:
    """One call's pipeline, renamed into the outer one: steps, loops, branches, params."""

    def __init__(self, call: Call) -> None:
        self.call = call
        prefix, label = call.prefix, k8s_name(call.decl.name.name)
        self.steps = {s.name: f"{prefix}{s.name}" for s in call.pipeline.steps}
        self.groups = {g.id: f"{label}-{g.id}" for g in call.pipeline.groups}
        self.loop_vars = {g.id: f"{prefix}{g.var}" for g in call.pipeline.groups
                          if isinstance(g, ir.Loop)}

    def source(self, source: ir.Source) -> ir.Source:
        if isinstance(source, ir.ParamRef):
            return self.call.params.get(source.name, source)
        if isinstance(source, ir.OutputRef) and source.step in self.steps:
            return source.model_copy(update={"step": self.steps[source.step]})
        if isinstance(source, ir.LoopVarRef) and source.loop in self.groups:
            return source.model_copy(update={"name": self.loop_vars[source.loop],
                                             "loop": self.groups[source.loop]})
        return source

    def output_ref(self, source: ir.OutputRef) -> ir.OutputRef:
        renamed = self.source(source)
        assert isinstance(renamed, ir.OutputRef)
        return renamed

    def step(self, step: ir.Step) -> ir.Step:
        name = self.steps[step.name]
        depends = [d.model_copy(update={"step": self.steps[d.step]}) for d in step.depends]
        depends += self._after()
        return step.model_copy(update={
            "name": name, "k8s_name": k8s_name(name), "depends": depends,
            "group": self.groups[step.group] if step.group else self.call.ctx.group,
            "inputs": [i.model_copy(update={"source": self.source(i.source)})
                       for i in step.inputs],
            "when": None if step.when is None else step.when.model_copy(
                update={"expr": rewrite(step.when.expr, self.source)})})

    def _after(self) -> list[ir.Dependency]:
        """The call's own `after`: every inlined step waits for it."""
        return [ir.Dependency(step=item.step.name, kind="order", span=item.span,
                              outcome=cast(ir.Outcome, item.status.name if item.status
                                           else "succeeded"))
                for item in self.call.decl.after]

    def group(self, group: ir.Group) -> ir.Group:
        update: dict[str, object] = {
            "id": self.groups[group.id],
            "parent": self.groups[group.parent] if group.parent else self.call.ctx.group}
        if isinstance(group, ir.Loop):
            update["var"] = self.loop_vars[group.id]
            update["items"] = self.source(group.items)
        elif isinstance(group, ir.Branch):
            update["chain"] = f"{k8s_name(self.call.decl.name.name)}-{group.chain}"
            if group.condition is not None:
                update["condition"] = group.condition.model_copy(
                    update={"expr": rewrite(group.condition.expr, self.source)})
        return group.model_copy(update=update)


class Reading:
    """The outer pipeline's reads of calls: ``prep.NAME`` and ``after prep``."""

    def __init__(self, made: dict[tuple[str, str], ir.OutputRef],
                 members: dict[str, list[str]]) -> None:
        self.made = made
        self.members = members

    def source(self, source: ir.Source) -> ir.Source:
        if isinstance(source, ir.OutputRef) and source.step in self.members:
            maker = self.made.get((source.step, source.output))
            if maker is not None:
                return maker.model_copy(update={"type": source.type})
        return source

    def step(self, step: ir.Step) -> ir.Step:
        if not self.members:
            return step
        depends: list[ir.Dependency] = []
        for dependency in step.depends:
            inlined = self.members.get(dependency.step)
            depends += [dependency] if inlined is None else [
                dependency.model_copy(update={"step": name}) for name in inlined]
        return step.model_copy(update={
            "depends": depends,
            "inputs": [i.model_copy(update={"source": self.source(i.source)})
                       for i in step.inputs],
            "when": None if step.when is None else step.when.model_copy(
                update={"expr": rewrite(step.when.expr, self.source)})})

    def group(self, group: ir.Group) -> ir.Group:
        if isinstance(group, ir.Loop):
            return group.model_copy(update={"items": self.source(group.items)})
        if isinstance(group, ir.Branch) and group.condition is not None:
            return group.model_copy(update={"condition": group.condition.model_copy(
                update={"expr": rewrite(group.condition.expr, self.source)})})
        return group


def _errors(bag: DiagnosticBag) -> int:
    return sum(1 for d in bag if d.severity is Severity.ERROR)


def rewrite(expr: ir.Expr, source: Callable[[Any], Any]) -> ir.Expr:
    """``expr`` with each operand replaced by ``source(operand)``."""
    if isinstance(expr, ir.Compare):
        return expr.model_copy(update={"left": rewrite(expr.left, source),
                                       "right": rewrite(expr.right, source)})
    if isinstance(expr, ir.BoolOp):
        return expr.model_copy(update={"operands": [rewrite(o, source) for o in expr.operands]})
    if isinstance(expr, ir.Not):
        return expr.model_copy(update={"operand": rewrite(expr.operand, source)})
    replaced: ir.Expr = source(expr)
    return replaced
