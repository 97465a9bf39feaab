"""`cnai submit --target argo` of a pipeline packed into WorkflowTemplates
(backends/argo_package.py): the templates first, each before whatever refers to it, then the
Workflow; a template that already exists is fine when it is the same. The fake Argo Server
refuses a templateRef to a WorkflowTemplate it does not hold, as Argo's validation does."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnai.driver import compile_source
from fakes.argo_server import ArgoServer
from fakes.support import hermetic, submit, write
from testpaths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

pytestmark = [
    pytest.mark.filterwarnings("ignore:The `json` method is deprecated:DeprecationWarning"),
]
TEMPLATES = "/api/v1/workflow-templates/argo"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hermetic(monkeypatch)


@pytest.fixture
def argo() -> Iterator[ArgoServer]:
    with ArgoServer() as server:
        yield server
    assert server.rejected == [], "the fake rejected a request body"


@pytest.fixture(scope="module")
def large() -> str:
    return generate(400, shapes=None)  # 403 templates: over the CRD cap of 200


def test_workflow_templates_are_created_before_the_workflow(
        capsys: pytest.CaptureFixture[str], argo: ArgoServer, tmp_path: Path,
        large: str) -> None:
    path = write(tmp_path, large)
    documents = compile_source(large, path, "argo").documents
    names = [d["metadata"]["name"] for d in documents if d["kind"] == "WorkflowTemplate"]
    assert len(names) >= 2
    result = submit(capsys, path, "--server", argo.url, "-n", "argo")
    assert result.code == 0, result.err
    posts = [r.path for r in argo.requests if r.method == "POST"]
    assert posts == [TEMPLATES] * len(names) + ["/api/v1/workflows/argo"]
    assert [b["template"] for b in argo.bodies[:-1]] == json.loads(json.dumps(documents[:-1]))
    assert sorted(argo.workflow_templates) == sorted(("argo", n) for n in names)
    ((_, workflow),) = argo.workflows
    assert result.out.splitlines()[:len(names)] == [
        f"WorkflowTemplate {n} created in namespace argo" for n in names]
    assert f"Workflow {workflow} created in namespace argo" in result.out
    # The same pipeline again: its templates are there already, and the same; a new run.
    again = submit(capsys, path, "--server", argo.url, "-n", "argo")
    assert again.code == 0, again.err
    assert again.out.splitlines()[:len(names)] == [
        f"WorkflowTemplate {n} already exists in namespace argo (the same)" for n in names]
    assert len(argo.workflows) == 2 and len(argo.workflow_templates) == len(names)


def test_a_different_workflow_template_of_the_same_name_is_an_error(
        capsys: pytest.CaptureFixture[str], argo: ArgoServer, tmp_path: Path,
        large: str) -> None:
    path = write(tmp_path, large)
    first = compile_source(large, path, "argo").documents[0]
    name = first["metadata"]["name"]
    changed = json.loads(json.dumps(first))
    changed["spec"]["templates"][0]["container"]["image"] = "somebody/else:1"
    argo.workflow_templates[("argo", name)] = changed
    result = submit(capsys, path, "--server", argo.url, "-n", "argo")
    assert result.code == 1
    assert f"a different WorkflowTemplate named {name} exists in namespace argo" in result.err
    assert argo.workflows == {}


def test_the_fake_refuses_a_template_ref_to_a_missing_workflow_template(
        argo: ArgoServer, large: str) -> None:
    workflow = compile_source(large, "big.cnai", "argo").documents[-1]
    request = urllib.request.Request(
        argo.url + "/api/v1/workflows/argo", method="POST",
        data=json.dumps({"namespace": "argo", "workflow": workflow}).encode(),
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert "template reference bench-" in json.loads(refused.value.read())["message"]
    assert argo.workflows == {}
