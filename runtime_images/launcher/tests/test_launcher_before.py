"""Objects created before the launched one (a PodDisruptionBudget before a training job) and
``${NAME}`` tokens filled in from arguments: what the Kubeflow target of the compiler uses."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from cnai_launcher.tokens import parse_sets, short, substitute, token_values
from cnai_runtime import exitcodes
from cnai_runtime.exitcodes import StepError
from cnai_testkit.kubeapi import KubeAPI
from cnai_testkit.procs import run_module, start_module

RUN = "4bd1e2d6-0000-4c2b-9f3e-8d5a0c1b2e3f"
LABELS = {"cnai.dev/run": "${CNAI_RUN_ID}", "cnai.dev/step": "train"}
JOB = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "TFJob",
    "metadata": {"generateName": "train-", "labels": LABELS},
    "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 2, "template": {
        "metadata": {"labels": LABELS},
        "spec": {"containers": [{"name": "tensorflow", "image": "tf",
                                 "args": ["--epochs", "${CNAI_INPUT_EPOCHS}"],
                                 "env": [{"name": "NS", "value": "${CNAI_NAMESPACE}"}]}]}}}}},
}  # fmt: skip
BUDGET = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"generateName": "train-"},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": LABELS}},
}
SUCCESS = "status.replicaStatuses.Worker.succeeded > 0"
FAILURE = "status.replicaStatuses.Worker.failed > 0"
TFJOBS = "/apis/kubeflow.org/v1/namespaces/ml/tfjobs"
PDBS = "/apis/policy/v1/namespaces/ml/poddisruptionbudgets"


def _args(api: KubeAPI, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--manifest-text", json.dumps(JOB), "--before-text", json.dumps(BUDGET),
        "--namespace", "ml", "--run-id", RUN, "--set", "CNAI_INPUT_EPOCHS=9 \"quoted\" ${x}",
        "--success-condition", SUCCESS, "--failure-condition", FAILURE,
        "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig")), *extra,
    ]  # fmt: skip


def _created(api: KubeAPI, plural: str) -> list[dict[str, Any]]:
    return [o for (c, _), o in api.objects.items() if c.endswith(f"/ml/{plural}")]


def _succeed_jobs(api: KubeAPI) -> None:
    def on_create(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event == "create" and obj.get("kind") == "TFJob":
            name = obj["metadata"]["name"]
            api.after(0.1, lambda: api.set_status(
                "tfjobs", name, {"replicaStatuses": {"Worker": {"succeeded": 2}}}))

    api.reactors.append(on_create)


def test_budget_first_tokens_filled_both_deleted_at_the_end(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    _succeed_jobs(kube_api)
    result = run_module("cnai_launcher", _args(kube_api, tmp_path, "--delete-on-exit"))
    assert result.returncode == 0, result.stderr
    posts = [p for _, m, p in kube_api.requests if m == "POST"]
    assert posts == [PDBS, TFJOBS]  # the budget exists before any pod of the job
    (job,) = _created(kube_api, "tfjobs") or [None]
    assert job is None  # deleted with --delete-on-exit
    assert [d.rsplit("/", 2)[-2] for d in kube_api.deleted] == [
        "tfjobs", "poddisruptionbudgets"]  # the job first, then its budget


def test_tokens_are_replaced_in_the_created_objects(kube_api: KubeAPI, tmp_path: Path) -> None:
    _succeed_jobs(kube_api)
    out = tmp_path / "outputs" / "name" / "data"
    result = run_module("cnai_launcher", _args(kube_api, tmp_path, "--write", str(out),
                                               "data-${CNAI_RUN_SHORT}"))
    assert result.returncode == 0, result.stderr
    (job,) = _created(kube_api, "tfjobs")
    (budget,) = _created(kube_api, "poddisruptionbudgets")
    assert budget["spec"]["selector"]["matchLabels"] == {"cnai.dev/run": RUN,
                                                         "cnai.dev/step": "train"}
    pod = job["spec"]["tfReplicaSpecs"]["Worker"]["template"]
    assert pod["metadata"]["labels"]["cnai.dev/run"] == RUN
    (container,) = pod["spec"]["containers"]
    # A value is inserted after parsing: quotes stay, and a token in a value is not re-read.
    assert container["args"] == ["--epochs", '9 "quoted" ${x}']
    assert container["env"] == [{"name": "NS", "value": "ml"}]
    assert kube_api.deleted == []  # kept without --delete-on-exit
    assert out.read_text() == "data-4bd1e2d6"  # --write, after success


def test_cancelling_deletes_the_job_and_its_budget(kube_api: KubeAPI, tmp_path: Path) -> None:
    proc = start_module("cnai_launcher", _args(kube_api, tmp_path, "--timeout", "60"))
    try:
        deadline = time.monotonic() + 15
        while not _created(kube_api, "tfjobs"):
            assert time.monotonic() < deadline, "the launcher never created the job"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == exitcodes.CANCELLED_BASE + signal.SIGTERM, stderr
    assert [d.rsplit("/", 2)[-2] for d in kube_api.deleted] == ["tfjobs", "poddisruptionbudgets"]


def test_token_helpers() -> None:
    assert parse_sets(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    for bad in ("A", "=1", "1A=2", "A-B=1"):
        with pytest.raises(StepError):
            parse_sets([bad])
    assert short(RUN) == "4bd1e2d6"
    assert short("Run_X-42") == "runx42"
    with pytest.raises(StepError):
        short("--")
    values = token_values(["A=${B}", "B=b"], "R-1", "ns")
    assert values == {"${A}": "${B}", "${B}": "b", "${CNAI_RUN_ID}": "R-1",
                      "${CNAI_RUN_SHORT}": "r1", "${CNAI_NAMESPACE}": "ns"}
    assert substitute({"${A}": ["x${A}y", "${B}${C}", 3]}, values) == {
        "${B}": ["x${B}y", "b${C}", 3]}
