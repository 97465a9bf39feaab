"""build_graph: derive every dependency, add preload steps, refuse cycles, order the steps.

Edges come from data references (``data``), gate operands (``gate``), ``after`` (``order``)
and mounts (``dataset``: the data set's preload step). They form one DAG; a cycle is an error
that names every step in it. Steps come out in a stable topological order (declaration order
breaks ties), so the same input always gives the same output.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import identity, ir
from cnai.semantics.placement import place_like_pipeline
from cnai.semantics.step_inputs import StepInputs
from cnai.source import Span

if TYPE_CHECKING:
    import networkx as nx

PRELOAD_RUNTIME = "preload"
_STRENGTH = {"data": 0, "gate": 1, "dataset": 2, "order": 3}
_by_step = operator.attrgetter("step")


def gate_refs(expr: ir.Expr) -> Iterator[ir.OutputRef | ir.ParamRef | ir.LoopVarRef]:
    """Every reference a gate reads, left to right."""
    stack: list[ir.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ir.OutputRef, ir.ParamRef, ir.LoopVarRef)):
            yield node
        elif isinstance(node, ir.Compare):
            stack += [node.right, node.left]
        elif isinstance(node, ir.BoolOp):
            stack += reversed(node.operands)
        elif isinstance(node, ir.Not):
            stack.append(node.operand)


def preload_step(dataset: ir.Dataset) -> ir.Step:
    """The step that fills a data set: a copy into its volume (runtime_images/preload), or
    with ``engine = "fluid"`` a Fluid Dataset and DataLoad (the backends build those)."""
    inputs = StepInputs()
    if dataset.engine == "fluid":
        if dataset.source_ref is not None:
            inputs.add(dataset.source_ref, dataset.span)
        return ir.Step(name=f"preload_{dataset.name}", k8s_name=f"preload-{dataset.k8s_name}",
                       kind="dataload", span=dataset.span, image="", inputs=inputs.all(),
                       fills=dataset.name)
    source: str | ir.Placeholder
    if dataset.source_ref is not None:
        source = ir.InputValue(name=inputs.add(dataset.source_ref, dataset.span))
    else:
        source = dataset.source or ""
    command = [ir.Text.of(part) for part in ("python", "-m", "cnai_preload", "--source")]
    command += [ir.Text.of(source), ir.Text.of("--dest"), ir.Text.of(dataset.path)]
    name = f"preload_{dataset.name}"
    return ir.Step(name=name, k8s_name=f"preload-{dataset.k8s_name}", kind="preload",
                   span=dataset.span, image="", runtime=PRELOAD_RUNTIME, command=command,
                   inputs=inputs.all(),
                   mounts=[ir.Mount(dataset=dataset.name, path=dataset.path, read_only=False)],
                   fills=dataset.name)


def group_edges(pipeline: ir.Pipeline) -> dict[str, list[ir.Dependency]]:
    """The edges each group adds to every step inside it: what its items read, or the
    conditions of its branch and of the earlier branches of its chain (an `else` waits for
    them all). Made once per group: every step inside looks its groups up here."""
    edges: dict[str, list[ir.Dependency]] = {}
    for group in pipeline.groups:
        found: list[ir.Dependency] = []
        if isinstance(group, ir.Loop) and isinstance(group.items, ir.OutputRef):
            found = [ir.Dependency(step=group.items.step, kind="data", span=group.span)]
        elif isinstance(group, ir.Branch):
            for branch in pipeline.chain(group.chain):
                if branch.index <= group.index and branch.condition is not None:
                    found += [ir.Dependency(step=r.step, kind="gate", span=branch.condition.span)
                              for r in gate_refs(branch.condition.expr)
                              if isinstance(r, ir.OutputRef)]
        edges[group.id] = found
    return edges


def _edges(step: ir.Step, preloads: dict[str, str], pipeline: ir.Pipeline,
           groups: dict[str, list[ir.Dependency]]) -> list[ir.Dependency]:
    # The fields every step is asked for read from its __dict__: an IR node's attribute goes
    # through pydantic's __getattr__ hook, which keeps Python from specialising the lookup
    # (for one or two fields the __dict__, itself such an attribute, saves nothing).
    values = step.__dict__
    if not values["depends"] and values["group"] is None and values["when"] is None and not (
            values["mounts"]):
        return _data_edges(values["inputs"])
    found = list(step.depends)
    if step.group is not None:
        for group in pipeline.ancestors(step.group):
            found += groups[group.id]
    for read in step.inputs:  # a loop, not a comprehension: every step has inputs
        source = read.source
        if isinstance(source, ir.OutputRef):
            found.append(ir.Dependency.of(source.step, "data", read.span))
    if step.when is not None:
        found += [ir.Dependency.of(r.step, "gate", step.when.span)
                  for r in gate_refs(step.when.expr) if isinstance(r, ir.OutputRef)]
    if step.mounts:
        found += [ir.Dependency(step=preloads[m.dataset], kind="dataset") for m in step.mounts
                  if m.dataset in preloads and preloads[m.dataset] != step.name]
    strongest: dict[str, ir.Dependency] = {}
    for dep in found:
        current = strongest.get(dep.step)
        if current is None or _STRENGTH[dep.kind] < _STRENGTH[current.kind]:
            strongest[dep.step] = dep if dep.span or current is None else dep.model_copy(
                update={"span": current.span})
    return sorted(strongest.values(), key=_by_step)


def _data_edges(inputs: list[ir.Input]) -> list[ir.Dependency]:
    """_edges of a step whose only edges are the outputs it reads (most steps): each a data
    edge, the strongest kind, so the first read of a step is its edge and the others are
    not made. Sources are told by type(): an isinstance that fails on a model class goes
    through pydantic's ABC metaclass, and about half of the inputs read params."""
    first_reads: dict[str, Span | None] = {}
    for read in inputs:
        source = read.source
        if type(source) is ir.OutputRef and source.step not in first_reads:
            first_reads[source.step] = read.span
    return ir.data_dependencies(first_reads)  # by step, as _edges sorts them


