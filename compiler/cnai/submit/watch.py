"""``--watch``: poll a run until it ends, showing its progress.

On a terminal, a live status line (rich) under a log of phase changes; otherwise (a pipe, a
CI log) one plain line per change, so logs stay readable and diffable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.status import Status


@dataclass(frozen=True)
class Snapshot:
    """One poll's answer, in the server's own words (Argo phases, KFP states)."""

    phase: str
    finished: bool
    succeeded: bool = False
    progress: str | None = None  # e.g. "2/5"
    message: str | None = None


def clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def describe(snapshot: Snapshot) -> str:
    parts = [snapshot.phase or "Pending"]
    if snapshot.progress:
        parts.append(snapshot.progress)
    if snapshot.message:
        parts.append(f"- {snapshot.message}")
    return " ".join(parts)


class Display(Protocol):
    def show(self, snapshot: Snapshot, elapsed: float) -> None: ...
    def close(self) -> None: ...


class PlainDisplay:
    """One line per change of what is shown."""

    def __init__(self, out: TextIO, label: str) -> None:
        self.out, self.label = out, label
        self.last: str | None = None

    def show(self, snapshot: Snapshot, elapsed: float) -> None:
        text = describe(snapshot)
        if text != self.last:
            self.out.write(f"[{clock_text(elapsed)}] {self.label}: {text}\n")
            self.out.flush()
            self.last = text

    def close(self) -> None:
        pass


class LiveDisplay:
    """A spinner with the current state; each phase change is also printed above it."""

    def __init__(self, out: TextIO, label: str) -> None:
        from rich.console import Console

        self.console = Console(file=out, highlight=False)
        self.label = label
        self.phase: str | None = None
        self.status: Status = self.console.status(f"{label}: submitted")
        self.status.start()

    def show(self, snapshot: Snapshot, elapsed: float) -> None:
        if snapshot.phase != self.phase:
            self.console.print(f"[{clock_text(elapsed)}] {self.label}: {snapshot.phase}",
                               markup=False)
            self.phase = snapshot.phase
        self.status.update(f"{self.label}: {describe(snapshot)}  ({clock_text(elapsed)})")

    def close(self) -> None:
        self.status.stop()


def follow(poll: Callable[[], Snapshot], label: str, out: TextIO, interval: float,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> Snapshot:
    """Poll until the run finishes; print the outcome; return the last snapshot."""
    display: Display = LiveDisplay(out, label) if out.isatty() else PlainDisplay(out, label)
    start = clock()
    try:
        while True:
            snapshot = poll()
            display.show(snapshot, clock() - start)
            if snapshot.finished:
                break
            sleep(interval)
    finally:
        display.close()
    outcome = f"{label} {snapshot.phase} after {clock_text(clock() - start)}"
    if snapshot.message and not snapshot.succeeded:
        outcome += f": {snapshot.message}"
    out.write(outcome + "\n")
    out.flush()
    return snapshot
