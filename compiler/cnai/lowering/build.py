"""From the optimized IR to the execution plan (lowering/plan.py), in one pass per kind."""

from __future__ import annotations

from cnai.lowering.plan import (
    FINALLY,
    Condition,
    DagScope,
    ExecutionPlan,
    PlanTask,
    ScopeId,
    by_order,
    dag_scope_of,
)
from cnai.lowering.skips import Skippable
from cnai.semantics import ir


def build_plan(pipeline: ir.Pipeline, flows: bool = True) -> ExecutionPlan:
    """Every DAG scope with its members in Argo's task order, what each waits for, its
    conditions, whether it may be skipped, and (unless ``flows`` is false: partition_plan
    works them out) the values crossing scopes."""
    plan = _Builder(pipeline).plan()
    if flows:
        plan.note_flows()
    return plan


class _Builder:
    def __init__(self, pipeline: ir.Pipeline) -> None:
        self.pipeline = pipeline
        self.scope_ids: dict[str | None, ScopeId] = {}
        self.loops: dict[str | None, list[str]] = {}
        self.continuing: set[str] = set()  # steps that continue on failure (outcomes)

    def scope_of(self, group_id: str | None) -> ScopeId:
        """The DAG a thing in group ``group_id`` belongs to (branches are transparent)."""
        if group_id not in self.scope_ids:
            self.scope_ids[group_id] = dag_scope_of(self.pipeline, group_id)
        return self.scope_ids[group_id]

    def loops_around(self, group_id: str | None) -> list[str]:
        """Loop ids enclosing ``group_id``, innermost first."""
        found = self.loops.get(group_id)
        if found is None:
            found = self.loops[group_id] = [g.id for g in self.pipeline.loops_around(group_id)]
        return found

    def plan(self) -> ExecutionPlan:
        pipeline = self.pipeline
        scopes: dict[ScopeId, DagScope] = {None: DagScope(None, "main")}
        member_scope: dict[str, ScopeId] = {}
        in_loop: dict[str, list[ir.Step]] = {}
        order: dict[str, int] = {}
        for group in pipeline.groups:
            if isinstance(group, ir.Loop):
                scopes[group.id] = DagScope(group.id, "loop", loop=group)
                member_scope[group.id] = self.scope_of(group.parent)
            elif isinstance(group, ir.Finally):
                scopes[FINALLY] = DagScope(FINALLY, "finally")
        skippable = Skippable(pipeline)  # decided in the walk below
        plan = ExecutionPlan(pipeline, scopes, member_scope, skippable.steps, in_loop)
        members: dict[ScopeId, list[PlanTask]] = {}
        # One pass: the IR lists steps topologically, so the steps a step depends on have
        # their scope (and are known to continue on failure or not, and to be skippable or
        # not) when it is reached.
        continuing = self.continuing
        for index, step in enumerate(pipeline.steps):
            name, group_id = step.name, step.group
            scope = member_scope[name] = None if group_id is None else self.scope_of(group_id)
            position = order.setdefault(name, index)
            if group_id is not None:
                for loop in self.loops_around(group_id):
                    in_loop.setdefault(loop, []).append(step)
                    order.setdefault(loop, index)
            if step.continue_on_failure:
                continuing.add(name)
            # _waits_for, and whether outcomes has any to find, in one loop: most steps wait
            # for the success of steps of their own DAG.
            waits: set[str] = set()
            other_outcomes = False
            for dependency in step.depends:
                waited = dependency.step
                if dependency.outcome != "succeeded" or waited in continuing:
                    other_outcomes = True
                if member_scope[waited] != scope:
                    representative = plan.representative(waited, scope)
                    if representative is None:
                        continue
                    waited = representative
                if waited != name:
                    waits.add(waited)
            skippable.add(step)
            found = members.get(scope)
            if found is None:
                found = members[scope] = []
            found.append(PlanTask(
                name, "step", step=step, waits_for=sorted(waits),
                conditions=(self.conditions(group_id, scope, step.when)
                            if group_id is not None or step.when is not None else []),
                order=position,
                outcomes=self.outcomes(step, plan, scope) if other_outcomes else {}))
        for group in pipeline.groups:
            if not isinstance(group, ir.Loop):
                continue
            scope = member_scope[group.id]
            inside = plan.steps_in_loop(group.id)
            names = {s.name for s in inside}
            upstream = [d.step for s in inside for d in s.depends if d.step not in names]
            if isinstance(group.items, ir.OutputRef):
                upstream.append(group.items.step)
            members.setdefault(scope, []).append(PlanTask(
                group.id, "loop", loop=group,
                waits_for=_waits_for(plan, upstream, scope, group.id),
                conditions=self.conditions(group.parent, scope, None),
                order=order.get(group.id, len(pipeline.steps))))
        for scope_id, found in members.items():
            found.sort(key=by_order)
            if scope_id not in scopes:  # a DAG the IR has no group for: cannot happen
                raise AssertionError(f"members of unknown scope {scope_id!r}")
            scopes[scope_id].members = found
            mark_may_skip(found)
        return plan

    def outcomes(self, step: ir.Step, plan: ExecutionPlan, scope: ScopeId
                 ) -> dict[str, ir.Outcome]:
        """What ``step`` waits for of each step of its own DAG it depends on, when that is
        not success: `after X.failed` / `after X.done`, or the end of a step that continues
        on failure (which Argo's own conversion of ``dependencies`` also accepts the failure
        of: workflow/common/ancestry.go, expandDependency)."""
        found: dict[str, ir.Outcome] = {}
        for dependency in step.depends:
            if dependency.outcome == "succeeded" and dependency.step not in self.continuing:
                continue  # most waits: success, the default
            if plan.member_scope[dependency.step] != scope:
                continue
            if dependency.outcome != "succeeded":  # written: it wins over the one implied
                found[dependency.step] = dependency.outcome
            else:  # a step that continues on failure
                found.setdefault(dependency.step, "done")
        return found

    def conditions(self, group_id: str | None, scope: ScopeId,
                   gate: ir.Gate | None) -> list[Condition]:
        """The conditions of the branches around a member (within its DAG), outermost first,
        then its own gate."""
        branches = []
        for group in self.pipeline.ancestors(group_id):
            if group.id == scope or isinstance(group, ir.Loop | ir.Finally):
                break
            if isinstance(group, ir.Branch):
                branches.append(group)
        conditions: list[Condition] = []
        for branch in reversed(branches):
            earlier = [g for g in self.pipeline.chain(branch.chain) if g.index < branch.index]
            conditions += [Condition(g.condition.expr, False, g.condition.text) for g in earlier
                           if g.condition is not None]
            if branch.condition is not None:
                conditions.append(Condition(branch.condition.expr, True, branch.condition.text))
        if gate is not None:
            conditions.append(Condition(gate.expr, True, gate.text))
        return conditions


