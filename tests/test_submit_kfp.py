"""`cnai submit --target kfp` through kfp.Client against a fake KFP API server that checks
every request body against the kfp-server-api models and the KFP IR protobufs
(tests/fakes/kfp_server.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.kfp_server import KfpServer
from fakes.support import (
    DEMO,
    NIGHTLY,
    REQUIRED,
    closed_port,
    hermetic,
    self_signed,
    submit,
    without_clock,
    write,
)
from testpaths import GOLDEN_CASES

RUNS = "/apis/v2beta1/runs"
UPLOAD = "/apis/v2beta1/pipelines/upload"
TOKENS = {"good": True, "viewer": False}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hermetic(monkeypatch)
    # kfp.Client reads (and in multi-user mode writes) ~/.config/kfp/context.json.
    monkeypatch.setattr("kfp.client.client.Client._LOCAL_KFP_CONTEXT",
                        str(tmp_path / "kfp-context.json"))


@pytest.fixture
def kfp() -> Iterator[KfpServer]:
    with KfpServer() as server:
        yield server
    assert server.rejected == [], "the fake rejected a request body"


@pytest.fixture
def demo(tmp_path: Path) -> str:
    return write(tmp_path, DEMO)


def bodies(server: KfpServer, path: str) -> list[dict[str, object]]:
    return [body for where, body in server.bodies if where == path]


# ---- submitting ----------------------------------------------------------------------------


def test_first_submission_uploads_and_runs(capsys: pytest.CaptureFixture[str],
                                           kfp: KfpServer, demo: str) -> None:
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 0, result.err
    ((pipeline_id, pipeline),) = kfp.pipelines.items()
    (version_id,) = kfp.versions
    (run_id,) = kfp.runs
    assert pipeline["display_name"] == "demo" and pipeline["description"] == "submit tests"
    lines = result.out.splitlines()
    assert lines[:2] == ["pipeline demo, version demo",
                         f"{kfp.url}/#/pipelines/details/{pipeline_id}/version/{version_id}"]
    assert lines[2].startswith("run demo 20") and lines[2].endswith(" in experiment Default")
    assert lines[3:] == [f"{kfp.url}/#/runs/details/{run_id}"]
    assert [e["display_name"] for e in kfp.experiments.values()] == ["Default"]
    # kfp.Client's run body: the uploaded version, no inline spec, no parameters given.
    (run,) = bodies(kfp, RUNS)
    experiment_id = next(iter(kfp.experiments))
    run_name = lines[2].removeprefix("run ").split(" created")[0]
    assert run == {"experiment_id": experiment_id, "display_name": run_name,
                   "pipeline_version_reference": {"pipeline_id": pipeline_id,
                                                  "pipeline_version_id": version_id},
                   "runtime_config": {"parameters": {}}}


def test_resubmission_adds_a_version_once(capsys: pytest.CaptureFixture[str],
                                          kfp: KfpServer, demo: str) -> None:
    for _ in range(3):
        assert submit(capsys, demo, "-t", "kfp", "--host", kfp.url).code == 0
    names = [v["display_name"] for v in kfp.versions.values()]
    assert len(names) == 2 and names[0] == "demo"
    assert names[1].startswith("demo-") and len(names[1]) == len("demo-") + 12
    assert kfp.count("POST", "/apis/v2beta1/pipelines/upload_version") == 1
    assert kfp.count("POST", UPLOAD) == 1
    runs = bodies(kfp, RUNS)
    assert [r["pipeline_version_reference"]["pipeline_version_id"]  # type: ignore[index]
            for r in runs] == [*kfp.versions, list(kfp.versions)[1]]
    assert len(kfp.experiments) == 1  # found, not created again


def test_params_are_sent_typed(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                               demo: str) -> None:
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "-p", "epochs=5",
                    "-p", "lr=1", "-p", "layers=[1, 2]", "-p", "fast=true", "-p", "tag=x")
    assert result.code == 0, result.err
    (run,) = bodies(kfp, RUNS)
    assert run["runtime_config"] == {"parameters": {"epochs": 5, "lr": 1.0, "layers": [1, 2],
                                                    "fast": True, "tag": "x"}}


def test_a_value_kfp_would_fill_in_again_is_sent_with_a_warning(
        capsys: pytest.CaptureFixture[str], kfp: KfpServer, demo: str) -> None:
    value = "{{$.inputs.parameters['epochs']}}"
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "-p", f"tag={value}")
    assert result.code == 0, result.err
    (run,) = bodies(kfp, RUNS)
    assert run["runtime_config"]["parameters"] == {"tag": value}  # type: ignore[index]
    assert ("cnai submit: warning: -p tag: the value holds `{{$`, and KFP's launcher fills in "
            "`{{$...}}` placeholders in a value; no escape exists: see docs/argo.md\n"
            ) in result.err
    # Argo's `{{` alone means nothing to KFP.
    assert "warning" not in submit(capsys, demo, "-t", "kfp", "--host", kfp.url,
                                   "-p", "tag={{workflow.name}}").err


def test_unknown_param_is_a_usage_error(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                        demo: str) -> None:
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "-p", "rate=2")
    assert result.code == 2
    assert "unknown param `rate`; the pipeline's params are epochs: int," in result.err
    assert kfp.requests == []


def test_required_param(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                        tmp_path: Path) -> None:
    path = write(tmp_path, REQUIRED)
    assert submit(capsys, path, "-t", "kfp", "--host", kfp.url).code == 2
    assert submit(capsys, path, "-t", "kfp", "--host", kfp.url, "-p", "data=s3://x").code == 0
    assert bodies(kfp, RUNS)[0]["runtime_config"] == {"parameters": {"data": "s3://x"}}


def test_a_schedule_creates_a_recurring_run_with_six_field_cron(
        capsys: pytest.CaptureFixture[str], kfp: KfpServer, tmp_path: Path) -> None:
    result = submit(capsys, write(tmp_path, NIGHTLY), "-t", "kfp", "--host", kfp.url,
                    "--experiment", "nightly-runs", "--watch")
    assert result.code == 0, result.err
    (recurring_id,) = kfp.recurring_runs
    assert result.out.splitlines()[2:] == [
        "recurring run nightly created in experiment nightly-runs (cron 0 0 2 * * *, UTC)",
        f"{kfp.url}/#/recurringrun/details/{recurring_id}"]
    assert "nothing to watch" in result.err
    (body,) = bodies(kfp, "/apis/v2beta1/recurringruns")
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert (body["mode"], body["no_catchup"], body["max_concurrency"]) == ("ENABLE", True, 1)
    assert kfp.runs == {}


def test_namespace_is_passed_on(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                demo: str) -> None:
    assert submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "-n", "team-a").code == 0
    (pipeline,) = kfp.pipelines.values()
    (experiment,) = kfp.experiments.values()
    assert pipeline["namespace"] == experiment["namespace"] == "team-a"
    assert kfp.count("GET", "/apis/v2beta1/healthz") == 0  # kfp only asks without a namespace


# ---- authentication and failures -----------------------------------------------------------


def test_token_is_sent_as_bearer(capsys: pytest.CaptureFixture[str], demo: str) -> None:
    with KfpServer(tokens=TOKENS) as server:
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url, "--token",
                        "Bearer good")
        assert result.code == 0, result.err
        assert {r.headers.get("authorization") for r in server.requests} == {"Bearer good"}


@pytest.mark.parametrize(("token", "expected"), [
    (None, "cnai submit: error: not authorised: the Kubeflow Pipelines API rejected the "
           "credentials (401 Unauthorized): Unauthenticated: Request header error: there is "
           "no user identity header.\n  = help: pass a valid token with --token or "
           "--token-file (sent as `Authorization: Bearer TOKEN`)\n"),
    ("viewer", "cnai submit: error: not authorised to reach the API: the Kubeflow Pipelines "
               "API refused (403 Forbidden): PermissionDenied: User "),
])
def test_not_authorised(capsys: pytest.CaptureFixture[str], demo: str, token: str | None,
                        expected: str) -> None:
    with KfpServer(tokens=TOKENS) as server:
        options = ["--token", token] if token else []
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url, *options)
        assert result.code == 1
        assert result.err.startswith(expected)
        assert len(server.requests) == 1  # the health check; not retried


def test_unreachable(capsys: pytest.CaptureFixture[str], demo: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = submit(capsys, demo, "-t", "kfp", "--host", url)
    assert result.code == 1
    assert result.err == (f"cnai submit: error: cannot reach the Kubeflow Pipelines API at "
                          f"{url}: connection refused\n  = help: check --host (scheme, host "
                          "and port) and that the server is running\n")
    assert result.seconds < 5


def test_conflict(capsys: pytest.CaptureFixture[str], kfp: KfpServer, demo: str) -> None:
    message = ("Failed to create a pipeline and a pipeline version. The pipeline already "
               "exists.: AlreadyExistsError")
    kfp.fail("POST", UPLOAD, 409, body={"error_message": message, "error_details": message})
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 1
    assert result.err == ("cnai submit: error: could not upload the pipeline demo: it already "
                          f"exists (409 Conflict): {message}\n  = help: choose another name\n")


def test_validation_failure_shows_the_servers_message(capsys: pytest.CaptureFixture[str],
                                                      kfp: KfpServer, demo: str) -> None:
    message = ("Failed to create a run: InvalidInputError: pipeline spec is invalid: "
               "missing executor")
    kfp.fail("POST", RUNS, 400, message)
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 1
    assert result.err == ("cnai submit: error: the Kubeflow Pipelines API rejected the "
                          f"request to create the run (400 Bad Request): {message}\n")


def test_503_twice_then_success(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                demo: str) -> None:
    kfp.fail("POST", RUNS, 503, "no healthy upstream", times=2)
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 0, result.err
    assert kfp.count("POST", RUNS) == 3
    assert result.err.count("503 Service Unavailable") == 2
    assert len(kfp.runs) == 1


def test_503_forever_gives_up_after_four_attempts(capsys: pytest.CaptureFixture[str],
                                                  kfp: KfpServer, demo: str) -> None:
    kfp.fail("POST", RUNS, 503, "no healthy upstream")
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 1
    assert kfp.count("POST", RUNS) == 4
    assert result.seconds < 3
    assert result.err.endswith(
        "cnai submit: error: could not create the run: the Kubeflow Pipelines API answered "
        "(503 Service Unavailable) (tried 4 times): no healthy upstream\n"
        "  = help: try again later\n")


def test_health_check_is_retried_once_per_attempt(capsys: pytest.CaptureFixture[str],
                                                  kfp: KfpServer, demo: str) -> None:
    kfp.fail("GET", "/apis/v2beta1/healthz", 500, "starting", times=1)
    assert submit(capsys, demo, "-t", "kfp", "--host", kfp.url).code == 0
    assert kfp.count("GET", "/apis/v2beta1/healthz") == 2


def test_redirect_to_a_login_page(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                  demo: str) -> None:
    kfp.fail("GET", "/apis/", 302, body=b"", headers={"Location": "https://dex/auth"})
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url)
    assert result.code == 1
    assert "redirected the request to reach the API to https://dex/auth (302 Found)" in (
        result.err)
    assert kfp.count("GET", "/apis/.*") == 1


# ---- --watch -------------------------------------------------------------------------------


@pytest.mark.parametrize(("final", "code"), [("SUCCEEDED", 0), ("FAILED", 1), ("CANCELED", 1)])
def test_watch_follows_the_run_to_its_end(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                          demo: str, final: str, code: int) -> None:
    kfp.states = ["PENDING", "RUNNING", "RUNNING", final]
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "--watch",
                    "--poll-interval", "0.01")
    assert result.code == code, result.err
    (run_id,) = kfp.runs
    failure = " - task train failed" if final == "FAILED" else ""
    ending = ": task train failed" if failure else ""
    assert without_clock(result.out)[4:] == [
        f"[T] run {run_id}: PENDING 0/1 tasks", f"[T] run {run_id}: RUNNING 0/1 tasks",
        f"[T] run {run_id}: {final} 1/1 tasks{failure}", f"run {run_id} {final} after T{ending}"]


def test_tls_is_verified_unless_insecure(capsys: pytest.CaptureFixture[str], demo: str,
                                         tmp_path: Path) -> None:
    context, certificate = self_signed(tmp_path)
    with KfpServer(tls=context) as server:
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url)
        assert result.code == 1
        assert result.err.startswith("cnai submit: error: cannot reach the Kubeflow Pipelines "
                                     f"API at {server.url}: TLS certificate verification "
                                     "failed")
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url, "--insecure")
        assert result.code == 0, result.err
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url, "--ca-cert",
                        certificate)
        assert result.code == 0, result.err
        assert len(server.runs) == 2


@pytest.mark.parametrize("path", GOLDEN_CASES["kfp"], ids=lambda p: p.name)
def test_every_example_uploads_and_runs(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                        path: Path) -> None:
    # The fake parses each upload strictly into PipelineSpec / PlatformSpec.
    result = submit(capsys, str(path), "-t", "kfp", "--host", kfp.url)
    assert result.code == 0, result.err
    assert len(kfp.runs) + len(kfp.recurring_runs) == 1


def test_multi_user_install_needs_a_namespace(capsys: pytest.CaptureFixture[str],
                                              demo: str) -> None:
    with KfpServer(multi_user=True) as server:
        result = submit(capsys, demo, "-t", "kfp", "--host", server.url)
        assert result.code == 1
        assert result.err == (
            f"cnai submit: error: the Kubeflow Pipelines API at {server.url} is a multi-user "
            "install: it needs the namespace (profile) to submit into\n"
            "  = help: pass --namespace NS\n")
        assert submit(capsys, demo, "-t", "kfp", "--host", server.url, "-n", "team-a").code == 0


def test_a_slow_answer_times_out(capsys: pytest.CaptureFixture[str], kfp: KfpServer,
                                 demo: str) -> None:
    kfp.fail("POST", RUNS, 200, delay=1.0)
    result = submit(capsys, demo, "-t", "kfp", "--host", kfp.url, "--timeout", "0.2")
    assert result.code == 1
    assert "gave no answer within the timeout" in result.err
    assert result.seconds < 1.0
    # The client has given up; on a loaded machine the fake's thread may not have logged the
    # request yet. Once it has, there is exactly one: a read timeout is not retried.
    deadline = time.monotonic() + 5
    while kfp.count("POST", RUNS) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kfp.count("POST", RUNS) == 1
