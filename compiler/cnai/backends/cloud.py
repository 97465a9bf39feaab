"""Kubernetes objects around cloud-native steps, for both targets: training jobs, disruption
budgets, quotas, Knative + Istio serving, Fluid data sets.

Builders take the container already rendered for the target (placeholders differ between
Argo and Kubeflow), so the objects themselves are the same on both. docs/cloud-native.md
explains each choice.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cnai.backends import identity, k8s, k8s_configuration, k8s_placement
from cnai.backends.k8s import GPU_RESOURCE
from cnai.context import Options
from cnai.semantics import ir
from cnai.semantics.cloud import DEFAULT_REQUEST, held_by_services, step_demand
from cnai.semantics.units import format_duration, generate_name, quantity_value

TRAINING_API = "kubeflow.org/v1"
# kind, replica-spec field, master replica type, container name: the training operator (v1)
# requires these container names.
JOB_KINDS = {"tensorflow": ("TFJob", "tfReplicaSpecs", "Chief", "tensorflow"),
             "pytorch": ("PyTorchJob", "pytorchReplicaSpecs", "Master", "pytorch")}
RUN_LABEL = "cnai.dev/run"
STEP_LABEL = "cnai.dev/step"
PIPELINE_LABEL = "cnai.dev/pipeline"
KNATIVE_GATEWAY = "knative-serving/knative-ingress-gateway"
GANG_SCHEDULER = "volcano"
BURST_CAPACITY = "autoscaling.knative.dev/target-burst-capacity"
VOLCANO_QUEUE = "scheduling.volcano.sh/queue-name"  # the queue of a pod Volcano schedules


# A step's scheduling when it has none, only read: made once, not validated again per step.
_NO_SCHEDULING = ir.Scheduling()


def volcano_queue(step: ir.Step) -> str | None:
    """The Volcano queue of a single pod (training jobs name theirs in their run policy)."""
    scheduling = step.scheduling
    if scheduling is None or scheduling.scheduler != GANG_SCHEDULER or not scheduling.queue:
        return None
    return scheduling.queue


def placement(step: ir.Step, options: Options) -> dict[str, Any]:
    """Pod-spec fields for where a step's pods go: GPU type, spot nodes, scheduler, priority."""
    fields: dict[str, Any] = {}
    selector = k8s.node_selector(step.resources, options.gpu_label_key)
    scheduling = step.scheduling or _NO_SCHEDULING
    if scheduling.spot:
        key, value = options.spot_label
        selector[key] = value
        fields["tolerations"] = [{"key": key, "operator": "Equal", "value": value,
                                  "effect": "NoSchedule"}]
    k8s_placement.add_placement(step, selector, fields)
    if selector:
        fields["nodeSelector"] = selector
    if scheduling.scheduler:
        fields["schedulerName"] = scheduling.scheduler
    if scheduling.priority:
        fields["priorityClassName"] = scheduling.priority
    return fields


def labels(pipeline: ir.Pipeline, step: ir.Step, run: str) -> dict[str, str]:
    return {PIPELINE_LABEL: pipeline.k8s_name, STEP_LABEL: step.k8s_name, RUN_LABEL: run}


# ---- distributed training -----------------------------------------------------------------

def training_job(step: ir.Step, container: dict[str, Any], volumes: list[dict[str, Any]],
                 pod_labels: dict[str, str], options: Options) -> dict[str, Any]:
    """A TFJob or PyTorchJob whose replicas all run ``container``."""
    assert step.distributed is not None
    kind, field, master, container_name = JOB_KINDS[step.distributed.framework]
    pod_spec: dict[str, Any] = {"containers": [{**container, "name": container_name}],
                                **placement(step, options)}
    if volumes:
        pod_spec["volumes"] = volumes
    template = {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec}
    identity.job_pod(step, template)
    replicas: dict[str, Any] = {}
    for replica_type, count in ((master, step.distributed.masters),
                                ("Worker", step.distributed.workers)):
        if count:
            replicas[replica_type] = {"replicas": count, "restartPolicy": "OnFailure",
                                      "template": template}
    run_policy: dict[str, Any] = {"cleanPodPolicy": "Running"}
    scheduling = step.scheduling or _NO_SCHEDULING
    if scheduling.scheduler == GANG_SCHEDULER:
        policy: dict[str, Any] = {"minAvailable": step.distributed.replicas}
        if scheduling.queue:
            policy["queue"] = scheduling.queue
        if scheduling.priority:
            policy["priorityClass"] = scheduling.priority
        run_policy["schedulingPolicy"] = policy
    # Without `retry` a replica is not restarted in place forever: the operator fails the job
    # at its first restart (core/job.go, PastBackoffLimit: a limit of 0 means "no restart").
    run_policy["backoffLimit"] = step.retry.limit if step.retry is not None else 0
    run_policy["activeDeadlineSeconds"] = deadline(step)
    return {"apiVersion": TRAINING_API, "kind": kind,
            "metadata": {"generateName": generate_name(step.k8s_name), "labels": dict(pod_labels)},
            "spec": {"runPolicy": run_policy, field: replicas}}


