"""DAGs over Argo's 200-task cap are partitioned on the execution plan (lowering/partition.py)
into parts that keep dependencies, skips and values: each Workflow is run as Argo's controller
would (tests/argo_run.py) and must run the same steps with the same arguments as the one-DAG
Workflow of the same pipeline; the longest chain of waits must not grow."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import yaml

import schemacheck
from argo_run import Run, dag_sizes, longest_chain
from cnai import compile_source
from cnai.backends.argo import ArgoBackend
from cnai.backends.serialize import to_yaml
from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.source import SourceFile
from testpaths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

BENCH_PASSES = ("fold_constant_gates", "report_unused", "place_preloads", "reduce_edges",
                "dedupe_templates")  # bench/'s, for 10,000 steps in a test's time


def workflows(text: str, options: Options | None = None, plain: bool = True,
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(partitioned, one DAG per scope) Workflows of one pipeline, as plain data. The backend
    is called directly: the size check (a separate pass) is not what is tested here."""
    ctx = CompileContext(options=options or Options())
    pipeline = analyze(SourceFile("big.cnai", text), ctx)
    assert pipeline is not None
    split = ArgoBackend(pipeline, ctx).workflow()
    whole = ArgoBackend(pipeline, CompileContext(), limit=None).workflow()
    if not plain:  # the backend's dicts as they are (serialising 10,000 tasks takes long)
        return split, whole
    return (yaml.safe_load(to_yaml([split])), yaml.safe_load(to_yaml([whole])))


def outputs(values: dict[str, str]) -> Any:
    """Every step succeeds and writes ``<its path>`` as each output, unless told otherwise."""

    def leaf(path: str, arguments: dict[str, str]) -> dict[str, str] | None:
        name = path.rsplit("/", 1)[-1].split("(")[0]
        if values.get(name) == "fail":
            return None
        text = values.get(name, f"<{path}>")
        return {"score": text, "v": text}

    return leaf


def same_runs(text: str, scenarios: list[dict[str, str]], params: dict[str, str] | None = None,
              ) -> dict[str, Any]:
    split, whole = workflows(text)
    schemacheck.assert_valid(split)
    assert max(dag_sizes(split)) <= 200 < max(dag_sizes(whole))
    for name, value in (params or {}).items():
        for doc in (split, whole):
            for param in doc["spec"]["arguments"]["parameters"]:
                if param["name"] == name:
                    param["value"] = value
    for scenario in scenarios:
        ran, expected = Run(split, outputs(scenario)), Run(whole, outputs(scenario))
        assert ran.status == expected.status
        assert ran.outcome() == expected.outcome()
    return split


def test_a_layered_dag_runs_the_same_split() -> None:
    text = generate(450, shapes=20)
    split = same_runs(text, [{"s0": "0.9"}, {"s0": "0.1"}, {"s0": "0.9", "s30": "fail"}])
    parts = {t["name"]: t for t in split["spec"]["templates"]}["main"]["dag"]["tasks"]
    assert [p["name"] for p in parts] == ["part-1", "part-2", "part-3"]
    assert parts[1]["depends"] == "part-1.Succeeded"
    # the gated last step reads s0: its part waits for the first part, not only the second
    assert parts[2]["depends"] == "part-1.Succeeded && part-2.Succeeded"


@pytest.mark.parametrize("go", ["true", "false"])
def test_a_skippable_task_in_an_earlier_part_skips_its_dependants(go: str) -> None:
    steps = "".join(f'  step s{i} after s{i - 1} {{ image = "x" command = ["r", "{i}"] }}\n'
                    for i in range(1, 230))
    text = ('pipeline big {\n  param go: bool = true\n'
            '  step s0 when go { image = "x" command = ["r", "0"] }\n' + steps + "}\n")
    split = same_runs(text, [{}, {"s150": "fail"}, {"s210": "fail"}], {"go": go})
    found = {t["name"]: t for t in split["spec"]["templates"]}
    first = next(t for t in found["main-part-2"]["dag"]["tasks"] if t["name"] == "s200")
    assert "depends" not in first
    assert first["when"] == "{{=inputs.parameters['status--s199'] == 'Succeeded'}}"
    status = {o["name"]: o["valueFrom"] for o in found["main-part-1"]["outputs"]["parameters"]}
    assert status["status--s199"] == {"parameter": "{{tasks.s199.status}}"}


