"""The shape of a local run, worked out once from the IR: which DAG each step and loop
belongs to, what each waits for, and the conditions it must meet.

It follows the Argo backend exactly (backends/argo.py, argo_scope.py), so that a pipeline
behaves the same on this machine as on the cluster:
- a member of a DAG waits for the members standing for its dependencies in that DAG: a
  dependency inside a loop the member is not in is the whole loop (all its iterations);
- it runs only if every one of them Succeeded (``depends: X.Succeeded``), else it is Omitted;
- then its ``when`` is checked: the conditions of the if/else branches around it inside that
  DAG (a branch holds when its condition does and no earlier branch of its chain did) and its
  own gate. False means Skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.backends.argo_scope import FINALLY, Scope, Scopes
from cnai.semantics import ir


@dataclass(frozen=True)
class Condition:
    """One conjunct of a member's ``when``: ``expr`` must evaluate to ``expected``."""

    expr: ir.Expr
    expected: bool
    text: str


@dataclass
class Member:
    name: str  # a step name or a loop id
    step: ir.Step | None
    loop: ir.Loop | None
    waits_for: list[str] = field(default_factory=list)  # members of the same DAG
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class Plan:
    pipeline: ir.Pipeline
    scopes: Scopes
    members: dict[Scope, list[Member]]

    @property
    def has_finally(self) -> bool:
        return bool(self.members.get(FINALLY))

    def loops_of(self, step: ir.Step) -> list[str]:
        """The loops around ``step``, outermost first."""
        return list(reversed(self.scopes.loops_around(step.group)))


def make_plan(pipeline: ir.Pipeline) -> Plan:
    scopes = Scopes(pipeline)
    scope_ids: list[Scope] = [None, FINALLY]
    scope_ids += [g.id for g in pipeline.groups if isinstance(g, ir.Loop)]
    members: dict[Scope, list[Member]] = {}
    order = _first_step_order(pipeline, scopes)
    for scope in scope_ids:
        steps, loops = scopes.members(scope)
        found = [_step_member(step, scope, scopes) for step in steps]
        found += [_loop_member(loop, scope, scopes) for loop in loops]
        found.sort(key=lambda m: order.get(m.name, len(order)))
        members[scope] = found
    return Plan(pipeline, scopes, members)


def _first_step_order(pipeline: ir.Pipeline, scopes: Scopes) -> dict[str, int]:
    """Members in the pipeline's topological order of their first step (as Argo lists tasks)."""
    order: dict[str, int] = {}
    for index, step in enumerate(pipeline.steps):
        for key in (step.name, *scopes.loops_around(step.group)):
            order.setdefault(key, index)
    return order


def _waits_for(upstream: list[str], scope: Scope, member: str, scopes: Scopes) -> list[str]:
    found = set()
    for step_name in upstream:
        representative = scopes.representative(step_name, scope)
        if representative is not None and representative != member:
            found.add(representative)
    return sorted(found)


def _conditions(group_id: str | None, scope: Scope, gate: ir.Gate | None,
                scopes: Scopes) -> list[Condition]:
    conditions = []
    for branch in scopes.branches_between(group_id, scope):
        earlier = [g for g in scopes.pipeline.chain(branch.chain) if g.index < branch.index]
        conditions += [Condition(g.condition.expr, False, g.condition.text) for g in earlier
                       if g.condition is not None]
        if branch.condition is not None:
            conditions.append(Condition(branch.condition.expr, True, branch.condition.text))
    if gate is not None:
        conditions.append(Condition(gate.expr, True, gate.text))
    return conditions


def _step_member(step: ir.Step, scope: Scope, scopes: Scopes) -> Member:
    waits = _waits_for([d.step for d in step.depends], scope, step.name, scopes)
    return Member(step.name, step, None, waits, _conditions(step.group, scope, step.when, scopes))


def _loop_member(loop: ir.Loop, scope: Scope, scopes: Scopes) -> Member:
    inside = scopes.steps_in_loop(loop.id)
    names = {s.name for s in inside}
    upstream = [d.step for s in inside for d in s.depends if d.step not in names]
    if isinstance(loop.items, ir.OutputRef):
        upstream.append(loop.items.step)
    waits = _waits_for(upstream, scope, loop.id, scopes)
    return Member(loop.id, None, loop, waits, _conditions(loop.parent, scope, None, scopes))
