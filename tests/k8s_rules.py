"""Kubernetes' own rules, applied to emitted objects the way the API server applies them.
Each function names the source it follows (kubernetes/kubernetes unless said)."""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]


def admitted_resources(container: Doc, limit_range: Doc) -> Doc:
    """A container's ``resources`` once the pod is created in a namespace with ``limit_range``.

    First API defaulting: a resource with a limit and no request requests its limit
    (pkg/apis/core/v1/defaults.go, SetDefaults_Pod). Then the LimitRanger admission plugin
    fills in, per resource, the ``defaultRequest`` of a missing request and the ``default`` of a
    missing limit (plugin/pkg/admission/limitranger/admission.go,
    defaultContainerResourceRequirements and mergeContainerResources).
    """
    resources = copy.deepcopy(container.get("resources", {}))
    limits: Doc = resources.setdefault("limits", {})
    requests: Doc = resources.setdefault("requests", {})
    for name, value in limits.items():
        requests.setdefault(name, value)
    for item in limit_range["spec"]["limits"]:
        if item["type"] != "Container":
            continue
        for name, value in item.get("defaultRequest", {}).items():
            requests.setdefault(name, value)
        for name, value in item.get("default", {}).items():
            limits.setdefault(name, value)
    return {k: v for k, v in resources.items() if v}


def image_user(dockerfile: str) -> tuple[int, int]:
    """The uid and gid of a Dockerfile's last ``USER uid:gid``."""
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    uid, _, gid = users[-1].partition(":")
    return int(uid), int(gid or uid)


def writes_fresh_volume(uid: int, gid: int, fs_group: int | None) -> bool:
    """Whether a container process can create files at the root of a freshly made block volume.

    The new filesystem's root belongs to 0:0 with mode 0755. With a pod ``fsGroup`` the kubelet
    gives it that group with group rwx and setgid (pkg/volume/volume_linux.go,
    SetVolumeOwnership) and adds the group to the container's processes. Kubeflow drops every
    capability (driver/k8s.go), so root has no DAC override: it writes as the directory's owner.
    """
    owner, group, mode = 0, 0, 0o755
    groups = {gid}
    if fs_group is not None:
        group, mode = fs_group, mode | 0o070 | 0o2000
        groups.add(fs_group)
    if uid == owner:
        return bool(mode & 0o200)
    if group in groups:
        return bool(mode & 0o020)
    return bool(mode & 0o002)


def quantity(text: str | int | float) -> float:
    """A Kubernetes quantity as a number (the suffixes cnai writes)."""
    text = str(text)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40),
                           ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def quota_admits(hard: Doc, running: list[Doc], new: list[Doc]) -> bool:
    """Whether a ResourceQuota with ``hard`` (``requests.X`` keys) admits all of ``new`` (pods'
    requests) next to ``running``: the quota admission plugin refuses a pod once the sum of
    requests would pass ``hard`` (plugin/pkg/admission/resourcequota, and
    pkg/quota/v1/evaluator/core/pods.go, which counts requests)."""
    for key, limit in hard.items():
        resource = key.removeprefix("requests.")
        used = sum(quantity(pod.get(resource, 0)) for pod in [*running, *new])
        if used > quantity(limit):
            return False
    return True


def ejected_by(rule: Doc, namespace: str, services: list[Doc]) -> str:
    """What a DestinationRule's outlier detection ejects: the endpoints of the host it names,
    as Knative Serving with net-istio makes them for ``services`` (Knative Services, each
    with its revision named in ``spec.template.metadata.name``, that revision ready).

    - ``NAME.NS.svc.cluster.local``, the Knative Service's own host, is an ExternalName
      Service for the local gateway (knative/serving pkg/reconciler/route/resources/service.go,
      MakeK8sService; net-istio pkg/reconciler/ingress/ingress.go, getLBStatus).
    - ``REVISION.NS.svc.cluster.local`` is the revision's Service, where the gateways send the
      traffic (net-istio makeVirtualServiceRoute). Its endpoints are the activator's pods
      ("proxy" mode) unless the excess burst capacity is >= 0 (kpa.go), which a target burst
      capacity of 0 makes it (scaling/autoscaler.go); the default, 200, leaves a revision of a
      few pods behind the activator.
    """
    host = rule["spec"]["host"]
    for service in services:
        if host == f"{service['metadata']['name']}.{namespace}.svc.cluster.local":
            return "local gateway"
        template = service["spec"]["template"]
        if host == f"{template['metadata']['name']}.{namespace}.svc.cluster.local":
            capacity = template["metadata"].get("annotations", {}).get(
                "autoscaling.knative.dev/target-burst-capacity", "200")
            return "revision pods" if float(capacity) == 0 else "activator"
    return "nothing"
