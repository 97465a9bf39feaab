"""The `cnai` command: check, compile, submit and run .cnai files.

Exit status: 0 success, 1 errors in the input, 2 bad usage (argparse's convention).
Diagnostics go to stderr; ``--format json`` prints them as one JSON document.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cnai import BUILD, __version__, local, submit
from cnai.authoring import explain as explain_command
from cnai.authoring import fmt_command, graph_command, lsp
from cnai.diagnostics import Diagnostic
from cnai.driver import TARGETS, CompileFailed, check_source, compile_source
from cnai.outfiles import write_atomically, write_split
from cnai.source import SourceFile
from cnai.usage import (
    UsageError,
    add_color_option,
    add_compile_options,
    compile_options,
    output_path,
    print_diagnostics,
    read_input,
)

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in cnai, not in the input

# Commands with a package of their own, each with ``add_parser(subcommands)`` (which names the
# command) and ``run(args)``; a package imports only its arguments until its command runs.
COMMAND_PACKAGES = (
    submit,
    local,
    graph_command,
    fmt_command,
    explain_command,
    lsp,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnai", description="Compile .cnai pipelines to Argo Workflows or Kubeflow "
        "Pipelines.")
    parser.add_argument("--version", action="version", version=f"cnai {__version__} ({BUILD})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--format", choices=("text", "json"), default="text",
                         help="how diagnostics are printed (default: text)")
        add_color_option(sub)

    check = commands.add_parser("check", help="check files for errors, emit nothing")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                       help="how diagnostics are printed (default: text); sarif: a SARIF "
                       "2.1.0 log on standard output, for code scanning")
    add_color_option(check)

    compile_ = commands.add_parser("compile", help="compile a file to a target")
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--target", "-t", choices=TARGETS, default="argo",
                          help="argo (Workflow YAML), kfp (KFP v2 IR YAML) or ir (JSON)")
    compile_.add_argument("-o", "--output", metavar="OUT",
                          help="write here instead of stdout (replaced only on success)")
    add_compile_options(compile_)
    compile_.add_argument("--split", metavar="DIR",
                          help="write one file per object into DIR instead of one stream")
    compile_.add_argument("--passes", metavar="A,B",
                          help="run only these passes, in their fixed order (for debugging)")
    compile_.add_argument("--explain", action="store_true",
                          help="print what each pass changed (to stderr)")
    common(compile_)
    for package in COMMAND_PACKAGES:
        package.add_parser(commands).set_defaults(run=package.run)
    return parser


def _report(diagnostics: Sequence[Diagnostic], sources: dict[str, SourceFile],
            args: argparse.Namespace, explain: Sequence[str] | None = None) -> None:
    if args.format == "sarif":  # a report to keep (> cnai.sarif), not messages: stdout
        from cnai.authoring.sarif import render_sarif

        sys.stdout.write(render_sarif(diagnostics))
    elif args.format == "json":
        from cnai.diagnostics.render import render_json

        sys.stderr.write(render_json(diagnostics, explain))
    else:
        print_diagnostics(diagnostics, sources, args.color)


def _check(args: argparse.Namespace) -> int:
    diagnostics: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    failed = False
    for path in args.files:
        data = read_input(path)
        try:
            warnings, checked_sources = check_source(data, path)
            diagnostics += warnings
            sources.update(checked_sources)
        except CompileFailed as error:
            diagnostics += error.diagnostics
            sources.update(error.sources)
            failed = True
    _report(diagnostics, sources, args)
    return EXIT_INPUT if failed else EXIT_OK


def split_names(documents: Sequence[dict[str, object]]) -> list[str]:
    """File names for --split: order, kind and name, e.g. 01-workflow-model-pipeline.yaml."""
    names = []
    for index, document in enumerate(documents, start=1):
        metadata = document.get("metadata")
        info = document.get("pipelineInfo")
        name, kind = "", str(document.get("kind") or "").lower()
        if isinstance(metadata, dict):
            name = str(metadata.get("name") or metadata.get("generateName") or "").strip("-")
        elif isinstance(info, dict):  # a KFP PipelineSpec, then its platform document
            kind, name = "pipeline", str(info.get("name", ""))
        elif "platforms" in document:
            kind = "platform"
        kind = kind or "document"
        names.append(f"{index:02d}-{kind}{'-' + name if name else ''}.yaml")
    return names


def _write_split(directory: Path, documents: Sequence[dict[str, object]]) -> None:
    from cnai.backends.serialize import to_yaml

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    files = {name: to_yaml([document])
             for name, document in zip(split_names(documents), documents, strict=True)}
    try:
        write_split(directory, files)
    except OSError as error:
        raise UsageError(f"cannot write into {directory}: {error.strerror or error}") from None


def _compile(args: argparse.Namespace) -> int:
    output = output_path(args.output or None, args.file)
    if args.split and args.output:
        raise UsageError("give -o or --split, not both")
    passes = None
    if args.passes is not None:
        from cnai.passes import NAMES

        passes = tuple(p.strip() for p in args.passes.split(",") if p.strip())
        unknown = [p for p in passes if p not in NAMES]
        if unknown:
            raise UsageError(f"unknown pass {unknown[0]!r}; the passes are "
                             + ", ".join(NAMES))
    options = compile_options(args, passes)
    try:
        # The bytes read are not kept here: compile_source drops them once decoded.
        result = compile_source(read_input(args.file), args.file, args.target, options)
    except CompileFailed as failed:
        _report(failed.diagnostics, failed.sources, args)
        return EXIT_INPUT
    explain = (result.explain or ["no pass changed anything"]) if args.explain else None
    _report(result.warnings, result.sources, args, explain)
    if explain is not None and args.format == "text":
        sys.stderr.write("".join(f"explain: {line}\n" for line in explain))
    if args.split:
        _write_split(Path(args.split), [*result.documents, *result.namespace_objects])
    elif output is None:
        sys.stdout.write(result.text)
    else:
        try:
            write_atomically(output, result.text)
        except OSError as error:
            raise UsageError(f"cannot write {output}: {error.strerror or error}") from None
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    collecting = gc.isenabled()
    if args.command in ("check", "compile", "fmt"):
        # A compile allocates a large, short-lived object graph; the cyclic collector only
        # re-scans it (a third of the run time at 1,000 steps), and the process exits right
        # after. `submit` and `run` may go on for hours, with the collector on.
        gc.disable()
    try:
        return _command(args)
    finally:
        if collecting:  # as it was, for a caller that goes on (tests, tools)
            gc.enable()


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "compile":
            return _compile(args)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except UsageError as error:
        sys.stderr.write(f"cnai: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as bug:  # a bug in cnai: say so plainly, no traceback unless asked
        if os.environ.get("CNAI_DEBUG"):
            raise
        sys.stderr.write(f"cnai: internal error ({type(bug).__name__}: {bug}); this is a "
                         "bug in cnai, not in your pipeline. Run with CNAI_DEBUG=1 for the "
                         "traceback and report it.\n")
        return EXIT_INTERNAL


def entry() -> None:
    """The console script and ``python -m cnai``: main(), then exit without a teardown.

    Python's shutdown collects and frees the whole object graph of a large pipeline: a sixth
    of a compile at 2,000 steps. The process owns nothing that needs a shutdown (no atexit
    hooks, no threads left after main returns), so the output is flushed and the process
    ends. mypy exits the same way (mypy/util.py, hard_exit).
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: the normal exit reports it
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    entry()
