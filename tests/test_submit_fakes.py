"""The fakes' own checks: a body the real server would refuse gets a 400 from the fake too, so
the submission tests (which assert that no body was refused) mean something."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fakes.argo_server import ArgoServer, schema_errors
from fakes.kfp_server import KfpServer, model_errors

WORKFLOW: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
    "metadata": {"generateName": "x-"},
    "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "container": {"image": "python:3.12", "command": ["true"]}}]},
}


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_argo_fake_accepts_a_valid_workflow() -> None:
    with ArgoServer() as server:
        status, body = post(f"{server.url}/api/v1/workflows/argo", {"workflow": WORKFLOW})
        assert status == 200 and body["metadata"]["name"].startswith("x-")
        assert server.rejected == []


@pytest.mark.parametrize(("path", "field"), [
    ((), "workflows"),  # the request itself
    (("workflow", "spec"), "entrypiont"),
    (("workflow", "spec", "templates", 0, "container"), "imagePullPolice"),
    (("workflow", "metadata"), "generatedName"),
])
def test_argo_fake_rejects_unknown_fields_anywhere(path: tuple[Any, ...], field: str) -> None:
    body: dict[str, Any] = json.loads(json.dumps({"workflow": WORKFLOW}))
    target = body
    for key in path:
        target = target[key]
    target[field] = "x"
    with ArgoServer() as server:
        status, answer = post(f"{server.url}/api/v1/workflows/argo", body)
        assert status == 400
        assert f"'{field}' was unexpected" in answer["message"]
        assert answer["code"] == 3  # grpc InvalidArgument, as grpc-gateway writes it
        assert len(server.rejected) == 1


def test_argo_swagger_types_are_checked() -> None:
    workflow = json.loads(json.dumps(WORKFLOW))
    workflow["spec"]["parallelism"] = "2"
    assert schema_errors({"workflow": workflow}, "WorkflowCreateRequest") == [
        "/workflow/spec/parallelism: '2' is not of type 'integer'"]


def test_kfp_model_check() -> None:
    run = {"experiment_id": "e", "display_name": "r",
           "pipeline_version_reference": {"pipeline_id": "p", "pipeline_version_id": "v"},
           "runtime_config": {"parameters": {"a": [1]}}}
    assert model_errors(run, "V2beta1Run", "V2beta1Run") == []
    run["runtime_config"] = {"parameters": {}, "pipelineRoot": "s3://x"}
    run["state"] = "DONE"
    assert model_errors(run, "V2beta1Run", "V2beta1Run") == [
        "V2beta1Run.runtime_config: unknown field 'pipelineRoot' for V2beta1RuntimeConfig",
        "V2beta1Run.state: 'DONE' is not one of ['RUNTIME_STATE_UNSPECIFIED', 'PENDING', "
        "'RUNNING', 'SUCCEEDED', 'SKIPPED', 'FAILED', 'CANCELING', 'CANCELED', 'PAUSED']"]
    assert model_errors({"max_concurrency": "x", "no_catchup": 1}, "V2beta1RecurringRun",
                        "R") == ["R.max_concurrency: 'x' is not an int64",
                                 "R.no_catchup: 1 is not bool"]


def test_kfp_fake_rejects_unknown_fields_in_bodies() -> None:
    with KfpServer() as server:
        status, answer = post(f"{server.url}/apis/v2beta1/experiments",
                              {"display_name": "e", "displayName": "e"})
        assert status == 400
        assert answer["message"] == ("V2beta1Experiment: unknown field 'displayName' for "
                                     "V2beta1Experiment")
        assert server.rejected == [answer["message"]]


def test_kfp_fake_parses_uploads_strictly(tmp_path: Path) -> None:
    import kfp_server_api  # type: ignore[import-untyped]

    package = tmp_path / "p.yaml"
    package.write_text(json.dumps({"pipelineInfo": {"name": "p"}, "bogus": 1}))

    with KfpServer() as server:
        configuration = kfp_server_api.Configuration(host=server.url)
        api = kfp_server_api.PipelineUploadServiceApi(kfp_server_api.ApiClient(configuration))
        with pytest.raises(kfp_server_api.ApiException) as failure:
            api.upload_pipeline(str(package), name="p")
        assert failure.value.status == 400
        assert 'has no field named "bogus"' in json.loads(failure.value.body)["error_message"]
        assert len(server.rejected) == 1

