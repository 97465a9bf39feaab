"""Steps' ``mutexes`` and ``semaphores`` in a local run: the workers hold them while an
attempt runs, as Argo's controller holds a template's locks while its node runs.

A semaphore's limit is a ConfigMap key's value in the cluster, which a local run cannot read:
it is taken as 1 (the steps naming it run one at a time), the reading that never runs more at
once than the cluster would. The pipeline's own locks exclude other runs, and a local run is
alone: they hold trivially. Locks are taken in one order (sorted by name), so two steps
holding two of the same locks never wait for each other in a cycle.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from cnai.semantics import ir


class LockTable:
    """One lock per mutex and per semaphore named in the run, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def held(self, step: ir.Step) -> Iterator[None]:
        """Hold the step's locks for the duration of the ``with`` block."""
        keys = sorted({f"mutex/{name}" for name in step.mutexes}
                      | {f"semaphore/{ref.name}/{ref.key}" for ref in step.semaphores})
        with ExitStack() as stack:
            for key in keys:
                stack.enter_context(self._lock(key))
            yield
