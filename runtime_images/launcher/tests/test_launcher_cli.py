"""cnai_launcher as a subprocess against the Kubernetes API stand-in, over real HTTP."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from cnai_launcher import cli
from cnai_runtime import exitcodes
from cnai_testkit.kubeapi import KubeAPI
from cnai_testkit.procs import run_module, start_module

TFJOB = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "TFJob",
    "metadata": {"name": "train-resnet", "namespace": "ml"},
    "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 2, "template": {"spec": {}}}}},
}
SUCCESS = "status.conditions[type=Succeeded].status == True"
FAILURE = "status.conditions[type=Failed].status == True"
TFJOBS = "/apis/kubeflow.org/v1/namespaces/ml/tfjobs"
TWO_OBJECTS = """\
kind: ConfigMap
apiVersion: v1
metadata: {name: a}
---
kind: ConfigMap
apiVersion: v1
metadata: {name: b}
"""
NAMELESS = "kind: ConfigMap\napiVersion: v1\nmetadata: {}\n"


def _conditions(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"conditions": [{"type": t, "status": s, "reason": f"TFJob{t}"} for t, s in pairs]}


def _manifest(tmp_path: Path, obj: dict[str, Any] = TFJOB) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(obj))
    return path


def _launch(
    api: KubeAPI,
    tmp_path: Path,
    *extra: str,
    manifest: Path | None = None,
    stdin: str | None = None,
    timeout: str = "20",
    token: str | None = None,
):
    args = [
        "--manifest", str(manifest or _manifest(tmp_path)),
        "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig", token=token)),
        "--timeout", timeout,
        *extra,
    ]  # fmt: skip
    return run_module("cnai_launcher", args, stdin=stdin)


def _launch_here(
    api: KubeAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    manifest: Path | None = None,
    token: str | None = None,
) -> tuple[int, str]:
    """The same, in this process (cheaper; for the secondary cases)."""
    code = cli.main([
        "--manifest", str(manifest or _manifest(tmp_path)),
        "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig", token=token)),
        "--timeout", "20",
        *extra,
    ])  # fmt: skip
    return code, capsys.readouterr().err


def _run_then(api: KubeAPI, plural: str, name: str, *statuses: dict[str, Any]) -> None:
    """Play a controller: once the object exists, apply ``statuses`` 0.1 s apart."""

    def on_create(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event == "create" and obj["metadata"]["name"].startswith(name):
            for index, status in enumerate(statuses, start=1):
                api.after(
                    0.1 * index,
                    lambda s=status, n=obj["metadata"]["name"]: api.set_status(plural, n, s),
                )

    api.reactors.append(on_create)


def test_success_reports_status_and_keeps_the_object(kube_api: KubeAPI, tmp_path: Path) -> None:
    _run_then(
        kube_api, "tfjobs", "train-resnet",
        _conditions(("Created", "True"), ("Running", "True")),
        _conditions(("Created", "True"), ("Running", "False"), ("Succeeded", "True")),
    )  # fmt: skip
    result = _launch(
        kube_api, tmp_path, "--success-condition", SUCCESS, "--failure-condition", FAILURE
    )
    assert result.returncode == 0, result.stderr
    assert "created TFJob/train-resnet in namespace ml" in result.stderr
    assert "conditions=[Created=True, Running=True]" in result.stderr
    assert f"success condition met: {SUCCESS}" in result.stderr
    assert kube_api.find("tfjobs", "train-resnet") is not None
    assert kube_api.deleted == []


def test_delete_on_exit_removes_the_object(kube_api: KubeAPI, tmp_path: Path) -> None:
    _run_then(kube_api, "tfjobs", "train-resnet", _conditions(("Succeeded", "True")))
    result = _launch(
        kube_api,
        tmp_path,
        "--success-condition",
        SUCCESS,
        "--failure-condition",
        FAILURE,
        "--delete-on-exit",
    )
    assert result.returncode == 0, result.stderr
    assert kube_api.deleted == [f"{TFJOBS}/train-resnet"]


def test_failure_condition_exit_code(kube_api: KubeAPI, tmp_path: Path) -> None:
    _run_then(
        kube_api, "tfjobs", "train-resnet",
        _conditions(("Created", "True"), ("Running", "True")),
        _conditions(("Running", "False"), ("Failed", "True")),
    )  # fmt: skip
    result = _launch(
        kube_api,
        tmp_path,
        "--success-condition",
        SUCCESS,
        "--failure-condition",
        FAILURE,
        "--delete-on-exit",
    )
    assert result.returncode == exitcodes.CONDITION_FAILED, result.stderr
    assert f"failure condition met: {FAILURE}" in result.stderr
    assert "Traceback" not in result.stderr
    assert kube_api.deleted == [f"{TFJOBS}/train-resnet"]


def test_timeout_exit_code(kube_api: KubeAPI, tmp_path: Path) -> None:
    started = time.monotonic()
    result = _launch(kube_api, tmp_path, "--success-condition", SUCCESS, timeout="1")
    elapsed = time.monotonic() - started
    assert result.returncode == exitcodes.TIMEOUT, result.stderr
    assert "neither condition held within 1s" in result.stderr
    assert 1 < elapsed < 10


@pytest.mark.parametrize("settle", [0.0, 0.3], ids=["right-after-create", "while-watching"])
def test_sigterm_deletes_the_created_object(
    kube_api: KubeAPI, tmp_path: Path, settle: float
) -> None:
    proc = start_module(
        "cnai_launcher",
        ["--manifest", str(_manifest(tmp_path)), "--timeout", "60",
         "--kubeconfig", str(kube_api.kubeconfig(tmp_path / "kubeconfig"))],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while kube_api.find("tfjobs", "train-resnet") is None:
            assert time.monotonic() < deadline, "the launcher never created the object"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(settle)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == exitcodes.CANCELLED_BASE + signal.SIGTERM, stderr
    assert "cancelled: deleting TFJob/train-resnet" in stderr
    assert kube_api.deleted == [f"{TFJOBS}/train-resnet"]
    assert kube_api.find("tfjobs", "train-resnet") is None


def test_poll_fallback_when_watch_is_unavailable(kube_api: KubeAPI, tmp_path: Path) -> None:
    kube_api.watch_enabled = False

    def succeed_on_third_get(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event == "get" and api.gets.get("train-resnet") == 3:
            api.set_status("tfjobs", "train-resnet", _conditions(("Succeeded", "True")))

    kube_api.reactors.append(succeed_on_third_get)
    result = _launch(kube_api, tmp_path, "--poll-interval", "0.1")
    assert result.returncode == 0, result.stderr
    assert "watch unavailable (405)" in result.stderr
    assert kube_api.gets["train-resnet"] == 3


def test_default_conditions_for_dataload_and_generate_name(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    dataload = {
        "apiVersion": "data.fluid.io/v1alpha1",
        "kind": "DataLoad",
        "metadata": {"generateName": "warm-imagenet-"},
        "spec": {"dataset": {"name": "imagenet", "namespace": "ml"}},
    }
    _run_then(
        kube_api, "dataloads", "warm-imagenet-", {"phase": "Executing"}, {"phase": "Complete"}
    )
    result = _launch(
        kube_api, tmp_path, "--namespace", "ml", manifest=_manifest(tmp_path, dataload)
    )
    assert result.returncode == 0, result.stderr
    assert "phase=Executing" in result.stderr
    assert "success condition met: status.phase = Complete" in result.stderr
    created = [o for (c, _), o in kube_api.objects.items() if c.endswith("/ml/dataloads")]
    assert len(created) == 1 and created[0]["metadata"]["name"].startswith("warm-imagenet-")


def test_default_conditions_for_failed_dataload(
    kube_api: KubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataload = {
        "apiVersion": "data.fluid.io/v1alpha1",
        "kind": "DataLoad",
        "metadata": {"name": "warm"},
        "spec": {},
    }
    _run_then(kube_api, "dataloads", "warm", {"phase": "Failed"})
    code, err = _launch_here(kube_api, tmp_path, capsys, manifest=_manifest(tmp_path, dataload))
    assert code == exitcodes.CONDITION_FAILED, err
    # No --namespace and none in the manifest: the kubeconfig context's namespace.
    assert kube_api.find("dataloads", "warm")["metadata"]["namespace"] == "team-a"


def test_manifest_on_stdin_and_core_object_without_conditions(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n"
    result = _launch(kube_api, tmp_path, "--namespace", "ml", manifest=Path("-"), stdin=config_map)
    assert result.returncode == 0, result.stderr
    assert kube_api.find("configmaps", "settings")["data"] == {"a": "1"}
    assert any(
        p == "/api/v1/namespaces/ml/configmaps" for _, m, p in kube_api.requests if m == "POST"
    )


def test_existing_object_fails_unless_adopted(kube_api: KubeAPI, tmp_path: Path) -> None:
    kube_api.seed(TFJOBS, TFJOB)
    again = _launch(kube_api, tmp_path, "--success-condition", "metadata.name")
    assert again.returncode == exitcodes.USAGE, again.stderr
    assert "already exists" in again.stderr
    adopted = _launch(
        kube_api, tmp_path, "--success-condition", "metadata.name", "--if-exists", "adopt"
    )
    assert adopted.returncode == 0, adopted.stderr
    assert "adopting it" in adopted.stderr


def test_object_deleted_while_waiting(
    kube_api: KubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def delete_soon(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event == "create":
            api.after(0.3, lambda: api.delete_object("tfjobs", "train-resnet"))

    kube_api.reactors.append(delete_soon)
    code, err = _launch_here(kube_api, tmp_path, capsys, "--success-condition", SUCCESS)
    assert code == exitcodes.NOT_FOUND, err
    assert "was deleted while waiting" in err


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        ("bad-token", exitcodes.AUTH, "access denied (HTTP 401"),
        ("no-crd", exitcodes.NOT_FOUND, "is the TFJob CRD installed?"),
    ],
)
def test_api_error_exit_codes(
    kube_api: KubeAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    code: int,
    message: str,
) -> None:
    if setup == "no-crd":
        kube_api.missing.add("tfjobs")
    token = "not-the-token" if setup == "bad-token" else None
    exit_code, err = _launch_here(kube_api, tmp_path, capsys, token=token)
    assert exit_code == code, err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("manifest", "extra", "message"),
    [
        (TWO_OBJECTS, [], "exactly one object"),
        (NAMELESS, [], "needs metadata.name"),
        (None, [], "cannot read manifest"),
        ("", ["--success-condition", "status.phase >"], "bad condition"),
        ("", ["--failure-condition", "status.x > abc"], "needs a number"),
    ],
)
def test_usage_errors_before_contacting_the_api(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifest: str | None,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / "manifest.yaml"
    if manifest is not None:
        path.write_text(manifest or json.dumps(TFJOB))
    # A kubeconfig pointing nowhere: none of these cases may get as far as the API.
    code = cli.main(["--manifest", str(path), "--kubeconfig", str(tmp_path / "none"), *extra])
    assert code == exitcodes.USAGE
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