# How long a training job may run when its step sets no `timeout`: every wait ends.
JOB_TIMEOUT = 7 * 24 * 3600
# How much longer than an object's own deadline its task waits: the operator's verdict (with
# its reason) arrives first, and the task's deadline is only a backstop.
WAIT_GRACE = 120
# The Training Operator keeps one condition per type (Created, Running or Restarting,
# Suspended, Succeeded, Failed: pkg/util/status.go, setCondition/filterOutCondition), so a
# Failed condition sits at one of the first five places of status.conditions.
JOB_CONDITION_SLOTS = 5


def deadline(step: ir.Step) -> int:
    """How long the object a distributed or data-load step creates may take: the step's
    `timeout`, else its kind's default (a training job's ``activeDeadlineSeconds``, the
    launcher's wait for a DataLoad)."""
    if step.timeout_seconds is not None:
        return step.timeout_seconds
    return DATA_LOAD_TIMEOUT if step.kind == "dataload" else JOB_TIMEOUT


def wait_deadline(step: ir.Step) -> int:
    """How long the step's task waits before failing on its own: a backstop after the
    object's own deadline, whose verdict (with its reason) comes first."""
    return deadline(step) + WAIT_GRACE


def job_conditions(step: ir.Step) -> tuple[str, str]:
    """Argo-style success and failure conditions over the job's status, for both targets.

    The Training Operator decides the job as a whole: it marks it `Failed` (replicas that fail
    with a non-restarting policy, `backoffLimit` restarts, `activeDeadlineSeconds` passed; the
    last two also delete the pods, so no replica count ever shows them) or `Succeeded`, and
    sets ``status.completionTime`` in the same status write as either condition
    (pkg/controller.v1/common/job.go, ReconcileJobs; pytorch/pytorchjob_controller.go,
    UpdateJobStatus). Argo parses a condition as a label selector (keys are gjson paths and
    must be qualified names: no list queries) and checks the failure requirements first, any
    one failing the task, then all success requirements (workflow/executor/resource.go,
    matchConditions). So: failure when any of the first JOB_CONDITION_SLOTS conditions has
    type `Failed` (the operator only ever sets it `True`); success when the job has a
    completion time and has not failed, i.e. it succeeded.
    """
    assert step.distributed is not None
    failure = ", ".join(f"status.conditions.{slot}.type == Failed"
                        for slot in range(JOB_CONDITION_SLOTS))
    return "status.completionTime", failure


def disruption_budget(step: ir.Step, selector: dict[str, str]) -> dict[str, Any]:
    assert step.disruption_budget is not None
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"generateName": generate_name(step.k8s_name)},
            "spec": {"minAvailable": step.disruption_budget,
                     "selector": {"matchLabels": selector}}}


# ---- quotas -----------------------------------------------------------------------------

def quota_objects(pipeline: ir.Pipeline) -> list[dict[str, Any]]:
    """A ResourceQuota for the pipeline's namespace, and the LimitRange that gives containers
    without cpu/memory a request (a quota on cpu/memory refuses pods that do not say).

    The LimitRange has no ``default`` (limits): the LimitRanger admission plugin sets every
    default limit a container lacks (plugin/pkg/admission/limitranger/admission.go,
    mergeContainerResources), so a default of 1Gi would cap an 8-GPU training replica that
    states only ``gpu`` at 1Gi of memory. Requests are all the quota counts."""
    quota = pipeline.quota
    if quota is None:
        return []
    hard = {}
    if quota.gpu is not None:
        hard[f"requests.{GPU_RESOURCE}"] = str(quota.gpu)
    if quota.cpu is not None:
        hard["requests.cpu"] = quota.cpu
    if quota.memory is not None:
        hard["requests.memory"] = quota.memory
    name = f"{pipeline.k8s_name}-quota"
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ResourceQuota",
                                      "metadata": {"name": name}, "spec": {"hard": hard}}]
    if quota.cpu is not None or quota.memory is not None:
        objects.append({"apiVersion": "v1", "kind": "LimitRange",
                        "metadata": {"name": f"{pipeline.k8s_name}-limits"},
                        "spec": {"limits": [{"type": "Container",
                                             "defaultRequest": dict(DEFAULT_REQUEST)}]}})
    return objects


