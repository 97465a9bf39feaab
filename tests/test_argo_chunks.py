"""DAGs over Argo's 200-task limit are split into parts that keep dependencies, skips and
values: checked structurally on generated pipelines, with strict validation."""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

import schemacheck
from cnai import compile_source
from testpaths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate


def compile_doc(text: str) -> tuple[dict[str, Any], list[str]]:
    result = compile_source(text, "big.cnai")
    (doc,) = yaml.safe_load_all(result.text)
    schemacheck.assert_valid(doc)
    return doc, [w.code for w in result.warnings]


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def test_large_dag_is_split_within_the_limits() -> None:
    doc, warnings = compile_doc(generate(450, shapes=20))
    assert "W0401" not in warnings
    found = templates(doc)
    assert len(found) <= 200
    assert all(len(t["dag"]["tasks"]) <= 200 for t in found.values() if "dag" in t)
    parts = found["main"]["dag"]["tasks"]
    assert [p["name"] for p in parts] == ["part-1", "part-2", "part-3"]
    assert parts[1]["depends"] == "part-1.Succeeded"


def test_values_and_dependencies_cross_parts_intact() -> None:
    doc, _ = compile_doc(generate(450, shapes=20))
    found = templates(doc)
    parent = {t["name"]: t for t in found["main"]["dag"]["tasks"]}
    owner = {task["name"]: part["name"] for part in parent.values()
             for task in found[part["template"]]["dag"]["tasks"]}
    for part in parent.values():
        body = found[part["template"]]
        declared = {p["name"] for p in body.get("inputs", {}).get("parameters", [])}
        passed = {a["name"]: a["value"] for a in part.get("arguments", {}).get(
            "parameters", [])}
        assert declared == set(passed)
        for task in body["dag"]["tasks"]:
            text = yaml.safe_dump(task)
            for name in re.findall(r"inputs\.parameters\.(out--[a-z0-9-]+--\w+)", text):
                producer, output = name[len("out--"):].rsplit("--", 1)
                source = passed[name]
                producing_part = owner[producer]
                assert source == (f"{{{{tasks.{producing_part}.outputs.parameters."
                                  f"{name}}}}}")
                exported = {o["name"]: o["valueFrom"]["parameter"] for o in
                            found[parent[producing_part]["template"]]["outputs"]["parameters"]}
                assert exported[name] == f"{{{{tasks.{producer}.outputs.parameters.{output}}}}}"
                assert f"{producing_part}.Succeeded" in part["depends"]


def test_a_skippable_task_in_an_earlier_part_skips_its_dependants() -> None:
    steps = "".join(f'  step s{i} after s{i - 1} {{ image = "x" command = ["r", "{i}"] }}\n'
                    for i in range(1, 230))
    text = ('pipeline big {\n  param go: bool = true\n'
            '  step s0 when go { image = "x" command = ["r", "0"] }\n' + steps + "}\n")
    doc, _ = compile_doc(text)
    found = templates(doc)
    first = next(t for t in found["main-part-2"]["dag"]["tasks"] if t["name"] == "s200")
    assert "depends" not in first
    assert first["when"] == "{{=(inputs.parameters['status--s199'] == 'Succeeded')}}"
    status = {o["name"]: o["valueFrom"] for o in found["main-part-1"]["outputs"]["parameters"]}
    assert status["status--s199"] == {"parameter": "{{tasks.s199.status}}"}


def test_loop_bodies_split_and_keep_their_fan_in() -> None:
    body = "".join(f'    step b{i} {{ image = "x" command = ["r", "{i}", "${{x}}"]'
                   "  output v: string }\n" for i in range(205))
    text = ('pipeline big {\n  for x in [1, 2] {\n' + body + "  }\n"
            '  step gather { image = "x" command = ["g", "${b204.v}"] }\n}\n')
    doc, _ = compile_doc(text)
    found = templates(doc)
    loop_body = found["for-x-body"]
    assert [t["name"] for t in loop_body["dag"]["tasks"]] == ["part-1", "part-2"]
    (export,) = loop_body["outputs"]["parameters"]
    assert export == {"name": "b204_v", "valueFrom": {"expression": (
        "tasks['part-2'].outputs.parameters['status--b204'] == 'Succeeded' ? "
        "toJson([tasks['part-2'].outputs.parameters['out--b204--v']]) : '[]'")}}
    exported = {p["name"]: p["valueFrom"] for p in templates(doc)["for-x-body-part-2"][
        "outputs"]["parameters"]}
    assert exported["status--b204"] == {"parameter": "{{tasks.b204.status}}"}
    assert exported["out--b204--v"] == {"parameter": "{{tasks.b204.outputs.parameters.v}}"}
    part_two = loop_body["dag"]["tasks"][1]
    assert {"name": "x", "value": "{{inputs.parameters.x}}"} in part_two["arguments"][
        "parameters"]


def test_two_thousand_steps_of_fifty_shapes_fit_argo() -> None:
    from cnai.context import Options
    from cnai.passes.check_size import LIMIT_BYTES, workflow_size

    text = generate(2000, shapes=50)
    optimized = compile_source(text, "big.cnai")
    (doc,) = yaml.safe_load_all(optimized.text)
    schemacheck.assert_valid(doc)
    assert workflow_size(doc) < LIMIT_BYTES
    assert len(doc["spec"]["templates"]) <= 200
    # Without the optimizer (and its size check) the same pipeline is far larger (and packed
    # into WorkflowTemplates: backends/argo_package.py).
    plain = compile_source(text, "big.cnai", options=Options(optimize=False, passes=()))
    assert sum(map(workflow_size, plain.documents)) > workflow_size(doc)
