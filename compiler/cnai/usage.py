"""What every `cnai` subcommand shares about its command line: the usage error (exit status
2), reading the input file, the ``-p NAME=VALUE`` assignments, the compile options of
`compile` and `submit`, and diagnostics on stderr under ``--color``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnai import __version__
from cnai.context import DEFAULT_GPU_LABEL, DEFAULT_REGISTRY, DEFAULT_SPOT_LABEL, Options
from cnai.limits import MAX_SOURCE_BYTES

if TYPE_CHECKING:
    from cnai.diagnostics import Diagnostic
    from cnai.source import SourceFile


class UsageError(Exception):
    """Bad arguments (exit 2): an unknown option value, an unreadable file, a bad -p."""


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """``["lr=0.1", "name=a=b"]`` -> ``{"lr": "0.1", "name": "a=b"}``; a name given twice, or
    an item without ``=``, is a usage error."""
    values: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-p expects NAME=VALUE, got {item!r}")
        if name in values:
            raise UsageError(f"-p {name} is given twice")
        values[name] = value
    return values


def read_input(path: str) -> bytes:
    """The file's bytes; an unreadable file is a usage error."""
    try:
        with Path(path).open("rb") as handle:  # no more than the parser would take
            return handle.read(MAX_SOURCE_BYTES + 1)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot read {path}: {reason}") from None


def output_path(output: str | None, input_file: str) -> Path | None:
    """``-o OUT`` as a path, once it is known to be writable in principle: not a directory,
    not the input file, in a directory that exists (usage errors otherwise)."""
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and path.resolve() == Path(input_file).resolve():
        raise UsageError(f"refusing to overwrite the input file {input_file}")
    if not path.parent.exists() and str(path.parent):
        raise UsageError(f"directory {path.parent} does not exist")
    return path


def add_color_option(parser: Any) -> None:
    """``--color``, on a parser or an argument group."""
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour diagnostics (default: auto, on a terminal)")


def add_compile_options(parser: Any) -> None:
    """The options that shape the compiled pipeline (`cnai compile` and `cnai submit`)."""
    parser.add_argument("--image-registry", default=DEFAULT_REGISTRY, metavar="REGISTRY",
                        help=f"registry of cnai's runtime images (default: {DEFAULT_REGISTRY})")
    parser.add_argument("--image-tag", default=__version__, metavar="TAG",
                        help=f"tag of cnai's runtime images (default: {__version__})")
    parser.add_argument("--gpu-label-key", default=DEFAULT_GPU_LABEL, metavar="KEY",
                        help=f"node label for gpu_type (default: {DEFAULT_GPU_LABEL})")
    parser.add_argument("--spot-label", default=DEFAULT_SPOT_LABEL, metavar="KEY=VALUE",
                        help="node label (and taint tolerated) of spot nodes "
                        f"(default: {DEFAULT_SPOT_LABEL})")
    parser.add_argument("--no-optimize", action="store_true", help="skip optimizer passes")


def compile_options(args: argparse.Namespace, passes: tuple[str, ...] | None = None
                    ) -> Options:
    """The Options of ``add_compile_options``' arguments; a bad --spot-label is a usage
    error."""
    if "=" not in args.spot_label or args.spot_label.startswith("="):
        raise UsageError(f"--spot-label takes KEY=VALUE, not {args.spot_label!r}")
    return Options(image_registry=args.image_registry, image_tag=args.image_tag,
                   gpu_label_key=args.gpu_label_key, spot_label_text=args.spot_label,
                   optimize=not args.no_optimize, passes=passes)


def colour_wanted(choice: str) -> bool:
    """``--color always|never|auto``: auto colours a terminal unless NO_COLOR is set."""
    if choice != "auto":
        return choice == "always"
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def print_diagnostics(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile],
                      choice: str) -> None:
    """Diagnostics as text on stderr (nothing when there are none)."""
    from cnai.diagnostics.render import render_text

    if diagnostics:
        sys.stderr.write(render_text(diagnostics, sources, colour=colour_wanted(choice)))
