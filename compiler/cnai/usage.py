"""What every `cnai` subcommand shares about its command line: the usage error (exit status
2) and the ``-p NAME=VALUE`` assignments."""

from __future__ import annotations

from collections.abc import Sequence


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
