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
from cnai.local import process
from cnai.local.attempt import Attempts, Settings
from cnai.local.engine import Engine
from cnai.local.layout import RUN_FILE, Layout, summary, write_json
from cnai.local.params import resolve_params
from cnai.local.plan import make_plan
from cnai.local.progress import make_view
from cnai.local.progress import summary as print_summary
from cnai.local.state import Registry, Status
from cnai.local.values import Values
from cnai.semantics import ir
from cnai.usage import UsageError, parse_assignments, print_diagnostics

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
BACKOFF_SCALE_ENV = "CNAI_LOCAL_BACKOFF_SCALE"
# Every pass but dedupe_templates: sharing templates means nothing here, and it renames the
# inputs a step sees (CNAI_INPUT_<NAME>) to input1, arg2, ...
LOCAL_PASSES = ("fold_constant_gates", "report_unused", "place_preloads", "reduce_edges")


def run(args: argparse.Namespace) -> int:
    """Run ``cnai run`` with parsed arguments; the exit status."""
    try:
        return _run(args)
    except UsageError as error:
        sys.stderr.write(f"cnai run: error: {error}\n")
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if not args.local:
        raise UsageError("`cnai run` needs --local: it runs pipelines on this machine only "
                         "(to run on a cluster, use `cnai submit`)")
    if args.parallel < 1:
        raise UsageError("--parallel must be at least 1")
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
    layout = Layout.create(Path(args.workdir), pipeline.name)
    plan = make_plan(pipeline)
    registry = Registry()
    values = Values(plan, params, registry)
    settings = Settings(layout=layout, cwd=path.resolve().parent, docker=args.docker,
                        pvc_root=pvc_root,
                        datasets={f"preload_{d.name}": d for d in pipeline.datasets})
    processes = process.Processes()
    view = make_view(f"{pipeline.name}: {layout.root.name}", sys.stdout.isatty())
    engine = Engine(plan, values, Attempts(settings, processes), view, args.parallel, scale)
    started = time.time()

    def report(status: str) -> None:
        finished = None if status == "Running" else time.time()
        write_json(layout.root / RUN_FILE,
                   summary(layout, pipeline.name, status, params, registry, started, finished))

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

