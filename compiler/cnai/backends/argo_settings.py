"""How the Argo target renders each declared setting: the renderers that
semantics/settings.py names by key (``Setting.argo``), registered here.

The settings of a step's container template are rendered by TEMPLATE_RENDERERS, which
ArgoBackend.container_template applies in order to every template; a new pod-level setting
is one declaration plus one function here. RENDERERS holds every key, naming the function
that renders the setting where it lands elsewhere (the container, the workflow, a training
job, a Knative Service, ...); argo.py registers the workflow's own.
tests/test_settings.py checks every declared key is registered, and every registered key
declared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnai.backends import argo_control, cloud, identity, k8s, k8s_configuration, k8s_placement
from cnai.semantics import ir
from cnai.semantics.placement import gpu_resource
from cnai.semantics.units import format_duration

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend

TemplateRenderer = Callable[["ArgoBackend", ir.Step, dict[str, Any]], None]

SPOT_RETRIES = k8s_placement.SPOT_RETRIES


def placement(backend: ArgoBackend, step: ir.Step, template: dict[str, Any]) -> None:
    """GPU type, spot nodes, scheduler, priority class and Volcano queue."""
    template.update(cloud.placement(step, backend.ctx.options))
    queue = cloud.volcano_queue(step)
    if queue is not None:
        metadata = template.setdefault("metadata", {})
        metadata.setdefault("annotations", {})[cloud.VOLCANO_QUEUE] = queue


def retry(backend: ArgoBackend, step: ir.Step, template: dict[str, Any]) -> None:
    if step.retry is not None:
        template["retryStrategy"] = retry_strategy(step.retry)
    elif step.scheduling is not None and step.scheduling.spot:
        # A preempted spot node deletes the pod: Argo marks the node Error, and OnError
        # retries exactly those, not failures of the step's own code.
        template["retryStrategy"] = {"limit": str(SPOT_RETRIES), "retryPolicy": "OnError"}


def timeout(backend: ArgoBackend, step: ir.Step, template: dict[str, Any]) -> None:
    if step.timeout_seconds is not None:
        template["activeDeadlineSeconds"] = str(step.timeout_seconds)


def cache(backend: ArgoBackend, step: ir.Step, template: dict[str, Any]) -> None:
    if step.cache:
        template["memoize"] = backend.memoize(step, template)


def gpu_param(backend: ArgoBackend, step: ir.Step, template: dict[str, Any]) -> None:
    """`gpu = PARAM`: a container's resource limits are quantities, which Argo's schema does
    not let hold a `{{...}}` tag, so the count goes in the template's podSpecPatch, a string
    Argo substitutes and merges into the pod (docs/fields.md, podSpecPatch: "Allows
    parameterization of container fields which are not strings (e.g. resource limits)")."""
    param = step.resources.gpu_param
    if param is not None:
        template["podSpecPatch"] = json.dumps({"containers": [{
            "name": "main", "resources": {"limits": {
                gpu_resource(step.resources): f"{{{{inputs.parameters.{param.name}}}}}"}}}]},
            sort_keys=True)
# `retry { on }`: Argo's retry policies. "Always" also retries errors (evictions, node loss),
# not only non-zero exits; OnError only those, OnFailure only non-zero exits.
RETRY_POLICIES = {"any": "Always", "error": "OnError", "failure": "OnFailure"}


def retry_strategy(retry: ir.Retry) -> dict[str, Any]:
    strategy: dict[str, Any] = {"limit": str(retry.limit),
                                "retryPolicy": RETRY_POLICIES[retry.on]}
    if retry.exit_codes:
        # Argo evaluates the expression (expr-lang) after a failed attempt, with
        # `lastRetry.exitCode` the attempt's exit code as a string ("-1" when it has none):
        # workflow/controller/operator.go, buildRetryStrategyLocalScope.
        codes = ", ".join(f"'{code}'" for code in retry.exit_codes)
        strategy["expression"] = f"lastRetry.exitCode in [{codes}]"
    if retry.backoff_seconds:
        backoff: dict[str, Any] = {"duration": format_duration(retry.backoff_seconds)}
        if retry.factor is not None:
            backoff["factor"] = str(retry.factor)
        strategy["backoff"] = backoff
    return strategy


# Applied in this order to every container template; `template.cache` last, as the cache
# key hashes the finished template.
TEMPLATE_RENDERERS: dict[str, TemplateRenderer] = {
    "template.placement": placement,
    "template.retry": retry,
    "template.timeout": timeout,
    # ---- identity, access, pod metadata and security ----
    "template.service_account": identity.template_service_account,
    "template.pod_metadata": identity.template_pod_metadata,
    "template.security": identity.template_security,

    # ---- placement and resources ----
    "template.gpu_param": gpu_param,

    # ---- configuration and volumes ----
    "template.volumes": k8s_configuration.argo_volumes,
    # ---- control flow (#18) ----
    "template.synchronization": argo_control.template_synchronization,
    "template.cache": cache,
}

RENDERERS: dict[str, Callable[..., Any]] = {
    **TEMPLATE_RENDERERS,
    "container": k8s.container,  # image, command, args, env, resources
    "quota_objects": cloud.quota_objects,
    "training_job": cloud.training_job,
    "disruption_budget": cloud.disruption_budget,
    "knative_service": cloud.knative_service,
    "virtual_service": cloud.virtual_service,
    "destination_rule": cloud.destination_rule,
    "volume_claim": k8s.pvc_spec,
    "preload.source": k8s.source_claim,  # and the preload step (passes/place_preloads.py)
    "preload.credentials": k8s.preload_credentials,
    "fluid": cloud.fluid_data_load,
    # ---- control flow (#18) ----
    "suspend_template": argo_control.suspend_template,
}
