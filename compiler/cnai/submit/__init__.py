"""``cnai submit``: compile a .cnai file and submit it to Argo Workflows or Kubeflow Pipelines.

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``. hera and kfp are
imported only when a submission runs, so ``cnai compile`` never loads them.
"""

from __future__ import annotations

import argparse

from cnai.submit.arguments import add_parser


def run(args: argparse.Namespace) -> int:
    """Run ``cnai submit`` with parsed arguments; the exit status."""
    from cnai.submit.command import run as run_command

    return run_command(args)


__all__ = ["add_parser", "run"]
