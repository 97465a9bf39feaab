"""What a local run is made of while it runs: one node per step instance and per loop.

A *scope run* is one execution of a DAG of the execution plan (cnai.lowering), as Argo runs it: the
pipeline's main DAG, one iteration of a loop body, or the ``finally`` DAG. Its members are
the steps and loops directly in it. A step inside loops runs once per iteration; its
``index`` holds the iteration numbers of the loops around it, outermost first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cnai.semantics import ir

JSON = ir.JSONValue
Index = tuple[int, ...]


class Status(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"

    @property
    def done(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED, Status.OMITTED)


@dataclass(frozen=True)
class Binding:
    loop: str  # the loop's id
    var: str
    index: int
    item: JSON


@dataclass(frozen=True)
class Context:
    """The loop variables bound where a scope run executes, outermost loop first."""

    bindings: tuple[Binding, ...] = ()

    def with_item(self, loop: ir.Loop, index: int, item: JSON) -> Context:
        return Context((*self.bindings, Binding(loop.id, loop.var, index, item)))

    def find(self, loop: str) -> Binding | None:
        return next((b for b in self.bindings if b.loop == loop), None)

    @property
    def index(self) -> Index:
        return tuple(b.index for b in self.bindings)


def node_id(name: str, index: Index) -> str:
    """``train``, ``train[2]``, ``fit[0,1]``: how a node is named in the view and run.json."""
    return f"{name}[{','.join(map(str, index))}]" if index else name


@dataclass
class Value:
    """A value as a step receives it: ``text`` in its command and env, ``typed`` in gates and
    gathered lists, ``path`` for artifacts (then ``text`` is the path)."""

    text: str
    typed: JSON
    path: Path | None = None


@dataclass(eq=False)
class Node:
    name: str
    context: Context
    status: Status = Status.PENDING
    message: str = ""
    position: tuple[int, ...] = ()  # sorts nodes as the pipeline reads: loops, then iterations
    started: float | None = None
    finished: float | None = None

    @property
    def index(self) -> Index:
        return self.context.index

    @property
    def id(self) -> str:
        return node_id(self.name, self.index)

    def finish(self, status: Status, message: str = "") -> None:
        self.status = status
        self.message = message
        self.finished = time.time()

    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


@dataclass(eq=False, kw_only=True)
class StepRun(Node):
    step: ir.Step
    attempts: int = 0
    exit_code: int | None = None
    inputs: dict[str, Value] = field(default_factory=dict)
    outputs: dict[str, Value] = field(default_factory=dict)
    log: Path | None = None


@dataclass(eq=False, kw_only=True)
class LoopRun(Node):
    loop: ir.Loop
    items: list[JSON] = field(default_factory=list)
    iterations: list[ScopeRun] = field(default_factory=list)

    @property
    def id(self) -> str:
        return node_id(self.loop.id, self.index)


@dataclass(eq=False)
class ScopeRun:
    """One execution of a DAG: its members by name (step names and loop ids)."""

    scope: str | None
    context: Context
    members: dict[str, StepRun | LoopRun]
    status: Status = Status.RUNNING
    position: tuple[int, ...] = ()

    @property
    def done(self) -> bool:
        return self.status.done


@dataclass
class Registry:
    """Every node of the run, for value look-ups and the report, in creation order."""

    steps: dict[tuple[str, Index], StepRun] = field(default_factory=dict)
    loops: dict[tuple[str, Index], LoopRun] = field(default_factory=dict)
    order: list[StepRun | LoopRun] = field(default_factory=list)

    def add(self, node: StepRun | LoopRun) -> None:
        if isinstance(node, StepRun):
            self.steps[(node.name, node.index)] = node
        else:
            self.loops[(node.loop.id, node.index)] = node
        self.order.append(node)

    def sorted(self) -> list[StepRun | LoopRun]:
        return sorted(self.order, key=lambda n: n.position)
