"""Loops, ``if`` chains and ``finally`` on Kubeflow: the IR's groups as KFP's DAG groups, laid
out as kfp 2.17.3's SDK compiles ``dsl.ParallelFor``, ``dsl.If``/``Elif``/``Else`` and
``dsl.ExitHandler``.

- ``for X in LIST [parallel N]`` is a ``for-loop-N`` group with a ``parameterIterator``: over a
  literal list, ``items.raw`` (its JSON) and an item input ``pipelinechannel--loop-item-param-M``
  (M taken from the group numbers, before the loop's own, as the SDK does); over a list param, a
  list output or an outer loop's item, ``items.inputParameter`` naming the list's channel and an
  item input ``<that channel>-loop-item``. ``parallel N`` is ``iteratorPolicy.parallelismLimit``
  (the Argo compiler makes it the loop template's ``parallelism``: argocompiler/dag.go,
  iteratorTask). The DAG driver fans the iterations out (backend/src/v2/driver/dag.go).
- ``if`` alone is a ``condition-N`` group. ``if / else if / else`` is a ``condition-branches-N``
  group holding one ``condition-N`` per branch, each triggered by its own condition and the
  negation of every earlier one (``!(a) && b``, ``!(a) && !(b)``), the SDK's text for Elif/Else.
  A wrapper DAG always succeeds, though, even when the branch inside was skipped; so when a step
  after the chain depends on a step inside one of its branches, the chain is laid out without
  the wrapper (each ``condition-N`` directly in the enclosing DAG, same conditions) and that
  step depends on its branch's own group, which a false condition skips: the step is then
  skipped too, as on the Argo target.
- ``finally`` is an exit handler: an ``exit-handler-N`` group around everything else (inside
  the data sets' handlers, which must outlive it), and an exit task beside it with
  ``triggerPolicy.strategy: ALL_UPSTREAM_TASKS_COMPLETED`` depending on that handler only. The
  Argo compiler turns each exit task into an exit lifecycle hook of the tasks it depends on
  (argocompiler/dag.go, DAG), one hook per task: so a ``finally`` block of several steps is one
  exit task, a ``finally-N`` DAG group holding them (the hook runs a DAG component as readily as
  a container). ``pipeline.status`` is that handler's ``PipelineTaskFinalStatus``
  (``taskFinalStatus``; kfp_contract.py turns it into Argo's words).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from cnai.backends import cloud
from cnai.backends.kfp_dag import CHANNEL_PREFIX, Channel, Group, Spec, Task, type_spec
from cnai.semantics import ir
from cnai.semantics.cloud import step_demand
from cnai.semantics.units import Names

if TYPE_CHECKING:
    from cnai.backends.kfp import KfpBackend

EXIT_STRATEGY = "ALL_UPSTREAM_TASKS_COMPLETED"
STATUS_CHANNEL = f"{CHANNEL_PREFIX}pipeline-status"  # a dash: no param can take this name
FINAL_STATUS_TYPE: Spec = {"parameterType": "TASK_FINAL_STATUS"}


class Layout:
    """Where each step's task goes, creating KFP groups in the order steps need them (the
    pipeline's topological order), which numbers them as the SDK numbers them for a program
    written in that order."""

    def __init__(self, backend: KfpBackend, body: Group) -> None:
        self.backend = backend
        self.pipeline = pipeline = backend.pipeline
        self.groups: dict[str, Group] = {}  # IR group id -> KFP group
        self.items: dict[str, Channel] = {}  # loop id -> its item
        # (branch group, its condition, the gate whose span a CEL error points at)
        self.conditions: list[tuple[Group, ir.Expr, ir.Gate]] = []
        # Only steps in a group have ancestors: most steps of a large pipeline are in none.
        grouped = [s for s in pipeline.steps if s.group is not None]
        self.populated = {g.id for s in grouped for g in pipeline.ancestors(s.group)}
        self.flat = self._flat_chains()
        self.limits = gpu_limits(pipeline)
        finally_steps = [s for s in grouped if self._in_finally(s)]
        self.outer = self.main = body
        self.status: Channel | None = None
        self.exit_step: str | None = None
        if finally_steps and len(finally_steps) < len(pipeline.steps):
            self.main = backend.group("exit-handler", body)
            self.status = Channel(None, STATUS_CHANNEL, FINAL_STATUS_TYPE, home=body.name,
                                  at_home={"taskFinalStatus": {"producerTask": self.main.name}},
                                  label=STATUS_CHANNEL)
            nested = any(g.parent == "finally" for g in pipeline.groups)
            if len(finally_steps) == 1 and not nested:
                self.exit_step = finally_steps[0].name  # the SDK's shape: one exit task
                self.groups["finally"] = body
        elif finally_steps:  # nothing to wait for: the finally steps are the pipeline
            self.groups["finally"] = body

    def _in_finally(self, step: ir.Step) -> bool:
        return any(isinstance(g, ir.Finally) for g in self.pipeline.ancestors(step.group))

    def _flat_chains(self) -> set[str]:
        """Chains a step outside them depends on (see the module's docstring)."""
        pipeline = self.pipeline
        flat: set[str] = set()
        if not any(isinstance(g, ir.Branch) for g in pipeline.groups):
            return flat  # no chains, so none to lay out flat
        chain_of: dict[str, set[str]] = {}  # step -> the chains it is inside
        for step in pipeline.steps:
            chain_of[step.name] = {g.chain for g in pipeline.ancestors(step.group)
                                   if isinstance(g, ir.Branch)}
        for step in pipeline.steps:
            for dependency in step.depends:
                flat |= chain_of[dependency.step] - chain_of[step.name]
        for group in pipeline.groups:
            if isinstance(group, ir.Loop) and isinstance(group.items, ir.OutputRef):
                inside = {g.chain for g in pipeline.ancestors(group.id)
                          if isinstance(g, ir.Branch)}
                flat |= chain_of[group.items.step] - inside
        return flat

    # ---- placing steps --------------------------------------------------------------

    def parent_of(self, step: ir.Step) -> Group:
        """The KFP group whose DAG holds the step (before its own gate)."""
        if step.group is None:
            return self.main
        return self.group_of(step.group)

    def group_of(self, group_id: str) -> Group:
        if group_id not in self.groups:
            group = self.pipeline.group(group_id)
            parent = self.main if group.parent is None else self.group_of(group.parent)
            if isinstance(group, ir.Loop):
                self.groups[group_id] = self._loop(group, parent)
            elif isinstance(group, ir.Branch):
                self._chain(group.chain, parent)
            else:
                self.groups[group_id] = self._finally()
        return self.groups[group_id]

    def placed(self, step: ir.Step, top: Task) -> None:
        """``top`` is the step's task or its gate's group, in the DAG of ``parent_of(step)``."""
        if step.name == self.exit_step:
            self._exit(top)

    def _exit(self, task: Task) -> None:
        task.spec.setdefault("triggerPolicy", {})["strategy"] = EXIT_STRATEGY
        task.depends.add(self.main.name)  # the only one: it is the status's producer

    def _finally(self) -> Group:
        group = self.backend.group("finally", self.outer)
        self._exit(group)
        return group

    def _loop(self, loop: ir.Loop, parent: Group) -> Group:
        backend = self.backend
        if isinstance(loop.items, ir.Literal_):
            item_name = f"{CHANNEL_PREFIX}loop-item-param-{backend.take_number()}"
            group = backend.group("for-loop", parent)
            items: Spec = {"raw": json.dumps(loop.items.value)}
        else:
            group = backend.group("for-loop", parent)
            listed = backend.dag.bring_in(backend.channel(loop.items), group)
            items = {"inputParameter": listed}
            item_name = self._unique_item(f"{listed}-loop-item", loop)
        item = Channel(None, item_name, type_spec(loop.item_type), home=group.name,
                       label=item_name)
        group.item = self.items[loop.id] = item
        group.spec["parameterIterator"] = {"itemInput": item_name, "items": items}
        limit = self.limits.get(loop.id) or loop.parallelism  # the quota's, within `parallel`
        if limit:
            group.spec["iteratorPolicy"] = {"parallelismLimit": limit}
        return group

    def _unique_item(self, wanted: str, loop: ir.Loop) -> str:
        """Items of enclosing loops are inputs of this loop's DAG too: never reuse their names
        (``for a in xs { for b in xs { ... } }``)."""
        taken = [self.items[g.id].name for g in self.pipeline.loops_around(loop.parent)]
        return Names(*taken).take(wanted)

    def _chain(self, chain: str, parent: Group) -> None:
        """Every populated branch of ``chain``, wrapped unless the chain is flat or alone."""
        branches = self.pipeline.chain(chain)
        holder = parent
        if len(branches) > 1 and chain not in self.flat:
            holder = self.backend.group("condition-branches", parent)
        for branch in branches:
            if branch.id not in self.populated:
                continue
            earlier = [b.condition for b in branches if b.index < branch.index and b.condition]
            operands: list[ir.Expr] = [ir.Not(operand=g.expr) for g in earlier]
            if branch.condition is not None:
                operands.append(branch.condition.expr)
            if not operands:  # `if 2 > 1 { ... }` folded (fold_constant_gates): always runs
                self.groups[branch.id] = holder
                continue
            group = self.backend.group("condition", holder)
            self.groups[branch.id] = group
            expr = operands[0] if len(operands) == 1 else ir.BoolOp(kind="and",
                                                                    operands=operands)
            self.conditions.append((group, expr, branch.condition or earlier[-1]))

    # ---- values ---------------------------------------------------------------------

    def item(self, ref: ir.LoopVarRef) -> Channel:
        return self.items[ref.loop]

    def pipeline_status(self) -> Channel:
        if self.status is None:  # a `finally` with nothing before it: nothing failed
            return Channel(None, STATUS_CHANNEL, FINAL_STATUS_TYPE, home=self.outer.name,
                           at_home={"runtimeValue": {"constant": {"state": "COMPLETE"}}},
                           label=STATUS_CHANNEL)
        return self.status


def gpu_limits(pipeline: ir.Pipeline) -> dict[str, int]:
    """For each loop holding GPU steps, how many iterations may run at once so that the loop
    never asks for more GPUs than ``quota { gpu }``: the quota over what one iteration may ask
    for at once (every GPU step in it, a job's replicas counted, an inner loop as its own
    limit of iterations). Kubeflow has no pipeline-wide ``parallelism`` like the Argo target's
    (cloud.gpu_parallelism), so the bound is per loop: sibling loops and steps outside loops
    are not counted against each other, and the ResourceQuota holds back what goes over.
    The GPUs the pipeline's services keep running are not the loops' (cloud.gpus_left)."""
    if pipeline.quota is None or pipeline.quota.gpu is None:
        return {}
    quota = cloud.gpus_left(pipeline)
    loops = [g for g in pipeline.groups if isinstance(g, ir.Loop)]
    # What each loop holds directly: its steps' GPUs at once, and its inner loops.
    direct: dict[str, float] = {}
    children: dict[str, list[ir.Loop]] = {}
    for step in pipeline.steps:
        loop_id = _enclosing(pipeline, step.group)
        if loop_id is not None and step.serving is None:
            replicas = step.distributed.replicas if step.distributed else 1
            direct[loop_id] = direct.get(loop_id, 0.0) + step_demand(step)["gpu"] * replicas
    for loop in loops:
        outer = _enclosing(pipeline, loop.parent)
        if outer is not None:
            children.setdefault(outer, []).append(loop)
    demand: dict[str, float] = {}
    limits: dict[str, int] = {}
    for loop in sorted(loops, key=lambda g: -len(pipeline.ancestors(g.id))):  # inner first
        total = direct.get(loop.id, 0.0)
        for child in children.get(loop.id, []):
            width = limits.get(child.id) or child.parallelism
            total += demand[child.id] * (width or 1)
        demand[loop.id] = total
        if total > 0:
            limits[loop.id] = max(1, math.floor(quota / total))
            if loop.parallelism:
                limits[loop.id] = min(limits[loop.id], loop.parallelism)
    return limits


def _enclosing(pipeline: ir.Pipeline, group_id: str | None) -> str | None:
    """The innermost loop at ``group_id`` (itself, if it is a loop)."""
    loops = pipeline.loops_around(group_id)
    return loops[0].id if loops else None