def gpu_parallelism(pipeline: ir.Pipeline) -> int | None:
    """How many pods may run at once so GPUs in use never exceed the quota: what the
    services leave of the quota (their replicas outlive the run) over the largest GPU demand
    of one pod (a whole job for distributed steps). A service's own Argo pod only applies
    its manifest."""
    if pipeline.quota is None or pipeline.quota.gpu is None:
        return None
    largest = max((step_demand(s)["gpu"] * (s.distributed.replicas if s.distributed else 1)
                   for s in pipeline.steps if s.serving is None), default=0.0)
    if largest <= 0:
        return None
    return max(1, math.floor(gpus_left(pipeline) / largest))


def gpus_left(pipeline: ir.Pipeline) -> float:
    """The quota's GPUs less those the pipeline's services keep (semantics/cloud.py)."""
    assert pipeline.quota is not None and pipeline.quota.gpu is not None
    return quantity_value(str(pipeline.quota.gpu)) - held_by_services(pipeline.steps)["gpu"]


# ---- serving ------------------------------------------------------------------------------

def knative_name(step: ir.Step) -> str:
    """The Knative Service that runs the new version: NAME, or NAME-canary with a canary."""
    assert step.serving is not None
    return f"{step.k8s_name}-canary" if step.serving.canary_weight is not None else step.k8s_name


def knative_service(step: ir.Step, container: dict[str, Any], revision: str,
                    service_labels: dict[str, str]) -> dict[str, Any]:
    """A Knative Service whose new revision is named ``<service>-<revision>``, so a run can
    wait for exactly that revision to be ready."""
    serving = step.serving
    assert serving is not None
    name = knative_name(step)
    port_name = "h2c" if serving.protocol == "grpc" else "http1"
    body = {**container, "ports": [{"containerPort": serving.port, "name": port_name}]}
    annotations = {}
    if serving.min_scale is not None:
        annotations["autoscaling.knative.dev/min-scale"] = str(serving.min_scale)
    if serving.max_scale is not None:
        annotations["autoscaling.knative.dev/max-scale"] = str(serving.max_scale)
    if breaks_circuits(serving):
        # Keep the activator out of the request path while the revision has pods, so the
        # revision's Service lists its pods, which the DestinationRule's limits and ejection
        # are about (destination_rule).
        annotations[BURST_CAPACITY] = "0"
    metadata: dict[str, Any] = {"name": f"{name}-{revision}", "labels": dict(service_labels)}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"containers": [body], **k8s_placement.knative_placement(step)}
    volumes = k8s_configuration.pod_volumes(step)  # ConfigMaps, Secrets, empty dirs
    if volumes:
        spec["volumes"] = volumes
    if serving.concurrency is not None:
        spec["containerConcurrency"] = serving.concurrency
    template = {"metadata": metadata, "spec": spec}
    identity.knative_pod(step, template)
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": name, "labels": dict(service_labels)},
            "spec": {"template": template}}


def knative_ready(step: ir.Step, revision: str) -> str:
    return f"status.latestReadyRevisionName == {knative_name(step)}-{revision}"


def splits_traffic(serving: ir.Serving) -> bool:
    """A canary: the service needs an Istio VirtualService."""
    return serving.canary_weight is not None


def breaks_circuits(serving: ir.Serving) -> bool:
    """Connection limits or outlier ejection: the service needs an Istio DestinationRule."""
    return (serving.max_connections is not None or serving.consecutive_errors is not None
            or serving.ejection_seconds is not None)


def virtual_service(step: ir.Step, namespace: str) -> dict[str, Any] | None:
    """The public host split between the new version (canary weight) and the current one.

    Both destinations are Knative Services reached through Knative's local gateway; each
    route sets the Host header Knative routes on (docs/serving.md).
    """
    serving = step.serving
    assert serving is not None
    if not splits_traffic(serving):
        return None
    weight = serving.canary_weight
    assert weight is not None
    routes = []
    for service, share in ((knative_name(step), weight), (step.k8s_name, 100 - weight)):
        host = f"{service}.{namespace}.svc.cluster.local"
        routes.append({"destination": {"host": host}, "weight": share,
                       "headers": {"request": {"set": {"Host": host}}}})
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": step.k8s_name},
            "spec": {"hosts": [serving.host or f"{step.k8s_name}.example.com"],
                     "gateways": [KNATIVE_GATEWAY], "http": [{"route": routes}]}}


