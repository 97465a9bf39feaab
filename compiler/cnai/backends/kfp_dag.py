"""The task tree of a KFP pipeline and how values travel through it.

KFP nests DAGs: ``root`` holds tasks and groups (``exit-handler-N``, ``condition-N``,
``condition-branches-N``, ``for-loop-N``), each a DAG component of its own. A task reads a value
with ``taskOutputParameter`` only from a sibling in the same DAG, and with
``componentInputParameter`` from its DAG's inputs. So a value that crosses a group boundary
travels as a *pipeline channel*, named as the KFP SDK names them (``pipelinechannel--min_accuracy``,
``pipelinechannel--evaluate-accuracy``): into a group as an input of the group's task, out of a
group as a DAG output (``valueFromParameter`` / ``artifactSelectors``, which the driver follows
down to the producing task: backend/src/v2/driver/resolve.go, resolveUpstreamParameters).
Dependencies sit where both ends are siblings, the lowest common DAG, as the SDK places them.

Some values are born inside a DAG rather than at the root: a loop's item is an input of the
loop's DAG (``parameterIterator.itemInput``), and the final status of an exit handler is given to
the exit task (``taskFinalStatus``). A channel names the DAG it is born in (``home``) and how a
task of that DAG reads it. A value made inside a loop and read outside it leaves the loop's DAG
as a list: KFP's ``dsl.Collected``, which the driver gathers over the iterations
(resolve.go, CollectInputs); so its type depends on where it is seen (``type_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cnai.semantics import ir

ROOT = "root"
CHANNEL_PREFIX = "pipelinechannel--"
PARAMETER_TYPES = {"string": "STRING", "int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE",
                   "bool": "BOOLEAN", "list": "LIST", "record": "STRUCT"}
ARTIFACT_SCHEMAS = {"artifact": "system.Artifact", "dataset": "system.Dataset",
                    "model": "system.Model", "metrics": "system.Metrics",
                    "classification_metrics": "system.ClassificationMetrics"}

Spec = dict[str, Any]
GroupKind = Literal["root", "exit-handler", "condition", "condition-branches", "for-loop",
                    "finally"]


@dataclass(frozen=True)
class Channel:
    """The output ``key`` of task ``producer``; or, with no producer, a value born in the DAG of
    group ``home`` (the root's inputs are the pipeline's params), read there with ``at_home``."""

    producer: str | None
    key: str
    type_spec: Spec  # {"parameterType": ...} or {"artifactType": {...}}, as produced
    home: str = ROOT
    at_home: Spec | None = field(default=None, compare=False)  # default: componentInputParameter
    label: str | None = None  # the channel's name, when it is not derived from producer and key

    @property
    def is_artifact(self) -> bool:
        return "artifactType" in self.type_spec

    @property
    def name(self) -> str:
        if self.label is not None:
            return self.label
        owner = "" if self.producer is None else f"{self.producer}-"
        return f"{CHANNEL_PREFIX}{owner}{self.key}"


@dataclass(eq=False)
class Task:
    """A task in some DAG: a container task, or a group (below)."""

    name: str
    parent: Group | None
    spec: Spec = field(default_factory=dict)
    depends: set[str] = field(default_factory=set)
    _ancestry: list[Task] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # A task never moves, so its ancestry is made once: references ask for it per
        # channel, and deep nesting made walking it each time quadratic.
        self._ancestry = [*(self.parent.ancestry() if self.parent is not None else ()), self]

    def ancestry(self) -> list[Task]:
        """This task and its groups, from the root down."""
        return self._ancestry


@dataclass(eq=False)
class Group(Task):
    """A DAG component: the root, an exit handler, a condition, a loop, ..."""

    kind: GroupKind = "root"
    children: list[Task] = field(default_factory=list)
    inputs: dict[str, Channel] = field(default_factory=dict)
    outputs: dict[str, tuple[Channel, str]] = field(default_factory=dict)  # name -> (what, from)
    item: Channel | None = None  # a loop's item, an input of its DAG that no task passes

    def add(self, task: Task) -> Task:
        self.children.append(task)
        return task


class Dag:
    """The task tree, and references to channels from any task in it."""

    def __init__(self) -> None:
        self.root = Group(ROOT, None)
        self.tasks: dict[str, Task] = {}

    def add(self, task: Task) -> Task:
        assert task.parent is not None and task.name not in self.tasks
        self.tasks[task.name] = task
        return task.parent.add(task)

    def groups(self) -> list[Group]:
        return [t for t in self.tasks.values() if isinstance(t, Group)]

    # ---- dependencies ---------------------------------------------------------------

    def depend(self, downstream: Task, upstream: Task) -> None:
        """Order ``downstream`` after ``upstream``, on the pair of siblings that hold them."""
        if downstream.parent is upstream.parent:  # the common case: one DAG holds both
            downstream.depends.add(upstream.name)
            return
        later, earlier = _siblings(downstream, upstream)
        later.depends.add(earlier.name)

    # ---- types ----------------------------------------------------------------------

    def type_at(self, channel: Channel, dag: Group) -> Spec:
        """The channel's type as tasks of ``dag`` see it: a list once it has left a loop."""
        if channel.producer is None:
            return channel.type_spec
        producer = self.tasks[channel.producer].ancestry()
        common = _common_depth(producer, dag.ancestry())
        gathered = any(isinstance(t, Group) and t.kind == "for-loop" for t in producer[common:])
        if not gathered:
            return channel.type_spec
        if channel.is_artifact:
            return {**channel.type_spec, "isArtifactList": True}
        return {"parameterType": "LIST"}

    # ---- references -----------------------------------------------------------------

    def reference(self, channel: Channel, consumer: Task) -> Spec:
        """How ``consumer`` (a task in its parent's DAG) reads ``channel``."""
        dag = consumer.parent
        assert dag is not None
        if channel.producer is None:
            if dag.name == channel.home:
                return channel.at_home or {"componentInputParameter": channel.key}
            return self._from_outside(channel, dag)
        producer = self.tasks[channel.producer]
        if producer.parent is dag:  # the common case: produced in the consumer's own DAG
            consumer.depends.add(producer.name)
            return task_output(channel, producer.name, channel.key)
        chain = producer.ancestry()
        depth = len(dag.ancestry()) - 1  # where `dag` sits in any chain that holds it
        if len(chain) <= depth or chain[depth] is not dag:
            return self._from_outside(channel, dag)
        sibling = chain[depth + 1]
        consumer.depends.add(sibling.name)
        if sibling is producer:
            return task_output(channel, sibling.name, channel.key)
        assert isinstance(sibling, Group)
        self._export(channel, sibling)
        return task_output(channel, sibling.name, channel.name)

    def bring_in(self, channel: Channel, group: Group) -> str:
        """Make ``channel`` an input of ``group``; returns the input's name."""
        self._from_outside(channel, group)
        return channel.name

    def _from_outside(self, channel: Channel, group: Group) -> Spec:
        if channel.name not in group.inputs:
            group.inputs[channel.name] = channel
            kind = "artifacts" if channel.is_artifact else "parameters"
            group.spec.setdefault("inputs", {}).setdefault(kind, {})[channel.name] = (
                self.reference(channel, group))
        key = "componentInputArtifact" if channel.is_artifact else "componentInputParameter"
        return {key: channel.name}

    def _export(self, channel: Channel, group: Group) -> None:
        """Make ``group`` (an ancestor of the producer) output ``channel`` from its DAG."""
        if channel.name in group.outputs:
            return
        assert channel.producer is not None
        chain = self.tasks[channel.producer].ancestry()
        inner = chain[len(group.ancestry())]  # the child of `group` that holds the producer
        if isinstance(inner, Group):
            self._export(channel, inner)
        group.outputs[channel.name] = (channel, inner.name)

    def dag_outputs(self, group: Group) -> tuple[Spec, Spec]:
        """``dag.outputs`` and ``outputDefinitions`` of a group that exports channels."""
        outputs: Spec = {}
        definitions: Spec = {}
        assert group.parent is not None
        for name, (channel, inner) in sorted(group.outputs.items()):
            # The inner task names the value by its own key, or (a group) by the channel name.
            key = channel.key if inner == channel.producer else name
            typed = self.type_at(channel, group.parent)
            if channel.is_artifact:
                outputs.setdefault("artifacts", {})[name] = {
                    "artifactSelectors": [{"producerSubtask": inner, "outputArtifactKey": key}]}
                definitions.setdefault("artifacts", {})[name] = typed
            else:
                outputs.setdefault("parameters", {})[name] = {
                    "valueFromParameter": {"producerSubtask": inner, "outputParameterKey": key}}
                definitions.setdefault("parameters", {})[name] = typed
        return outputs, definitions

    def input_definitions(self, group: Group) -> list[tuple[str, Spec]]:
        """(name, type) of each input of a group's DAG, the loop item included."""
        named = [(name, self.type_at(c, group.parent or group))
                 for name, c in group.inputs.items()]
        if group.item is not None:
            named.append((group.item.name, group.item.type_spec))
        return sorted(named)


