"""The execution plan: the pipeline as DAGs of tasks, with Argo's rules for when each runs.

Built once from the optimized IR (:func:`build_plan`). The Argo backend renders it (task
names, ``depends``, ``when``, arguments: backends/argo.py), the local runner executes it
(local/engine.py), and large DAGs are partitioned on it before any text exists
(lowering/partition.py).

A *scope* is one DAG: the entrypoint (``None``), a loop body (the loop's id), the exit handler
(``"finally"``), or a part of a partitioned DAG (``PARENT#part-N``: no loop id holds a ``#``).
Branches of ``if``/``else`` add no scope: their members stay in the enclosing DAG with
conditions. The rules, as Argo applies them (workflow/controller/dag.go,
argoproj/argo-workflows v4.1.2):
- a member waits for the members standing for its dependencies in its DAG: a dependency
  inside a loop or part the member is not in is that whole loop or part;
- it runs only if every one of them Succeeded (``depends: X.Succeeded``), else it is Omitted;
  or, for `after X.failed` / `after X.done` and a step that continues on failure, if X ended
  as waited for (``PlanTask.outcomes``; the rules and a DAG's phase: lowering/outcomes.py);
- then its conditions are checked: the statuses it needs from earlier parts, the conditions
  of the if/else branches around it inside its DAG (a branch holds when its condition does and
  no earlier branch of its chain did) and its own gate. One false means Skipped.

A value made outside a loop body or part and read inside it arrives as an input of the scope
(an *import*); a value made inside and read outside leaves as an output (an *export*). A loop
body's exports are one JSON list per iteration, which Argo aggregates over the iterations
(workflow/controller/operator.go, aggregatedJSONValueList); a part's pass through as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Literal

from cnai.semantics import ir

ScopeId = str | None
FINALLY = "finally"


@dataclass(frozen=True)
class StatusRef:
    """The status of member ``member`` (``Succeeded``, ``Skipped``...), read in a later part."""

    member: str

    @property
    def type(self) -> ir.Type:
        return ir.Type(name="string")


Value = ir.Source | StatusRef  # what crosses a scope's boundary


def import_name(source: Value) -> str:
    """The input name under which a loop body or part receives an outside value."""
    if isinstance(source, StatusRef):
        return f"status--{source.member}"
    if isinstance(source, ir.OutputRef):
        return f"{source.step}_{source.output}"
    if isinstance(source, ir.LoopVarRef):
        return source.name
    raise AssertionError(f"{source.kind} values are global and never imported")


def export_name(source: ir.OutputRef | StatusRef) -> str:
    return import_name(source)


@dataclass(frozen=True)
class Condition:
    """One conjunct of a member's ``when``: ``expr`` must evaluate to ``expected``."""

    expr: ir.Expr
    expected: bool
    text: str


@dataclass
class PlanTask:
    """A member of one DAG: a step, a loop (all its iterations), or a part."""

    name: str  # a step name, a loop id, or a part's scope id
    kind: Literal["step", "loop", "part"]
    step: ir.Step | None = None
    loop: ir.Loop | None = None
    waits_for: list[str] = field(default_factory=list)  # members of the same DAG, sorted
    # Members of earlier parts that must have Succeeded (their status is imported): a
    # dependency on a task that may be skipped, cut by partitioning.
    status_waits: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    may_skip: bool = False  # may end Skipped or Omitted while its DAG goes on
    order: int = 0  # Argo lists a DAG's tasks by the pipeline order of their first step
    # The outcome waited for of members of ``waits_for`` other than "succeeded": `after
    # X.failed`, `after X.done`, and "done" for a step that continues on failure.
    outcomes: dict[str, ir.Outcome] = field(default_factory=dict)

    def outcome(self, waited: str) -> ir.Outcome:
        return self.outcomes.get(waited, "succeeded")


by_order = attrgetter("order")  # a sort key: members as Argo lists them (PlanTask.order)


