"""The execution plan's and the Argo backend's shortcuts, against the plain definitions they
replace for speed: a DAG's orders, what may be skipped, partitioning's components, what a
step waits for, and task arguments worked out once per reference and DAG."""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path

import pytest
import yaml

from cnai import compile_source
from cnai.lowering import build_plan, skippable_steps
from cnai.lowering.build import _Builder, _waits_for, in_wait_order, mark_may_skip, topological
from cnai.lowering.partition import _by_level, _groups
from cnai.lowering.plan import PlanTask


def random_dag(rng: random.Random, size: int) -> list[PlanTask]:
    """Members of one DAG, each waiting for some earlier ones, listed shuffled or not."""
    members: list[PlanTask] = []
    for number in range(size):
        earlier = [m.name for m in members]
        waits = sorted(set(rng.sample(earlier, min(len(earlier), rng.choice([0, 0, 1, 2, 3])))))
        members.append(PlanTask(f"m{number}", "step", waits_for=waits, order=number,
                                outcomes={w: "failed" for w in waits if rng.random() < 0.05}))
        if rng.random() < 0.1:  # waits for a member of an earlier part to have succeeded
            members[-1].status_waits = ["elsewhere"]
    if rng.random() < 0.5:
        rng.shuffle(members)
    return members


def plain_topological(members: list[PlanTask]) -> list[PlanTask]:
    """Kahn's algorithm with a first-in first-out queue: ties keep the listed order."""
    index = {m.name: i for i, m in enumerate(members)}
    waiting = [0] * len(members)
    dependants: list[list[int]] = [[] for _ in members]
    for i, member in enumerate(members):
        for name in member.waits_for:
            waiting[i] += 1
            dependants[index[name]].append(i)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    found = []
    while ready:
        i = ready.popleft()
        found.append(members[i])
        for j in dependants[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    return found


def test_orders_of_a_dag_are_the_plain_ones() -> None:
    rng = random.Random(3)
    for _ in range(300):
        members = random_dag(rng, rng.randrange(1, 40))
        assert topological(members) == plain_topological(members)
        ordered = in_wait_order(members)
        seen: set[str] = set()
        for member in ordered:  # each after what it waits for
            assert set(member.waits_for) <= seen
            seen.add(member.name)
        assert sorted(m.name for m in ordered) == sorted(m.name for m in members)
        listed = sorted(members, key=lambda m: m.order)  # as built: already in wait order
        assert in_wait_order(listed) is listed


def plain_may_skip(members: list[PlanTask]) -> dict[str, bool]:
    """mark_may_skip's rule, recursively: conditions, a status wait, a failure handler, or
    waiting for a member that may skip (no loops here)."""
    by_name = {m.name: m for m in members}

    def skips(name: str) -> bool:
        member = by_name[name]
        return bool(member.conditions or member.status_waits
                    or "failed" in member.outcomes.values()) or any(
            skips(waited) for waited in member.waits_for)

    return {m.name: skips(m.name) for m in members}


def test_what_may_skip_is_the_plain_recursive_definition() -> None:
    rng = random.Random(5)
    for _ in range(300):
        members = random_dag(rng, rng.randrange(1, 40))
        mark_may_skip(members)
        assert {m.name: m.may_skip for m in members} == plain_may_skip(members)


def test_partition_components_are_the_connected_ones_in_first_member_order() -> None:
    rng = random.Random(9)
    for _ in range(200):
        members = sorted(random_dag(rng, rng.randrange(1, 60)), key=lambda m: m.order)
        neighbours: dict[str, set[str]] = {m.name: set() for m in members}
        for member in members:
            for name in member.waits_for:
                neighbours[member.name].add(name)
                neighbours[name].add(member.name)
        components: list[list[str]] = []
        placed: set[str] = set()
        for member in members:  # a plain search from each member not yet placed
            if member.name in placed:
                continue
            found, todo = {member.name}, [member.name]
            while todo:
                for name in neighbours[todo.pop()] - found:
                    found.add(name)
                    todo.append(name)
            placed |= found
            components.append([m.name for m in members if m.name in found])
        # A limit no component reaches: each group is components packed whole, in order.
        groups = _groups(members, {m.name: 1 for m in members}, len(members))
        assert [m.name for g in groups for m in g] == [n for c in components for n in c]


def plain_by_level(component: list[PlanTask], weights: dict[str, int],
                   limit: int) -> list[list[PlanTask]]:
    """_by_level as first written: levels in topological's order, parts of whole levels, a
    level too wide for one part cut side by side in that order."""
    level: dict[str, int] = {}
    levels: list[list[PlanTask]] = []
    for member in topological(component):
        at = max([level[name] + 1 for name in member.waits_for], default=0)
        level[member.name] = at
        if at == len(levels):
            levels.append([])
        levels[at].append(member)
    groups: list[list[PlanTask]] = []
    current: list[PlanTask] = []
    for members in levels:
        total = sum(weights[m.name] for m in members)
        if current and sum(weights[m.name] for m in current) + total > limit:
            groups.append(current)
            current = []
        if total <= limit:
            current += members
            continue
        chunk: list[PlanTask] = []
        for member in members:
            if chunk and sum(weights[m.name] for m in chunk) + weights[member.name] > limit:
                groups.append(chunk)
                chunk = []
            chunk.append(member)
        groups.append(chunk)
    if current:
        groups.append(current)
    return groups


def test_parts_by_level_are_the_plain_ones() -> None:
    """Levels made in the listed order (when it is a wait order) give the parts that
    topological's order gave, as _partition sorts them; a level too wide for one part is cut
    in topological's order."""
    rng = random.Random(11)
    for _ in range(300):
        component = random_dag(rng, rng.randrange(1, 60))
        if rng.random() < 0.7:
            component.sort(key=lambda m: m.order)
        weights = {m.name: rng.choice([1, 1, 1, 2, 3]) for m in component}
        limit = rng.choice([3, 5, 8, 20, 100])

        def parts(groups: list[list[PlanTask]]) -> list[list[str]]:
            return sorted([m.name for m in sorted(g, key=lambda m: m.order)] for g in groups)

        assert parts(_by_level(component, weights, limit)) == parts(
            plain_by_level(component, weights, limit))


def test_one_output_read_in_two_dags_is_each_dag_s_argument() -> None:
    source = """pipeline fan {
  param items: list[int] = [1, 2]
  step make {
    image = "busybox"
    command = ["sh", "-c", "echo 1 > $0", outputs.x]
    output x: string
  }
  step near {
    image = "busybox"
    command = ["echo", "${make.x}"]
  }
  for n in items {
    step far {
      image = "busybox"
      command = ["echo", "${make.x}", "${n}"]
    }
  }
  step also {
    image = "busybox"
    command = ["echo", "${make.x}"]
  }
}
"""
    (document,) = yaml.safe_load_all(compile_source(source).text)
    tasks = {t["name"]: t for template in document["spec"]["templates"]
             for t in template.get("dag", {}).get("tasks", [])}

    def values(task: str) -> list[str]:
        return [p["value"] for p in tasks[task]["arguments"]["parameters"]]

    made = "{{tasks.make.outputs.parameters.x}}"
    assert values("near") == values("also") == [made]
    assert values("for-n") == ["{{item}}", made]  # the loop's import, in the same DAG
    assert values("far") == ["{{inputs.parameters.make_x}}", "{{inputs.parameters.n}}"]


FIXTURES = Path(__file__).parent / "fixtures" / "valid"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*.cnai")) + sorted(EXAMPLES.glob("*.cnai")),
    ids=lambda p: p.name)
def test_a_step_s_waits_are_the_plain_ones(path: Path) -> None:
    """build_plan works out a step's waits, the outcomes it waits for and whether it may not
    run in its one walk over the steps: as _waits_for, _Builder.outcomes and skippable_steps
    have them."""
    graph = compile_source(path.read_text(), str(path), target="ir").graph
    assert graph is not None
    plan = build_plan(graph)
    builder = _Builder(graph)
    builder.continuing = {s.name for s in graph.steps if s.continue_on_failure}
    assert plan.skippable == skippable_steps(graph)
    for step in graph.steps:
        member, scope = plan.member(step.name), plan.member_scope[step.name]
        assert member.waits_for == _waits_for(plan, [d.step for d in step.depends], scope,
                                              step.name)
        assert member.outcomes == builder.outcomes(step, plan, scope)
