"""Graph-to-graph passes, run in a fixed order between build_graph and the backends.

A pass is ``def verb_object(graph: Pipeline, ctx: CompileContext) -> Pipeline``; findings go to
``ctx.diagnostics``. ``run_passes`` copies the graph once and checks it is still acyclic after
every pass.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.semantics.dag import to_networkx

Pass = Callable[[ir.Pipeline, CompileContext], ir.Pipeline]

PIPELINE: tuple[tuple[str, Pass], ...] = ()


def run_passes(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    selected = ctx.options.passes
    graph = graph.model_copy(deep=True)
    if not ctx.options.optimize:
        return graph
    for name, run in PIPELINE:
        if selected is not None and name not in selected:
            continue
        graph = run(graph, ctx)
        assert nx.is_directed_acyclic_graph(to_networkx(graph.steps)), f"{name} made a cycle"
    return graph
