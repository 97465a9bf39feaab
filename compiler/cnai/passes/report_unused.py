"""report_unused: warn about params no step reads and parameter outputs no step reads.

Artifact outputs are left alone: a model or a report is often the point of a pipeline and is
kept in the artifact store whether or not a later step reads it; so are a Python function
step's outputs, which its signature declares, not the .cnai file. Changes nothing.
    param epochs: int = 3   (never referenced)  -> W0102
    output loss: float      (never read)        -> W0103
"""

from __future__ import annotations

from collections.abc import Iterator

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
    # Steps' inputs, most of what is read, in a loop of their own: a generator's step for
    # each of them cost as much as judging them.
    for step in graph.steps:
        for item in step.inputs:
            source = item.source
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
        if step.function is not None:
            continue  # a function's return values are what it returns, used or not
        for output in step.outputs:
            # A metric is shown, not only read; nothing in the .cnai file declares a
            # function's outputs to remove.
            if (output.metric_of is not None or (step.name, output.name) in outputs
                    or output.type.is_artifact):
                continue
            ctx.diagnostics.warn(
                "W0103", f"output `{output.name}` of `{step.name}` is never read",
                output.span, "unread", help=["remove it, or read it as "
                                             f"`{step.name}.{output.name}`"])
            ctx.explain.append(f"report_unused: output `{step.name}.{output.name}` is never "
                               "read")
    return graph