def destination_rule(step: ir.Step, namespace: str, revision: str) -> dict[str, Any] | None:
    """Circuit breaking for the new version: a connection pool and outlier detection, on the
    Kubernetes Service of the revision this run deploys.

    Not on the Knative Service's own host: Knative makes that an ExternalName Service for the
    local gateway (knative/serving pkg/reconciler/route/resources/service.go; net-istio reports
    knative-local-gateway as the private load balancer, pkg/reconciler/ingress/ingress.go), so
    a rule there would eject the gateway. The gateways route to the revision's Service,
    ``<revision>.<namespace>.svc.cluster.local`` (net-istio
    pkg/reconciler/ingress/resources/virtual_service.go, makeVirtualServiceRoute), whose
    endpoints are the revision's pods when the activator is out of the path: Knative takes it
    out when the target burst capacity is 0 and the revision has pods (serving
    pkg/autoscaler/scaling/autoscaler.go and pkg/reconciler/autoscaling/kpa/kpa.go), which
    knative_service asks for. The rule keeps the Knative Service's name, so each run moves it
    to its own revision."""
    serving = step.serving
    assert serving is not None
    if not breaks_circuits(serving):
        return None
    policy: dict[str, Any] = {}
    if serving.max_connections is not None:
        http_limit = ("http2MaxRequests" if serving.protocol == "grpc"
                      else "http1MaxPendingRequests")
        policy["connectionPool"] = {"tcp": {"maxConnections": serving.max_connections},
                                    "http": {http_limit: serving.max_connections}}
    if serving.consecutive_errors is not None or serving.ejection_seconds is not None:
        outlier: dict[str, Any] = {"interval": "10s", "maxEjectionPercent": 100}
        if serving.consecutive_errors is not None:
            outlier["consecutive5xxErrors"] = serving.consecutive_errors
        if serving.ejection_seconds is not None:
            outlier["baseEjectionTime"] = format_duration(serving.ejection_seconds)
        policy["outlierDetection"] = outlier
    host = f"{knative_name(step)}-{revision}.{namespace}.svc.cluster.local"
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": knative_name(step)},
            "spec": {"host": host, "trafficPolicy": policy}}


# ---- Fluid ----------------------------------------------------------------------------

# How long a Fluid data load may take when its step sets no `timeout`. Fluid retries a
# DataLoad whose Dataset no runtime has bound every 20 seconds, with no end
# (pkg/controllers/operation_controller.go), so the wait needs one.
DATA_LOAD_TIMEOUT = 24 * 3600
LAUNCHER = ["python", "-m", "cnai_launcher"]


def as_json(obj: dict[str, Any]) -> str:
    """A manifest as a launcher argument: JSON, keys sorted (deterministic, readable in the
    YAML, and a form KFP's driver never mistakes for an ``IfPresent`` clause). It is an
    argument of the launcher's pod, which Kubernetes expands: escaped, so the launcher reads
    it as written (a ``$$`` meant for the pods it makes stays ``$$``, and a ``${TOKEN}`` the
    launcher fills in reaches it as ``${TOKEN}``)."""
    return k8s.literal_text(json.dumps(obj, sort_keys=True, indent=2))


def fluid_load_args(step: ir.Step, dataset: ir.Dataset, source: str) -> list[str]:
    """The launcher's arguments for a Fluid data load, the same on both targets.

    The Dataset is shared by runs under the data set's own name: Fluid binds a Dataset only
    to the runtime of the same name, which the cluster provides. The launcher creates it if
    absent and otherwise checks it is the one this run needs (its source), failing rather
    than changing it under a concurrent run; it is never deleted. Each run's DataLoad warms
    the cache, is waited for with a deadline, and is deleted when the step ends. ``source``
    is the mount point, a literal or an input's token.
    """
    name = dataset.k8s_name
    return ["--manifest-text", as_json(fluid_data_load(name, dataset)),
            "--ensure-text", as_json(fluid_dataset(name, source, dataset)),
            "--success-condition", DATA_LOAD_SUCCESS, "--failure-condition", DATA_LOAD_FAILURE,
            "--timeout", str(deadline(step)), "--delete-on-exit"]


def fluid_dataset(name: str, source: str, dataset: ir.Dataset) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name},
            "spec": {"mounts": [{"mountPoint": source, "name": dataset.k8s_name}],
                     "accessModes": ["ReadOnlyMany"]}}


def fluid_data_load(name: str, dataset: ir.Dataset) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
            "metadata": {"generateName": generate_name(f"{dataset.k8s_name}-load")},
            "spec": {"dataset": {"name": name}, "loadMetadata": True,
                     "target": [{"path": "/", "replicas": 1}]}}


DATA_LOAD_SUCCESS = "status.phase == Complete"
DATA_LOAD_FAILURE = "status.phase == Failed"
