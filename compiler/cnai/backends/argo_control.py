"""The Argo target's control flow of issue #18: locks (``mutexes``, ``semaphores``) and
approvals (``suspend``).

Locks are Argo's ``synchronization`` (v3.6+ plural forms, the only ones v4 keeps: WorkflowSpec
and Template ``synchronization: {mutexes: [{name}], semaphores: [{configMapKeyRef}]}``). A
template's are taken before its pod starts and released when its node completes; a
Workflow's are held by the whole run, which waits in Pending for them
(workflow/sync/sync_manager.go, TryAcquire and Release; docs/synchronization.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.semantics import ir
from cnai.semantics.units import format_duration

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend

APPROVAL = "approval"  # the task before a step's own that waits for it to be resumed


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


def suspend_template(step: ir.Step, name: str) -> dict[str, Any]:
    """A suspend template: the node waits until ``argo resume`` (or the Argo UI's Resume)
    marks it Succeeded, or, with a duration, until that much time has passed; ``argo stop``
    fails it (workflow/controller/operator.go, executeSuspend: the duration is read by
    v1alpha1.ParseStringToDuration, Go's syntax). The task after it is the step's own."""
    assert step.suspend_seconds is not None
    suspend: dict[str, Any] = {}
    if step.suspend_seconds:
        suspend["duration"] = format_duration(step.suspend_seconds)
    return {"name": name, "suspend": suspend}
