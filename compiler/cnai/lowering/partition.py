"""Partition large DAGs of the plan into nested DAGs ("parts") that fit a cap on tasks.

Argo v4's full CRDs cap a DAG's tasks at 200 (maxItems on ``dag.tasks`` in
manifests/base/crds/full/argoproj.io_workflows.yaml). A DAG over the cap becomes a DAG of
parts, each a DAG of at most the cap, and again while there are more parts than the cap.

Independent work stays independent, so the longest chain of waits does not grow (a task that
waits for a part waits for everything in it):
- the DAG's connected components are kept apart; small ones are packed together, whole, in
  the order of their first member, none of them waiting for another;
- a component over the cap is cut by dependency level (the longest path to a member): a part
  holds consecutive levels, a level wider than the cap is split over parts side by side. Every
  wait then points to a lower level, so a chain of parts covers disjoint, rising ranges of
  levels and is no longer than the component's longest path;
- a part waits only for the parts holding what its members wait for.

A member that waited for one in an earlier part now waits for that part instead. The earlier
part Succeeds even when that member was Skipped or Omitted (a DAG fails only on failures), so
where the member waited for may be skipped, the earlier part exports its status
(``{{tasks.T.status}}``: DAG outputs see their tasks' statuses, workflow/controller/
operator.go, buildLocalScope) and the later member runs only if it is ``Succeeded``, as
``T.Succeeded`` had it. Values and statuses crossing parts are the parts' imports and exports,
worked out as a loop body's are (ExecutionPlan.note_flows).
"""

from __future__ import annotations

from collections.abc import Callable

from cnai.lowering.build import in_wait_order, topological
from cnai.lowering.plan import DagScope, ExecutionPlan, PlanTask, ScopeId, by_order

LIMIT = 200


def partition_plan(plan: ExecutionPlan, weight: Callable[[PlanTask], int],
                   limit: int = LIMIT) -> bool:
    """Partition every DAG of ``plan`` whose members weigh more than ``limit`` (a member's
    weight: the tasks it renders as), in place, then work out the values crossing scopes.
    Whether any DAG was partitioned."""
    changed = False
    for scope_id in list(plan.scopes):
        depth = 0
        while True:
            weights = {m.name: weight(m) for m in plan.scopes[scope_id].members}
            if sum(weights.values()) <= limit:
                break
            _partition(plan, scope_id, weights, limit, depth)
            weight, depth, changed = _one_task_each(weight), depth + 1, True
    plan.note_flows()
    return changed


def _one_task_each(weight: Callable[[PlanTask], int]) -> Callable[[PlanTask], int]:
    return lambda member: 1 if member.kind == "part" else weight(member)


def _partition(plan: ExecutionPlan, scope_id: ScopeId, weights: dict[str, int],
               limit: int, depth: int) -> None:
    """Cut scope ``scope_id`` into parts, each member weighing ``weights[its name]``."""
    scope = plan.scopes[scope_id]
    groups = _groups(scope.members, weights, limit)
    groups.sort(key=lambda group: min([m.order for m in group]))
    label = "part" if depth == 0 else f"part{depth + 1}"
    part_of: dict[str, str] = {}
    parts = []
    for number, group in enumerate(groups, 1):
        part_id = f"{scope_id or ''}#{label}-{number}"
        group.sort(key=by_order)
        for member in group:
            part_of[member.name] = part_id
            plan.member_scope[member.name] = part_id
        plan.scopes[part_id] = DagScope(part_id, "part", members=group)
        plan.member_scope[part_id] = scope_id
        parts.append(PlanTask(part_id, "part", order=group[0].order))
    needs: dict[str, set[str]] = {part.name: set() for part in parts}
    may_skip = {m.name: m.may_skip for m in scope.members}
    for member in scope.members:
        own = part_of[member.name]
        for name in member.waits_for:
            if part_of[name] != own:
                break
        else:  # most members: what they wait for is in their part
            continue
        cut = [name for name in member.waits_for if part_of[name] != own]
        plan.cut_outcomes += [(member.name, name) for name in cut
                              if member.outcome(name) != "succeeded"]
        needs[own].update(part_of[name] for name in cut)
        member.status_waits += [name for name in cut if may_skip[name]]
        member.waits_for = [name for name in member.waits_for if part_of[name] == own]
    for part in parts:
        part.waits_for = sorted(needs[part.name])
    scope.members = parts


def _groups(members: list[PlanTask], weights: dict[str, int],
            limit: int) -> list[list[PlanTask]]:
    """The members as parts of at most ``limit``: connected components packed whole, or cut
    by level when one is too large."""
    # Union-find, each set's root its least name: the root of the member's set, kept as
    # sets merge, and of each it waits for.
    parent = {m.name: m.name for m in members}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for member in members:
        if not member.waits_for:
            continue
        own = root(member.name)
        for name in member.waits_for:
            other = parent[name]  # root's answer when it is one step away (most are)
            if parent[other] != other:
                other = root(other)
            if own < other:
                parent[other] = own
            elif other < own:
                parent[own] = own = other
    components: dict[str, list[PlanTask]] = {}
    for member in members:
        found = parent[member.name]
        if parent[found] != found:
            found = root(found)
        component = components.get(found)
        if component is None:
            component = components[found] = []
        component.append(member)
    groups: list[list[PlanTask]] = []
    packed: list[PlanTask] = []
    packed_weight = 0
    for component in components.values():  # in the order of their first member
        total = sum([weights[m.name] for m in component])
        if total > limit:
            groups += _by_level(component, weights, limit)
            continue
        if packed_weight + total > limit:
            groups.append(packed)
            packed, packed_weight = [], 0
        packed += component
        packed_weight += total
    if packed:
        groups.append(packed)
    return groups


def _by_level(component: list[PlanTask], weights: dict[str, int],
              limit: int) -> list[list[PlanTask]]:
    # Levels made in any order where each member comes after what it waits for hold the same
    # members, and a part takes whole levels (its members are sorted by _partition): only a
    # level too wide for one part is cut in an order of its own, topological's.
    levels = _levels(in_wait_order(component))
    totals = [sum([weights[m.name] for m in members]) for members in levels]
    if max(totals) > limit:
        levels = _levels(topological(component))
    groups: list[list[PlanTask]] = []
    current: list[PlanTask] = []
    current_weight = 0
    for members, total in zip(levels, totals, strict=True):
        if current and current_weight + total > limit:
            groups.append(current)
            current, current_weight = [], 0
        if total <= limit:
            current += members
            current_weight += total
            continue
        chunk: list[PlanTask] = []  # a level too wide for one part: side by side parts
        chunk_weight = 0
        for member in members:
            if chunk and chunk_weight + weights[member.name] > limit:
                groups.append(chunk)
                chunk, chunk_weight = [], 0
            chunk.append(member)
            chunk_weight += weights[member.name]
        groups.append(chunk)
    if current:
        groups.append(current)
    return groups


def _levels(ordered: list[PlanTask]) -> list[list[PlanTask]]:
    """``ordered`` (each member after those it waits for) by level, one more than the
    highest level waited for (0: waits for none), each level in the order given."""
    level: dict[str, int] = {}
    levels: list[list[PlanTask]] = []
    for member in ordered:
        at = 0
        for name in member.waits_for:
            if level[name] >= at:
                at = level[name] + 1
        level[member.name] = at
        if at == len(levels):
            levels.append([])
        levels[at].append(member)
    return levels
