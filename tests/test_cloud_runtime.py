"""Cloud-native steps read the way the engines run them, on both targets:

- runtime values in the objects Argo applies and the launcher creates arrive exactly, whatever
  characters they hold (Argo fills the manifest as text, then parses it as YAML);
- a training job that the Training Operator fails as a whole fails its task, and every wait
  has a deadline.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
import yaml

import argo_engine
from cnai import compile_source
from test_kfp_cloud import arguments, fill, tokens
from testpaths import ROOT

for _image in ("launcher", "sdk"):  # as runtime_images/conftest.py puts them
    if str(ROOT / "runtime_images" / _image) not in sys.path:
        sys.path.insert(0, str(ROOT / "runtime_images" / _image))
from cnai_launcher.conditions import parse  # noqa: E402  (the image's own package)
from cnai_launcher.tokens import substitute, token_values  # noqa: E402
from cnai_launcher.wait import conditions_judge  # noqa: E402
from cnai_runtime.exitcodes import StepError  # noqa: E402

Doc = dict[str, Any]
UID = "4bd1e2d6-5b1a-4c2b-9f3e-8d5a0c1b2e3f"

SOURCE = """
pipeline quoting {
  param note: string = "x"
  param uri: string = "s3://bucket/x"
  dataset corpus { source = uri  path = "/data"  size = "1Gi"  engine = "fluid" }
  step train {
    image = "pytorch/pytorch:2.4.0"
    command = ["torchrun", "train.py", "--note=${note}", "${note}", "a \\"}}\\" { b\\\\c"]
    env { NOTE = "${note}" }
    mount corpus
    distributed pytorch { masters = 1  workers = 1 }
  }
  service api after train {
    image = "registry.example.com/api:1"
    env { NOTE = "[${note}]" }
  }
}
"""

# Each breaks a value pasted into single-quoted YAML, or changes it silently.
NASTY = ["s3://bucket/it's", 'say "hi"', "a #comment", "x ' #", "key: value", "line\nnext",
         "- item\n- other", "  lead and trail  ", "back\\slash", "}} {{workflow.name}",
         "tab\there", "ümlaut €", "", "true", "007", "null"]


@pytest.fixture(scope="module")
def argo() -> Doc:
    (doc,) = yaml.safe_load_all(compile_source(SOURCE, target="argo").text)
    return doc  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def kfp() -> Doc:
    return compile_source(SOURCE, target="kfp").documents[0]


def argo_template(doc: Doc, name: str) -> Doc:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)  # type: ignore[no-any-return]


def argo_object(doc: Doc, name: str, note: str, uri: str = "s3://bucket/x") -> Any:
    values = {"workflow.uid": UID, "workflow.name": "quoting-x", "workflow.namespace": "ml",
              "inputs.parameters.note": note, "inputs.parameters.uri": uri}
    return argo_engine.manifest(argo_template(doc, name), values)


def kfp_object(doc: Doc, name: str, parameters: dict[str, str], flag: str) -> Any:
    args = doc["deploymentSpec"]["executors"][f"exec-{name}"]["container"]["args"]
    values = tokens(args, {"cnai-run-id": UID, "cnai-claim-corpus": "corpus", **parameters})
    return [fill(json.loads(text), values) for text in arguments(args, flag)]


LAUNCHED = ("--manifest-text", "--ensure-text", "--before-text")


def launched(args: list[str], run_id: str | None) -> dict[str, list[Any]]:
    """The objects the launcher creates from ``args``, its tokens filled in as it fills them."""
    values = token_values(arguments(args, "--set"), run_id, "ml")
    return {flag: [substitute(json.loads(text), values) for text in arguments(args, flag)]
            for flag in LAUNCHED}


def argo_launched(doc: Doc, name: str, params: dict[str, str]) -> dict[str, list[Any]]:
    """A launcher task on Argo: its arguments filled in by Argo, then read by the launcher."""
    values = {"workflow.uid": UID, **{f"inputs.parameters.{k}": v for k, v in params.items()}}
    args = [argo_engine.fill(arg, values) for arg in argo_template(doc, name)["container"]["args"]]
    return launched(args, None)


def kfp_launched(doc: Doc, name: str, params: dict[str, str]) -> dict[str, list[Any]]:
    args = doc["deploymentSpec"]["executors"][f"exec-{name}"]["container"]["args"]
    resolved = [re.sub(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}",
                       lambda m: {"cnai-run-id": UID, **params}[m.group(1)], arg) for arg in args]
    return launched(resolved, UID)


@pytest.mark.parametrize("note", NASTY, ids=repr)
def test_runtime_values_reach_the_objects_exactly(argo: Doc, kfp: Doc, note: str) -> None:
    job = argo_object(argo, "train", note)
    (kfp_job,) = kfp_object(kfp, "train", {"note": note}, "--manifest-text")
    literal = 'a "}}" { b\\c'
    for built in (job, kfp_job):
        for replica in built["spec"]["pytorchReplicaSpecs"].values():
            (box,) = replica["template"]["spec"]["containers"]
            assert box["command"] == ["torchrun", "train.py", f"--note={note}", note, literal]
            env = {e["name"]: e["value"] for e in box["env"]}
            assert env == {"CNAI_INPUT_NOTE": note, "NOTE": note}
    service = argo_object(argo, "api", note)
    (box,) = service["spec"]["template"]["spec"]["containers"]
    assert {"name": "NOTE", "value": f"[{note}]"} in box["env"]
    for target in (argo_launched(argo, "preload-corpus", {"uri": note}),
                   kfp_launched(kfp, "preload-corpus", {"uri": note})):
        (dataset,) = target["--ensure-text"]
        assert dataset["spec"]["mounts"][0]["mountPoint"] == note


def test_argo_validation_reads_the_manifests(argo: Doc) -> None:
    """Argo's validation parses each manifest with its expressions as placeholders."""
    for template in argo["spec"]["templates"]:
        if "resource" in template:
            assert isinstance(yaml.safe_load(argo_engine.placeholders(
                template["resource"]["manifest"])), dict)


