"""check_size: the emitted Workflow against Argo's object size limit.

Argo stores a Workflow in etcd, which refuses objects over about 1 MB ("request is too
large"), and the controller itself offloads or fails near it. The size is the emitted text's,
so this runs on the backend's documents, after the graph passes. Argo target only: a KFP
pipeline is stored in its database, where this limit does not apply.
    > 700 KB -> W0402 (close to the limit)     > 1 MB -> E0402
"""

from __future__ import annotations

import json
from typing import Any

from cnai.context import CompileContext
from cnai.semantics import ir

WARN_BYTES = 700 * 1000
LIMIT_BYTES = 1024 * 1024


def workflow_size(document: dict[str, Any]) -> int:
    """Bytes of the object as the API server stores it (compact JSON)."""
    return len(json.dumps(document, separators=(",", ":")).encode())


def check_size(documents: list[dict[str, Any]], graph: ir.Pipeline,
               ctx: CompileContext) -> None:
    if not documents:
        return
    size = workflow_size(documents[0])
    shown = f"{size / 1000:.0f} KB" if size >= 10_000 else f"{size} bytes"
    ctx.explain.append(f"check_size: the {documents[0].get('kind', 'document')} is {shown} "
                       "(Argo's limit is about 1 MB)")
    hints = ["steps of the same image and command share a template unless --no-optimize",
             "a loop (`for x in list { ... }`) over similar steps emits them once"]
    if size > LIMIT_BYTES:
        ctx.diagnostics.error(
            "E0402", f"the Workflow is {size / 1000:.0f} KB; Argo cannot store objects over "
            "about 1 MB", graph.span, "too large for Argo", help=hints)
    elif size > WARN_BYTES:
        ctx.diagnostics.warn(
            "W0402", f"the Workflow is {size / 1000:.0f} KB, close to Argo's limit of about "
            "1 MB", graph.span, "close to the size limit", help=hints)
