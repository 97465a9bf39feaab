"""place_preloads: one preload per data set, started as early as its inputs allow, waited for
only by the steps that mount it; a data set nobody mounts is dropped with a warning.

build_graph already gives each data set one preload step that depends on nothing but its
source, and edges only from it to the steps that mount it. This pass removes what nobody
uses: the preload, and the volume the backends would make for it.
    dataset cache { ... }   (no step says `mount cache`)  -> W0104, no preload, no volume
"""

from __future__ import annotations

from cnai.context import CompileContext
from cnai.semantics import ir


def place_preloads(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    if not graph.datasets:  # most pipelines: no preload to remove, no mounts to read
        return graph
    mounted = {m.dataset for s in graph.steps if s.kind not in ("preload", "dataload")
               for m in s.mounts}
    unused = [d for d in graph.datasets if d.name not in mounted]
    if not unused:
        return graph
    for dataset in unused:
        ctx.diagnostics.warn(
            "W0104", f"data set `{dataset.name}` is never mounted, so it is not loaded",
            dataset.span, "unused", help=[f"add `mount {dataset.name}` to the steps that read "
                                          "it, or remove it"])
        ctx.explain.append(f"place_preloads: data set `{dataset.name}` dropped (not mounted)")
    return graph.model_copy(update={
        "datasets": [d for d in graph.datasets if d.name in mounted],
        "steps": [s for s in graph.steps if s.fills is None or s.fills in mounted]})
