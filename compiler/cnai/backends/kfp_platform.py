"""Kubernetes pieces of the KFP target, written as kfp 2.17.3 and kfp-kubernetes 2.17.3 write
them: container resources, each executor's platform config, and the PVC tasks of data sets.

- Resources: kfp writes the string fields that take pipeline parameters (``resourceCpuLimit``,
  ``resourceMemoryLimit``, ``accelerator.resourceType``/``resourceCount``) and, for older KFP
  installations, the deprecated numeric ones (``cpuLimit`` in cores, ``memoryLimit`` in GB,
  ``accelerator.type``/``count``) (kfp/compiler/pipeline_spec_builder.py,
  _build_container_spec). Both are written here, from the same quantity.
- Data sets: ``kubernetes.CreatePVC`` compiles to a task whose executor is the placeholder image
  ``argostub/createpvc``; the driver creates the PVC from the task's inputs and outputs its
  ``name`` (backend/src/v2/driver/k8s.go, createPVC). ``DeletePVC`` is the same with
  ``argostub/deletepvc``. Mounts are ``pvcMount`` entries naming that output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from cnai.backends import cloud, identity, k8s, k8s_placement, kfp_configuration
from cnai.backends.kfp_contract import Unsupported
from cnai.context import Options
from cnai.semantics import ir

Spec = dict[str, Any]

CREATE_PVC_IMAGE = "argostub/createpvc"
DELETE_PVC_IMAGE = "argostub/deletepvc"
PVC_NAME_OUTPUT = "name"
# The preload runs as root on KFP. Its image runs as 10001, and a fresh block volume's root is
# root's, mode 0755; the Argo target makes it writable with the pod's fsGroup, which
# kfp-kubernetes 2.17.3 cannot set (its SecurityContext has runAsUser, runAsGroup and
# runAsNonRoot only). runAsUser 0 is what the driver applies to the container
# (backend/src/v2/driver/k8s.go) and the compiler leaves executor pods without runAsNonRoot
# (argocompiler/security_context.go, applySecurityContextToExecutorTemplate); capabilities are
# dropped, so root writes as the root directory's owner.
PRELOAD_USER = 0

_QUANTITY = re.compile(r"^(?P<number>(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>.*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity (the checker has already validated it)."""
    match = _QUANTITY.match(text)
    assert match is not None, text
    number, suffix = Fraction(match["number"]), match["suffix"]
    if suffix in _BINARY:
        return number * Fraction(1024) ** _BINARY[suffix]
    exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])  # 1e3, 5E-1
    return number * Fraction(10) ** exponent


def container_resources(resources: ir.Resources) -> Spec:
    """``PipelineContainerSpec.resources``: limits, requests where the step states them (kfp's
    set_cpu_request / set_memory_request write the same fields), and its accelerators: GPUs
    of its vendor or TPUs (``accelerator.resourceType``, as set_accelerator_type writes any
    resource name)."""
    refuse_pod_only_resources(resources)
    spec: Spec = {}
    # The string fields, and the deprecated numeric ones (cores; memory in GB).
    for field, kind, value, scale in (
            ("Cpu", "Limit", resources.cpu, 1), ("Memory", "Limit", resources.memory, 10**9),
            ("Cpu", "Request", resources.cpu_request, 1),
            ("Memory", "Request", resources.memory_request, 10**9)):
        if value is not None:
            spec[f"resource{field}{kind}"] = value
            spec[f"{field.lower()}{kind}"] = float(quantity(value) / scale)
    accelerator = k8s_placement.accelerator(resources)
    if accelerator is not None:
        kind, count = accelerator
        spec["accelerator"] = {"resourceType": kind, "resourceCount": count,
                               "type": kind, "count": count}
    return spec


