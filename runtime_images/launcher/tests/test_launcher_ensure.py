"""``--ensure-text``: an object shared by runs (a Fluid Dataset) is created when absent, used
when it is what the run needs, refused when it is not, and never deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnai_runtime import exitcodes
from cnai_testkit.kubeapi import KubeAPI
from cnai_testkit.procs import run_module

DATASETS = "/apis/data.fluid.io/v1alpha1/namespaces/ml/datasets"
DATALOADS = "/apis/data.fluid.io/v1alpha1/namespaces/ml/dataloads"


def dataset(source: str) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": "corpus"},
            "spec": {"accessModes": ["ReadOnlyMany"],
                     "mounts": [{"mountPoint": source, "name": "corpus"}]}}


LOAD = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
        "metadata": {"generateName": "corpus-load-"},
        "spec": {"dataset": {"name": "corpus"}, "target": [{"path": "/", "replicas": 1}]}}


def _complete_loads(api: KubeAPI) -> None:
    def on_create(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event == "create" and obj.get("kind") == "DataLoad":
            name = obj["metadata"]["name"]
            api.after(0.05, lambda: api.set_status("dataloads", name, {"phase": "Complete"}))

    api.reactors.append(on_create)


def _run(api: KubeAPI, tmp_path: Path) -> Any:
    return run_module("cnai_launcher", [
        "--manifest-text", json.dumps(LOAD),
        "--ensure-text", json.dumps(dataset("${CNAI_INPUT_URI}")),
        "--set", "CNAI_INPUT_URI=s3://bucket/it's #1", "--namespace", "ml",
        "--success-condition", "status.phase == Complete",
        "--failure-condition", "status.phase == Failed", "--timeout", "30", "--delete-on-exit",
        "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig"))])


def test_an_absent_shared_object_is_created_and_kept(kube_api: KubeAPI, tmp_path: Path) -> None:
    _complete_loads(kube_api)
    result = _run(kube_api, tmp_path)
    assert result.returncode == 0, result.stderr
    found = kube_api.find("datasets", "corpus")
    assert found is not None
    assert found["spec"]["mounts"][0]["mountPoint"] == "s3://bucket/it's #1"
    # The run's DataLoad is deleted with --delete-on-exit; the shared Dataset is not.
    assert [d.rsplit("/", 2)[-2] for d in kube_api.deleted] == ["dataloads"]


def test_the_same_shared_object_is_used(kube_api: KubeAPI, tmp_path: Path) -> None:
    existing = dataset("s3://bucket/it's #1")
    existing["spec"]["placement"] = "Exclusive"  # a default the API server added
    kube_api.seed(DATASETS, existing)
    _complete_loads(kube_api)
    result = _run(kube_api, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exists as this run needs it" in result.stderr
    assert kube_api.deleted and all("datasets" not in d for d in kube_api.deleted)


def test_a_shared_object_for_another_source_is_left_alone(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.seed(DATASETS, dataset("s3://bucket/other"))
    result = _run(kube_api, tmp_path)
    assert result.returncode == exitcodes.CONDITION_FAILED, result.stderr
    assert 'spec.mounts[0].mountPoint is "s3://bucket/other", not "s3://bucket/it\'s #1"' in (
        result.stderr)
    assert [p for _, m, p in kube_api.requests if m == "POST"] == [DATASETS]  # no DataLoad
    found = kube_api.find("datasets", "corpus")
    assert found is not None and found["spec"]["mounts"][0]["mountPoint"] == "s3://bucket/other"
    assert kube_api.deleted == []
