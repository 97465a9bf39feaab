"""Helpers the passes share: reachability and removing steps with what hangs on them."""

from __future__ import annotations

from cnai.semantics import ir


def ancestors(steps: list[ir.Step]) -> dict[str, int]:
    """For each step, a bit set (an int) of every step it transitively depends on.

    Steps are in topological order, so one sweep suffices; bit i is ``steps[i]``.
    """
    index = {step.name: i for i, step in enumerate(steps)}
    found: dict[str, int] = {}
    for step in steps:
        bits = 0
        for dep in step.depends:
            bits |= found[dep.step] | (1 << index[dep.step])
        found[step.name] = bits
    return found


def remove_steps(graph: ir.Pipeline, doomed: set[str]) -> tuple[ir.Pipeline, list[str]]:
    """Remove ``doomed`` and every step depending on a removed one (it could never run), and
    groups left empty. Returns the new graph and the removed names in pipeline order."""
    removed = set(doomed)
    for step in graph.steps:  # topological: dependants come later
        if any(dep.step in removed for dep in step.depends):
            removed.add(step.name)
    kept = [s for s in graph.steps if s.name not in removed]
    used = {g.id for s in kept for g in graph.ancestors(s.group)}
    groups = [g for g in graph.groups if g.id in used]
    names = [s.name for s in graph.steps if s.name in removed]
    return graph.model_copy(update={"steps": kept, "groups": groups}), names
