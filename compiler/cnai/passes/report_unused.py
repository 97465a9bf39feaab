"""report_unused: warn about params no step reads and parameter outputs no step reads.

Artifact outputs are left alone: a model or a report is often the point of a pipeline and is
kept in the artifact store whether or not a later step reads it; so are a Python function
step's outputs, which its signature declares, not the .cnai file. Changes nothing.
    param epochs: int = 3   (never referenced)  -> W0102
    output loss: float      (never read)        -> W0103
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from itertools import chain

from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.semantics.dag import gate_refs


def _read_elsewhere(graph: ir.Pipeline) -> Iterator[ir.Source]:
    """Every value the pipeline reads but steps' inputs: gates, loop items, conditions, data
    set sources."""
    for step in graph.steps:
        if step.when is not None:
            yield from gate_refs(step.when.expr)
    for group in graph.groups:
        if isinstance(group, ir.Loop):
            yield group.items
        elif isinstance(group, ir.Branch) and group.condition is not None:
            yield from gate_refs(group.condition.expr)
    yield from (d.source_ref for d in graph.datasets if d.source_ref is not None)
    yield from (o.source for o in graph.outputs)  # what a pipeline using this one reads
    yield from graph.given  # what a pipeline used as a step gives: its own to give, not unread


def report_unused(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    params: set[str] = set()
    outputs: set[tuple[str, str]] = set()
    # Steps' inputs, most of what is read: their sources gathered in C, each judged once. The
    # steps reading one value share its source (the checker's StepInputs names each once per
    # pipeline), so there are several times fewer sources than inputs.
    sources = list(map(_source, chain.from_iterable(map(_inputs, graph.steps))))
    for source in dict(zip(map(id, sources), sources, strict=True)).values():
        if type(source) is ir.OutputRef:
            outputs.add((source.step, source.output))
        elif type(source) is ir.ParamRef:
            params.add(source.name)
    for source in _read_elsewhere(graph):
        if isinstance(source, ir.OutputRef):
            outputs.add((source.step, source.output))
        elif isinstance(source, ir.ParamRef):
            params.add(source.name)
    for param in graph.params:
        if param.name not in params:
            ctx.diagnostics.warn("W0102", f"param `{param.name}` is never used", param.span,
                                 "unused", help=["remove it, or read it in a step"])
            ctx.explain.append(f"report_unused: param `{param.name}` is never used")
    for step in graph.steps:
        name = step.name
        for output in step.outputs:
            if (name, output.name) in outputs:  # most outputs: asked first
                continue
            # A function's return values are what it returns, used or not; a metric is
            # shown, not only read; nothing in the .cnai file declares a function's outputs
            # to remove.
            if (step.function is not None or output.metric_of is not None
                    or output.type.is_artifact):
                continue
            ctx.diagnostics.warn(
                "W0103", f"output `{output.name}` of `{step.name}` is never read",
                output.span, "unread", help=["remove it, or read it as "
                                             f"`{step.name}.{output.name}`"])
            ctx.explain.append(f"report_unused: output `{step.name}.{output.name}` is never "
                               "read")
    return graph


_inputs = operator.attrgetter("inputs")
_source = operator.attrgetter("source")
