"""How the IR's groups become Argo DAG templates, and how a value is named inside each.

A *scope* is one DAG template: the entrypoint (``None``), a loop body (the loop's id), or the
exit handler (``"finally"``). Branches of ``if``/``else`` add no scope: their steps stay in the
enclosing DAG with a ``when``. Inside a loop body, a value made outside it (another step's
output, an outer loop variable) arrives as an input of the body template; a value made inside
a loop and read after it leaves as a body output, one JSON list per iteration (``[value]``,
or ``[]`` where the step did not run), which Argo aggregates over the iterations into a list
of those lists (workflow/controller/operator.go, aggregatedJSONValueList) and the reader
flattens (ArgoBackend.export_outputs, ArgoValues.gathered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.semantics import ir

Scope = str | None
FINALLY = "finally"


def import_name(source: ir.Source) -> str:
    """The input name under which a loop body receives an outside value."""
    if isinstance(source, ir.OutputRef):
        return f"{source.step}_{source.output}"
    if isinstance(source, ir.LoopVarRef):
        return source.name
    raise AssertionError(f"{source.kind} values are global and never imported")


def export_name(source: ir.OutputRef) -> str:
    return f"{source.step}_{source.output}"


@dataclass
class Scopes:
    """Scope membership and the values that cross scope boundaries."""

    pipeline: ir.Pipeline
    step_scope: dict[str, Scope] = field(default_factory=dict)
    imports: dict[str, dict[str, ir.Source]] = field(default_factory=dict)  # loop -> name -> src
    exports: dict[str, dict[str, ir.OutputRef]] = field(default_factory=dict)  # loop -> ...

    def __post_init__(self) -> None:
        self._loops: dict[str | None, list[str]] = {}
        self._scopes: dict[str | None, Scope] = {}
        self._members: dict[Scope, tuple[list[ir.Step], list[ir.Loop]]] | None = None
        self._in_loop: dict[str, list[ir.Step]] | None = None
        for step in self.pipeline.steps:
            self.step_scope[step.name] = self.scope_of(step.group)
        for group in self.pipeline.groups:
            if isinstance(group, ir.Loop):
                self.imports[group.id] = {}
                self.exports[group.id] = {}
        for step in self.pipeline.steps:
            for item in step.inputs:
                self.note_use(item.source, step.group)
            if step.when is not None:
                for ref in _refs(step.when.expr):
                    self.note_use(ref, step.group)
        for group in self.pipeline.groups:
            if isinstance(group, ir.Loop) and not isinstance(group.items, ir.Literal_):
                self.note_use(group.items, group.parent)
            if isinstance(group, ir.Branch) and group.condition is not None:
                for ref in _refs(group.condition.expr):
                    self.note_use(ref, group.parent)

    def scope_of(self, group_id: str | None) -> Scope:
        """The DAG a thing in group ``group_id`` belongs to (branches are transparent)."""
        if group_id in self._scopes:
            return self._scopes[group_id]
        scope: Scope = None
        for group in self.pipeline.ancestors(group_id):
            if isinstance(group, ir.Loop):
                scope = group.id
                break
            if isinstance(group, ir.Finally):
                scope = FINALLY
                break
        self._scopes[group_id] = scope
        return scope

    def loops_around(self, group_id: str | None) -> list[str]:
        """Loop ids enclosing ``group_id``, innermost first."""
        found = self._loops.get(group_id)
        if found is None:
            found = [g.id for g in self.pipeline.loops_around(group_id)]
            self._loops[group_id] = found
        return found

    def note_use(self, source: ir.Source, group_id: str | None) -> None:
        """Record the imports and exports needed to read ``source`` at ``group_id``."""
        reader_loops = self.loops_around(group_id)
        if isinstance(source, ir.OutputRef):
            producer = self.pipeline.step(source.step)
            producer_loops = self.loops_around(producer.group)
            for loop in producer_loops:  # made inside a loop the reader is not in: fan-in
                if loop not in reader_loops:
                    self.exports[loop][export_name(source)] = source
            origin = set(producer_loops)
        elif isinstance(source, ir.LoopVarRef):
            origin = set(self.loops_around(source.loop)) | {source.loop}
        else:
            return
        for loop in reader_loops:  # every loop the reader is in and the value is not
            if loop not in origin:
                self.imports[loop][import_name(source)] = source

    def members(self, scope: Scope) -> tuple[list[ir.Step], list[ir.Loop]]:
        """The steps and loops directly in ``scope``'s DAG, in pipeline order."""
        if self._members is None:  # every scope's at once: asking per scope was quadratic
            self._members = {}
            for step in self.pipeline.steps:
                self._members.setdefault(self.step_scope[step.name], ([], []))[0].append(step)
            for group in self.pipeline.groups:
                if isinstance(group, ir.Loop):
                    self._members.setdefault(self.scope_of(group.parent), ([], []))[1].append(
                        group)
        return self._members.get(scope, ([], []))

    def representative(self, step_name: str, scope: Scope) -> str | None:
        """The member of ``scope`` standing for ``step_name``: the step itself, or the loop of
        ``scope`` that contains it; None when the step is outside ``scope``."""
        step = self.pipeline.step(step_name)
        if self.step_scope[step_name] == scope:
            return step_name
        for group in self.pipeline.ancestors(step.group):
            if isinstance(group, ir.Loop) and self.scope_of(group.parent) == scope:
                return group.id
        return None

    def branches_between(self, group_id: str | None, scope: Scope) -> list[ir.Branch]:
        """The branches around ``group_id`` inside ``scope``, outermost first."""
        found = []
        for group in self.pipeline.ancestors(group_id):
            if group.id == scope:
                break
            if isinstance(group, ir.Branch):
                found.append(group)
            elif isinstance(group, (ir.Loop, ir.Finally)):
                break
        return list(reversed(found))

    def steps_in_loop(self, loop_id: str) -> list[ir.Step]:
        """The steps inside loop ``loop_id``, at any depth, in pipeline order."""
        if self._in_loop is None:
            self._in_loop = {}
            for step in self.pipeline.steps:
                for loop in self.loops_around(step.group):
                    self._in_loop.setdefault(loop, []).append(step)
        return self._in_loop.get(loop_id, [])


def _refs(expr: ir.Expr) -> list[ir.Source]:
    from cnai.semantics.dag import gate_refs

    return list(gate_refs(expr))
