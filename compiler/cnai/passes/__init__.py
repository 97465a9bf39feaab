"""Graph-to-graph passes, run in a fixed order between build_graph and the backends.

A pass is ``def verb_object(graph: Pipeline, ctx: CompileContext) -> Pipeline``, one per
file; findings go to ``ctx.diagnostics``, what it changed to ``ctx.explain``
(``cnai compile --explain``). ``run_passes`` copies the graph once and checks it is still
acyclic after every pass that changed its order or an edge.

The copy is shallow (a new Pipeline with new lists): a pass never changes a Step, or any IR
node, in place but builds a new one with ``step.model_copy(update=...)`` or ``ir.updated``.
A deep copy cost 0.8 s at 1,000 steps. Steps also share nodes: the checker makes one text per
repeated word or placeholder (``ir.SharedNodes``), which is only safe because of this rule.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from cnai.context import CompileContext
from cnai.passes.dedupe_templates import dedupe_templates
from cnai.passes.fold_constant_gates import fold_constant_gates
from cnai.passes.place_preloads import place_preloads
from cnai.passes.reduce_edges import reduce_edges
from cnai.passes.report_unused import report_unused
from cnai.semantics import ir
from cnai.semantics.dag import topological_order

Pass = Callable[[ir.Pipeline, CompileContext], ir.Pipeline]

# Order matters: folding gates removes steps, so unused values and data sets are judged
# after it; edges are reduced before templates are shared.
PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("fold_constant_gates", fold_constant_gates),
    ("report_unused", report_unused),
    ("place_preloads", place_preloads),
    ("reduce_edges", reduce_edges),
    ("dedupe_templates", dedupe_templates),
)
NAMES = (*(name for name, _ in PIPELINE), "check_size")


def run_passes(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    selected = ctx.options.passes
    graph = graph.model_copy(update={"steps": list(graph.steps),
                                      "datasets": list(graph.datasets),
                                      "params": list(graph.params),
                                      "groups": list(graph.groups)})
    if not ctx.options.optimize:
        return graph
    for name, run in PIPELINE:
        if selected is not None and name not in selected:
            continue
        steps = graph.steps
        graph = run(graph, ctx)
        if graph.steps is not steps:  # a pass that kept the step list kept the graph's order
            assert not _edges_changed(steps, graph.steps) or topological_order(
                graph.steps) is not None, f"pass {name} made a cycle"
    return graph


def _edges_changed(before: list[ir.Step], after: list[ir.Step]) -> bool:
    """Whether a pass's new step list may hold a cycle the old one did not: not if it holds
    the same steps in the same order, each with the same dependency list (what
    dedupe_templates gives back). That is cheaper to see than the order is to check again,
    over new steps scattered in memory."""
    # In C, without a call of ours for each step: the names, then each dependency list.
    if len(after) != len(before):
        return True
    return (list(map(_name, before)) != list(map(_name, after))
            or not all(map(operator.is_, map(_depends, before), map(_depends, after))))


_name = operator.attrgetter("name")
_depends = operator.attrgetter("depends")
