"""Workflows over 1 MiB or 200 templates become the Workflow plus WorkflowTemplates
(backends/argo_package.py, docs/argo.md "Large pipelines"), read the way Argo resolves them:
a task's ``template`` is looked up in the object that holds the calling template, a
``templateRef`` in the WorkflowTemplate it names (workflow/templateresolution/context.go).

The 10,000-step pipelines compile once per module (about 10 s each) and run in the
pure-Python CI run only: the compiled run (CNAI_EXPECT_COMPILED=1) executes the same Python
and would only repeat them.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_source
from cnai.backends import argo_package
from cnai.backends.argo import ArgoBackend
from cnai.context import CompileContext, Options
from cnai.driver import CompileResult
from cnai.limits import ARGO_OBJECT_BYTES, object_size
from testpaths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

Json = dict[str, Any]
RUNS = ("Workflow", "CronWorkflow")


def spec_of(document: Json) -> Json:
    spec: Json = document["spec"].get("workflowSpec", document["spec"])
    return spec


def compile_capturing(text: str) -> tuple[CompileResult, Json]:
    """The compile's result and the one Workflow argo_package was given (before packing):
    the Argo backend's Workflow for the same optimized pipeline. (Not by patching
    argo_package.package: the compiled build binds its callers to the function itself.)"""
    result = compile_source(text, "big.cnai", "argo")
    assert result.graph is not None
    unsplit = ArgoBackend(result.graph, CompileContext(options=Options())).workflow()
    return result, unsplit


def resolved(documents: list[Json]) -> Iterator[tuple[Json, Json, str]]:
    """(object, calling template, callee template) for every call, resolved as Argo does."""
    templates = {d["metadata"]["name"]: {t["name"]: t for t in spec_of(d)["templates"]}
                 for d in documents if d["kind"] == "WorkflowTemplate"}
    for document in documents:
        own = {t["name"]: t for t in spec_of(document)["templates"]}
        for template in own.values():
            for task in argo_package.tasks_of(template):
                if "templateRef" in task:
                    ref = task["templateRef"]
                    assert set(ref) == {"name", "template"}, ref
                    assert ref["name"] in templates, f"no WorkflowTemplate {ref['name']}"
                    assert ref["template"] in templates[ref["name"]], ref
                    yield document, template, templates[ref["name"]][ref["template"]]
                else:
                    assert task["template"] in own, (
                        f"{task['template']} is not in {document['metadata']}")
                    yield document, template, own[task["template"]]


def inlined(documents: list[Json]) -> dict[str, Json]:
    """Every template of every object, each templateRef turned back into a template name."""
    found: dict[str, Json] = {}
    for document in documents:
        for template in copy.deepcopy(spec_of(document)["templates"]):
            for task in argo_package.tasks_of(template):
                if "templateRef" in task:
                    task["template"] = task.pop("templateRef")["template"]
            assert template["name"] not in found, f"{template['name']} twice"
            found[template["name"]] = template
    return found


def assert_packed(documents: list[Json], unsplit: Json, *, validate: bool = True) -> None:
    """Every object within Argo's limits, strictly valid; the Workflow last, keeping the
    entrypoint and exit handler; every call resolves; nothing lost or changed."""
    argo = [d for d in documents if d["apiVersion"] == argo_package.API_VERSION]
    kinds = [d["kind"] for d in argo]
    assert kinds[-1] in RUNS and set(kinds[:-1]) == {"WorkflowTemplate"}, kinds
    run = argo[-1]
    pipeline = run["metadata"]["labels"]["cnai.dev/pipeline"]
    for document in argo:
        assert object_size(document) < ARGO_OBJECT_BYTES, document["metadata"]
        templates = spec_of(document)["templates"]
        assert len(templates) <= argo_package.MAX_TEMPLATES
        assert all(len(t["dag"]["tasks"]) <= 200 for t in templates if "dag" in t)
        if document["kind"] == "WorkflowTemplate":
            assert len(document["metadata"]["name"]) <= 63
            assert document["metadata"]["labels"] == {"cnai.dev/pipeline": pipeline}
            assert document["metadata"]["name"].startswith(pipeline[:40])
        if validate:
            schemacheck.assert_valid(document)
    own = {t["name"] for t in spec_of(run)["templates"]}
    assert spec_of(run)["entrypoint"] in own
    assert spec_of(run).get("onExit", spec_of(run)["entrypoint"]) in own
    # Created in this order, each object's templateRefs name objects created before it (the
    # Argo Server resolves them when it validates a WorkflowTemplate or Workflow).
    created: set[str] = set()
    for document in argo:
        for template in spec_of(document)["templates"]:
            for task in argo_package.tasks_of(template):
                if "templateRef" in task:
                    assert task["templateRef"]["name"] in created, task
        created.add(document["metadata"].get("name", ""))
    assert sum(1 for _ in resolved(argo)) == sum(
        1 for t in spec_of(unsplit)["templates"] for _ in argo_package.tasks_of(t))
    expected = {t["name"]: t for t in spec_of(unsplit)["templates"]}
    assert inlined(argo) == expected
    rest = {k: v for k, v in spec_of(run).items() if k != "templates"}
    assert rest == {k: v for k, v in spec_of(unsplit).items() if k != "templates"}


# ---- small and mid-sized pipelines -------------------------------------------------------

def test_a_workflow_within_the_limits_is_returned_untouched() -> None:
    workflow = {"apiVersion": argo_package.API_VERSION, "kind": "Workflow",
                "metadata": {"generateName": "p-"},
                "spec": {"entrypoint": "main", "templates": [
                    {"name": "main", "dag": {"tasks": [{"name": "a", "template": "a"}]}},
                    {"name": "a", "container": {"image": "busybox"}}]}}
    before = copy.deepcopy(workflow)
    (same,) = argo_package.package(workflow, "p")
    assert same is workflow and workflow == before


def test_four_hundred_distinct_steps_become_workflow_templates() -> None:
    # 403 templates: over the CRD cap of 200, while under 1 MiB.
    result, unsplit = compile_capturing(generate(400, shapes=None))
    assert len(spec_of(unsplit)["templates"]) > 400
    assert [w.code for w in result.warnings] == []
    assert_packed(result.documents, unsplit)
    names = [d["metadata"]["name"] for d in result.documents[:-1]]
    assert len(names) >= 2 and len(set(names)) == len(names)
    # Two compiles give the same bytes (names included).
    assert compile_source(generate(400, shapes=None), "big.cnai", "argo").text == result.text
    # --split and -o order: every WorkflowTemplate before the Workflow that needs it.
    kinds = [d["kind"] for d in yaml.safe_load_all(result.text)]
    assert kinds == ["WorkflowTemplate"] * len(names) + ["Workflow"]


def test_two_versions_of_a_pipeline_never_share_workflow_templates() -> None:
    text = generate(400, shapes=None)
    changed = text.replace('"registry.example.com/ml/job300:1.0"',
                           '"registry.example.com/ml/job300:1.1"')
    assert changed != text
    first = compile_source(text, "big.cnai", "argo").documents
    second = compile_source(changed, "big.cnai", "argo").documents

    def names(documents: list[Json]) -> set[str]:
        return {d["metadata"]["name"] for d in documents if d["kind"] == "WorkflowTemplate"}

    assert names(first) and names(second) and not names(first) & names(second)


def test_a_cron_workflow_keeps_its_exit_handler_and_is_packed() -> None:
    text = generate(300, shapes=None).replace(
        "pipeline bench {", 'pipeline bench {\n  schedule = "0 2 * * *"', 1)
    text = text.rstrip().removesuffix("}") + (
        '  finally {\n    step notify { image = "busybox:1.36"  command = ["echo", "done"] }\n'
        "  }\n}\n")
    result, unsplit = compile_capturing(text)
    run = result.documents[-1]
    assert run["kind"] == "CronWorkflow" and spec_of(run)["onExit"]
    assert [d["kind"] for d in result.documents] == ["WorkflowTemplate", "CronWorkflow"]
    assert_packed(result.documents, unsplit)


def _nested() -> Json:
    """A Workflow whose packed DAG calls templates of its own object and of an earlier one:
    main's first 199 calls fill the Workflow's 200 templates, so `big` is packed, and its
    leaves (1.2 MB) need two WorkflowTemplates."""
    leaves = [{"name": f"leaf{i}", "container": {"image": "busybox", "args": ["x" * 8000]}}
              for i in range(150)]
    big = {"name": "big", "dag": {"tasks": [{"name": f"t{i}", "template": f"leaf{i}"}
                                            for i in range(150)]}}
    small = [{"name": f"small{i}", "container": {"image": "busybox"}} for i in range(199)]
    main = {"name": "main", "dag": {"tasks": [
        *({"name": f"s{i}", "template": f"small{i}"} for i in range(199)),
        {"name": "b", "template": "big"}]}}
    return {"apiVersion": argo_package.API_VERSION, "kind": "Workflow",
            "metadata": {"generateName": "p-", "labels": {"cnai.dev/pipeline": "p"}},
            "spec": {"entrypoint": "main", "templates": [main, *small, big, *leaves]}}


def test_a_template_calling_a_workflow_template_stays_consistent_when_nested() -> None:
    # A DAG packed into a WorkflowTemplate calls by plain name only within its own object:
    # Argo looks the name up in the calling template's object (context.go, tmplBase).
    workflow = _nested()
    unsplit = copy.deepcopy(workflow)
    documents = argo_package.package(workflow, "p")
    assert [d["kind"] for d in documents] == ["WorkflowTemplate"] * 2 + ["Workflow"]
    first, second = (d["metadata"]["name"] for d in documents[:2])
    # Each template after those it calls: `big` comes last, in the second object.
    assert documents[1]["spec"]["templates"][-1]["name"] == "big"
    calls = {task["name"]: task for task in documents[1]["spec"]["templates"][-1]["dag"]["tasks"]}
    assert calls["t0"] == {"name": "t0", "templateRef": {"name": first, "template": "leaf0"}}
    assert calls["t149"] == {"name": "t149", "template": "leaf149"}  # same object: a name
    (call,) = (t for t in documents[-1]["spec"]["templates"][0]["dag"]["tasks"]
               if t["name"] == "b")
    assert call == {"name": "b", "templateRef": {"name": second, "template": "big"}}
    assert_packed(documents, unsplit, validate=False)
    assert argo_package.package(copy.deepcopy(unsplit), "p") == documents


# ---- 10,000 steps ------------------------------------------------------------------------

once = pytest.mark.skipif(os.environ.get("CNAI_EXPECT_COMPILED") == "1",
                          reason="run in the pure-Python CI run only (see the docstring)")


@pytest.fixture(scope="module", params=[50, None], ids=["50-shapes", "distinct-shapes"])
def ten_thousand(request: pytest.FixtureRequest) -> tuple[CompileResult, Json]:
    return compile_capturing(generate(10_000, shapes=request.param))


@once
def test_ten_thousand_steps_compile_for_argo_within_every_limit(
        ten_thousand: tuple[CompileResult, Json]) -> None:
    result, unsplit = ten_thousand
    assert object_size(unsplit) > ARGO_OBJECT_BYTES  # what used to be E0402
    assert [w.code for w in result.warnings] == []  # no W0401, no W0402
    assert_packed(result.documents, unsplit)


@pytest.mark.parametrize("case", ["fits", "distinct", "cron", "nested", "non-ascii"])
def test_packed_objects_come_with_their_sizes(case: str) -> None:
    """package_sized's sizes are the objects' own (object_size), counted from the templates'
    JSON and what each templateRef adds, not written again; check_size reports them."""
    pipeline = "p"
    if case == "nested":
        workflow = _nested()
    else:
        text = generate(60 if case in ("fits", "non-ascii") else 400, shapes=None)
        if case == "cron":
            text = text.replace("pipeline bench {", 'pipeline bench {\n  schedule = "0 2 * * *"', 1)
        if case == "non-ascii":
            image = '"registry.example.com/ml/job3:1.0"'
            text = text.replace(image, image + '  env { NOTE = "é 字 <\\"q\\">" }')
            assert "字" in text
        workflow = compile_capturing(text)[1]
        pipeline = workflow["metadata"]["labels"]["cnai.dev/pipeline"]
    packed = argo_package.package_sized(workflow, pipeline)
    assert (len(packed) == 1) == (case in ("fits", "non-ascii"))
    assert [size for _, size in packed] == [object_size(d) for d, _ in packed]


def test_check_size_reads_the_sizes_the_backend_measured() -> None:
    from cnai.passes.check_size import check_size

    result = compile_source(generate(400, shapes=None), "big.cnai", "argo")
    assert result.graph is not None and len(result.documents) > 1
    ctx = CompileContext(options=Options())  # no sizes: each object measured here
    check_size(result.documents, result.graph, ctx)
    assert [line for line in result.explain if line.startswith("check_size")] == ctx.explain
    # And from the context, not measured again: a size put there is the one reported.
    ctx = CompileContext(options=Options())
    document = result.documents[-1]
    ctx.sizes[id(document)] = (document, 2_000_000)
    check_size([document], result.graph, ctx)
    assert [d.code for d in ctx.diagnostics] == ["E0402"]
    ctx = CompileContext(options=Options())
    ctx.sizes[id(document)] = ({}, 2_000_000)  # another object's: not this one's size
    check_size([document], result.graph, ctx)
    assert list(ctx.diagnostics) == []


def test_split_writes_workflow_templates_before_the_workflow(tmp_path: Path) -> None:
    from cnai.cli import main

    source = tmp_path / "big.cnai"
    source.write_text(generate(400, shapes=None), encoding="utf-8")
    assert main(["compile", str(source), "--split", str(tmp_path / "out")]) == 0
    files = sorted(p.name for p in (tmp_path / "out").glob("*.yaml"))
    kinds = [yaml.safe_load((tmp_path / "out" / f).read_text())["kind"] for f in files]
    assert kinds == ["WorkflowTemplate"] * (len(files) - 1) + ["Workflow"]
    assert files[0].startswith("01-workflowtemplate-bench-") and files[-1].endswith(
        "-workflow-bench.yaml")
    # `kubectl apply -f DIR` applies in file-name order: what each refers to comes first.
    created: set[str] = set()
    for name in files:
        document = yaml.safe_load((tmp_path / "out" / name).read_text())
        for template in spec_of(document)["templates"]:
            for task in argo_package.tasks_of(template):
                if "templateRef" in task:
                    assert task["templateRef"]["name"] in created
        created.add(document["metadata"].get("name", ""))
