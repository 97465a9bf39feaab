"""Condition syntax and semantics, defaults per kind, REST paths, status summaries."""

from __future__ import annotations

from typing import Any

import pytest

from cnai_launcher.conditions import ConditionError, parse
from cnai_launcher.defaults import default_conditions
from cnai_launcher.resources import Ref, load_documents, plural_for, ref_for
from cnai_launcher.wait import summarize
from cnai_runtime.exitcodes import StepError

TFJOB_DONE = {
    "metadata": {"name": "t", "labels": {"app.kubernetes.io/name": "resnet"}},
    "status": {
        "conditions": [
            {"type": "Created", "status": "True"},
            {"type": "Running", "status": "False"},
            {"type": "Succeeded", "status": "True"},
        ],
        "replicaStatuses": {"Worker": {"succeeded": 2, "active": 0}},
        "completionTime": "2024-01-01T00:00:00Z",
        "phase": "Complete",
        "ratio": 0.75,
        "ready": True,
        "nothing": None,
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status.phase = Complete", True),
        ("status.phase == Complete", True),
        ('status.phase == "Complete"', True),
        ("status.phase != Complete", False),
        ("status.phase in (Failed, Complete)", True),
        ("status.phase notin (Failed, Complete)", False),
        ("status.conditions[type=Succeeded].status == True", True),
        ('status.conditions[type="Succeeded"].status == True', True),
        ("status.conditions[type=Failed].status == True", False),
        ("status.conditions[type=Running].status = True", False),
        ("status.conditions.2.type = Succeeded", True),
        ("status.conditions.7.type = Succeeded", False),
        ("status.replicaStatuses.Worker.succeeded > 1", True),
        ("status.replicaStatuses.Worker.succeeded > 2", False),
        ("status.replicaStatuses.Worker.succeeded < 3", True),
        ("status.replicaStatuses.Worker.succeeded = 2", True),
        ("status.ratio > 0.5", True),
        ("status.phase > 1", False),  # not a number: never greater
        ("status.ready = true", True),
        ('status.nothing = ""', True),
        ("status.nothing", True),  # null exists
        ("status.completionTime", True),
        ("!status.completionTime", False),
        ("!status.startTime", True),
        ("status.startTime != x", True),  # missing paths match != and notin
        ("status.startTime notin (a)", True),
        ("status.startTime = x", False),
        ("status.startTime in (x)", False),
        ("metadata.labels.app\\.kubernetes\\.io/name = resnet", True),
        ("status.phase = Complete, status.replicaStatuses.Worker.succeeded > 0", True),
        ("status.phase = Complete, status.replicaStatuses.Worker.failed > 0", False),
    ],
)
def test_success_semantics(text: str, expected: bool) -> None:
    assert parse(text).all_match(TFJOB_DONE) is expected


def test_failure_is_any_requirement_like_argo() -> None:
    failure = parse("status.phase = Failed, status.replicaStatuses.Worker.succeeded > 1")
    assert failure.any_match(TFJOB_DONE) is failure.requirements[1]
    assert not failure.all_match(TFJOB_DONE)
    assert parse("status.phase = Failed").any_match(TFJOB_DONE) is None


def test_empty_conditions() -> None:
    empty = parse("  ")
    assert not empty
    assert not empty.all_match(TFJOB_DONE)
    assert empty.any_match(TFJOB_DONE) is None


@pytest.mark.parametrize(
    "text",
    [
        "status.phase Complete",
        "status.phase =",
        "status.x > abc",
        "a..b = 1",
        "status.conditions[type].status = True",
        "status.phase in ()",
        "status.phase in (a,,b)",
        "= value",
    ],
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(ConditionError):
        parse(text)


@pytest.mark.parametrize(
    ("obj", "success", "failure"),
    [
        ({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"},
         "status.conditions[type=Succeeded].status = True",
         "status.conditions[type=Failed].status = True"),
        ({"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad"},
         "status.phase = Complete", "status.phase = Failed"),
        ({"apiVersion": "serving.knative.dev/v1", "kind": "Service"},
         "status.conditions[type=Ready].status = True, status.latestReadyRevisionName",
         "status.conditions[type=Ready].status = False"),
        ({"apiVersion": "v1", "kind": "Service"}, "", ""),
        ({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"}, "", ""),
    ],
)  # fmt: skip
def test_default_conditions(obj: dict[str, Any], success: str, failure: str) -> None:
    assert default_conditions(obj) == (success, failure)
    parse(success), parse(failure)  # the defaults parse


def test_knative_default_conditions_on_real_statuses() -> None:
    success, failure = (parse(t) for t in default_conditions(
        {"apiVersion": "serving.knative.dev/v1", "kind": "Service"}))  # fmt: skip
    ready = {"status": {"latestReadyRevisionName": "svc-00001", "conditions": [
        {"type": "ConfigurationsReady", "status": "True"},
        {"type": "Ready", "status": "True"}]}}  # fmt: skip
    progressing = {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    broken = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert success.all_match(ready) and failure.any_match(ready) is None
    assert not success.all_match(progressing) and failure.any_match(progressing) is None
    assert failure.any_match(broken) is not None


@pytest.mark.parametrize(
    ("group", "kind", "plural"),
    [
        ("kubeflow.org", "TFJob", "tfjobs"),
        ("kubeflow.org", "PyTorchJob", "pytorchjobs"),
        ("data.fluid.io", "DataLoad", "dataloads"),
        ("networking.istio.io", "DestinationRule", "destinationrules"),
        ("", "PersistentVolumeClaim", "persistentvolumeclaims"),
        ("example.com", "Policy", "policies"),
        ("example.com", "Gateway", "gateways"),
        ("example.com", "Ingress", "ingresses"),
        ("example.com", "Box", "boxes"),
    ],
)
def test_plurals(group: str, kind: str, plural: str) -> None:
    assert plural_for(group, kind) == plural


def test_paths_and_namespaces() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": "t", "namespace": "from-manifest"},
    }
    assert ref_for(dict(obj), None, "ctx").collection == (
        "/apis/kubeflow.org/v1/namespaces/from-manifest/tfjobs"
    )
    flagged = ref_for({**obj, "metadata": {"name": "t"}}, "flag", "ctx")
    assert flagged.path == "/apis/kubeflow.org/v1/namespaces/flag/tfjobs/t"
    core = Ref("v1", "ConfigMap", "ns", "c")
    assert core.path == "/api/v1/namespaces/ns/configmaps/c"


def test_documents_lists_are_flattened_and_cluster_kinds_refused() -> None:
    docs = load_documents(
        None,
        "kind: List\napiVersion: v1\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
    )
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]
    with pytest.raises(StepError, match="cluster-scoped"):
        load_documents(None, "{apiVersion: v1, kind: Namespace, metadata: {name: x}}")
    with pytest.raises(StepError, match="not valid YAML"):
        load_documents(None, "a: [")


def test_summaries() -> None:
    assert summarize({}) == "no status yet"
    assert summarize(TFJOB_DONE) == (
        "phase=Complete conditions=[Created=True, Running=False, Succeeded=True] "
        "replicas=Worker(active=0,succeeded=2)"
    )
    failed = {"status": {"conditions": [{"type": "Ready", "status": "False",
                                         "reason": "RevisionFailed"}]}}  # fmt: skip
    assert summarize(failed) == "conditions=[Ready=False(RevisionFailed)]"
