"""The scheduler: runs the execution plan's DAGs (cnai.lowering: the plan the Argo backend
renders) on a pool of worker threads, as Argo would.

The main thread decides; workers only run attempts and report back through a queue. A DAG
run (the main DAG, each loop iteration, ``finally``) advances its members in order until
nothing changes, then the main thread waits for an attempt to end or a retry to fall due.
- ``--parallel N`` workers: at most N attempts run at once, in the order they became ready;
- ``for ... parallel K``: at most K iterations of that loop are under way at once;
- a step's ``mutexes`` and ``semaphores`` are held while its attempt runs (local/locks.py);
- ``suspend`` is approved at once (APPROVED_AT_ONCE);
- a failed attempt is retried ``retry.limit`` times, after ``backoff * factor^(n-1)``
  seconds (times CNAI_LOCAL_BACKOFF_SCALE); a timed-out attempt is a failed one;
- a failure does not stop independent steps (Argo keeps scheduling the DAG's other tasks);
  what waits for the failed step is Omitted, but for `after X.failed` / `after X.done` steps,
  and how a DAG ends follows Argo (lowering/outcomes.py: a handled failure does not fail it;
  ``continue_on_failure``; which failures ``retry { on exit_codes }`` retries);
- ``finally`` runs after the main DAG has ended, whatever happened, with ``pipeline.status``
  set to Succeeded or Failed; past the pipeline's ``timeout`` the main DAG is stopped and
  fails, and ``finally`` runs.
"""

from __future__ import annotations

import heapq
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from cnai.local.attempt import Attempts, Result
from cnai.local.locks import LockTable
from cnai.local.state import Context, LoopRun, Node, Registry, ScopeRun, Status, StepRun
from cnai.local.values import Unavailable, Values
from cnai.lowering import FINALLY, ExecutionPlan, PlanTask, ScopeId
from cnai.lowering.outcomes import accepts, dag_failed, retried
from cnai.semantics import ir

TICK_SECONDS = 0.25
# `suspend`: a local run has no `argo resume`; it goes on as if approved at once, and says so
# (a step with an image then runs its container).
APPROVED_AT_ONCE = "approved at once: cnai run --local does not wait for `suspend`"


class View(Protocol):
    def added(self, node: StepRun | LoopRun) -> None: ...
    def changed(self, node: StepRun | LoopRun) -> None: ...
    def tick(self) -> None: ...


@dataclass(frozen=True)
class _Started:
    run: StepRun
    at: float


@dataclass(frozen=True)
class _Finished:
    run: StepRun
    result: Result