# ---- training jobs that fail or succeed as a whole ------------------------------------------

def condition(kind: str, status: str = "True") -> Doc:
    return {"type": kind, "status": status, "reason": f"PyTorchJob{kind}"}


CREATED, RUNNING = condition("Created"), condition("Running")
# Status the Training Operator writes (pkg/controller.v1/common/job.go, pkg/util/status.go).
OUTCOMES = {
    # backoffLimit passed with restartPolicy OnFailure: pods deleted, nothing counts failed.
    "backoff": ({"conditions": [CREATED, condition("Running", "False"),
                                condition("Restarting"), condition("Failed")],
                 "completionTime": "2026-01-01T00:00:00Z",
                 "replicaStatuses": {"Master": {"active": 0}, "Worker": {"active": 0}}},
                "failed"),
    # activeDeadlineSeconds passed before any pod ran (a gang that never fit).
    "deadline": ({"conditions": [CREATED, condition("Failed")],
                  "completionTime": "2026-01-01T00:00:00Z", "replicaStatuses": {}}, "failed"),
    "suspended then failed": ({"conditions": [CREATED, condition("Suspended", "False"), RUNNING,
                                              condition("Restarting"), condition("Failed")],
                               "completionTime": "2026-01-01T00:00:00Z"}, "failed"),
    "crash looping": ({"conditions": [CREATED, condition("Restarting")],
                       "replicaStatuses": {"Master": {"active": 1}}}, "waiting"),
    "running": ({"conditions": [CREATED, RUNNING],
                 "replicaStatuses": {"Master": {"active": 1}, "Worker": {"active": 1}}},
                "waiting"),
    "pending": ({}, "waiting"),
    "succeeded": ({"conditions": [CREATED, condition("Running", "False"),
                                  condition("Succeeded")],
                   "completionTime": "2026-01-01T00:00:00Z",
                   "replicaStatuses": {"Master": {"succeeded": 1}, "Worker": {"active": 1}}},
                  "succeeded"),
}


