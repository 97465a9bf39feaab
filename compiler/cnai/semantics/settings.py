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
from typing import get_args

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
    # How it is written, in its first context: tests/test_settings.py compiles a small
    # pipeline with and without it, for every target, and checks the output changes (or the
    # declared code refuses it). ``needs``: (context, text) it only means something with.
    example: str = ""
    needs: tuple[tuple[str, str], ...] = ()
    choices: tuple[str, ...] = ()  # strings: the values allowed, if not any

    def merged(self) -> bool:
        """A pipeline-wide value each step without its own takes (``merge == "replace"``)."""
        return self.merge == "replace"

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
_TWO_WORKERS = "distributed pytorch { workers = 2 }"


def _volume(source: str) -> tuple[tuple[str, str], ...]:
    """What a volume's field needs to be tried in tests/test_settings.py: a volume `v` with
    ``source`` (a field example of the same name replaces it), a path, and a step mounting it."""
    return (("volume", source), ("volume", 'path = "/v"'), ("step", "mount v"))

SETTINGS: tuple[Setting, ...] = (
    # ---- the pipeline -------------------------------------------------------------------
    Setting("description", "string", ("pipeline",), "description",
            argo="workflow.description", kfp="pipeline_info.description",
            example='description = "nightly"'),
    Setting("schedule", "string", ("pipeline",), "schedule", custom=True,
            argo="cron_workflow", kfp="submit.kfp_cron",
            example='schedule = "0 2 * * *"'),
    Setting("scheduling", "block", ("pipeline", *STEP), "scheduling", custom=True,
            merge="merge", argo="template.placement", kfp="executor_config.placement",
            example='scheduling { spot = true }'),
    Setting("quota", "block", ("pipeline",), "quota", custom=True,
            argo="quota_objects", kfp="namespace_objects",
            example='quota { gpu = 4 }'),
    # The steps' containers' image pull policy: the pipeline's is every step's default.
    # kfp-kubernetes writes it as the executor config's `imagePullPolicy` (kfp/kubernetes/
    # image.py, set_image_pull_policy), which KFP's compiler puts on the container
    # (backend/src/v2/compiler/argocompiler/container.go, applyStaticK8sConfig).
    Setting("image_pull_policy", "string", ("pipeline", *STEP), "image_pull_policy",
            merge="replace", choices=get_args(ir.PullPolicy),
            argo="container", kfp="executor_config.image_pull_policy",
            example='image_pull_policy = "Always"'),
    # ---- steps and services -------------------------------------------------------------
    Setting("image", "string", BOTH, "image", required=True, argo="container", kfp="container",
            example='image = "python:3.12"'),
    Setting("command", "list", BOTH, "command", custom=True, argo="container", kfp="container",
            example='command = ["train"]'),
    Setting("args", "list", BOTH, "args", custom=True, argo="container", kfp="container",
            example='args = ["--fast"]'),
    Setting("timeout", "duration", BOTH, "timeout_seconds",
            argo="template.timeout", kfp="executor_config.timeout",
            example='timeout = "10m"'),
    Setting("cache", "bool", STEP, "cache", argo="template.cache", kfp="task.cache",
            example='cache = true'),
    # The pipeline's `env` is every step's, key by key.
    Setting("env", "block", ("pipeline", *BOTH), "env", custom=True, merge="merge",
            argo="container", kfp="container",
            example='env { MODE = "fast" }'),
    Setting("resources", "block", BOTH, "resources", custom=True,
            argo="container", kfp="container",
            example='resources { cpu = 2 }'),
    Setting("retry", "block", STEP, "retry", custom=True, argo="template.retry",
            kfp="task.retry",
            example='retry { limit = 2 }'),
    Setting("distributed", "decl", STEP, "distributed", custom=True,
            argo="training_job", kfp="launcher",
            example=_TWO_WORKERS),
    Setting("disruption_budget", "int", STEP, "disruption_budget", custom=True,
            argo="disruption_budget", kfp="launcher",
            example="disruption_budget = 1", needs=(("step", _TWO_WORKERS),)),
    Setting("port", "int", SERVICE, "serving.port", custom=True,
            argo="knative_service", kfp="deploy",
            example='port = 9000'),
    Setting("protocol", "string", SERVICE, "serving.protocol", custom=True,
            argo="knative_service", kfp="deploy",
            example='protocol = "grpc"'),
    Setting("concurrency", "int", SERVICE, "serving.concurrency",
            argo="knative_service", kfp="deploy",
            example='concurrency = 10'),
    Setting("scale", "block", SERVICE, "serving", custom=True,
            argo="knative_service", kfp="deploy",
            example='scale { max = 5 }'),
    Setting("canary", "block", SERVICE, "serving", custom=True,
            argo="virtual_service", kfp="deploy",
            example='canary { weight = 10 }'),
    Setting("circuit_breaker", "block", SERVICE, "serving", custom=True,
            argo="destination_rule", kfp="deploy",
            example='circuit_breaker { max_connections = 10 }'),
    Setting("host", "string", SERVICE, "serving.host", argo="virtual_service", kfp="deploy",
            example='host = "models.example.org"', needs=(("service", "canary { weight = 10 }"),)),
    # ---- data sets (read by Checker._dataset: references, schemes, enumerations) --------
    Setting("source", "value", ("dataset",), "source", required=True, custom=True,
            argo="preload.source", kfp="preload.source",
            example='source = "s3://bucket/other"'),
    Setting("path", "string", ("dataset",), "path", required=True, custom=True,
            argo="volume_claim", kfp="volume_claim",
            example='path = "/mnt/data"'),
    Setting("size", "quantity", ("dataset",), "size", required=True, custom=True,
            label="storage", argo="volume_claim", kfp="volume_claim",
            example='size = "2Gi"'),
    Setting("engine", "string", ("dataset",), "engine", custom=True,
            argo="fluid", kfp="launcher",
            example='engine = "fluid"'),
    Setting("access_mode", "string", ("dataset",), "access_mode", custom=True,
            argo="volume_claim", kfp="volume_claim",
            example='access_mode = "ReadWriteOnce"'),
    Setting("storage_class", "string", ("dataset",), "storage_class",
            argo="volume_claim", kfp="volume_claim",
            example='storage_class = "fast"'),
    Setting("credentials", "string", ("dataset",), "credentials", custom=True,
            argo="preload.credentials", kfp="preload.credentials",
            example='credentials = "s3-creds"'),
    # ---- blocks' fields -----------------------------------------------------------------
    Setting("gpu", "int", ("resources", "quota"), "gpu", argo="template.gpu_param",
            example='gpu = 1'),
    Setting("cpu", "quantity", ("resources", "quota"), "cpu",
            example='cpu = 2'),
    Setting("memory", "quantity", ("resources", "quota"), "memory",
            example='memory = "1Gi"'),
    Setting("gpu_type", "string", ("resources",), "gpu_type",
            argo="template.placement", kfp="executor_config.placement",
            example='gpu_type = "a100"', needs=(("resources", "gpu = 1"),)),
    Setting("limit", "int", ("retry",), "limit", required=True,
            example='limit = 2'),
    Setting("backoff", "duration", ("retry",), "backoff_seconds",
            example='backoff = "10s"', needs=(("retry", "limit = 2"),)),
    # Argo reads backoff.factor as an integer (an IntOrString it converts).
    Setting("factor", "int", ("retry",), "factor", minimum=1,
            example='factor = 2', needs=(("retry", 'limit = 2  backoff = "10s"'),)),
    Setting("scheduler", "string", ("scheduling",), "scheduler",
            # kfp-kubernetes' KubernetesExecutorConfig has no schedulerName: only the pods of
            # training jobs get one (backends/kfp.py, KfpBackend.refuse).
            kfp="E0401",
            example='scheduler = "volcano"'),
    # On KFP, only training jobs are placed in a Volcano queue (with the scheduler).
    Setting("queue", "string", ("scheduling",), "queue", kfp="launcher",
            example='queue = "training"',
            needs=(("scheduling", 'scheduler = "volcano"'), ("step", _TWO_WORKERS))),
    Setting("priority", "string", ("scheduling",), "priority", kfp="E0401",
            example='priority = "high"'),
    Setting("spot", "bool", ("scheduling",), "spot",
            example='spot = true'),
    Setting("min", "int", ("scale",), "min_scale",
            example='min = 2'),
    Setting("max", "int", ("scale",), "max_scale", minimum=1,
            example='max = 5'),
    Setting("weight", "int", ("canary",), "canary_weight", required=True, custom=True,
            example='weight = 10'),
    Setting("max_connections", "int", ("circuit_breaker",), "max_connections", minimum=1,
            example='max_connections = 10'),
    Setting("consecutive_errors", "int", ("circuit_breaker",), "consecutive_errors",
            minimum=1,
            example='consecutive_errors = 3'),
    Setting("ejection", "duration", ("circuit_breaker",), "ejection_seconds",
            example='ejection = "30s"'),
    Setting("masters", "int", ("distributed",), "masters", custom=True,
            example='masters = 0', needs=(("distributed", "workers = 2"),)),
    Setting("workers", "int", ("distributed",), "workers", custom=True,
            example='workers = 3'),
    # ---- identity, access, pod metadata and security ----
    # The pods' Kubernetes identity (semantics/identity.py, backends/identity.py). On Argo,
    # the pipeline's is the Workflow's `spec.serviceAccountName`, a step's own its template's;
    # on KFP an account is per run, not per task: `cnai submit` sends the pipeline's as the
    # run's (kfp Client.run_pipeline's service_account), a step's own is refused (E0401).
    Setting("service_account", "string", ("pipeline", *BOTH), "service_account",
            merge="replace", argo="template.service_account",
            kfp="submit.run_service_account",
            example='service_account = "trainer"'),
    # Argo: WorkflowSpec.imagePullSecrets (a template has none); KFP: the executor config's
    # imagePullSecret (kfp/kubernetes/image.py, set_image_pull_secrets).
    Setting("image_pull_secrets", "list", ("pipeline", *BOTH), "image_pull_secrets",
            custom=True, merge="replace", argo="workflow.image_pull_secrets",
            kfp="executor_config.image_pull_secrets",
            example='image_pull_secrets = ["regcred"]'),
    # Keys are the user's (FREE_BLOCKS); merged key by key, the step's value winning.
    Setting("pod_labels", "block", ("pipeline", *BOTH), "pod_labels", custom=True,
            merge="merge", argo="template.pod_metadata", kfp="executor_config.pod_metadata",
            example='pod_labels { team = "vision" }'),
    Setting("pod_annotations", "block", ("pipeline", *BOTH), "pod_annotations", custom=True,
            merge="merge", argo="template.pod_metadata", kfp="executor_config.pod_metadata",
            example='pod_annotations { "sidecar.istio.io/inject" = "false" }'),
    # Pods valid under the `restricted` Pod Security Standard (backends/identity.py).
    Setting("security", "block", ("pipeline", *BOTH), "security", custom=True,
            merge="merge", argo="template.security", kfp="executor_config.security",
            example='security { run_as_user = 1000 }'),
    Setting("run_as_user", "int", ("security",), "run_as_user",
            example='run_as_user = 1000'),
    Setting("run_as_group", "int", ("security",), "run_as_group",
            example='run_as_group = 1000'),
    Setting("run_as_non_root", "bool", ("security",), "run_as_non_root",
            example='run_as_non_root = false'),
    # kfp-kubernetes' SecurityContext has runAsUser, runAsGroup and runAsNonRoot only
    # (kubernetes_executor_config.proto): a weaker pod is refused, not made silently.
    Setting("fs_group", "int", ("security",), "fs_group", kfp="E0401",
            example='fs_group = 2000'),
    Setting("read_only_root_filesystem", "bool", ("security",), "read_only_root_filesystem",
            kfp="E0401", example='read_only_root_filesystem = true'),

    # ---- placement and resources ----
    # Where pods go (semantics/placement.py): rendered with the GPU type and spot nodes by
    # cloud.placement into every pod both targets make (containers, training jobs' replicas,
    # Knative revisions), and on KFP into the executor config (kfp-kubernetes' nodeSelector,
    # tolerations, nodeAffinity; backend/src/v2/driver/k8s.go, extendPodSpecPatch).
    Setting("node_selector", "block", ("pipeline", *BOTH), "node_selector", custom=True,
            merge="merge", argo="template.placement", kfp="executor_config.placement",
            example='node_selector { disktype = "ssd" }'),
    Setting("tolerations", "list", ("pipeline", *BOTH), "tolerations", custom=True,
            merge="replace", argo="template.placement", kfp="executor_config.placement",
            example='tolerations = ["dedicated=ml:NoSchedule"]'),
    Setting("node_affinity", "block", ("pipeline", *BOTH), "node_affinity", custom=True,
            merge="replace", argo="template.placement", kfp="executor_config.placement",
            example='node_affinity { required = ["disktype in (ssd, nvme)"] }'),
    Setting("required", "list", ("node_affinity",), "required", custom=True,
            example='required = ["example.com/gpu-mem > 40"]'),
    Setting("preferred", "block", ("node_affinity",), "preferred", custom=True,
            example='preferred { "disktype in (ssd)" = 50 }'),
    # `resources`: requests beside the limits, ephemeral storage, AMD GPUs, Cloud TPUs and
    # extended resources (backends/k8s.py resource_limits; kfp_platform.container_resources).
    # KFP's ResourceSpec has no ephemeral storage nor extended resources (pipeline_spec.proto,
    # PipelineContainerSpec.ResourceSpec): refused there.
    Setting("cpu_request", "quantity", ("resources",), "cpu_request", label="cpu",
            example='cpu_request = "500m"'),
    Setting("memory_request", "quantity", ("resources",), "memory_request", label="memory",
            example='memory_request = "1Gi"'),
    Setting("ephemeral_storage", "quantity", ("resources",), "ephemeral_storage",
            label="ephemeral storage", kfp="E0401",
            example='ephemeral_storage = "20Gi"'),
    Setting("ephemeral_storage_request", "quantity", ("resources",),
            "ephemeral_storage_request", label="ephemeral storage", kfp="E0401",
            example='ephemeral_storage_request = "10Gi"'),
    Setting("gpu_vendor", "string", ("resources",), "gpu_vendor",
            choices=get_args(ir.GpuVendor),
            example='gpu_vendor = "amd"', needs=(("resources", "gpu = 1"),)),
    Setting("tpu", "int", ("resources",), "tpu", minimum=1,
            example="tpu = 4"),
    Setting("tpu_accelerator", "string", ("resources",), "tpu_accelerator",
            example='tpu_accelerator = "tpu-v5-lite-podslice"', needs=(("resources", "tpu = 4"),)),
    Setting("tpu_topology", "string", ("resources",), "tpu_topology",
            example='tpu_topology = "2x4"', needs=(("resources", "tpu = 4"),)),
    Setting("devices", "block", ("resources",), "devices", custom=True, kfp="E0401",
            example='devices { "rdma/hca_shared_devices_a" = 1 }'),

    # ---- configuration and volumes ----
    # Every key of a ConfigMap or a Secret as an environment variable (the container's
    # `envFrom`). kfp-kubernetes maps keys one by one (SecretAsEnv and ConfigMapAsEnv need
    # key_to_env: kfp/kubernetes/secret.py, config_map.py), so a step's own pod refuses it on
    # KFP (backends/kfp_configuration.py); training jobs and services, whose pods cnai writes,
    # take it there too.
    Setting("env_from", "list", ("pipeline", *BOTH), "env_from", custom=True, merge="replace",
            argo="container", kfp="E0401",
            example='env_from = [config_map("settings"), secret("api-keys")]'),
    # /dev/shm: a memory-backed emptyDir of that size (PyTorch's DataLoader workers need it).
    Setting("shm", "quantity", ("pipeline", *STEP), "shm", merge="replace", label="shm",
            argo="template.volumes", kfp="executor_config.volumes", example='shm = "2Gi"'),
    Setting("volume", "decl", ("pipeline",), "volumes", custom=True,
            argo="template.volumes", kfp="executor_config.volumes",
            example='volume scratch { empty_dir = true  path = "/scratch" }'),
    Setting("claim", "string", ("volume",), "claim", custom=True, example='claim = "data"',
            needs=_volume('claim = "other"')),
    Setting("config_map", "string", ("volume",), "config_map", custom=True,
            example='config_map = "settings"', needs=_volume('config_map = "other"')),
    Setting("secret", "string", ("volume",), "secret", custom=True,
            example='secret = "tls"', needs=_volume('secret = "other"')),
    Setting("empty_dir", "bool", ("volume",), "empty_dir", custom=True,
            example="empty_dir = true", needs=_volume('empty_dir = false  claim = "other"')),
    Setting("path", "string", ("volume",), "path", required=True, custom=True,
            example='path = "/mnt/v"', needs=_volume("empty_dir = true")),
    # kfp-kubernetes' PvcMount has no readOnly (kfp/kubernetes/volume.py, mount_pvc).
    Setting("read_only", "bool", ("volume",), "read_only", kfp="E0401",
            example="read_only = true", needs=_volume('claim = "data"')),
    Setting("sub_path", "string", ("volume",), "sub_path", custom=True,
            example='sub_path = "runs"', needs=_volume('claim = "data"')),
    Setting("size", "quantity", ("volume",), "size", label="size",
            example='size = "1Gi"', needs=_volume("empty_dir = true")),
    Setting("memory", "bool", ("volume",), "memory",
            example="memory = true", needs=_volume("empty_dir = true")),

    # ---- workflow hygiene and failure handling ----
    # The whole run's deadline, its lifetime once finished, its pods' garbage collection, its
    # pods at once, its own labels and annotations and its priority among queued runs: the
    # Workflow's (Argo), the pipeline config's where KFP has one (kfp/dsl/pipeline_config.py).
    # The pipeline's `timeout` is the run's, not every step's default (a step's is its own).
    Setting("timeout", "duration", ("pipeline",), "timeout_seconds",
            argo="workflow.hygiene", kfp="pipeline_config",
            example='timeout = "6h"'),
    Setting("ttl", "duration", ("pipeline",), "ttl_seconds",
            argo="workflow.hygiene", kfp="pipeline_config",
            example='ttl = "1d"'),
    Setting("pod_gc", "string", ("pipeline",), "pod_gc", choices=get_args(ir.PodGC),
            argo="workflow.hygiene", kfp="W0405",
            example='pod_gc = "on_pod_success"'),
    Setting("parallelism", "int", ("pipeline",), "parallelism", minimum=1,
            argo="workflow.hygiene", kfp="E0401",
            example="parallelism = 4"),
    Setting("labels", "block", ("pipeline",), "labels", custom=True,
            argo="workflow.hygiene", kfp="W0405",
            example='labels { team = "ml" }'),
    Setting("annotations", "block", ("pipeline",), "annotations", custom=True,
            argo="workflow.hygiene", kfp="W0405",
            example='annotations { "example.com/owner" = "ml-platform" }'),
    Setting("run_priority", "int", ("pipeline",), "run_priority",
            argo="workflow.hygiene", kfp="W0405",
            example="run_priority = 10"),
    # A step whose failure neither fails the run nor stops the steps after it.
    Setting("continue_on_failure", "bool", STEP, "continue_on_failure",
            argo="task.continue_on", kfp="E0401",
            example="continue_on_failure = true"),
    # Which failures a retry retries: "error" (the pod was lost), "failure" (the code exited
    # non-zero) or "any"; and, on Argo, only these exit codes.
    Setting("on", "string", ("retry",), "on", choices=get_args(ir.RetryOn), kfp="E0401",
            example='on = "error"', needs=(("retry", "limit = 2"),)),
    Setting("exit_codes", "list", ("retry",), "exit_codes", custom=True, kfp="E0401",
            example="exit_codes = [1, 137]", needs=(("retry", "limit = 2"),)),
    # ---- function steps (#18) ----
    # pip requirements a function step installs when it starts (semantics/pyfunctions.py);
    # a step that runs no function refuses them (E0210).
    Setting("packages", "list", STEP, "packages", custom=True, argo="E0210", kfp="E0210",
            example='packages = ["numpy==2.1.3"]'),

    # ---- control flow (#18) ----
    # Argo's synchronization (v3.6+ plural forms; v4 removed `mutex`/`semaphore`): a step's
    # locks are its template's, held while it runs; the pipeline's are the Workflow's, held
    # for the whole run (docs/synchronization.md upstream; workflow/sync). The pipeline's do
    # not reach the steps. Kubeflow has no locks: refused, as mutual exclusion is meaning.
    Setting("mutexes", "list", ("pipeline", *STEP), "mutexes", custom=True,
            argo="template.synchronization", kfp="E0401",
            example='mutexes = ["deploy"]'),
    Setting("semaphores", "list", ("pipeline", *STEP), "semaphores", custom=True,
            argo="template.synchronization", kfp="E0401",
            example='semaphores = [config_map("limits", "train")]'),
    # Wait for approval (`argo resume`), or at most a duration, then run the container; a
    # step without an image is an approval alone (semantics/suspend.py). Kubeflow has no
    # suspended task.
    Setting("suspend", "duration", STEP, "suspend_seconds", custom=True,
            argo="suspend_template", kfp="E0401",
            example='suspend = "1h"'),
)

