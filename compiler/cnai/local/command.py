"""``cnai run FILE --local``: compile a pipeline and run it on this machine.

Exit status: 0 the pipeline succeeded; 1 the file does not compile, or a step failed (its
``finally`` still ran); 2 bad usage; 130 interrupted. cnai.cli wires it in with
``add_parser(subcommands)`` (cnai.local.arguments) and ``run(args)``; ``main(argv)`` runs it
on its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from cnai.context import CompileContext, Options
from cnai.diagnostics import DiagnosticBag
from cnai.driver import CompileFailed, analyze, decode
from cnai.local import process, runner
from cnai.local.attempt import Attempts, Settings
from cnai.local.engine import Engine
from cnai.local.layout import RUN_FILE, Layout, summary, write_json
from cnai.local.params import resolve_params
from cnai.local.progress import LiveView, PlainView, make_view
from cnai.local.progress import summary as print_summary
from cnai.local.state import LoopRun, Registry, Status, StepRun
from cnai.local.values import Values
from cnai.lowering import build_plan
from cnai.semantics import ir
from cnai.semantics.units import parse_duration
from cnai.usage import UsageError, parse_assignments, print_diagnostics

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
BACKOFF_SCALE_ENV = "CNAI_LOCAL_BACKOFF_SCALE"
# Every pass but dedupe_templates: sharing templates means nothing here, and it renames the
# inputs a step sees (CNAI_INPUT_<NAME>) to input1, arg2, ...
RECORD_SECONDS = 1.0
LOCAL_PASSES = ("fold_constant_gates", "report_unused", "place_preloads", "reduce_edges")


def run(args: argparse.Namespace) -> int:
    """Run ``cnai run`` with parsed arguments; the exit status."""
    try:
        return _run(args)
    except UsageError as error:
        sys.stderr.write(f"cnai run: error: {error}\n")
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if args.status:
        return _show_status(args)
    if not args.local:
        raise UsageError("`cnai run` needs --local: it runs pipelines on this machine only "
                         "(to run on a cluster, use `cnai submit`)")
    if args.file is None:
        raise UsageError("`cnai run --local` needs the .cnai FILE to run")
    if args.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    step_timeout = _step_timeout(args.step_timeout)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.file}: {error.strerror or error}") from None
    pipeline = _compile(data, args)
    if pipeline is None:
        return EXIT_FAILED
    params = resolve_params(pipeline, parse_assignments(args.params))
    pvc_root = _pvc_root(args.pvc_root, pipeline)
    if args.docker:
        problem = process.check_docker()
        if problem:
            raise UsageError(problem)
    scale = _backoff_scale()
    runner.repair_all(Path(args.workdir))
    layout = Layout.create(Path(args.workdir), pipeline.name)
    plan = build_plan(pipeline)
    registry = Registry()
    values = Values(plan, params, registry)
    settings = Settings(layout=layout, cwd=path.resolve().parent, docker=args.docker,
                        pvc_root=pvc_root, step_timeout=step_timeout,
                        datasets={f"preload_{d.name}": d for d in pipeline.datasets})
    processes = process.Processes()
    me = runner.identity(processes.token)
    started = time.time()

    def report(status: str) -> None:
        running = status == "Running"
        finished = None if running else time.time()
        write_json(layout.root / RUN_FILE,
                   summary(layout, pipeline.name, status, params, registry, started, finished,
                           me if running else None))

    view = Recorder(make_view(f"{pipeline.name}: {layout.root.name}", sys.stdout.isatty()),
                    lambda: report("Running"))
    engine = Engine(plan, values, Attempts(settings, processes), view, args.parallel, scale)
    report("Running")
    interrupted = False
    restore = _interrupt_on_sigterm()
    try:
        status = engine.run()
    except KeyboardInterrupt:
        interrupted = True
        processes.stop_all()
        engine.abandon("interrupted")
        status = Status.FAILED
    finally:
        restore()
        view.close()
    report(str(status))
    print_summary(status, layout, registry.sorted(), time.time() - started)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if status == Status.SUCCEEDED else EXIT_FAILED


class Recorder:
    """The view, plus run.json rewritten while the run goes on (at most every
    ``RECORD_SECONDS``), so that a run killed with SIGKILL leaves its running steps named
    there for ``cnai run --status``."""

    def __init__(self, view: PlainView | LiveView, record: Callable[[], None]) -> None:
        self.view = view
        self.record = record
        self.dirty = False
        self.last = float("-inf")

    def added(self, node: StepRun | LoopRun) -> None:
        self.view.added(node)

    def changed(self, node: StepRun | LoopRun) -> None:
        self.view.changed(node)
        self.dirty = True
        if node.status == Status.RUNNING:  # a step just started: record it now
            self._flush()

    def tick(self) -> None:
        self.view.tick()
        if self.dirty and time.monotonic() - self.last >= RECORD_SECONDS:
            self._flush()

    def close(self) -> None:
        self.view.close()

    def _flush(self) -> None:
        if time.monotonic() - self.last < RECORD_SECONDS / 10:  # many starting at once
            return
        self.dirty = False
        self.last = time.monotonic()
        self.record()


def _show_status(args: argparse.Namespace) -> int:
    """``cnai run --status [RUN]``: one line per run (a run folder, or each in --workdir)."""
    folders = [Path(args.file)] if args.file else sorted(
        p for p in Path(args.workdir).glob("*") if (p / RUN_FILE).is_file())
    if args.file and not (folders[0] / RUN_FILE).is_file():
        raise UsageError(f"{args.file}: not a run folder (no {RUN_FILE})")
    for folder in folders:
        data = runner.repair(folder)
        if data is None:
            sys.stdout.write(f"{folder}: unreadable {RUN_FILE}\n")
            continue
        line = f"{folder.name} {data.get('status')}"
        if data.get("message"):
            line += f" - {data['message']}"
        sys.stdout.write(line + "\n")
        if args.file:
            for node in data.get("nodes", []):
                note = f" - {node['message']}" if node.get("message") else ""
                sys.stdout.write(f"  {node.get('id')} {node.get('status')}{note}\n")
    return EXIT_OK


def _step_timeout(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        seconds: float | None = float(text)  # a number of seconds, 0.5 too
    except ValueError:
        whole = parse_duration(text)
        seconds = float(whole) if whole is not None else None
    if seconds is None or not 0 < seconds < float("inf"):
        raise UsageError(f"--step-timeout {text}: expected a duration such as 30s, 90m, 2h, "
                         "1d, a number of seconds, or none")
    return seconds


def _interrupt_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM stop a run as Ctrl-C does (steps killed, run.json written)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _compile(data: bytes, args: argparse.Namespace) -> ir.Pipeline | None:
    """The IR, with warnings shown; None (errors shown) if the file does not compile."""
    options = Options(optimize=not args.no_optimize, passes=LOCAL_PASSES)
    ctx = CompileContext(options=options)
    try:
        source = decode(data, args.file)
        graph = analyze(source, ctx)
    except CompileFailed as error:
        print_diagnostics(error.diagnostics, error.sources, args.color)
        return None
    if graph is None:
        bag = DiagnosticBag()
        bag.error("E0009", "no pipeline to run: this file declares templates only",
                  source.span(0, 0), "no `pipeline` here",
                  help=["run the file that imports these templates"])
        print_diagnostics(bag.sorted(), ctx.sources, args.color)
        return None
    print_diagnostics(ctx.diagnostics.sorted(), ctx.sources, args.color)
    assert isinstance(graph, ir.Pipeline)
    return graph


def _pvc_root(given: str | None, pipeline: ir.Pipeline) -> Path | None:
    if given is not None:
        root = Path(given)
        if not root.is_dir():
            raise UsageError(f"--pvc-root {given}: no such directory")
        return root.resolve()
    claims = [d.name for d in pipeline.datasets if (d.source or "").startswith("pvc://")]
    if claims:
        raise UsageError(f"data set `{claims[0]}` reads a PersistentVolumeClaim: give "
                         "--pvc-root DIR, a directory with one folder per claim")
    return None


def _backoff_scale() -> float:
    text = os.environ.get(BACKOFF_SCALE_ENV, "1")
    try:
        scale = float(text)
    except ValueError:
        scale = -1.0
    if not scale >= 0:
        raise UsageError(f"{BACKOFF_SCALE_ENV} must be a number of 0 or more, not {text!r}")
    return scale