def launcher_decides(success: str, failure: str, obj: Doc) -> str:
    import logging

    judge = conditions_judge(None, parse(success), parse(failure),  # type: ignore[arg-type]
                             logging.getLogger("test"))
    try:
        return "succeeded" if judge(obj) else "waiting"
    except StepError:
        return "failed"


@pytest.mark.parametrize("case", list(OUTCOMES))
def test_the_job_decides_the_task_on_both_targets(argo: Doc, kfp: Doc, case: str) -> None:
    status, expected = OUTCOMES[case]
    job = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "status": status}
    resource = argo_template(argo, "train")["resource"]
    assert argo_engine.decide(resource["successCondition"], resource["failureCondition"],
                              job) == expected
    args = kfp["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    (success,) = arguments(args, "--success-condition")
    (failure,) = arguments(args, "--failure-condition")
    assert launcher_decides(success, failure, job) == expected


def test_every_job_and_its_wait_have_a_deadline(argo: Doc, kfp: Doc) -> None:
    timed = compile_source(SOURCE.replace("workers = 1 }", "workers = 1 }\n timeout = \"2h\""),
                           target="argo")
    for doc, deadline in ((argo, 7 * 24 * 3600), (yaml.safe_load(timed.text), 7200)):
        template = argo_template(doc, "train")
        job = argo_object(doc, "train", "x")
        assert job["spec"]["runPolicy"]["activeDeadlineSeconds"] == deadline
        # Without `retry`, the first restart fails the job (core/job.go, PastBackoffLimit).
        assert job["spec"]["runPolicy"]["backoffLimit"] == 0
        assert deadline < int(template["activeDeadlineSeconds"]) <= deadline + 300
    args = kfp["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    (kfp_job,) = kfp_object(kfp, "train", {"note": "x"}, "--manifest-text")
    deadline = kfp_job["spec"]["runPolicy"]["activeDeadlineSeconds"]
    (timeout,) = arguments(args, "--timeout")
    assert deadline < float(timeout) <= deadline + 300


# ---- Fluid: one model on both targets ---------------------------------------------------------

def test_fluid_data_loads_share_one_dataset_on_both_targets(argo: Doc, kfp: Doc) -> None:
    """The same objects on both: the Dataset under the data set's own name (the runtime of that
    name binds it), ensured rather than applied; a DataLoad per run, deleted at the end; a
    deadline on the wait and a backstop on the task."""
    argo_side = argo_launched(argo, "preload-corpus", {"uri": "s3://b/x"})
    kfp_side = kfp_launched(kfp, "preload-corpus", {"uri": "s3://b/x"})
    assert argo_side == kfp_side
    (dataset,) = argo_side["--ensure-text"]
    (load,) = argo_side["--manifest-text"]
    assert argo_side["--before-text"] == []
    assert dataset["metadata"] == {"name": "corpus"}
    assert load["spec"]["dataset"]["name"] == "corpus"
    assert "generateName" in load["metadata"]
    argo_args = argo_template(argo, "preload-corpus")["container"]["args"]
    kfp_args = kfp["deploymentSpec"]["executors"]["exec-preload-corpus"]["container"]["args"]
    for args in (argo_args, kfp_args):
        assert "--delete-on-exit" in args
        (timeout,) = arguments(args, "--timeout")
        assert 0 < float(timeout) <= 7 * 24 * 3600
    backstop = int(argo_template(argo, "preload-corpus")["activeDeadlineSeconds"])
    assert float(arguments(argo_args, "--timeout")[0]) < backstop
    # Steps mount the claim Fluid names after the Dataset.
    (volume,) = [v for v in argo["spec"]["volumes"] if v["name"] == "corpus"]
    assert volume["persistentVolumeClaim"]["claimName"] == dataset["metadata"]["name"]
    assert arguments(kfp_args, "--write")[0].endswith("output_file}}")
    assert kfp_args[kfp_args.index("--write") + 2] == dataset["metadata"]["name"]