def type_spec(type_: ir.Type) -> Spec:
    if type_.is_artifact:
        return {"artifactType": {"schemaTitle": ARTIFACT_SCHEMAS[type_.name],
                                 "schemaVersion": "0.0.1"}}
    return {"parameterType": PARAMETER_TYPES[type_.name]}


def definitions(named: list[tuple[str, Spec]]) -> Spec:
    """``inputDefinitions`` / ``outputDefinitions`` from (name, type spec) pairs."""
    spec: Spec = {}
    for name, typed in named:
        kind = "artifacts" if "artifactType" in typed else "parameters"
        spec.setdefault(kind, {})[name] = typed
    return spec


def task_output(channel: Channel, producer: str, key: str) -> Spec:
    if channel.is_artifact:
        return {"taskOutputArtifact": {"producerTask": producer, "outputArtifactKey": key}}
    return {"taskOutputParameter": {"producerTask": producer, "outputParameterKey": key}}


def _common_depth(a: list[Task], b: list[Task]) -> int:
    """How many ancestors ``a`` and ``b`` (ancestries, root first) share. Paths in a tree
    share a prefix and never meet again, so the answer is a binary search (pipelines nest
    deeply in KFP: every if/else chain a later step waits on is a level)."""
    low, high = 0, min(len(a), len(b))  # a[:low] == b[:low]; a[high:] differs, if it exists
    while low < high:
        middle = (low + high + 1) // 2
        if a[middle - 1] is b[middle - 1]:
            low = middle
        else:
            high = middle - 1
    return low


def _siblings(first: Task, second: Task) -> tuple[Task, Task]:
    """The ancestors of two tasks (themselves included) that are children of one DAG."""
    a, b = first.ancestry(), second.ancestry()
    depth = _common_depth(a, b)
    assert depth < len(a) and depth < len(b), "a task cannot depend on its own group"
    return a[depth], b[depth]
