"""A service's circuit breaker ejects failing replicas of the revision the run deployed, not
Knative's gateways: the DestinationRule's host is resolved as Knative Serving (with net-istio)
resolves it, on both targets (k8s_rules.ejected_by)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file
from k8s_rules import ejected_by
from test_kfp_cloud import service_objects
from testpaths import EXAMPLES

NAMESPACE = "ml-team"
UID = "4bd1e2d6-5b1a-4c2b-9f3e-8d5a0c1b2e3f"
Doc = dict[str, Any]


def argo_substituted(text: str) -> str:
    """The two expressions the service's manifests use, as Argo evaluates them."""
    text = text.replace("{{=sprig.substr(0, 8, workflow.uid)}}", UID[:8])
    return text.replace("{{workflow.namespace}}", NAMESPACE).replace("{{workflow.uid}}", UID)


def argo_objects() -> list[Doc]:
    (workflow, *_) = yaml.safe_load_all(compile_file(EXAMPLES / "cloud_native.cnai").text)
    templates = workflow["spec"]["workflowSpec"]["templates"]
    return [yaml.safe_load(argo_substituted(t["resource"]["manifest"])) for t in templates
            if t["name"] in ("resnet-api", "resnet-api-rule")]


def kfp_objects() -> list[Doc]:
    (spec,) = compile_file(EXAMPLES / "cloud_native.cnai", "kfp").documents
    args = spec["deploymentSpec"]["executors"]["exec-resnet-api"]["container"]["args"]
    return [o for o in service_objects(args, {"cnai-run-id": UID})
            if o["kind"] in ("Service", "DestinationRule")]


@pytest.mark.parametrize("objects", [argo_objects, kfp_objects], ids=["argo", "kfp"])
def test_the_circuit_breaker_ejects_the_revisions_pods(objects: Any) -> None:
    found = objects()
    for obj in found:
        schemacheck.assert_valid(obj)
    services = [o for o in found if o["kind"] == "Service"]
    (rule,) = [o for o in found if o["kind"] == "DestinationRule"]
    assert ejected_by(rule, NAMESPACE, services) == "revision pods"
    # This run's revision: the rule moves with each run.
    assert re.fullmatch(rf"resnet-api-canary-{UID[:8]}\.{NAMESPACE}\.svc\.cluster\.local",
                        rule["spec"]["host"])