@dataclass
class DagScope:
    id: ScopeId
    kind: Literal["main", "finally", "loop", "part"]
    members: list[PlanTask] = field(default_factory=list)
    imports: dict[str, Value] = field(default_factory=dict)
    exports: dict[str, ir.OutputRef | StatusRef] = field(default_factory=dict)
    loop: ir.Loop | None = None


@dataclass
class ExecutionPlan:
    pipeline: ir.Pipeline
    scopes: dict[ScopeId, DagScope]
    member_scope: dict[str, ScopeId]  # member name -> the scope it is a member of
    skippable: set[str]  # steps that may not run at all (their outputs need defaults)
    _in_loop: dict[str, list[ir.Step]] = field(default_factory=dict)
    _by_name: dict[str, PlanTask] = field(default_factory=dict)
    # (member, what it waits for) pairs whose wait on a failure or an end partitioning cut:
    # a later part waits for an earlier one to succeed, so such a wait cannot cross parts.
    cut_outcomes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def has_finally(self) -> bool:
        return bool(self.members(FINALLY))

    def members(self, scope: ScopeId) -> list[PlanTask]:
        found = self.scopes.get(scope)
        return found.members if found is not None else []

    def member(self, name: str) -> PlanTask:
        """The member named ``name`` (a step name, a loop id, a part's scope id)."""
        found = self._by_name.get(name)
        if found is None:
            self._by_name = {m.name: m for s in self.scopes.values() for m in s.members}
            found = self._by_name[name]
        return found

    def parent(self, scope: ScopeId) -> ScopeId | None:
        """The scope holding loop body or part ``scope`` as a member; None at the top."""
        if scope is None or scope == FINALLY:
            return None
        return self.member_scope[scope]

    def chain(self, scope: ScopeId) -> list[ScopeId]:
        """``scope`` and the scopes around it, innermost first."""
        found = [scope]
        while (scope := self.parent(scope)) is not None:
            found.append(scope)
        return found

    def representative(self, member: str, scope: ScopeId) -> str | None:
        """The member of ``scope`` standing for ``member`` (a step, a loop...): itself, or
        the loop or part of ``scope`` that holds it; None when it is outside ``scope``."""
        where = self.member_scope[member]
        while where != scope:
            if where is None or where == FINALLY:
                return None
            member, where = where, self.member_scope[where]
        return member

    def gathered(self, member: str, representative: str) -> bool:
        """Whether ``member``'s value reaches ``representative``'s DAG through a loop (a
        fan-in: one value per iteration)."""
        where = self.member_scope[member]
        while where != self.member_scope[representative]:
            if where is None or self.scopes[where].kind == "loop":
                return where is not None
            where = self.member_scope[where]
        return False

    def loops_of(self, step: ir.Step) -> list[str]:
        """The loops around ``step``, outermost first."""
        return [s for s in reversed(self.chain(self.member_scope[step.name]))
                if s is not None and self.scopes[s].kind == "loop"]

    def steps_in_loop(self, loop_id: str) -> list[ir.Step]:
        """The steps inside loop ``loop_id``, at any depth, in pipeline order."""
        return self._in_loop.get(loop_id, [])

    # ---- values crossing scopes -------------------------------------------------------------

    def note_flows(self) -> None:
        """Work out every scope's imports and exports from what its members read."""
        for scope in self.scopes.values():
            scope.imports.clear()
            scope.exports.clear()
        pipeline = self.pipeline
        member_scope = self.member_scope
        for step in pipeline.steps:
            where = member_scope[step.name]
            for item in step.inputs:
                read = item.source
                # Most reads are of params, or of outputs made in the reader's DAG: nothing
                # crosses (note_use's first tests, inlined).
                # type(), not isinstance(): a failed isinstance on a model class goes through
                # pydantic's ABC metaclass, and neither class has subclasses.
                if type(read) is ir.OutputRef:
                    if member_scope[read.step] == where:
                        continue
                elif type(read) is not ir.LoopVarRef:  # params, literals, the run's status
                    continue
                self.note_use(read, where)
            if step.when is not None:
                for ref in _refs(step.when.expr):
                    self.note_use(ref, where)
        for group in pipeline.groups:
            if isinstance(group, ir.Loop) and not isinstance(group.items, ir.Literal_):
                self.note_use(group.items, self.member_scope[group.id])
            if isinstance(group, ir.Branch) and group.condition is not None:
                for ref in _refs(group.condition.expr):
                    self.note_use(ref, self.scope_of(group.parent))
        for scope in list(self.scopes.values()):
            for member in scope.members:
                for condition in member.conditions:  # a branch's members spread over parts
                    if scope.kind == "part":
                        for ref in _refs(condition.expr):
                            self.note_use(ref, scope.id)
                for waited in member.status_waits:
                    self.note_use(StatusRef(waited), scope.id)
        for scope in list(self.scopes.values()):  # a loop body reads what it exports
            if scope.kind != "loop":
                continue
            for source in list(scope.exports.values()):
                assert isinstance(source, ir.OutputRef)
                representative = self.representative(source.step, scope.id)
                assert representative is not None
                if representative != source.step and not self.gathered(source.step,
                                                                       representative):
                    self.note_use(source, scope.id)
                    self.note_use(StatusRef(source.step), scope.id)

    def _whole(self, source: Value) -> Value:
        """What crosses a boundary for a record field (``run.lr``): the whole record, which
        the reader picks the field from."""
        if isinstance(source, ir.LoopVarRef) and source.field is not None:
            loop = self.pipeline.group(source.loop)
            assert isinstance(loop, ir.Loop)
            return ir.LoopVarRef(name=source.name, loop=source.loop, type=loop.item_type)
        if isinstance(source, ir.OutputRef) and source.field is not None:
            output = self.pipeline.step(source.step).output(source.output)
            return ir.OutputRef.of(source.step, source.output, output.type)
        return source

    def scope_of(self, group_id: str | None) -> ScopeId:
        """The DAG, before partitioning, that a thing in group ``group_id`` belongs to."""
        return dag_scope_of(self.pipeline, group_id)

    def note_use(self, source: Value, reader: ScopeId) -> None:
        """Record the imports and exports needed to read ``source`` in scope ``reader``."""
        source = self._whole(source)
        if isinstance(source, ir.OutputRef | StatusRef):
            member = source.step if isinstance(source, ir.OutputRef) else source.member
            made_in = self.member_scope[member]
            if made_in == reader:  # most reads: nothing crosses
                return
            origin = self.chain(made_in)
        elif isinstance(source, ir.LoopVarRef):
            origin = self.chain(source.loop)
        else:
            return
        readers = self.chain(reader)
        if isinstance(source, ir.OutputRef | StatusRef):
            inside = set(readers)
            for scope in origin:  # made inside a loop or part the reader is not in
                if scope in inside or scope is None or scope == FINALLY:
                    break
                self.scopes[scope].exports[export_name(source)] = source
        made = set(origin)
        for scope in readers:  # every loop or part the reader is in and the value is not
            if scope in made:
                break
            if scope is not None and scope != FINALLY:
                self.scopes[scope].imports[import_name(source)] = source


def dag_scope_of(pipeline: ir.Pipeline, group_id: str | None) -> ScopeId:
    """The DAG a thing in group ``group_id`` belongs to: its innermost loop's body, or
    ``finally``, or the entrypoint (branches are transparent)."""
    for group in pipeline.ancestors(group_id):
        if isinstance(group, ir.Loop):
            return group.id
        if isinstance(group, ir.Finally):
            return FINALLY
    return None


def _refs(expr: ir.Expr) -> list[ir.Source]:
    from cnai.semantics.dag import gate_refs

    return list(gate_refs(expr))
