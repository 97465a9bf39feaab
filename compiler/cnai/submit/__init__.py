"""``cnai submit``: compile a .cnai file and submit it to Argo Workflows or Kubeflow Pipelines.

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``; ``main(argv)`` runs it
without the rest of the command line (``main(["submit", FILE, ...])``). hera and kfp are
imported only when a submission runs, so ``cnai compile`` never loads them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cnai.submit.arguments import add_parser


def run(args: argparse.Namespace) -> int:
    """Run ``cnai submit`` with parsed arguments; the exit status."""
    from cnai.submit.command import run as run_command

    return run_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``cnai submit`` through the CLI: ``main(["submit", FILE, ...])``."""
    from cnai.submit.command import main as main_command

    return main_command(argv)


__all__ = ["add_parser", "main", "run"]
