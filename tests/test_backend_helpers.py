"""Helpers the backends share, against the plain definitions they replace for speed."""

from __future__ import annotations

import random

from cnai.backends.kfp_dag import Group, Task, _common_depth
from cnai.semantics.units import Names


def test_names_take_the_first_free_suffix_as_a_plain_scan_would() -> None:
    rng = random.Random(7)
    names, taken = Names("a", "b-3"), {"a", "b-3"}
    for _ in range(2000):
        wanted = rng.choice(["a", "b", "a-2", "c", "b-4"])
        name, counter = wanted, 2  # the definition: wanted, then wanted-2, wanted-3, ...
        while name in taken:
            name, counter = f"{wanted}-{counter}", counter + 1
        taken.add(name)
        assert names.take(wanted) == name


def test_common_depth_of_ancestries_is_the_shared_prefix() -> None:
    rng = random.Random(11)
    root = Group("root", None)
    nodes: list[Task] = [root]
    for number in range(400):
        parent = rng.choice([n for n in nodes[-60:] if isinstance(n, Group)] or [root])
        nodes.append((Group if rng.random() < 0.7 else Task)(f"n{number}", parent))
    for _ in range(2000):
        a, b = rng.choice(nodes).ancestry(), rng.choice(nodes).ancestry()
        plain = 0
        while plain < min(len(a), len(b)) and a[plain] is b[plain]:
            plain += 1
        assert _common_depth(a, b) == plain


def test_plan_scopes_index_members_and_loop_steps_as_the_plain_scans_would() -> None:
    from cnai.context import CompileContext
    from cnai.driver import analyze
    from cnai.lowering import build_plan
    from cnai.semantics import ir
    from cnai.source import SourceFile
    from testpaths import FIXTURES

    path = FIXTURES / "valid" / "control.cnai"
    graph = analyze(SourceFile(str(path), path.read_text()), CompileContext())
    plan = build_plan(graph)
    loops = [g for g in graph.groups if isinstance(g, ir.Loop)]
    assert loops

    def scope_of(group: str | None) -> str | None:
        for found in graph.ancestors(group):
            if isinstance(found, ir.Loop | ir.Finally):
                return found.id
        return None

    for scope in [None, "finally", *(loop.id for loop in loops)]:
        steps = [s.name for s in graph.steps if scope_of(s.group) == scope]
        inner = [g.id for g in loops if scope_of(g.parent) == scope]
        members = plan.members(scope)
        assert [m.name for m in members if m.step is not None] == steps
        assert sorted(m.name for m in members if m.loop is not None) == sorted(inner)
    for loop in loops:
        assert plan.steps_in_loop(loop.id) == [
            s for s in graph.steps if loop in graph.loops_around(s.group)]


def test_pipeline_chain_is_the_chain_s_branches_in_order() -> None:
    from cnai.context import CompileContext
    from cnai.driver import analyze
    from cnai.semantics import ir
    from cnai.source import SourceFile
    from testpaths import FIXTURES

    path = FIXTURES / "valid" / "control.cnai"
    graph = analyze(SourceFile(str(path), path.read_text()), CompileContext())
    branches = [g for g in graph.groups if isinstance(g, ir.Branch)]
    assert len({b.chain for b in branches}) > 1
    for chain in {b.chain for b in branches}:
        assert graph.chain(chain) == sorted([b for b in branches if b.chain == chain],
                                            key=lambda b: b.index)
