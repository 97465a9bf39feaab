"""``cnai submit``: compile a .cnai file and submit it to Argo Workflows or Kubeflow Pipelines.

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``; ``main(argv)`` runs it
without the rest of the command line (``main(["submit", FILE, ...])``). hera and kfp are
imported only when a submission runs, so ``cnai compile`` never loads them.
"""

from cnai.submit.command import add_parser, main, run

__all__ = ["add_parser", "main", "run"]
