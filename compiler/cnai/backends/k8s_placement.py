"""Placement and resources as both targets write them: a pod's node selector,
tolerations and node affinity (Kubernetes' core/v1 PodSpec fields, which Argo's templates,
training jobs' replicas and Knative revisions hold as they are), kfp-kubernetes' executor
config for the same, and the container's requests and extended resources.

kfp-kubernetes 2.17.3 writes node affinity as a list of NodeAffinityTerm; KFP's driver makes
each term without a weight its own required nodeSelectorTerm (terms are ORed) and each term
with a weight a preferred one (backend/src/v2/driver/k8s.go, extendPodSpecPatch). `required`
is one term, so its expressions are ANDed as on Argo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnai.context import Options
from cnai.semantics import ir
from cnai.semantics.placement import TPU_RESOURCE, gpu_resource, tpu_selectors

Spec = dict[str, Any]


def image(step: ir.Step, options: Options, text: Callable[[ir.Text], str]) -> str:
    """The image of the step's container: one of cnai's runtime images, the step's own, or
    the step's own naming params, rendered by the target's ``text`` (Argo substitutes a
    template's fields, the image too, before the pod is made: workflow/common/util.go,
    SubstituteParams)."""
    if step.runtime is not None:
        return options.runtime_image(step.runtime)
    return step.image if isinstance(step.image, str) else text(step.image)


def whole_param_image(step: ir.Step) -> bool:
    """Whether the step's image is one param and nothing else: all KFP's driver resolves
    (driver/util.go, resolvePodSpecInputRuntimeParameter returns the param's value whole,
    dropping any text around its placeholder)."""
    parts = step.image.parts if isinstance(step.image, ir.Text) else []
    return len(parts) == 1 and isinstance(parts[0], ir.InputValue)


def add_placement(step: ir.Step, selector: dict[str, str], fields: Spec) -> None:
    """Add the step's TPU node pool and own node selector to ``selector``, and its
    tolerations and node affinity to the pod spec ``fields`` (after spot's toleration)."""
    for key, value, _ in tpu_selectors(step.resources):
        selector[key] = value
    selector.update(step.node_selector)
    if step.tolerations:
        fields["tolerations"] = [*fields.get("tolerations", []),
                                 *map(toleration, step.tolerations)]
    if step.node_affinity is not None:
        fields["affinity"] = {"nodeAffinity": node_affinity(step.node_affinity)}


def knative_placement(step: ir.Step) -> Spec:
    """A Knative revision's placement: Knative Serving accepts nodeSelector, tolerations and
    affinity once its `config-features` ConfigMap enables `kubernetes.podspec-nodeselector`,
    `kubernetes.podspec-tolerations` and `kubernetes.podspec-affinity` (docs/serving.md)."""
    selector: dict[str, str] = {}
    fields: Spec = {}
    add_placement(step, selector, fields)
    if selector:
        fields["nodeSelector"] = selector
    return fields


def toleration(item: ir.Toleration) -> Spec:
    found: Spec = {"key": item.key, "operator": item.operator}
    if item.value is not None:
        found["value"] = item.value
    if item.effect is not None:
        found["effect"] = item.effect
    return found


def requirement(item: ir.NodeRequirement) -> Spec:
    found: Spec = {"key": item.key, "operator": item.operator}
    if item.values:
        found["values"] = list(item.values)
    return found


def node_affinity(affinity: ir.NodeAffinity) -> Spec:
    """core/v1 NodeAffinity: the required expressions in one term, each preference its own."""
    found: Spec = {}
    if affinity.required:
        found["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
            {"matchExpressions": [requirement(r) for r in affinity.required]}]}
    if affinity.preferred:
        found["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": p.weight, "preference": {"matchExpressions": [requirement(p.requirement)]}}
            for p in affinity.preferred]
    return found


def kfp_node_affinity(affinity: ir.NodeAffinity) -> list[Spec]:
    """kfp-kubernetes' NodeAffinityTerm list (kfp/kubernetes/node_affinity.py)."""
    terms: list[Spec] = []
    if affinity.required:
        terms.append({"matchExpressions": [requirement(r) for r in affinity.required]})
    terms += [{"matchExpressions": [requirement(p.requirement)], "weight": p.weight}
              for p in affinity.preferred]
    return terms


def extra_limits(resources: ir.Resources) -> dict[str, str]:
    """Limits beyond cpu, memory and GPUs: ephemeral storage, TPUs, extended resources
    (whose requests Kubernetes sets equal to their limits)."""
    limits: dict[str, str] = {}
    if resources.ephemeral_storage is not None:
        limits["ephemeral-storage"] = resources.ephemeral_storage
    if resources.tpu:
        limits[TPU_RESOURCE] = str(resources.tpu)
    for name, count in resources.devices.items():
        limits[name] = str(count)
    return limits


def requests(resources: ir.Resources) -> dict[str, str]:
    """Requests the step states: without one, Kubernetes sets a resource's request to its
    limit (core/v1 defaults, SetDefaults_Pod); a request alone is a request only."""
    found: dict[str, str] = {}
    for name, value in (("cpu", resources.cpu_request), ("memory", resources.memory_request),
                        ("ephemeral-storage", resources.ephemeral_storage_request)):
        if value is not None:
            found[name] = value
    return found


def accelerator(resources: ir.Resources) -> tuple[str, str] | None:
    """(resource name, count) of the step's accelerators: GPUs of its vendor, or TPUs."""
    if resources.gpu:
        return gpu_resource(resources), str(resources.gpu)
    if resources.tpu:
        return TPU_RESOURCE, str(resources.tpu)
    return None


# How often a spot step without `retry` is retried, on both targets (Argo: argo_settings.retry).
SPOT_RETRIES = 3


def spot_retry(step: ir.Step) -> ir.Retry | None:
    """A spot step without `retry` is retried when its node is preempted. Argo retries only
    errors (OnError: the pod deleted with its node); KFP's task retry policy cannot tell a
    preemption from the step's own failure (PipelineTaskSpec.RetryPolicy has no policy
    field), so on KFP any failure is retried, SPOT_RETRIES times."""
    if step.scheduling is not None and step.scheduling.spot:
        return ir.Retry(limit=SPOT_RETRIES)
    return None
