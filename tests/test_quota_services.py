"""Services outlive the run and keep their replicas, so from the second run on they hold part
of the quota: the run's bound on GPU pods and the compile-time check leave room for them. The
services' pods are read from the emitted Knative Services, on both targets, and the namespace's
ResourceQuota is applied to them and to the run's pods (k8s_rules.quota_admits)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from cnai import compile_source
from cnai.driver import CompileFailed
from k8s_rules import admitted_resources, quota_admits
from test_kfp_support import find_task

Doc = dict[str, Any]
NO_LIMIT_RANGE = {"spec": {"limits": []}}  # a gpu quota only: no LimitRange

SWEEP = """
pipeline p {
  quota { gpu = 24 }
  for lr in [0.1, 0.01, 0.001, 0.0001] {
    step fit { image = "x"  command = ["fit", lr]  resources { gpu = 8 } }
  }
  service api after fit { image = "s"  resources { gpu = 8 }  scale { min = 1  max = 3 } }
}
"""


def knative_services(documents: list[Doc], target: str) -> list[Doc]:
    if target == "argo":
        templates = documents[0]["spec"]["templates"]
        manifests = [yaml.safe_load(t["resource"]["manifest"]) for t in templates
                     if "resource" in t]
    else:
        executors = documents[0]["deploymentSpec"]["executors"]
        manifests = []
        for executor in executors.values():
            args = executor["container"].get("args", [])
            if "--manifests-text" in args:
                manifests += yaml.safe_load_all(args[args.index("--manifests-text") + 1])
    return [m for m in manifests if m["kind"] == "Service"]


def kept_pods(service: Doc) -> list[Doc]:
    """The requests of the pods a Knative Service keeps: min-scale of them, at least the one
    a new revision starts with (config-autoscaler initial-scale: 1)."""
    template = service["spec"]["template"]
    scale = int(template["metadata"].get("annotations", {}).get(
        "autoscaling.knative.dev/min-scale", "0"))
    (box,) = template["spec"]["containers"]
    requests = admitted_resources(box, NO_LIMIT_RANGE).get("requests", {})
    return [requests] * max(scale, 1)


def gpu_bound(documents: list[Doc], target: str) -> int:
    if target == "argo":
        return int(documents[0]["spec"]["parallelism"])
    _, loop = find_task(documents[0], "for-loop-2")
    return int(loop["iteratorPolicy"]["parallelismLimit"])


@pytest.mark.parametrize("target", ["argo", "kfp"])
def test_the_gpu_bound_leaves_room_for_the_services(target: str) -> None:
    documents = compile_source(SWEEP, "p.cnai", target).documents
    (service,) = knative_services(documents, target)
    running = kept_pods(service)  # deployed by the previous run
    fits = [{"nvidia.com/gpu": "8"}] * gpu_bound(documents, target)
    assert quota_admits({"requests.nvidia.com/gpu": "24"}, running, fits)


GANG = """
pipeline p {
  quota { gpu = 16 }
  step train { image = "x"  distributed pytorch { workers = 1 }  resources { gpu = 8 } }
  service api after train { image = "s"  resources { gpu = 8 } }
}
"""


def test_a_gang_job_the_services_leave_no_room_for_is_reported() -> None:
    # The second run: the service's replica holds 8 GPUs, and the job's 2 replicas of 8 must
    # be admitted together (gang scheduling), so it never starts.
    (service,) = knative_services(compile_source(GANG, "p.cnai", "argo").documents, "argo")
    assert not quota_admits({"requests.nvidia.com/gpu": "16"}, kept_pods(service),
                            [{"nvidia.com/gpu": "8"}] * 2)
    result = compile_source(GANG, "p.cnai", "argo")
    assert [(w.code, w.message) for w in result.warnings] == [(
        "W0209", "the 2 replicas of `train` ask for 16 gpu together, with the 8 the "
        "pipeline's services keep running, over the quota of 16")]


def test_a_step_the_services_leave_no_room_for_is_an_error() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source("""
pipeline p {
  quota { gpu = 8 }
  step fit { image = "x"  resources { gpu = 8 } }
  service api after fit { image = "s"  resources { gpu = 2 }  scale { min = 2 } }
}""", "p.cnai", "argo")
    assert [(d.code, d.message) for d in failure.value.diagnostics] == [(
        "E0209", "step `fit` asks for 8 gpu, and the pipeline's services keep 4 running: "
        "12 > 8")]


def test_a_canary_keeps_both_versions() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source("""
pipeline p {
  quota { gpu = 8 }
  service api { image = "s"  resources { gpu = 6 }  canary { weight = 10 } }
}""", "p.cnai", "argo")
    assert [(d.code, d.message) for d in failure.value.diagnostics] == [(
        "E0209", "service `api` keeps 2 replicas running, 12 gpu together, over the "
        "pipeline's quota of 8")]