# The IR model each context's settings fill (``Setting.ir`` is a path on it).
CONTEXT_MODELS: dict[str, type[ir.Node]] = {
    "pipeline": ir.Pipeline, "step": ir.Step, "service": ir.Step, "dataset": ir.Dataset,
    "resources": ir.Resources, "retry": ir.Retry, "scheduling": ir.Scheduling,
    "quota": ir.Quota, "scale": ir.Serving, "canary": ir.Serving,
    "circuit_breaker": ir.Serving, "distributed": ir.Distributed,
    "security": ir.Security,
    "node_affinity": ir.NodeAffinity,
    "volume": ir.Volume,
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
    "volumes",  # from `mount` declarations of `volume`s
    # ---- function steps (#18) ----
    "function",  # from `use` of a Python function (`import "steps.py"`)
)
# Fields of ir.Pipeline that no setting fills.
STRUCTURAL_PIPELINE_FIELDS = ("name", "k8s_name", "span", "params", "datasets", "steps",
                              "groups",
                              "outputs",  # `output NAME: TYPE = STEP.OUT` (#18, nested.py)
                              "given")  # the outputs of the pipelines used as steps

# Blocks whose keys are the user's own (environment variable names): not settings.
FREE_BLOCKS = (
    "env",
    "pod_labels", "pod_annotations",  # label and annotation keys
    "node_selector", "preferred", "devices",  # label keys, expressions, resources
    "labels", "annotations",  # the pipeline's: label and annotation keys
)

# Each context's settings by name, in declaration order.
BY_CONTEXT: dict[str, dict[str, Setting]] = {}
for _setting in SETTINGS:
    for _context in _setting.where:
        BY_CONTEXT.setdefault(_context, {})[_setting.name] = _setting

# Step settings whose pipeline-wide value a step without its own takes.
REPLACED = tuple(s for s in BY_CONTEXT["step"].values() if s.merged())
