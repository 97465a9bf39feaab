"""What the user sees while a pipeline runs: a live table on a terminal, plain lines
otherwise (one per change of a node's status), and a summary at the end."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from cnai.local.layout import Layout
from cnai.local.logs import TAIL_LINES, tail_lines
from cnai.local.state import LoopRun, Status, StepRun

if TYPE_CHECKING:
    from rich.live import Live

MAX_ROWS = 40
_STYLES = {Status.PENDING: "dim", Status.RUNNING: "bold cyan", Status.RETRYING: "yellow",
           Status.SUCCEEDED: "green", Status.FAILED: "bold red", Status.SKIPPED: "magenta",
           Status.OMITTED: "dim"}


def _elapsed(node: StepRun | LoopRun) -> str:
    seconds = node.elapsed()
    if seconds is None:
        return ""
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class PlainView:
    """One line per change: ``12:00:01 train[1] Running``."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.shown: dict[int, tuple[Status, str]] = {}

    def added(self, node: StepRun | LoopRun) -> None:
        pass

    def changed(self, node: StepRun | LoopRun) -> None:
        state = (node.status, node.message)
        if self.shown.get(id(node)) == state or node.status == Status.PENDING:
            return
        self.shown[id(node)] = state
        parts = [time.strftime("%H:%M:%S"), node.id, str(node.status)]
        if node.status.done and node.elapsed() is not None:
            parts.append(f"({_elapsed(node)})")
        if node.message:
            parts.append(f"- {node.message}")
        self.out.write(" ".join(parts) + "\n")
        self.out.flush()

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


class LiveView:
    """A rich table of every node: status, attempts, time taken, note."""

    def __init__(self, title: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.title = title
        self.nodes: list[StepRun | LoopRun] = []
        self.console = console or Console()
        self.live: Live = Live(self._table(), console=self.console, refresh_per_second=8,
                               transient=False)
        self.live.start()

    def added(self, node: StepRun | LoopRun) -> None:
        self.nodes.append(node)

    def changed(self, node: StepRun | LoopRun) -> None:
        self.live.update(self._table())

    def tick(self) -> None:
        self.live.update(self._table())

    def close(self) -> None:
        self.live.update(self._table())
        self.live.stop()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", expand=False)
        for column in ("node", "status", "attempts", "time", "note"):
            table.add_column(column, no_wrap=column != "note")
        shown = sorted(self.nodes, key=lambda n: n.position)
        if len(shown) > MAX_ROWS:  # keep what is under way and what went wrong in view
            busy = [n for n in shown if not n.status.done or n.status == Status.FAILED]
            shown = (busy + [n for n in shown if n not in busy][-(MAX_ROWS - len(busy)):]
                     )[:MAX_ROWS]
        for node in shown:
            attempts = str(node.attempts) if isinstance(node, StepRun) and node.attempts else ""
            style = _STYLES[node.status]
            table.add_row(node.id, f"[{style}]{node.status}[/]", attempts, _elapsed(node),
                          node.message)
        return table


def make_view(title: str, live: bool) -> PlainView | LiveView:
    if live:
        try:
            return LiveView(title)
        except ImportError:  # rich is an optional dependency (cnai[clients])
            pass
    return PlainView()


def summary(status: Status, layout: Layout, nodes: list[StepRun | LoopRun], seconds: float,
            out: IO[str] | None = None) -> None:
    """The outcome, counts by status, and the end of the log of each failed step."""
    out = out or sys.stdout
    steps = [n for n in nodes if isinstance(n, StepRun)]
    counts: dict[Status, int] = {}
    for node in steps:
        counts[node.status] = counts.get(node.status, 0) + 1
    tally = ", ".join(f"{counts[s]} {s.value.lower()}" for s in Status if counts.get(s))
    shown = [line for node in steps if node.status == Status.SUCCEEDED
             for line in _metrics(node)]
    if shown:
        out.write("\nmetrics:\n")
        out.writelines(shown)
    for node in steps:
        if node.status != Status.FAILED:
            continue
        out.write(f"\n{node.id} failed: {node.message}\n")
        if node.log is not None and node.log.exists():
            out.write(f"  log: {layout.relative(node.log)} (last lines)\n")
            out.writelines(f"  | {line}\n" for line in tail_lines(node.log, TAIL_LINES))
    out.write(f"\n{status.value} in {seconds:.1f}s ({tally or 'no steps'})\n")
    out.write(f"run folder: {layout.root}\n")
    out.flush()


def _metrics(node: StepRun) -> list[str]:
    """``  evaluate scores.accuracy = 0.93``: the declared scalars of the step's metrics
    outputs, as read back from what the step wrote."""
    lines = []
    for output in node.step.outputs:
        value = node.outputs.get(output.name)
        if output.metric_of is not None and value is not None:
            scalar = output.name[len(output.metric_of) + 1:]
            lines.append(f"  {node.id} {output.metric_of}.{scalar} = {value.text}\n")
    return lines
