"""``cnai run --local``: run a compiled pipeline on this machine (docs/run-local.md).

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``. Only the argument
definitions are imported with this package; the runner loads when a run starts.
"""

from __future__ import annotations

import argparse

from cnai.local.arguments import add_parser


def run(args: argparse.Namespace) -> int:
    """Run ``cnai run`` with parsed arguments; the exit status."""
    from cnai.local.command import run as run_command

    return run_command(args)



__all__ = ["add_parser", "run"]
