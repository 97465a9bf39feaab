"""``cnai fmt``: rewrite .cnai files in the canonical layout (docs/fmt.md).

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``; the formatter is
imported when the command runs.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator
from pathlib import Path

from cnai.diagnostics import Diagnostic
from cnai.source import SourceFile
from cnai.usage import UsageError, add_color_option, print_diagnostics, read_input

STDIN = "-"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``fmt`` to the ``cnai`` command's subcommands."""
    sub = subparsers.add_parser(
        "fmt", help="rewrite files in the canonical layout",
        description="Rewrite each FILE (a directory: its .cnai files) in the canonical layout, "
        "keeping every comment; only files that change are written. With no FILE or `-`, "
        "read standard input and write the result to standard output. See docs/fmt.md.")
    sub.add_argument("files", nargs="*", metavar="FILE")
    sub.add_argument("--check", action="store_true",
                     help="write nothing; name the files that would change and exit 1 if any")
    sub.add_argument("--diff", action="store_true",
                     help="write nothing; print what would change as a unified diff")
    sub.add_argument("--format", choices=("text", "json"), default="text",
                     help="how diagnostics are printed (default: text)")
    add_color_option(sub)
    return sub


def run(args: argparse.Namespace) -> int:
    """Format the files; 0, or 1 when a file does not parse or (--check) would change."""
    from cnai.authoring.fmt import FormatError, format_source
    from cnai.driver import CompileFailed, decode

    diagnostics: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    failed = changed = False
    for path in _paths(args.files or [STDIN]):
        data = sys.stdin.buffer.read() if path == STDIN else read_input(path)
        name = "<stdin>" if path == STDIN else path
        try:
            source = decode(data, name)
            text = format_source(source.text, name)
        except CompileFailed as error:
            diagnostics += error.diagnostics
            sources.update(error.sources)
            failed = True
            continue
        except FormatError as refused:  # not `error`: one name, one type (mypyc)
            diagnostics += refused.diagnostics
            sources[name] = source
            failed = True
            continue
        if text != source.text:
            changed = True
        _emit(args, path, name, source.text, text)
    _report(diagnostics, sources, args)
    return 1 if failed or (args.check and changed) else 0


def _paths(arguments: list[str]) -> Iterator[str]:
    """The files named, a directory's .cnai files (sorted, at any depth) in its place."""
    for argument in arguments:
        if argument != STDIN and Path(argument).is_dir():
            found = sorted(str(p) for p in Path(argument).rglob("*.cnai") if p.is_file())
            if not found:
                raise UsageError(f"no .cnai files in {argument}")
            yield from found
        else:
            yield argument


def _emit(args: argparse.Namespace, path: str, name: str, before: str, after: str) -> None:
    """What the options ask for one file: a diff, a line naming it, the new text."""
    if args.diff and before != after:
        sys.stdout.writelines(difflib.unified_diff(
            _lines(before), _lines(after), f"{name}", f"{name} (formatted)"))
    if args.check or args.diff:
        if args.check and before != after:
            sys.stderr.write(f"would reformat {name}\n")
        return
    if path == STDIN:
        sys.stdout.write(after)
    elif before != after:
        _rewrite(Path(path), after)
        sys.stderr.write(f"reformatted {name}\n")


def _lines(text: str) -> list[str]:
    """The lines of ``text``, each ending in a new line: split at new lines only (a string
    may hold U+2028, which ``str.splitlines`` would split at)."""
    return [line + "\n" for line in text.split("\n")[: -1 if text.endswith("\n") else None]]


def _rewrite(path: Path, text: str) -> None:
    from cnai.outfiles import write_atomically

    try:
        write_atomically(path, text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def _report(diagnostics: list[Diagnostic], sources: dict[str, SourceFile],
            args: argparse.Namespace) -> None:
    if args.format == "json":
        from cnai.diagnostics.render import render_json

        sys.stderr.write(render_json(diagnostics))
    else:
        print_diagnostics(diagnostics, sources, args.color)
