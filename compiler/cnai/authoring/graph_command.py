"""``cnai graph FILE [-o OUT] [--format dot|mermaid|svg|png]``: draw a pipeline's DAG.

The format follows ``-o``'s suffix (``.dot``/``.gv``, ``.mmd``/``.mermaid``, ``.svg``,
``.png``) unless ``--format`` says; with neither, DOT goes to standard output. DOT and Mermaid
are text made by cnai; SVG and PNG are DOT rendered by Graphviz's ``dot`` program through the
``graphviz`` package (the ``graph`` extra), imported only here. Without ``dot`` (or the
package) the command says so and exits 2, before touching ``-o``, which is replaced only once
the picture is made (outfiles.write_atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnai.authoring.graph import Drawing

FORMATS = ("dot", "mermaid", "svg", "png")
SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid",
            ".svg": "svg", ".png": "png"}
EXIT_OK, EXIT_INPUT = 0, 1


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``graph`` to the ``cnai`` command's subcommands."""
    from cnai.usage import add_color_option

    sub = subparsers.add_parser(
        "graph", help="draw the pipeline's DAG (DOT, Mermaid, SVG or PNG)",
        description="Draw FILE's pipeline: steps, data sets and their preloads, services, "
        "loops and if/else branches as boxes, finally steps, GPU steps filled, gates on the "
        "edges. With no -o and no --format, DOT goes to standard output.")
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("-o", "--output", metavar="OUT",
                     help="write here; the suffix (.dot .gv .mmd .svg .png) picks the format "
                     "(replaced only on success)")
    sub.add_argument("--format", dest="graph_format", choices=FORMATS,
                     help="the format, whatever -o's suffix says (svg and png need Graphviz)")
    add_color_option(sub)
    return sub


def run(args: argparse.Namespace) -> int:
    """Run ``cnai graph`` with parsed arguments; the exit status."""
    from cnai.authoring.graph import draw
    from cnai.driver import CompileFailed, analyze_source
    from cnai.outfiles import write_atomically
    from cnai.usage import UsageError, output_path, print_diagnostics, read_input

    output = output_path(args.output or None, args.file)
    kind = chosen_format(args.graph_format, output)
    data = read_input(args.file)
    try:
        result = analyze_source(data, args.file)
    except CompileFailed as failed:
        print_diagnostics(failed.diagnostics, failed.sources, args.color)
        return EXIT_INPUT
    print_diagnostics(result.warnings, result.sources, args.color)
    assert result.graph is not None
    picture = render(draw(result.graph), kind)
    if output is None:
        if isinstance(picture, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(picture)
        else:
            sys.stdout.write(picture)
        return EXIT_OK
    try:
        write_atomically(output, picture)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror or error}") from None
    return EXIT_OK


def chosen_format(given: str | None, output: Path | None) -> str:
    """``--format``, else what ``-o``'s suffix names, else DOT."""
    from cnai.usage import UsageError

    if given is not None:
        return given
    if output is None:
        return "dot"
    found = SUFFIXES.get(output.suffix.lower())
    if found is None:
        known = " ".join(SUFFIXES)
        raise UsageError(f"cannot tell the format from {output.name!r}: give a file ending in "
                         f"one of {known}, or --format")
    return found


def render(drawing: Drawing, kind: str) -> str | bytes:
    """The drawing in format ``kind``: DOT or Mermaid text, or SVG text or PNG bytes from
    ``dot``."""
    from cnai.authoring.graph_text import to_dot, to_mermaid

    if kind == "mermaid":
        return to_mermaid(drawing)
    dot = to_dot(drawing)
    if kind == "dot":
        return dot
    rendered = run_dot(dot, kind)
    return rendered.decode("utf-8") if kind == "svg" else rendered


def run_dot(dot: str, kind: str) -> bytes:
    """``dot -T{kind}`` on the DOT text; a usage error (exit 2) when Graphviz is missing."""
    from cnai.usage import UsageError

    hint = ("or write DOT or Mermaid text instead (-o dag.dot, -o dag.mmd), which needs "
            "neither")
    try:
        import graphviz
    except ImportError:
        raise UsageError(f"{kind.upper()} output needs the graphviz Python package: pip "
                         f"install 'cnai[graph]' (and Graphviz's `dot` program), {hint}"
                         ) from None
    try:
        rendered: bytes = graphviz.pipe("dot", kind, dot.encode("utf-8"), quiet=True)
        return rendered
    except graphviz.ExecutableNotFound:
        raise UsageError(f"{kind.upper()} output needs Graphviz's `dot` program, which is not "
                         f"on PATH: install Graphviz (https://graphviz.org/download/, e.g. "
                         f"`apt-get install graphviz`), {hint}") from None
    except graphviz.CalledProcessError as error:
        reason = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"`dot` failed to render {kind.upper()}: "
                         f"{reason[-1] if reason else error}") from None
