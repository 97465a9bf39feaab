"""The lowering stage: the optimized IR as an execution plan (DAGs of tasks, with what each
waits for, its conditions, what may be skipped, and the values crossing DAGs), built once and
read by every engine: the Argo backend renders it, the local runner executes it, the Kubeflow
backend reads what may be skipped. See docs/lowering.md."""

from cnai.lowering.build import build_plan
from cnai.lowering.partition import partition_plan
from cnai.lowering.plan import (
    FINALLY,
    Condition,
    DagScope,
    ExecutionPlan,
    PlanTask,
    ScopeId,
    StatusRef,
    Value,
    export_name,
    import_name,
)
from cnai.lowering.skips import skippable_in_loop, skippable_steps

__all__ = ["FINALLY", "Condition", "DagScope", "ExecutionPlan", "PlanTask", "ScopeId",
           "StatusRef", "Value", "build_plan", "export_name", "import_name", "partition_plan",
           "skippable_in_loop", "skippable_steps"]