def refuse_pod_only_resources(resources: ir.Resources) -> None:
    """Ephemeral storage and extended resources have no field in KFP's ResourceSpec
    (pipeline_spec.proto: cpu, memory and one accelerator) nor in kfp-kubernetes'
    KubernetesExecutorConfig: a step's pod cannot have them (training jobs' pods can)."""
    if resources.gpu_param is not None:
        # kfp's compiler writes a pipeline parameter's placeholder as resourceCount, but
        # KFP's driver reads the resolved value as a string (driver/util.go,
        # resolvePodSpecInputRuntimeParameter: GetStringValue; container.go,
        # initPodSpecPatch), so an int param's count resolves to "" and the pod fails.
        raise Unsupported(
            f"`gpu = {resources.gpu_param.name}`: Kubeflow's driver reads a GPU count from a "
            "param as a string, and an int param's value reaches it empty; write a number, "
            "or compile with --target argo (which patches the pod with the run's value)")
    found = [name for name, value in (
        ("ephemeral_storage", resources.ephemeral_storage),
        ("ephemeral_storage_request", resources.ephemeral_storage_request),
        ("devices", resources.devices)) if value]
    if found:
        raise Unsupported(
            f"`resources {{ {', '.join(found)} }}`: Kubeflow's container resources hold cpu, "
            "memory and one accelerator only (pipeline_spec.proto ResourceSpec); compile with "
            "--target argo, make the step distributed (its training job's pods take them), or "
            "set a LimitRange default in the namespace")


def executor_config(step: ir.Step, pvc_names: Sequence[Spec], options: Options,
                    source_claim: tuple[str, str] | None = None,
                    credentials: str | None = None) -> Spec:
    """The step's ``KubernetesExecutorConfig``; ``pvc_names[i]`` reads mount i's PVC name,
    ``source_claim`` is (claim, mount path) for a preload that reads a ``pvc://`` source, and
    ``credentials`` the Secret a preload mounts (kfp-kubernetes' use_secret_as_volume)."""
    config: Spec = {}
    mounts = [pvc_mount(m.path, ref) for m, ref in zip(step.mounts, pvc_names, strict=True)]
    if source_claim is not None:
        claim, path = source_claim
        mounts.append(pvc_mount(path, {"runtimeValue": {"constant": claim}}))
    if mounts:
        config["pvcMount"] = mounts
    secrets = secret_as_env(step.env)
    if secrets:
        config["secretAsEnv"] = secrets
    config.update(kfp_configuration.kfp_env(step))  # ConfigMaps' keys, pod fields
    if credentials is not None:
        config["secretAsVolume"] = [{
            "secretName": credentials, "mountPath": k8s.CREDENTIALS_DIR, "optional": False,
            "secretNameParameter": {"runtimeValue": {"constant": credentials}}}]
    # The step's settings (semantics/settings.py), each by its registered renderer.
    for render in EXECUTOR_RENDERERS.values():
        render(step, options, config)
    if step.kind == "preload":
        config["securityContext"] = {"runAsUser": str(PRELOAD_USER)}
    return config


def placement(step: ir.Step, options: Options, config: Spec) -> None:
    """The Argo target's placement (cloud.py): GPU type and spot nodes. A scheduler or a
    priority class has no field on KFP; the backend refuses them (KfpBackend.refuse)."""
    found = cloud.placement(step, options)
    if "nodeSelector" in found:
        config["nodeSelector"] = {"labels": found["nodeSelector"]}
    if "tolerations" in found:
        config["tolerations"] = found["tolerations"]
    if step.node_affinity is not None:
        config["nodeAffinity"] = k8s_placement.kfp_node_affinity(step.node_affinity)


def timeout(step: ir.Step, options: Options, config: Spec) -> None:
    if step.timeout_seconds is not None:
        config["activeDeadlineSeconds"] = str(step.timeout_seconds)  # int64: a JSON string


def image_pull_policy(step: ir.Step, options: Options, config: Spec) -> None:
    """kfp-kubernetes' set_image_pull_policy (kfp/kubernetes/image.py): the executor config's
    ``imagePullPolicy``; a container spec has no such field."""
    if step.image_pull_policy is not None:
        config["imagePullPolicy"] = step.image_pull_policy


ExecutorRenderer = Callable[[ir.Step, Options, Spec], None]

