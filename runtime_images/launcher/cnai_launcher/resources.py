"""Manifests and their REST paths, without API discovery.

The plural resource name comes from a table of the kinds the compiler emits; any other
kind falls back to the Kubernetes convention (lower-case kind + "s", "y" -> "ies",
"s"/"x"/"ch"/"sh" -> "es"). Only namespaced kinds are supported.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cnai_runtime.exitcodes import USAGE, StepError

PLURALS: dict[tuple[str, str], str] = {
    ("kubeflow.org", "TFJob"): "tfjobs",
    ("kubeflow.org", "PyTorchJob"): "pytorchjobs",
    ("kubeflow.org", "MPIJob"): "mpijobs",
    ("kubeflow.org", "XGBoostJob"): "xgboostjobs",
    ("kubeflow.org", "PaddleJob"): "paddlejobs",
    ("kubeflow.org", "JAXJob"): "jaxjobs",
    ("data.fluid.io", "DataLoad"): "dataloads",
    ("data.fluid.io", "Dataset"): "datasets",
    ("data.fluid.io", "AlluxioRuntime"): "alluxioruntimes",
    ("serving.knative.dev", "Service"): "services",
    ("serving.knative.dev", "Revision"): "revisions",
    ("serving.knative.dev", "Route"): "routes",
    ("serving.knative.dev", "Configuration"): "configurations",
    ("networking.istio.io", "VirtualService"): "virtualservices",
    ("networking.istio.io", "DestinationRule"): "destinationrules",
    ("networking.istio.io", "Gateway"): "gateways",
    ("scheduling.volcano.sh", "PodGroup"): "podgroups",
    ("batch.volcano.sh", "Job"): "jobs",
    ("", "ConfigMap"): "configmaps",
    ("", "Secret"): "secrets",
    ("", "Pod"): "pods",
    ("", "Service"): "services",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("", "ResourceQuota"): "resourcequotas",
    ("", "LimitRange"): "limitranges",
    ("", "ServiceAccount"): "serviceaccounts",
    ("batch", "Job"): "jobs",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("policy", "PodDisruptionBudget"): "poddisruptionbudgets",
}

CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
}


def plural_for(group: str, kind: str) -> str:
    known = PLURALS.get((group, kind))
    if known:
        return known
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


@dataclass(frozen=True)
class Ref:
    """Where one object lives in the API."""

    api_version: str
    kind: str
    namespace: str
    name: str  # may be empty before creation when metadata.generateName is used

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def collection(self) -> str:
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        return f"{base}/namespaces/{self.namespace}/{plural_for(self.group, self.kind)}"

    @property
    def path(self) -> str:
        return f"{self.collection}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind}/{self.name or '<generated>'} in namespace {self.namespace}"


def load_documents(source: str | None, text: str | None = None) -> list[dict[str, Any]]:
    """Objects from YAML/JSON text, a file, or stdin (``-``); ``List`` kinds are flattened."""
    if text is None:
        if source is None:
            raise StepError("no manifest given", USAGE)
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise StepError(
                f"cannot read manifest {source}: {exc.strerror or exc}", USAGE
            ) from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise StepError(f"manifest is not valid YAML/JSON: {exc}", USAGE) from None
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects.extend(doc.get("items") or [])
        else:
            objects.append(doc)
    for obj in objects:
        if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
            raise StepError(
                f"manifest object without apiVersion/kind: {json.dumps(obj)[:120]}", USAGE
            )
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            raise StepError(
                f"{obj['kind']} manifest needs metadata.name or metadata.generateName", USAGE
            )
        if obj["kind"] in CLUSTER_SCOPED:
            raise StepError(f"cluster-scoped kind {obj['kind']} is not supported", USAGE)
    return objects


def ref_for(obj: dict[str, Any], namespace: str | None, default_namespace: str) -> Ref:
    """The object's location; ``namespace`` (the --namespace flag) overrides the manifest."""
    meta = obj.setdefault("metadata", {})
    ns = namespace or meta.get("namespace") or default_namespace
    meta["namespace"] = ns
    return Ref(obj["apiVersion"], obj["kind"], ns, meta.get("name", ""))
