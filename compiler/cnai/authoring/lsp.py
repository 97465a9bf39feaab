"""``cnai lsp``: the language server for editors, over stdio (docs/editors.md).

cnai.cli wires it in with ``add_parser(subcommands)`` and ``run(args)``. pygls is imported
only when the server starts (it is the ``lsp`` extra), so other commands never load it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

MISSING = "cnai lsp needs pygls and lsprotocol: pip install 'cnai[lsp]'\n"


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "lsp", help="run the language server (for editors; speaks LSP over stdio)",
        description="Run the cnai language server over stdin/stdout: diagnostics, hover, "
        "definitions, references, completion and formatting for .cnai files.")
    parser.add_argument("--stdio", action="store_true",
                        help="talk over stdin/stdout (the default and only transport; "
                        "accepted because editors' clients pass it)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve until the client exits; 2 when pygls is not installed."""
    if any(importlib.util.find_spec(name) is None for name in ("pygls", "lsprotocol")):
        sys.stderr.write(MISSING)
        return 2
    from cnai.authoring.lsp_server import serve

    return serve()