# The settings of an executor's KubernetesExecutorConfig, applied in this order by
# executor_config; a new pod-level setting is one declaration plus one function here.
EXECUTOR_RENDERERS: dict[str, ExecutorRenderer] = {
    "executor_config.placement": placement,
    "executor_config.timeout": timeout,
    "executor_config.image_pull_policy": image_pull_policy,
    # ---- identity, access, pod metadata and security ----
    "executor_config.image_pull_secrets": identity.executor_image_pull_secrets,
    "executor_config.pod_metadata": identity.executor_pod_metadata,
    "executor_config.security": identity.executor_security,

    # ---- configuration and volumes ----
    "executor_config.volumes": kfp_configuration.kfp_volumes,
}

def pvc_mount(path: str, pvc_name: Spec) -> Spec:
    # kfp-kubernetes writes the reference twice: pvcNameParameter, and the deprecated
    # top-level field that older backends read (kfp/kubernetes/volume.py, mount_pvc).
    deprecated = ({"constant": pvc_name["runtimeValue"]["constant"]}
                  if "runtimeValue" in pvc_name else pvc_name)
    return {"mountPath": path, "pvcNameParameter": pvc_name, **deprecated}


def secret_as_env(env: Sequence[ir.EnvVar]) -> list[Spec]:
    """One entry per Secret, its keys in the order the step names them."""
    entries: dict[str, Spec] = {}
    for var in env:
        if var.secret is None:
            continue
        entry = entries.setdefault(var.secret.name, {
            "secretName": var.secret.name,
            "secretNameParameter": {"runtimeValue": {"constant": var.secret.name}},
            "keyToEnv": [], "optional": False})
        entry["keyToEnv"].append({"secretKey": var.secret.key, "envVar": var.name})
    return list(entries.values())


# ---- the PVC of a data set -------------------------------------------------------------

def _param(kind: str, optional: bool = False, default: Any = None) -> Spec:
    spec: Spec = {"parameterType": kind}
    if optional:
        spec["isOptional"] = True
    if default is not None:
        spec["defaultValue"] = default
    return spec


def create_pvc_component(executor: str) -> Spec:
    """kfp-kubernetes' CreatePVC component, without its docstrings."""
    return {"executorLabel": executor,
            "inputDefinitions": {"parameters": {
                "access_modes": _param("LIST"),
                "annotations": _param("STRUCT", optional=True),
                "data_source": _param("STRUCT", optional=True),
                "pvc_name": _param("STRING", optional=True),
                "pvc_name_suffix": _param("STRING", optional=True),
                "size": _param("STRING"),
                "storage_class_name": _param("STRING", optional=True, default=""),
                "volume_name": _param("STRING", optional=True)}},
            "outputDefinitions": {"parameters": {PVC_NAME_OUTPUT: _param("STRING")}}}


def delete_pvc_component(executor: str) -> Spec:
    return {"executorLabel": executor,
            "inputDefinitions": {"parameters": {"pvc_name": _param("STRING")}}}


def create_pvc_inputs(dataset: ir.Dataset) -> Spec:
    """The CreatePVC task's arguments. The driver names the claim ``<uuid>-<data set>``.

    With no storage class the input is left out, and KFP's driver then asks for the class
    named ``standard`` (k8s.go, createPVC): KFP cannot ask for the cluster's default class.
    """
    values: dict[str, Any] = {"access_modes": [dataset.access_mode],
                              "pvc_name_suffix": f"-{dataset.k8s_name}", "size": dataset.size}
    if dataset.storage_class is not None:
        values["storage_class_name"] = dataset.storage_class
    return {"parameters": {k: {"runtimeValue": {"constant": v}} for k, v in values.items()}}


def placeholder_executor(image: str) -> Spec:
    return {"container": {"image": image}}


# How the KFP target renders each declared setting: the renderers semantics/settings.py
# names by key (``Setting.kfp``). kfp.py registers its backend's own; tests/test_settings.py
# checks every declared key is registered, and every registered key declared.
RENDERERS: dict[str, Callable[..., Any]] = {
    **EXECUTOR_RENDERERS,
    "volume_claim": create_pvc_inputs,
    "preload.source": k8s.source_claim,  # and the preload step (passes/place_preloads.py)
    "preload.credentials": k8s.preload_credentials,
}
