"""Kubernetes fragments both targets share: resources, env, volumes, node selectors.

Quantities are always strings ("8", "500m"): Argo's schema and kfp-kubernetes expect them so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnai import contract
from cnai.backends import identity, k8s_configuration, k8s_placement
from cnai.contract import INPUTS_DIR, OUTPUTS_DIR, contract_parameters, input_env_name, runtime_env
from cnai.semantics import ir
from cnai.semantics.placement import gpu_resource

__all__ = ["INPUTS_DIR", "OUTPUTS_DIR", "contract_parameters", "input_env_name", "runtime_env"]

GPU_RESOURCE = "nvidia.com/gpu"
OUTPUTS_VOLUME = "cnai-outputs"
# A data set's `credentials` Secret, mounted in its preload step; the preload image reads
# each key there as an environment variable (runtime_images/preload, credentials.py).
CREDENTIALS_DIR = "/cnai/credentials"
CREDENTIALS_VOLUME = "cnai-credentials"
CREDENTIALS_ENV = "CNAI_CREDENTIALS_DIR"
RUNTIME_GROUP = 10001  # the group of the user cnai's runtime images run as


class InputsByName:
    """Each step's inputs by name, made once per step: a backend looks up the input of every
    placeholder, and a step reading N outputs has N of both (a scan per lookup was N²)."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, ir.Input]] = {}

    def __call__(self, step: ir.Step) -> dict[str, ir.Input]:
        found = self.steps.get(step.name)
        if found is None:
            found = self.steps[step.name] = {item.name: item for item in step.inputs}
        return found


def literal_text(text: str) -> str:
    """Literal text as a container's ``command``, ``args`` or ``env[].value`` must hold it to
    reach the process unchanged. Kubernetes expands ``$(NAME)`` there and turns ``$$`` into
    ``$`` (third_party/forked/golang/expansion/expand.go, applied by the kubelet to command and
    args with the container's env, and to each env value with the variables before it);
    doubling every ``$`` is exact, as a ``$$`` always reads back as one ``$`` and no ``$(``
    is left. Values the engine substitutes at run time are not text the compiler has: they
    reach the container after substitution and are expanded as they are (docs/argo.md)."""
    return text.replace("$", "$$")


def resource_limits(resources: ir.Resources) -> dict[str, str]:
    """Limits only: Kubernetes sets requests equal to limits, and GPUs take limits alone."""
    limits: dict[str, str] = {}
    if resources.cpu is not None:
        limits["cpu"] = resources.cpu
    if resources.memory is not None:
        limits["memory"] = resources.memory
    if resources.gpu and resources.gpu_param is None:  # a param's: the template's patch
        limits[gpu_resource(resources)] = str(resources.gpu)
    limits.update(k8s_placement.extra_limits(resources))
    return limits


def node_selector(resources: ir.Resources, gpu_label_key: str) -> dict[str, str]:
    return {gpu_label_key: resources.gpu_type} if resources.gpu_type else {}


def container(step: ir.Step, pipeline: ir.Pipeline, image: str, text: Callable[[ir.Text], str],
              parameter: Callable[[str], str]) -> dict[str, Any]:
    """The step's container as both targets write it: command and args rendered by ``text``,
    the runtime env (``parameter`` renders an input's placeholder) and the user's env, GPU and
    other limits, and one mount per data set (named after the data set's claim volume)."""
    result: dict[str, Any] = {"image": image}
    if step.image_pull_policy is not None:
        result["imagePullPolicy"] = step.image_pull_policy
    if step.command:
        result["command"] = [text(t) for t in step.command]
    if step.args:
        result["args"] = [text(t) for t in step.args]
    env = runtime_env(step, parameter)
    if preload_credentials(pipeline, step) is not None:
        env.append({"name": CREDENTIALS_ENV, "value": CREDENTIALS_DIR})
    for var in step.env:
        if var.secret is not None:
            env.append(secret_env(var.name, var.secret))
        elif var.value is None:  # a ConfigMap's key or a pod field
            env.append({"name": var.name, "valueFrom": k8s_configuration.value_from(var)})
        else:
            assert var.value is not None
            env.append({"name": var.name, "value": text(var.value)})
    if env:
        result["env"] = env
    if step.env_from:
        result["envFrom"] = k8s_configuration.env_from(step)
    limits = resource_limits(step.resources)
    if limits:
        result["resources"] = {"limits": limits}
    requests = k8s_placement.requests(step.resources)
    if requests:
        result.setdefault("resources", {})["requests"] = requests
    mounts = [{"name": pipeline.dataset(m.dataset).k8s_name, "mountPath": m.path,
               **({"readOnly": True} if m.read_only else {})} for m in step.mounts]
    mounts += k8s_configuration.volume_mounts(step)
    if mounts:
        result["volumeMounts"] = mounts
    security = identity.container_security(step.security)
    if security:
        result["securityContext"] = security
    return result


def preload_credentials(pipeline: ir.Pipeline, step: ir.Step) -> str | None:
    """The Secret a preload step mounts for its data set's source, if any."""
    if step.kind != "preload":
        return None
    return pipeline.dataset(step.mounts[0].dataset).credentials


def secret_env(name: str, secret: ir.SecretRef) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}


def output_path(step: ir.Step, name: str) -> str:
    """Where the step writes output ``name``: its fixed path, or /cnai/outputs/NAME."""
    return contract.output_path(name, step.output(name).path)


SOURCE_ROOT = "/cnai/source"
SOURCE_VOLUME = "cnai-source"


def source_claim(dataset: ir.Dataset) -> tuple[str, str] | None:
    """For a ``pvc://CLAIM/PATH`` source, the claim and where the preload step sees it."""
    if dataset.source is None or not dataset.source.startswith("pvc://"):
        return None
    claim = dataset.source[len("pvc://"):].split("/", 1)[0]
    return claim, f"{SOURCE_ROOT}/{claim}"


def pvc_spec(dataset: ir.Dataset) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": [dataset.access_mode],
                            "resources": {"requests": {"storage": dataset.size}}}
    if dataset.storage_class:
        spec["storageClassName"] = dataset.storage_class
    return spec
