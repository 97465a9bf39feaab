"""check_size: every emitted object against Argo's object size limit.

Argo stores each object in etcd, which refuses objects over about 1 MB ("request is too
large"), and the controller itself offloads or fails near it. The size is the emitted text's,
so this runs on the backend's documents, after the graph passes, and on each of them: a
Workflow too large for one object is already split into the Workflow plus WorkflowTemplates
(backends/argo_package.py), so an object over the limit here is one no packing can make fit
(a single template over it). Argo target only: a KFP pipeline is stored in Kubeflow's
database, but each run becomes an Argo Workflow bound by the same limit, which
backends/kfp_size.py estimates (W0404).
    > 700 KB -> W0402 (close to the limit)     > 1 MB -> E0402
"""

from __future__ import annotations

from typing import Any

from cnai.context import CompileContext
from cnai.limits import ARGO_OBJECT_BYTES, ARGO_WARN_BYTES, object_size
from cnai.semantics import ir

WARN_BYTES = ARGO_WARN_BYTES
LIMIT_BYTES = ARGO_OBJECT_BYTES


def workflow_size(document: dict[str, Any]) -> int:
    """Bytes of the object as the API server stores it (compact JSON)."""
    return object_size(document)


def _shown(size: int) -> str:
    return f"{size / 1000:.0f} KB" if size >= 10_000 else f"{size} bytes"


def check_size(documents: list[dict[str, Any]], graph: ir.Pipeline,
               ctx: CompileContext) -> None:
    hints = ["steps of the same image and command share a template unless --no-optimize",
             "a loop (`for x in list { ... }`) over similar steps emits them once"]
    for document in documents:
        known = ctx.sizes.get(id(document))  # measured by the backend (argo_package)
        size = known[1] if known is not None and known[0] is document else workflow_size(
            document)
        kind = str(document.get("kind", "document"))
        metadata = document.get("metadata", {})
        name = metadata.get("name") or metadata.get("generateName", "").rstrip("-")
        what = f"the {kind}" + (f" {name}" if kind == "WorkflowTemplate" else "")
        ctx.explain.append(f"check_size: {what} is {_shown(size)} (Argo's limit is about 1 MB)")
        if size > LIMIT_BYTES:
            largest = max((object_size(t) for t in _templates(document)), default=0)
            ctx.diagnostics.error(
                "E0402", f"{what} is {size / 1000:.0f} KB and cannot be split further (its "
                f"largest template is {largest / 1000:.0f} KB); Argo cannot store objects over "
                "about 1 MB", graph.span, "too large for Argo", help=hints)
        elif size > WARN_BYTES:
            ctx.diagnostics.warn(
                "W0402", f"{what} is {size / 1000:.0f} KB, close to Argo's limit of about "
                "1 MB", graph.span, "close to the size limit", help=hints)


def _templates(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    templates: list[dict[str, Any]] = spec.get("workflowSpec", spec).get("templates", [])
    return templates
