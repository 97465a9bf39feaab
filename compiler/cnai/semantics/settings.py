"""Every setting of the language, declared once: its name, its kind, where it may be written,
the IR attribute it fills, how a pipeline-wide value reaches a step, and how each target
renders it or refuses it.

What derives from here (docs/settings.md, "How to add a setting"):
- the checker's tables: which fields each block takes and which are required
  (fields.FIELDS, fields.REQUIRED); a simple setting (string, int, bool, duration, quantity)
  is read by fields.FieldReader.read from its declaration, with no checker code of its own;
- the IR: each setting names the attribute it fills (``ir``: a path on its context's model,
  CONTEXT_MODELS); tests/test_settings.py checks that every ir.Step and ir.Pipeline field is
  a setting's or in STRUCTURAL_STEP_FIELDS / STRUCTURAL_PIPELINE_FIELDS, and that the
  declared kind matches the attribute's annotation;
- template sharing: passes/dedupe_templates.py compares every ir.Step field but the
  structural ones it lists, so a new setting's field is compared by default;
- rendering: ``argo`` and ``kfp`` name the backend renderer that handles the setting (a key of
  backends.argo_settings.RENDERERS / backends.kfp_platform.RENDERERS, which the backends
  register; semantics/ never imports backends/), or the diagnostic code that refuses it;
  a block's field left empty is rendered with its block;
- the docs: tests/test_settings.py checks each setting is in docs/language.md's tables.

A setting written in a ``template`` body reaches the step that uses it (semantics/templates.py
merges fields by replacement and blocks field by field), so every step and service setting
may be written in a template too.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnai.limits import INT32_MAX
from cnai.semantics import ir

# Kinds a declaration alone reads (fields.FieldReader.read); the others have readers of their
# own in the checker: "list" (texts with references), "value" (a literal or a reference),
# "block" (a block of fields), "decl" (a declaration written with its own syntax, not
# `name = ...` or `name { ... }`, and so not one of its context's fields).
SIMPLE_KINDS = ("string", "int", "bool", "duration", "quantity")
KINDS = (*SIMPLE_KINDS, "list", "value", "block", "decl")

# How a pipeline-wide value reaches each step: "" not at all; "replace": the step's own
# replaces it; "merge": the step's block is laid over it field by field.
MERGES = ("", "replace", "merge")

TARGETS = ("argo", "kfp")


@dataclass(frozen=True)
class Setting:
    name: str  # as written
    kind: str  # one of KINDS
    where: tuple[str, ...]  # contexts: "pipeline", "step", "service", "dataset" or a block's name
    ir: str = ""  # the attribute it fills, a dotted path on its context's model (CONTEXT_MODELS)
    required: bool = False
    minimum: int = 0  # int settings: the range a generic read accepts
    maximum: int = INT32_MAX
    custom: bool = False  # read by its context's checker, not generically (the kind is not
    # simple, or the value has rules of its own: a cron text, a port's own message, ...)
    merge: str = ""  # a pipeline setting also written in steps: one of MERGES
    argo: str = ""  # a renderer's key, or the code of the diagnostic refusing it;
    kfp: str = ""  # "" for a block's field: rendered with its block
    label: str = ""  # quantities: the name in messages ("invalid cpu quantity")

    @property
    def generic(self) -> bool:
        """Read by fields.FieldReader.read from this declaration alone."""
        return not self.custom and self.kind in SIMPLE_KINDS

    @property
    def is_field(self) -> bool:
        """Written as ``name = value`` or ``name { ... }`` (a field of its context)."""
        return self.kind != "decl"

    def render(self, target: str) -> str:
        return self.argo if target == "argo" else self.kfp


STEP, SERVICE, BOTH = ("step",), ("service",), ("step", "service")

SETTINGS: tuple[Setting, ...] = (
    # ---- the pipeline -------------------------------------------------------------------
    Setting("description", "string", ("pipeline",), "description",
            argo="workflow.description", kfp="pipeline_info.description"),
    Setting("schedule", "string", ("pipeline",), "schedule", custom=True,
            argo="cron_workflow", kfp="submit.kfp_cron"),
    Setting("scheduling", "block", ("pipeline", *STEP), "scheduling", custom=True,
            merge="merge", argo="template.placement", kfp="executor_config.placement"),
    Setting("quota", "block", ("pipeline",), "quota", custom=True,
            argo="quota_objects", kfp="namespace_objects"),
    # ---- steps and services -------------------------------------------------------------
    Setting("image", "string", BOTH, "image", required=True, argo="container", kfp="container"),
    Setting("command", "list", BOTH, "command", custom=True, argo="container", kfp="container"),
    Setting("args", "list", BOTH, "args", custom=True, argo="container", kfp="container"),
    Setting("timeout", "duration", BOTH, "timeout_seconds",
            argo="template.timeout", kfp="executor_config.timeout"),
    Setting("cache", "bool", STEP, "cache", argo="template.cache", kfp="task.cache"),
    Setting("env", "block", BOTH, "env", custom=True, argo="container", kfp="container"),
    Setting("resources", "block", BOTH, "resources", custom=True,
            argo="container", kfp="container"),
    Setting("retry", "block", STEP, "retry", custom=True, argo="template.retry",
            kfp="task.retry"),
    Setting("distributed", "decl", STEP, "distributed", custom=True,
            argo="training_job", kfp="launcher"),
    Setting("disruption_budget", "int", STEP, "disruption_budget", custom=True,
            argo="disruption_budget", kfp="launcher"),
    Setting("port", "int", SERVICE, "serving.port", custom=True,
            argo="knative_service", kfp="deploy"),
    Setting("protocol", "string", SERVICE, "serving.protocol", custom=True,
            argo="knative_service", kfp="deploy"),
    Setting("concurrency", "int", SERVICE, "serving.concurrency",
            argo="knative_service", kfp="deploy"),
    Setting("scale", "block", SERVICE, "serving", custom=True,
            argo="knative_service", kfp="deploy"),
    Setting("canary", "block", SERVICE, "serving", custom=True,
            argo="virtual_service", kfp="deploy"),
    Setting("circuit_breaker", "block", SERVICE, "serving", custom=True,
            argo="destination_rule", kfp="deploy"),
    Setting("host", "string", SERVICE, "serving.host", argo="virtual_service", kfp="deploy"),
    # ---- data sets (read by Checker._dataset: references, schemes, enumerations) --------
    Setting("source", "value", ("dataset",), "source", required=True, custom=True,
            argo="preload.source", kfp="preload.source"),
    Setting("path", "string", ("dataset",), "path", required=True, custom=True,
            argo="volume_claim", kfp="volume_claim"),
    Setting("size", "quantity", ("dataset",), "size", required=True, custom=True,
            label="storage", argo="volume_claim", kfp="volume_claim"),
    Setting("engine", "string", ("dataset",), "engine", custom=True,
            argo="fluid", kfp="launcher"),
    Setting("access_mode", "string", ("dataset",), "access_mode", custom=True,
            argo="volume_claim", kfp="volume_claim"),
    Setting("storage_class", "string", ("dataset",), "storage_class",
            argo="volume_claim", kfp="volume_claim"),
    Setting("credentials", "string", ("dataset",), "credentials", custom=True,
            argo="preload.credentials", kfp="preload.credentials"),
    # ---- blocks' fields -----------------------------------------------------------------
    Setting("gpu", "int", ("resources", "quota"), "gpu"),
    Setting("cpu", "quantity", ("resources", "quota"), "cpu"),
    Setting("memory", "quantity", ("resources", "quota"), "memory"),
    Setting("gpu_type", "string", ("resources",), "gpu_type",
            argo="template.placement", kfp="executor_config.placement"),
    Setting("limit", "int", ("retry",), "limit", required=True),
    Setting("backoff", "duration", ("retry",), "backoff_seconds"),
    # Argo reads backoff.factor as an integer (an IntOrString it converts).
    Setting("factor", "int", ("retry",), "factor", minimum=1),
    Setting("scheduler", "string", ("scheduling",), "scheduler",
            # kfp-kubernetes' KubernetesExecutorConfig has no schedulerName: only the pods of
            # training jobs get one (backends/kfp.py, KfpBackend.refuse).
            kfp="E0401"),
    Setting("queue", "string", ("scheduling",), "queue", kfp="launcher"),
    Setting("priority", "string", ("scheduling",), "priority", kfp="E0401"),
    Setting("spot", "bool", ("scheduling",), "spot"),
    Setting("min", "int", ("scale",), "min_scale"),
    Setting("max", "int", ("scale",), "max_scale", minimum=1),
    Setting("weight", "int", ("canary",), "canary_weight", required=True, custom=True),
    Setting("max_connections", "int", ("circuit_breaker",), "max_connections", minimum=1),
    Setting("consecutive_errors", "int", ("circuit_breaker",), "consecutive_errors",
            minimum=1),
    Setting("ejection", "duration", ("circuit_breaker",), "ejection_seconds"),
    Setting("masters", "int", ("distributed",), "masters", custom=True),
    Setting("workers", "int", ("distributed",), "workers", custom=True),
)

# The IR model each context's settings fill (``Setting.ir`` is a path on it).
CONTEXT_MODELS: dict[str, type[ir.Node]] = {
    "pipeline": ir.Pipeline, "step": ir.Step, "service": ir.Step, "dataset": ir.Dataset,
    "resources": ir.Resources, "retry": ir.Retry, "scheduling": ir.Scheduling,
    "quota": ir.Quota, "scale": ir.Serving, "canary": ir.Serving,
    "circuit_breaker": ir.Serving, "distributed": ir.Distributed,
}

# Fields of ir.Step that no setting fills: what the step is and where it sits in the graph,
# not how its pod runs. passes/dedupe_templates.py compares every other field.
STRUCTURAL_STEP_FIELDS = (
    "name", "k8s_name",  # the step's names; a shared template takes its first member's
    "span",  # where it was written
    "kind",  # from `step`/`service`, `distributed` and the data sets' preloads
    "inputs", "outputs", "mounts",  # from references, `output` and `mount` declarations
    "depends", "when", "group",  # its place in the graph: edges, gate, loop/branch/finally
    "runtime",  # one of our runtime images (preload and data load steps), set by the checker
    "template",  # the shared template's name (dedupe_templates)
    "fills",  # preload and data load steps: the data set they fill
)
# Fields of ir.Pipeline that no setting fills.
STRUCTURAL_PIPELINE_FIELDS = ("name", "k8s_name", "span", "params", "datasets", "steps",
                              "groups")

# Blocks whose keys are the user's own (environment variable names): not settings.
FREE_BLOCKS = ("env",)

# Each context's settings by name, in declaration order.
BY_CONTEXT: dict[str, dict[str, Setting]] = {}
for _setting in SETTINGS:
    for _context in _setting.where:
        BY_CONTEXT.setdefault(_context, {})[_setting.name] = _setting