def test_loop_bodies_split_and_keep_their_fan_in() -> None:
    body = "".join(f'    step b{i} {{ image = "x" command = ["r", "{i}", "${{x}}"]'
                   "  output v: string }\n" for i in range(204))
    body += ('    step b204 when x > 1 { image = "x" command = ["r", "${x}", "${b203.v}"]'
             "  output v: string }\n")
    text = ('pipeline big {\n  for x in [1, 2, 3] {\n' + body + "  }\n"
            '  step gather { image = "x" command = ["g", "${b204.v}"] }\n}\n')
    split = same_runs(text, [{}, {"b203": "fail"}])
    gathered = Run(split, outputs({})).outcome()["/gather"][1]
    assert gathered == {"b204_v": '["</for-x(1)/b204>","</for-x(2)/b204>"]'}
    found = {t["name"]: t for t in split["spec"]["templates"]}
    loop_body = found["for-x-body"]
    assert [t["name"] for t in loop_body["dag"]["tasks"]] == ["part-1", "part-2"]
    (export,) = loop_body["outputs"]["parameters"]
    assert export == {"name": "b204_v", "valueFrom": {"expression": (
        "tasks['part-2'].outputs.parameters['status--b204'] == 'Succeeded' ? "
        "toJson([tasks['part-2'].outputs.parameters['b204_v']]) : '[]'")}}
    exported = {p["name"]: p["valueFrom"] for p in found["for-x-body-part-2"]["outputs"][
        "parameters"]}
    assert exported["status--b204"] == {"parameter": "{{tasks.b204.status}}"}
    assert exported["b204_v"] == {"parameter": "{{tasks.b204.outputs.parameters.v}}",
                                  "default": ""}
    part_two = loop_body["dag"]["tasks"][1]
    assert {"name": "x", "value": "{{inputs.parameters.x}}"} in part_two["arguments"][
        "parameters"]


def test_independent_components_stay_apart_and_small_ones_share_a_part() -> None:
    chains = "".join(
        f'  step c{j}_{i}{f" after c{j}_{i - 1}" if i else ""} '
        f'{{ image = "x" command = ["r", "{j}", "{i}"] }}\n'
        for j in range(3) for i in range(150))
    small = "".join(f'  step lone{k} {{ image = "x" command = ["l", "{k}"] }}\n'
                    for k in range(30))
    # (No failure here: Argo's failFast stops the one DAG at once, but only the failing part.)
    split = same_runs("pipeline big {\n" + chains + small + "}\n", [{}])
    parts = {t["name"]: t for t in split["spec"]["templates"]}["main"]["dag"]["tasks"]
    assert all("depends" not in part for part in parts)  # nothing waits for anything else
    sizes = sorted(len({t["name"]: t for t in split["spec"]["templates"]}[p["template"]][
        "dag"]["tasks"]) for p in parts)
    assert sizes == [150, 150, 180]  # the lone steps packed with one chain, whole


def chains_pipeline(count: int, length: int) -> str:
    lines = ["pipeline chains {"]
    for j in range(count):
        for i in range(length):
            after = f" after c{j}_{i - 1}" if i else ""
            lines.append(f'  step c{j}_{i}{after} {{ image = "x" command = ["r", "{j % 5}"] }}')
    return "\n".join([*lines, "}"]) + "\n"


@pytest.mark.parametrize("text", [generate(10_000), chains_pipeline(50, 200)],
                         ids=["layered-10000", "50-chains-of-200"])
def test_the_longest_chain_of_waits_is_the_dag_s(text: str) -> None:
    split, whole = workflows(text, Options(passes=BENCH_PASSES), plain=False)
    assert max(dag_sizes(split)) <= 200
    assert longest_chain(split) == longest_chain(whole)
    assert longest_chain(whole) in (501, 200)  # 500 layers and the report; a chain


def test_a_large_dag_compiles_within_the_limits() -> None:
    result = compile_source(generate(450, shapes=20), "big.cnai")
    assert "W0401" not in [w.code for w in result.warnings]
    (doc,) = yaml.safe_load_all(result.text)
    schemacheck.assert_valid(doc)
    assert len(doc["spec"]["templates"]) <= 200
    assert max(dag_sizes(doc)) <= 200


def test_two_thousand_steps_of_fifty_shapes_fit_argo() -> None:
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


@pytest.mark.parametrize("limit", [3, 4, 7])
def test_parts_of_parts_run_the_same(limit: int) -> None:
    """With a small cap the same code nests parts in parts (as over 200 x 200 tasks), and
    splits levels wider than the cap into parts side by side."""
    text = generate(60, width=5, shapes=5)
    ctx = CompileContext()
    pipeline = analyze(SourceFile("small.cnai", text), ctx)
    assert pipeline is not None
    split = yaml.safe_load(to_yaml([ArgoBackend(pipeline, ctx, limit=limit).workflow()]))
    whole = yaml.safe_load(to_yaml([ArgoBackend(pipeline, CompileContext(),
                                                limit=None).workflow()]))
    schemacheck.assert_valid(split)
    assert max(dag_sizes(split)) <= limit
    main = next(t for t in split["spec"]["templates"] if t["name"] == "main")
    assert main["dag"]["tasks"][0]["template"].startswith("main-part")
    assert any("-part2-" in t["name"] for t in split["spec"]["templates"])  # parts of parts
    assert longest_chain(split) == longest_chain(whole) == 13
    for scenario in [{"s0": "0.9"}, {"s0": "0.1"}, {"s0": "0.9", "s12": "fail"}]:
        ran, expected = Run(split, outputs(scenario)), Run(whole, outputs(scenario))
        assert ran.status == expected.status
        assert ran.outcome() == expected.outcome()
