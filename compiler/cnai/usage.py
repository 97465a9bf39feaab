"""What every `cnai` subcommand shares about its command line: the usage error (exit status
2), reading the input file, the ``-p NAME=VALUE`` assignments, and diagnostics on stderr
under ``--color``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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
        return Path(path).read_bytes()
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot read {path}: {reason}") from None


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
