"""The Argo target's workflow hygiene and failure handling: the run's own
settings on the Workflow (or the CronWorkflow's workflow spec and each run's metadata), and a
step's ``continue_on_failure`` on its DAG task.

- ``timeout``: ``spec.activeDeadlineSeconds``, the whole run's deadline, after which the
  controller stops every pod (WorkflowSpec; a step's own is its template's).
- ``ttl``: ``spec.ttlStrategy.secondsAfterCompletion``: the finished Workflow is deleted that
  long after it ends, whatever its outcome (workflow/gccontroller, TTLStrategy).
- ``pod_gc``: ``spec.podGC.strategy`` (OnPodSuccess, OnPodCompletion, OnWorkflowSuccess,
  OnWorkflowCompletion; unset keeps every pod).
- ``parallelism``: ``spec.parallelism``, the most pods at once; with GPU quota the tighter of
  the two (cloud.gpu_parallelism).
- ``labels``, ``annotations``: the Workflow's metadata; a CronWorkflow's ``workflowMetadata``
  too, so that every run it starts carries them. Ours (``cnai.dev/pipeline``) win.
- ``run_priority``: ``spec.priority``, the order in which a controller limited to N running
  workflows (its ``parallelism`` setting) starts queued ones.
"""

from __future__ import annotations

from typing import Any

from cnai.semantics import ir

POD_GC = {"on_pod_success": "OnPodSuccess", "on_pod_completion": "OnPodCompletion",
          "on_workflow_success": "OnWorkflowSuccess",
          "on_workflow_completion": "OnWorkflowCompletion"}


def workflow(pipeline: ir.Pipeline, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (a Workflow or a CronWorkflow) with the run's own settings."""
    spec = document["spec"].get("workflowSpec", document["spec"])
    if pipeline.timeout_seconds is not None:
        spec["activeDeadlineSeconds"] = pipeline.timeout_seconds
    if pipeline.ttl_seconds is not None:
        spec["ttlStrategy"] = {"secondsAfterCompletion": pipeline.ttl_seconds}
    if pipeline.pod_gc is not None:
        spec["podGC"] = {"strategy": POD_GC[pipeline.pod_gc]}
    if pipeline.parallelism is not None:
        spec["parallelism"] = min(spec.get("parallelism", pipeline.parallelism),
                                  pipeline.parallelism)
    if pipeline.run_priority is not None:
        spec["priority"] = pipeline.run_priority
    runs = [document["metadata"]]
    if document["kind"] == "CronWorkflow":
        runs.append(document["spec"]["workflowMetadata"])
    for metadata in runs:
        for key in ("labels", "annotations"):
            given: dict[str, str] = getattr(pipeline, key)
            if given:
                metadata[key] = {**given, **metadata.get(key, {})}
    return document


def continue_on(step: ir.Step, task: dict[str, Any]) -> None:
    """``continue_on_failure``: the task's ``continueOn``. A failed or errored target task
    with it does not fail its DAG (workflow/controller/dag.go, assessDAGPhase:
    ``task.ContinuesOn(branchPhase)``); its dependants' ``depends`` accept its failure
    (lowering: the plan's waits), as Argo's own dependencies-to-depends conversion does."""
    if step.continue_on_failure:
        task["continueOn"] = {"error": True, "failed": True}


# What `depends` asks of a task for each outcome waited for. `failed` takes Errored too: a pod
# lost to its node (deleted, evicted, preempted) ends Error, not Failed (Argo's NodePhase).
_DEPENDS = {"succeeded": "{0}.Succeeded", "failed": "({0}.Failed || {0}.Errored)",
            "done": "({0}.Succeeded || {0}.Failed || {0}.Errored)"}


def depends_on(waits: list[tuple[str, ir.Outcome]]) -> str:
    """A task's ``depends``: a clause for each (task, outcome waited for), all of them
    (workflow/common/ancestry.go's task results)."""
    return " && ".join([_DEPENDS[outcome].format(task) for task, outcome in waits])


def depends_on_success(tasks: list[str]) -> str:
    """depends_on of tasks all waited for to succeed, as most are, without a format each."""
    return ".Succeeded && ".join(tasks) + ".Succeeded"
