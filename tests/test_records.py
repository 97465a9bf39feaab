"""Records: `{lr: float, batch: int}` params, record literals, loops over lists of records
with `item.field` access, on Argo (withItems/withParam of maps, `jsonpath` tags), on Kubeflow
(STRUCT/LIST params, `parameterExpressionSelector` as kfp's SDK compiles `item.lr`), and with
`cnai run --local`.

No ``from __future__ import annotations``: kfp reads the component functions' annotations.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl

import exprlang
import schemacheck
from cnai import compile_source
from cnai.driver import CompileFailed
from test_kfp_support import evaluate, pipeline_spec

SWEEP = """
pipeline recs {
  param sweeps: list[{lr: float, batch: int}] = [{lr: 0.1, batch: 32}, {lr: 0.001, batch: 64}]
  for run in sweeps {
    step train when run.lr > 0.01 {
      image   = "python:3.12"
      command = ["sh", "-c", "echo $0 $1 $2 > $3", "${run.lr}", run.batch, "${run}", outputs.note]
      output note: string
    }
  }
}
"""


def argo(text: str) -> dict[str, Any]:
    (doc,) = yaml.safe_load_all(compile_source(text, "t.cnai", "argo").text)
    schemacheck.assert_valid(doc)
    return doc  # type: ignore[no-any-return]


def kfp(text: str) -> dict[str, Any]:
    doc = compile_source(text, "t.cnai", "kfp").documents[0]
    pipeline_spec(doc)  # parses into PipelineSpec, unknown fields rejected
    return doc


def errors(text: str) -> list[str]:
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "t.cnai", "argo")
    return [f"{d.code} {d.message}" for d in failed.value.diagnostics if d.severity == "error"]


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


# ---- checking -----------------------------------------------------------------------------

def test_a_record_default_is_checked_field_by_field() -> None:
    found = errors("""pipeline p {
      param a: {lr: float, batch: int} = {lr: 0.1, bach: 3}
      param b: list[{lr: float}] = [{lr: "x"}]
      param c: {lr: float} = {lr: 1, lr: 2}
      step s { image = "x" command = ["${a}", "${b}", "${c}"] }
    }""")
    assert "E0105 unknown field `bach` for {lr: float, batch: int}" in found
    assert "E0201 missing field `batch` of {lr: float, batch: int}" in found
    assert "E0201 field `lr` is a float, found string" in found
    assert "E0101 field `lr` is given twice" in found


def test_an_int_field_widens_and_fields_keep_the_declared_order() -> None:
    doc = argo("""pipeline p {
      param a: {lr: float, batch: int} = {batch: 3, lr: 1}
      step s { image = "x" command = ["${a}"] }
    }""")
    assert doc["spec"]["arguments"]["parameters"][0]["value"] == '{"lr": 1.0, "batch": 3}'


def test_an_unknown_field_of_a_loop_item_suggests_the_closest() -> None:
    found = errors(SWEEP.replace('"${run.lr}"', '"${run.lrr}"'))
    assert found == ["E0104 `run` has no field `lrr`"]


def test_types_that_cannot_be_records() -> None:
    found = errors("""pipeline p {
      param a: {x: {y: int}} = {x: {y: 1}}
      param b: {} = {}
      param c: int {x: int} = 1
      step s { image = "x" command = ["${a}", "${b}", "${c}"] }
    }""")
    assert found[:3] == ["E0202 records do not nest",
                         "E0202 a record type needs at least one field",
                         "E0202 `int` takes no fields"]


def test_a_whole_record_cannot_be_gated_on() -> None:
    found = errors(SWEEP.replace("when run.lr > 0.01", 'when run == "x"'))
    assert found == ["E0201 `run` is a record; gates compare its scalar fields"]


# ---- Argo -----------------------------------------------------------------------------------

def test_argo_loops_over_maps_and_reads_fields_with_jsonpath() -> None:
    doc = argo(SWEEP)
    body = templates(doc)["for-run-body"]
    (task,) = body["dag"]["tasks"]
    values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    item = '{"batch":32,"lr":0.1}'  # `{{item}}` of a map: Go's json.Marshal, keys sorted
    env = {"inputs": {"parameters": {"run": item}}}
    assert values["run_lr"] == "{{=jsonpath(inputs.parameters['run'], '$.lr')}}"
    assert exprlang.evaluate(values["run_lr"][3:-2], env) == 0.1
    assert exprlang.evaluate(task["when"][3:-2], env) is True
    assert exprlang.evaluate(task["when"][3:-2],
                             {"inputs": {"parameters": {"run": '{"batch":1,"lr":0.001}'}}}) \
        is False
    main = templates(doc)["main"]["dag"]["tasks"]
    assert main[0]["withParam"] == "{{workflow.parameters.sweeps}}"


def test_argo_literal_record_lists_are_with_items_of_maps() -> None:
    doc = argo(SWEEP.replace("for run in sweeps", "for run in [{lr: 0.5, batch: 1}]"))
    (task,) = templates(doc)["main"]["dag"]["tasks"]
    assert task["withItems"] == [{"lr": 0.5, "batch": 1}]


# ---- Kubeflow -------------------------------------------------------------------------------

@dsl.container_component
def _train(lr: float, batch: float):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="python:3.12", command=["echo"], args=[str(lr), str(batch)])


def test_kfp_selects_item_fields_as_the_sdk_does(tmp_path: Path) -> None:
    @dsl.pipeline(name="recs")
    def sdk() -> None:
        with dsl.ParallelFor([{"lr": 0.1, "batch": 32}, {"lr": 0.001, "batch": 64}]) as item:
            _train(lr=item.lr, batch=item.batch)

    compiler.Compiler().compile(sdk, str(tmp_path / "sdk.yaml"))
    theirs = yaml.safe_load((tmp_path / "sdk.yaml").read_text())
    mine = kfp(SWEEP.replace("for run in sweeps", "for run in [{lr: 0.1, batch: 32}, "
                             "{lr: 0.001, batch: 64}]").replace("when run.lr > 0.01", ""))
    (their_task,) = theirs["components"]["comp-for-loop-2"]["dag"]["tasks"].values()
    (loop_name,) = [n for n in mine["components"] if n.startswith("comp-for-loop")]
    my_task = mine["components"][loop_name]["dag"]["tasks"]["train"]
    for field in ("lr", "batch"):
        theirs_in = their_task["inputs"]["parameters"][field]
        mine_in = my_task["inputs"]["parameters"][f"run_{field}"]
        assert mine_in["parameterExpressionSelector"] == theirs_in["parameterExpressionSelector"]
        assert mine_in["componentInputParameter"] == theirs_in["componentInputParameter"]
    their_iterator = theirs["root"]["dag"]["tasks"]["for-loop-2"]["parameterIterator"]
    my_iterator = mine["root"]["dag"]["tasks"][loop_name[len("comp-"):]]["parameterIterator"]
    assert json.loads(my_iterator["items"]["raw"]) == json.loads(their_iterator["items"]["raw"])


def test_kfp_record_params_are_structs_and_lists_and_gates_read_fields() -> None:
    doc = kfp(SWEEP)
    params = doc["root"]["inputDefinitions"]["parameters"]
    assert params["sweeps"]["parameterType"] == "LIST"
    assert params["sweeps"]["defaultValue"] == [{"lr": 0.1, "batch": 32},
                                                {"lr": 0.001, "batch": 64}]
    conditions = [task["triggerPolicy"]["condition"]
                  for component in doc["components"].values() if "dag" in component
                  for task in component["dag"]["tasks"].values() if "triggerPolicy" in task]
    (condition,) = conditions
    channel = condition.split("'")[1]
    assert evaluate(condition, {channel: {"lr": 0.1, "batch": 32}}) is True
    assert evaluate(condition, {channel: {"lr": 0.001, "batch": 64}}) is False
    struct = kfp("""pipeline p {
      param cfg: {name: string} = {name: "a"}
      step s { image = "x" command = ["${cfg}"] }
    }""")
    assert struct["root"]["inputDefinitions"]["parameters"]["cfg"] == {
        "parameterType": "STRUCT", "defaultValue": {"name": "a"}, "isOptional": True}


# ---- cnai run --local -----------------------------------------------------------------------

def test_local_run_sweeps_records(tmp_path: Path) -> None:
    from cnai.cli import main

    source = tmp_path / "recs.cnai"
    source.write_text(SWEEP, encoding="utf-8")
    assert main(["run", str(source), "--local", "--workdir", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    record = json.loads((run / "run.json").read_text())
    nodes = {n["id"]: n for n in record["nodes"]}
    assert nodes["train[0]"]["status"] == "Succeeded"
    assert nodes["train[1]"]["status"] == "Skipped"
    note = nodes["train[0]"]["outputs"]["note"]["value"]
    assert note.startswith('0.1 32 {"lr": 0.1, "batch": 32}')
