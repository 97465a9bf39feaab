"""The KFP target's workflow hygiene and failure handling.

- ``timeout`` and ``ttl``: the platform spec's ``pipelineConfig`` (``activeDeadlineSeconds``,
  ``resourceTtlOnCompletion``), as kfp 2.17.3 writes dsl.PipelineConfig's
  ``active_deadline_seconds`` and ``ttl_seconds_after_finished``
  (kfp/compiler/pipeline_spec_builder.py, _merge_pipeline_config); KFP's backend sets them on
  the Workflow it runs (``activeDeadlineSeconds``, by default 14 days;
  ``ttlStrategy.secondsAfterCompletion``: backend/src/v2/compiler/argocompiler/argo.go,
  buildActiveDeadlineSeconds and buildTTLStrategy).
- ``pod_gc``, ``labels``, ``annotations``, ``run_priority``: W0405. KFP's Workflow is the
  backend's, not the pipeline's: the API server's configuration sets its pod GC and TTL
  defaults, and a run's own labels are the run's (the KFP UI or API), not the IR's.
- ``parallelism``: E0401 (the IR has no run-wide limit; ``for ... parallel N`` limits a loop).
- ``continue_on_failure``, ``retry { on exit_codes }``, ``after X.failed``, ``after X.done``:
  E0401. KFP's retry policy has no error/failure distinction (PipelineTaskSpec.RetryPolicy);
  a task's trigger policy (``ALL_UPSTREAM_TASKS_COMPLETED``, kfp's
  ``ignore_upstream_failure``) applies to every upstream task at once, and nothing runs a
  task only when another failed: the alternative is a ``finally`` step reading
  ``pipeline.status``.
"""

from __future__ import annotations

from typing import Any

from cnai.context import CompileContext
from cnai.semantics import ir

_NO_EFFECT = {
    "pod_gc": "KFP's API server sets the pod GC of the Workflows it runs",
    "labels": "set a run's labels when you submit it (the KFP API or UI)",
    "annotations": "set a run's annotations when you submit it (the KFP API or UI)",
    "run_priority": "KFP's API server orders the runs it starts",
}


def pipeline_config(pipeline: ir.Pipeline) -> dict[str, Any]:
    """The platform spec's ``pipelineConfig`` (int32 fields, as kfp writes them)."""
    config: dict[str, Any] = {}
    if pipeline.ttl_seconds:  # kfp leaves out 0, proto3's default
        config["resourceTtlOnCompletion"] = pipeline.ttl_seconds
    if pipeline.timeout_seconds:
        config["activeDeadlineSeconds"] = pipeline.timeout_seconds
    return config


def refuse(pipeline: ir.Pipeline, ctx: CompileContext) -> None:
    """Report the settings of this group KFP cannot use (once each)."""
    for name, why in _NO_EFFECT.items():
        if getattr(pipeline, name) not in (None, {}):
            ctx.diagnostics.warn("W0405", f"`{name}` has no effect on Kubeflow",
                                 pipeline.span, "ignored on Kubeflow",
                                 help=[f"{why}; compile with --target argo to use it"])
    if pipeline.parallelism is not None:
        ctx.unsupported(pipeline.span, "E0401", "Kubeflow has no run-wide limit on pods at "
                        "once", help="limit a loop with `for ... parallel N`, or compile with "
                        "--target argo")
    for step in pipeline.steps:
        _refuse_step(step, ctx)


def _refuse_step(step: ir.Step, ctx: CompileContext) -> None:
    if step.continue_on_failure:
        ctx.unsupported(step.span, "E0401", f"`{step.name}` continues on failure: a "
                        "Kubeflow run fails with any of its tasks",
                        help="catch the failure in the step's command, or compile with "
                        "--target argo")
    retry = step.retry
    if retry is not None and (retry.on != "any" or retry.exit_codes):
        ctx.unsupported(step.span, "E0401", f"`{step.name}` retries only some failures: "
                        "Kubeflow's retry policy retries every failed attempt",
                        help='use `on = "any"` without `exit_codes`, or compile with '
                        "--target argo")
    for dependency in step.depends:
        if dependency.outcome != "succeeded":
            ctx.unsupported(dependency.span or step.span, "E0401",
                            f"`after {dependency.step}.{dependency.outcome}`: Kubeflow runs "
                            "a task after its upstream tasks succeeded (or, with "
                            "ignore_upstream_failure, after all of them ended), never only "
                            "after one failed",
                            help="put the step in `finally` and read `pipeline.status`, or "
                            "compile with --target argo")
