"""``cnai run --local``: run a compiled pipeline on this machine (docs/run-local.md).

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``; ``main(argv)`` runs
it without the rest of the command line (``main(["run", FILE, "--local", ...])``). Only the
argument definitions are imported with this package; the runner loads when a run starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cnai.local.arguments import add_parser


def run(args: argparse.Namespace) -> int:
    """Run ``cnai run`` with parsed arguments; the exit status."""
    from cnai.local.command import run as run_command

    return run_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``cnai run`` on its own: ``main(["run", FILE, "--local", ...])``."""
    from cnai.local.command import main as main_command

    return main_command(argv)


__all__ = ["add_parser", "main", "run"]
