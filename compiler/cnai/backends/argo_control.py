"""The Argo target's control flow of issue #18: locks (``mutexes``, ``semaphores``).

Locks are Argo's ``synchronization`` (v3.6+ plural forms, the only ones v4 keeps: WorkflowSpec
and Template ``synchronization: {mutexes: [{name}], semaphores: [{configMapKeyRef}]}``). A
template's are taken before its pod starts and released when its node completes; a
Workflow's are held by the whole run, which waits in Pending for them
(workflow/sync/sync_manager.go, TryAcquire and Release; docs/synchronization.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.semantics import ir

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend


def synchronization(mutexes: list[str], semaphores: list[ir.ConfigMapRef]
                    ) -> dict[str, Any] | None:
    """Argo's Synchronization for these locks, or None without any."""
    if not mutexes and not semaphores:
        return None
    sync: dict[str, Any] = {}
    if mutexes:
        sync["mutexes"] = [{"name": name} for name in mutexes]
    if semaphores:
        sync["semaphores"] = [{"configMapKeyRef": {"name": ref.name, "key": ref.key}}
                              for ref in semaphores]
    return sync


def template_synchronization(backend: ArgoBackend, step: ir.Step,
                             template: dict[str, Any]) -> None:
    """A step's locks on its template."""
    sync = synchronization(step.mutexes, step.semaphores)
    if sync is not None:
        template["synchronization"] = sync


def workflow_synchronization(pipeline: ir.Pipeline, spec: dict[str, Any]) -> None:
    """The pipeline's locks on the Workflow's spec (a CronWorkflow's workflowSpec)."""
    sync = synchronization(pipeline.mutexes, pipeline.semaphores)
    if sync is not None:
        spec["synchronization"] = sync