class Engine:
    def __init__(self, plan: ExecutionPlan, values: Values, attempts: Attempts, view: View,
                 parallel: int, backoff_scale: float = 1.0) -> None:
        self.plan = plan
        self.values = values
        self.registry: Registry = values.registry
        self.attempts = attempts
        self.view = view
        self.backoff_scale = backoff_scale
        self.pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cnai-step")
        self.events: queue.Queue[_Started | _Finished] = queue.Queue()
        self.in_flight = 0
        self.retries: list[tuple[float, int, StepRun]] = []
        self._sequence = 0
        self.deadline: float | None = None  # the pipeline's `timeout`, on the main DAG
        self.locks = LockTable()  # the steps' mutexes and semaphores (local/locks.py)

    def run(self) -> Status:
        """Run the pipeline, then ``finally``; the final status of the whole run."""
        try:
            main = self._open(None, Context(), (0,))
            timeout = self.plan.pipeline.timeout_seconds
            if timeout is not None:
                self.deadline = time.monotonic() + timeout
            self._drive(main)
            self.deadline = None
            status = main.status
            if self.plan.has_finally:
                self.values.pipeline_status = str(main.status)
                cleanup = self._open(FINALLY, Context(), (1,))
                self._drive(cleanup)
                if cleanup.status == Status.FAILED:
                    status = Status.FAILED
            return status
        except KeyboardInterrupt:
            self.attempts.processes.stop_all()  # before waiting for the workers below
            raise
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def abandon(self, message: str) -> None:
        """After an interrupt: every node not done is marked Failed."""
        for node in self.registry.order:
            if not node.status.done:
                self._set(node, Status.FAILED, message)

    # ---- DAG runs -----------------------------------------------------------------------

    def _open(self, scope: ScopeId, context: Context, position: tuple[int, ...]) -> ScopeRun:
        members: dict[str, StepRun | LoopRun] = {}
        for number, member in enumerate(self.plan.members(scope)):
            node: StepRun | LoopRun
            where = (*position, number)
            if member.step is not None:
                node = StepRun(member.step.name, context, position=where, step=member.step)
            else:
                assert member.loop is not None
                node = LoopRun(member.loop.id, context, position=where, loop=member.loop)
            members[member.name] = node
            self.registry.add(node)
            self.view.added(node)
        return ScopeRun(scope, context, members)

    def _drive(self, scope_run: ScopeRun) -> None:
        while True:
            while self._advance(scope_run):
                pass
            if scope_run.done or self._past_deadline(scope_run):
                return
            self._wait()

    def _past_deadline(self, scope_run: ScopeRun) -> bool:
        """The pipeline's `timeout` passed: as Argo does with the Workflow's
        activeDeadlineSeconds, stop what runs and fail the run; `finally` still runs."""
        if self.deadline is None or time.monotonic() < self.deadline:
            return False
        self.deadline = None
        self.abandon("stopped: the pipeline's timeout passed")
        self.retries.clear()
        processes = self.attempts.processes
        processes.stop_all()
        processes.stopping = False  # `finally` may start its own
        scope_run.status = Status.FAILED
        return True

    def _advance(self, scope_run: ScopeRun) -> bool:
        """One pass over the members; whether anything changed."""
        if scope_run.done:
            return False
        changed = False
        for member in self.plan.members(scope_run.scope):
            node = scope_run.members[member.name]
            if node.status == Status.PENDING and not _submitted(node):
                changed |= self._decide(scope_run, member, node)
            if isinstance(node, LoopRun) and node.status == Status.RUNNING:
                changed |= self._advance_loop(node)
        if all(n.status.done for n in scope_run.members.values()):
            failed = dag_failed(self.plan.members(scope_run.scope),
                                lambda name: str(scope_run.members[name].status),
                                lambda name: _continues(scope_run.members[name]))
            scope_run.status = Status.FAILED if failed else Status.SUCCEEDED
            changed = True
        return changed

    def _decide(self, scope_run: ScopeRun, member: PlanTask, node: StepRun | LoopRun) -> bool:
        upstream = [scope_run.members[name] for name in member.waits_for]
        if any(not n.status.done for n in upstream):
            return False
        blocked = [n for name, n in zip(member.waits_for, upstream, strict=True)
                   if not accepts(member.outcome(name), str(n.status))]
        if blocked:
            names = ", ".join(f"`{n.id}` {n.status}" for n in blocked)
            self._set(node, Status.OMITTED, f"omitted: {names}")
            return True
        try:
            failing = self.values.holds(member.conditions, node.context)
        except Unavailable as error:
            self._set(node, Status.FAILED, f"cannot evaluate its condition: {error}")
            return True
        if failing is not None:
            reason = (f"`{failing.text}` is false" if failing.expected else
                      f"an earlier branch ran (`{failing.text}` is true)")
            self._set(node, Status.SKIPPED, f"skipped: {reason}")
            return True
        if isinstance(node, LoopRun):
            self._start_loop(node)
        else:
            self._start_step(node)
        return True

    # ---- loops --------------------------------------------------------------------------

    def _start_loop(self, loop_run: LoopRun) -> None:
        try:
            loop_run.items = self.values.items(loop_run.loop, loop_run.context)
        except Unavailable as error:
            self._set(loop_run, Status.FAILED, str(error))
            return
        if not loop_run.items:  # Argo: "Skipped, empty params"
            self._set(loop_run, Status.SKIPPED, "skipped: no items")
            return
        loop_run.started = time.time()
        self._set(loop_run, Status.RUNNING, f"0/{len(loop_run.items)} iterations")

    def _advance_loop(self, loop_run: LoopRun) -> bool:
        loop = loop_run.loop
        limit = loop.parallelism or len(loop_run.items)
        changed = False
        open_runs = [it for it in loop_run.iterations if not it.done]
        while len(open_runs) < limit and len(loop_run.iterations) < len(loop_run.items):
            index = len(loop_run.iterations)
            context = loop_run.context.with_item(loop, index, loop_run.items[index])
            iteration = self._open(loop.id, context, (*loop_run.position, index))
            loop_run.iterations.append(iteration)
            open_runs.append(iteration)
            changed = True
        for iteration in open_runs:
            changed |= self._advance(iteration)
        done = [it for it in loop_run.iterations if it.done]
        message = f"{len(done)}/{len(loop_run.items)} iterations"
        if len(done) == len(loop_run.items):
            failed = any(it.status == Status.FAILED for it in done)
            self._set(loop_run, Status.FAILED if failed else Status.SUCCEEDED, message)
            return True
        if message != loop_run.message:
            loop_run.message = message
            self.view.changed(loop_run)
        return changed

    # ---- steps --------------------------------------------------------------------------

    def _start_step(self, run: StepRun) -> None:
        if run.step.kind == "service":
            self._set(run, Status.SKIPPED, "skipped: services are not deployed by cnai run "
                      "--local")
            return
        if run.step.kind == "suspend":  # an approval: nobody here to resume it
            self._set(run, Status.SUCCEEDED, APPROVED_AT_ONCE)
            return
        try:
            run.inputs = {i.name: self.values.get(i.source, run.context)
                          for i in run.step.inputs}
        except Unavailable as error:
            self._set(run, Status.FAILED, str(error))
            return
        self._submit(run)

    def _submit(self, run: StepRun) -> None:
        run.attempts += 1
        self.in_flight += 1
        self.pool.submit(self._work, run, run.attempts)

    def _work(self, run: StepRun, attempt: int) -> None:
        if run.status.done:  # stopped (the pipeline's timeout) before it started
            self.events.put(_Finished(run, Result(False, "stopped")))
            return
        with self.locks.held(run.step):  # waits, still Pending, for its mutexes
            self.events.put(_Started(run, time.time()))
            try:
                result = self.attempts.execute(run, attempt)
            except Exception as error:  # a bug or an OS error: the step fails, the run goes on
                result = Result(False, f"cnai could not run it: {type(error).__name__}: "
                                f"{error}")
        self.events.put(_Finished(run, result))

    def _wait(self) -> None:
        if self.in_flight == 0 and not self.retries:
            raise RuntimeError("the local scheduler has nothing to wait for")
        timeout = TICK_SECONDS
        if self.deadline is not None:
            timeout = max(0.0, min(timeout, self.deadline - time.monotonic()))
        if self.retries:
            timeout = max(0.0, min(timeout, self.retries[0][0] - time.monotonic()))
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            event = None
        while event is not None:
            self._handle(event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        now = time.monotonic()
        while self.retries and self.retries[0][0] <= now:
            _, _, run = heapq.heappop(self.retries)
            self._submit(run)
        self.view.tick()

    def _handle(self, event: _Started | _Finished) -> None:
        run = event.run
        if run.status.done:  # stopped by the pipeline's timeout: what it reports is late
            if isinstance(event, _Finished):
                self.in_flight -= 1
            return
        if isinstance(event, _Started):
            if run.started is None:
                run.started = event.at
            self._set(run, Status.RUNNING, f"attempt {run.attempts}" if run.attempts > 1
                      else "")
            return
        self.in_flight -= 1
        result = event.result
        run.exit_code = result.exit_code
        if result.ok:
            run.outputs = result.outputs
            self._set(run, Status.SUCCEEDED)
            return
        retry = run.step.retry
        if retry is not None and run.attempts <= retry.limit and retried(
                retry, result.exit_code is None, result.exit_code):
            delay = backoff_seconds(retry, run.attempts) * self.backoff_scale
            self._sequence += 1
            heapq.heappush(self.retries, (time.monotonic() + delay, self._sequence, run))
            self._set(run, Status.RETRYING, f"{result.message}; retry in {delay:.3g}s")
            return
        self._set(run, Status.FAILED, result.message)

    def _set(self, node: Node, status: Status, message: str = "") -> None:
        assert isinstance(node, StepRun | LoopRun)
        if status.done:
            node.finish(status, message)
        else:
            node.status, node.message = status, message
        self.view.changed(node)


def backoff_seconds(retry: ir.Retry, retry_number: int) -> float:
    """Argo's wait before retry ``n``: ``duration * factor^(n-1)``; none without a backoff."""
    if not retry.backoff_seconds:
        return 0.0
    return float(retry.backoff_seconds * (retry.factor or 1) ** (retry_number - 1))


def _continues(node: StepRun | LoopRun) -> bool:
    """``continue_on_failure``: its failure does not fail its DAG."""
    return isinstance(node, StepRun) and node.step.continue_on_failure


def _submitted(node: StepRun | LoopRun) -> bool:
    """Queued for a worker, running, or waiting for its next attempt."""
    return isinstance(node, StepRun) and node.attempts > 0