def build_graph(pipeline: ir.Pipeline, diagnostics: DiagnosticBag) -> ir.Pipeline | None:
    preloads = {d.name: f"preload_{d.name}" for d in pipeline.datasets}
    pod = identity.pipeline_pod(pipeline)  # the pipeline's account, pull secrets, security
    steps = [place_like_pipeline(preload_step(d).model_copy(update=pod), pipeline)
             for d in pipeline.datasets] + pipeline.steps
    groups = group_edges(pipeline)
    # Whether the steps are in order already (as written, most are) is seen as their edges
    # are made, rather than in a second walk over them all (topological_order's _in_order).
    index = {step.name: position for position, step in enumerate(steps)}
    in_order = True
    edges = []
    for position, step in enumerate(steps):
        depends = _edges(step, preloads, pipeline, groups)
        edges.append(depends)
        for dep in depends:
            if index[dep.step] >= position:
                in_order = False
    ir.assign_each(steps, "depends", edges)
    ordered = list(steps) if in_order else topological_order(steps)
    if ordered is None:
        _report_cycles(to_networkx(steps), steps, index, diagnostics)
        return None
    pipeline.steps = ordered
    _report_exclusive_waits(pipeline, diagnostics)
    return pipeline


def _report_exclusive_waits(pipeline: ir.Pipeline, diagnostics: DiagnosticBag) -> None:
    """A step that waits for two branches of one if/else chain never runs: at most one of
    them does, and a step runs only once everything it depends on has succeeded."""
    if not any(isinstance(group, ir.Branch) for group in pipeline.groups):
        return
    branch_of: dict[str, ir.Branch] = {}
    for step in pipeline.steps:
        for group in pipeline.ancestors(step.group):
            if isinstance(group, ir.Branch):
                branch_of[step.name] = group
                break
    for step in pipeline.steps:
        seen: dict[str, tuple[ir.Branch, ir.Dependency]] = {}
        for dep in step.depends:
            branch = branch_of.get(dep.step)
            if branch is None or branch_of.get(step.name) == branch:
                continue
            other = seen.get(branch.chain)
            if other is not None and other[0].index != branch.index:
                labels = [Label(d.span, f"`{d.step}` is in another branch") for d in
                          (other[1], dep) if d.span is not None]
                diagnostics.warn(
                    "W0301", f"`{step.name}` waits for steps of different branches of one "
                    "`if`, so it never runs", step.span, "never runs", secondary=labels,
                    help=["a step runs when everything it depends on succeeded; depend on "
                          "the step that decided the branch instead"])
                break
            seen.setdefault(branch.chain, (branch, dep))


def topological_order(steps: list[ir.Step]) -> list[ir.Step] | None:
    """Kahn's algorithm, ties broken by position in ``steps``; None if there is a cycle.

    Done here rather than with networkx so the CLI need not import networkx (75 ms) unless a
    cycle has to be explained.
    """
    index = {step.name: i for i, step in enumerate(steps)}
    if _in_order(steps, index):
        return list(steps)
    waiting = [len(step.depends) for step in steps]
    dependants: list[list[int]] = [[] for _ in steps]
    for i, step in enumerate(steps):
        for dep in step.depends:
            dependants[index[dep.step]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        current = heapq.heappop(ready)
        ordered.append(steps[current])
        for following in dependants[current]:
            waiting[following] -= 1
            if waiting[following] == 0:
                heapq.heappush(ready, following)
    return ordered if len(ordered) == len(steps) else None


def _in_order(steps: list[ir.Step], index: dict[str, int]) -> bool:
    """Whether every step comes after all it depends on. Then Kahn's algorithm would give the
    steps back as they are (the smallest ready position is always the next one), and this is
    what every check after a pass finds, in a fraction of the time."""
    for position, step in enumerate(steps):
        for dep in step.depends:
            if index[dep.step] >= position:
                return False
    return True


def to_networkx(steps: list[ir.Step]) -> nx.DiGraph:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(step.name for step in steps)
    graph.add_edges_from((dep.step, step.name) for step in steps for dep in step.depends)
    return graph


def _report_cycles(graph: nx.DiGraph, steps: list[ir.Step], order: dict[str, int],
                   diagnostics: DiagnosticBag) -> None:
    import networkx as nx

    by_name = {s.name: s for s in steps}
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=lambda c: min(order[n] for n in c)):
        start = min(component, key=order.__getitem__)
        cycle = _cycle_from(graph.subgraph(component), start)
        path = " -> ".join(f"`{n}`" for n in [*cycle, cycle[0]])
        labels = []
        for upstream, downstream in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            dep = next(d for d in by_name[downstream].depends if d.step == upstream)
            span = dep.span or by_name[downstream].span
            labels.append(Label(span, f"`{downstream}` waits for `{upstream}`"))
        first = by_name[start]
        diagnostics.error(
            "E0301", f"dependency cycle: {path}", first.span, "this step is part of the cycle",
            secondary=labels, notes=[f"steps in the cycle: {', '.join(cycle)}"],
            help=["remove one of these references or `after` edges"])


def _cycle_from(graph: nx.DiGraph, start: str) -> list[str]:
    """One simple cycle through ``start`` (BFS back to it), deterministic."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph.successors(node)):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return list(reversed(path))
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError("a strongly connected component has a cycle through each node")