def _waits_for(plan: ExecutionPlan, upstream: list[str], scope: ScopeId,
               member: str) -> list[str]:
    found = set()
    member_scope = plan.member_scope
    for step_name in upstream:
        # Most waits are on a member of the same DAG: representative's first test, inlined.
        representative = (step_name if member_scope[step_name] == scope
                          else plan.representative(step_name, scope))
        if representative is not None and representative != member:
            found.add(representative)
    return sorted(found)


def topological(members: list[PlanTask]) -> list[PlanTask]:
    """``members`` (of one DAG) in an order where each comes after what it waits for; ties
    keep the listed order. Argo's listing order is not one: a loop is listed at its first
    step, which may come before a step that a later step of the loop waits for."""
    index = {m.name: i for i, m in enumerate(members)}
    waiting = [len(m.waits_for) for m in members]
    dependants: list[list[int]] = [[] for _ in members]
    for i, member in enumerate(members):
        for name in member.waits_for:
            dependants[index[name]].append(i)
    # A first-in first-out queue: the loop reads what it appends.
    ready = [i for i, count in enumerate(waiting) if count == 0]
    for i in ready:
        for j in dependants[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    assert len(ready) == len(members), "a cycle among a DAG's members"
    return [members[i] for i in ready]


def in_wait_order(members: list[PlanTask]) -> list[PlanTask]:
    """``members`` in some order where each comes after what it waits for: as listed when
    they already are (a DAG of steps only: the IR lists steps topologically), else
    :func:`topological`."""
    seen: set[str] = set()
    for member in members:
        if not seen.issuperset(member.waits_for):
            return topological(members)
        seen.add(member.name)
    return members


def mark_may_skip(members: list[PlanTask]) -> None:
    """A member may end Skipped or Omitted while its DAG goes on when it has conditions, is a
    loop whose items may be empty (Argo skips it: "Skipped, empty params"), or waits for a
    member that may."""
    may_skip: dict[str, bool] = {}
    for member in in_wait_order(members):
        loop = member.loop
        # `after X.failed` is Omitted when X succeeds.
        skips = bool(member.conditions or member.status_waits
                     or (member.outcomes and "failed" in member.outcomes.values())
                     or (loop is not None and (not isinstance(loop.items, ir.Literal_)
                                               or not loop.items.value)))
        if not skips:
            for name in member.waits_for:
                if may_skip[name]:
                    skips = True
                    break
        member.may_skip = may_skip[member.name] = skips
