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
