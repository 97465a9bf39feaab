"""What the KFP target refuses of issue #18's control flow (E0401, never ignored):
- locks (``mutexes``, ``semaphores``): Kubeflow Pipelines has no lock of any kind
  (pipeline_spec.proto has none, nor kfp-kubernetes' KubernetesExecutorConfig); running the
  steps without them would break the mutual exclusion they ask for;
- approvals (``suspend``): a KFP task cannot wait to be resumed (the driver runs a task as soon
  as its upstream tasks are done; pipeline_spec.proto has no suspended task).
"""

from __future__ import annotations

from cnai.context import CompileContext
from cnai.semantics import ir

_LOCKS_HELP = ("compile with --target argo (Argo's synchronization), or serialise the steps "
               "with `after`")


def refuse(pipeline: ir.Pipeline, ctx: CompileContext) -> set[str]:
    """Report the control flow Kubeflow cannot express (once per pipeline or step); returns
    the steps it cannot render at all (approval steps)."""
    if pipeline.mutexes or pipeline.semaphores:
        ctx.unsupported(pipeline.span, "E0401", f"pipeline `{pipeline.name}` holds "
                        f"{_locks(pipeline.mutexes, pipeline.semaphores)}: Kubeflow has no "
                        "locks between runs", help=_LOCKS_HELP)
    approvals: set[str] = set()
    for step in pipeline.steps:
        if step.kind == "suspend":
            approvals.add(step.name)
        if step.mutexes or step.semaphores:
            ctx.unsupported(step.span, "E0401", f"`{step.name}` holds "
                            f"{_locks(step.mutexes, step.semaphores)}: Kubeflow has no "
                            "locks between tasks", help=_LOCKS_HELP)
        if step.suspend_seconds is not None:
            ctx.unsupported(step.span, "E0401", f"`{step.name}` waits for approval "
                            "(`suspend`): a Kubeflow task cannot be suspended and resumed",
                            help="end the pipeline before the approval and start a second "
                            "run once approved, or compile with --target argo (`argo resume`)")
    return approvals


def _locks(mutexes: list[str], semaphores: list[ir.ConfigMapRef]) -> str:
    named = [f"mutex `{name}`" for name in mutexes]
    named += [f"semaphore `{ref.name}` `{ref.key}`" for ref in semaphores]
    return ", ".join(named)
