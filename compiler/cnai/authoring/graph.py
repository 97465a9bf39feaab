"""``cnai graph``'s picture of a pipeline, made from the checked and optimized IR.

:func:`draw` turns an ``ir.Pipeline`` into a :class:`Drawing`: nodes (steps, preloads,
services, data sets), edges (the IR's dependencies, each labelled with what it carries: a
gate's text, the outputs it passes, ``failed``/``done`` for `after X.failed`/`.done`) and
clusters (loops, if/else branches, ``finally``). authoring/graph_text.py writes it as DOT or
Mermaid. Everything is in the IR's order, so the same file gives the same picture.

A data set is a node of its own: its preload step fills it, and the steps that mount it read
it. The IR's ``dataset`` dependency (a mounting step waits for the preload) is drawn through
that node rather than as a second, direct edge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from cnai.semantics import ir
from cnai.semantics.dag import gate_refs

NodeKind = Literal["step", "preload", "service", "distributed", "dataset"]
# "finally": `finally` runs after everything else; drawn invisible, it only puts the finally
# box below the rest.
EdgeKind = Literal["data", "order", "gate", "outcome", "fills", "mount", "finally"]


@dataclass(frozen=True)
class DrawnNode:
    id: str  # the step's name; ``dataset.NAME`` for a data set (no step name has a dot)
    kind: NodeKind
    lines: tuple[str, ...]  # the label, one entry a line; the first is the name
    cluster: str | None = None  # the innermost group (loop, branch, finally) it is in
    gpu: bool = False


@dataclass(frozen=True)
class DrawnEdge:
    source: str
    target: str
    kind: EdgeKind
    label: str = ""


@dataclass(frozen=True)
class DrawnCluster:
    id: str  # the IR group's id: "for-lr", "condition-1", "finally"
    kind: Literal["loop", "branch", "finally"]
    label: str
    parent: str | None = None


@dataclass
class Drawing:
    name: str
    description: str | None = None
    nodes: list[DrawnNode] = field(default_factory=list)
    edges: list[DrawnEdge] = field(default_factory=list)
    clusters: list[DrawnCluster] = field(default_factory=list)

    def members(self) -> dict[str | None, list[DrawnNode]]:
        """The nodes directly in each cluster (None: outside every cluster), in order."""
        found: dict[str | None, list[DrawnNode]] = {}
        for node in self.nodes:
            found.setdefault(node.cluster, []).append(node)
        return found

    def children(self) -> dict[str | None, list[DrawnCluster]]:
        """The clusters directly in each cluster (None: at the top), in order."""
        found: dict[str | None, list[DrawnCluster]] = {}
        for cluster in self.clusters:
            found.setdefault(cluster.parent, []).append(cluster)
        return found


def dataset_node_id(name: str) -> str:
    return f"dataset.{name}"


def draw(pipeline: ir.Pipeline) -> Drawing:
    """The picture of ``pipeline``: every step, data set, group and dependency."""
    drawing = Drawing(pipeline.name, pipeline.description)
    drawing.clusters = [_cluster(group) for group in pipeline.groups]
    fillers = {s.fills: s.name for s in pipeline.steps if s.fills is not None}
    drawing.nodes += [_dataset_node(d) for d in pipeline.datasets]
    for step in pipeline.steps:
        drawing.nodes.append(_step_node(step, pipeline))
        if step.fills is not None:
            drawing.edges.append(DrawnEdge(step.name, dataset_node_id(step.fills), "fills",
                                           "fills"))
        mounted = {m.dataset for m in step.mounts if m.dataset in fillers}
        drawing.edges += [DrawnEdge(dataset_node_id(m.dataset), step.name, "mount", "mount")
                          for m in step.mounts if step.fills != m.dataset]
        for dependency in step.depends:
            if dependency.kind == "dataset" and any(fillers[d] == dependency.step
                                                    for d in mounted):
                continue  # drawn as preload -> data set -> step
            drawing.edges.append(_edge(dependency, step, pipeline))
    drawing.edges += _after_everything(drawing, pipeline)
    return drawing


def _after_everything(drawing: Drawing, pipeline: ir.Pipeline) -> list[DrawnEdge]:
    """An edge from each last step outside ``finally`` to the first step inside it."""
    in_finally = {s.name for s in pipeline.steps
                  if any(isinstance(g, ir.Finally) for g in pipeline.ancestors(s.group))}
    if not in_finally:
        return []
    first = next(s.name for s in pipeline.steps if s.name in in_finally)
    sources = {e.source for e in drawing.edges}
    return [DrawnEdge(s.name, first, "finally") for s in pipeline.steps
            if s.name not in in_finally and s.name not in sources]


def _cluster(group: ir.Loop | ir.Branch | ir.Finally) -> DrawnCluster:
    if isinstance(group, ir.Loop):
        label = f"for {group.var} in {_items(group.items)}"
        if group.parallelism is not None:
            label += f" parallel {group.parallelism}"
        return DrawnCluster(group.id, "loop", label, group.parent)
    if isinstance(group, ir.Branch):
        return DrawnCluster(group.id, "branch", branch_label(group), group.parent)
    return DrawnCluster(group.id, "finally", "finally", None)


def branch_label(branch: ir.Branch) -> str:
    """``if COND``, ``else if COND`` or ``else``, as the user wrote the chain."""
    if branch.condition is None:
        return "else"
    return ("if " if branch.index == 0 else "else if ") + branch.condition.text


def _items(items: ir.Literal_ | ir.ParamRef | ir.OutputRef | ir.LoopVarRef) -> str:
    if isinstance(items, ir.Literal_):
        return json.dumps(items.value, separators=(", ", ": "))
    if isinstance(items, ir.OutputRef):
        return f"{items.step}.{items.output}"
    return items.name


def _dataset_node(dataset: ir.Dataset) -> DrawnNode:
    lines = [dataset.name, f"{dataset.size} at {dataset.path}"]
    if dataset.source is not None:
        lines.append(f"from {dataset.source}")
    elif isinstance(dataset.source_ref, ir.ParamRef):
        lines.append(f"from param {dataset.source_ref.name}")
    elif dataset.source_ref is not None:
        lines.append(f"from {dataset.source_ref.step}.{dataset.source_ref.output}")
    if dataset.engine != "copy":
        lines.append(f"engine {dataset.engine}")
    return DrawnNode(dataset_node_id(dataset.name), "dataset", tuple(lines))


def _step_node(step: ir.Step, pipeline: ir.Pipeline) -> DrawnNode:
    kind: NodeKind = "step"
    lines = [step.name]
    if step.fills is not None:
        kind = "preload"
        lines.append(f"preload of {step.fills}")
    elif step.kind == "service":
        kind = "service"
        port = step.serving.port if step.serving is not None else 8080
        lines.append(f"service, port {port}")
    elif step.image:
        lines.append(_text(step.image))
    if step.distributed is not None:
        kind = "distributed"
        job = step.distributed
        lines.append(f"{job.framework}: {job.masters} master + {job.workers} workers")
    gpu = _gpu_line(step.resources)
    if gpu:
        lines.append(gpu)
    if step.when is not None and not any(isinstance(r, ir.OutputRef)
                                         for r in gate_refs(step.when.expr)):
        lines.append(f"when {step.when.text}")  # a gate on params only: no edge carries it
    if step.continue_on_failure:
        lines.append("continues on failure")
    return DrawnNode(step.name, kind, tuple(lines), step.group, bool(gpu))


def _text(text: str | ir.Text) -> str:
    """An image or other text as written: a placeholder shows as ``${INPUT}``."""
    if isinstance(text, str):
        return text
    return "".join(p if isinstance(p, str) else f"${{{p.name}}}" for p in text.parts)


def _gpu_line(resources: ir.Resources) -> str:
    if resources.gpu_param is not None:
        count = f"${{{resources.gpu_param.name}}}"
    elif resources.gpu:
        count = str(resources.gpu)
    else:
        return ""
    kind = f" {resources.gpu_type}" if resources.gpu_type else ""
    return f"GPU x {count}{kind}"


def _edge(dependency: ir.Dependency, step: ir.Step, pipeline: ir.Pipeline) -> DrawnEdge:
    source = dependency.step
    if dependency.outcome != "succeeded":
        return DrawnEdge(source, step.name, "outcome", dependency.outcome)
    gate = _gate_label(source, step, pipeline)
    if gate:  # a gate reads the step's output: the edge carries the condition
        return DrawnEdge(source, step.name, "gate", gate)
    if dependency.kind == "data":
        outputs = [i.source.output for i in step.inputs
                   if isinstance(i.source, ir.OutputRef) and i.source.step == source]
        return DrawnEdge(source, step.name, "data", ", ".join(dict.fromkeys(outputs)))
    return DrawnEdge(source, step.name, "order")


def _gate_label(source: str, step: ir.Step, pipeline: ir.Pipeline) -> str:
    """The condition that reads step ``source``'s outputs: the step's own gate, else the
    innermost branch around the step whose chain reads them; "" when none does."""
    if step.when is not None and _reads(step.when, source):
        return f"when {step.when.text}"
    for group in pipeline.ancestors(step.group):
        if not isinstance(group, ir.Branch):
            continue
        chain = pipeline.chain(group.chain)[: group.index + 1]
        if any(b.condition is not None and _reads(b.condition, source) for b in chain):
            return branch_label(group)
    return ""


def _reads(gate: ir.Gate, step: str) -> bool:
    return any(isinstance(r, ir.OutputRef) and r.step == step for r in gate_refs(gate.expr))
