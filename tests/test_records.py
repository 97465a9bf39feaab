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
from kfp import compiler, components, dsl

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
    compiled = compile_source(text, "t.cnai", "kfp")
    doc = compiled.documents[0]
    pipeline_spec(doc)  # parses into PipelineSpec, unknown fields rejected
    components.load_component_from_text(compiled.text)  # and kfp loads it
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


FIELDS = """
pipeline fields {
  param base: {lr: float, name: string, on: bool} = {lr: 0.5, name: "resnet", on: true}
  param sweeps: list[{lr: float}] = [{lr: 0.1}]
  step prepare {
    image   = "python:3.12"
    command = ["sh", "-c", "echo '{\\"depth\\": 3, \\"tag\\": \\"x\\"}' > $0", outputs.config]
    output config: {depth: int, tag: string}
  }
  step train when prepare.config.depth > 2 and base.on == true {
    image   = "python:3.12"
    command = ["echo", "lr=${base.lr}", "depth=${prepare.config.depth}",
               "tag=${prepare.config.tag}"]
  }
  for run in sweeps {
    for seed in [1, 2] {
      step inner { image = "python:3.12"  command = ["echo", "lr=${run.lr}", seed] }
    }
  }
}
"""


def test_argo_reads_fields_of_record_params_and_outputs() -> None:
    doc = argo(FIELDS)
    main_tasks = {t["name"]: t for t in templates(doc)["main"]["dag"]["tasks"]}
    train = main_tasks["train"]
    env = {"workflow": {"parameters": {"base": '{"lr": 0.5, "name": "resnet", "on": true}'}},
           "tasks": {"prepare": {"outputs": {"parameters": {
               "config": '{"depth": 3, "tag": "x"}\n'}}}}}
    assert exprlang.evaluate(train["when"][3:-2], env) is True
    values = {p["name"]: p["value"] for p in train["arguments"]["parameters"]}
    assert exprlang.evaluate(values["base_lr"][3:-2], env) == 0.5
    assert exprlang.evaluate(values["prepare_config_tag"][3:-2], env) == "x"
    # The inner loop receives the whole item and picks the field itself.
    inner_loop = templates(doc)["for-seed-body"]
    (task,) = inner_loop["dag"]["tasks"]
    (value,) = [p["value"] for p in task["arguments"]["parameters"] if p["name"] == "run_lr"]
    assert value == "{{=jsonpath(inputs.parameters['run'], '$.lr')}}"


def test_kfp_reads_fields_of_record_params_and_outputs() -> None:
    doc = kfp(FIELDS)
    condition = doc["root"]["dag"]["tasks"]["condition-1"]["triggerPolicy"]["condition"]
    assert evaluate(condition, {"pipelinechannel--prepare-config": {"depth": 3, "tag": "x"},
                                "pipelinechannel--base": {"lr": 0.5, "on": True}}) is True
    assert evaluate(condition, {"pipelinechannel--prepare-config": {"depth": 1, "tag": "x"},
                                "pipelinechannel--base": {"lr": 0.5, "on": True}}) is False
    train = doc["components"]["comp-condition-1"]["dag"]["tasks"]["train"]
    lr = train["inputs"]["parameters"]["base_lr"]
    assert lr == {"componentInputParameter": "pipelinechannel--base",
                  "parameterExpressionSelector": 'parseJson(string_value)["lr"]'}
    outputs = doc["components"]["comp-prepare"]["outputDefinitions"]["parameters"]
    assert outputs == {"config": {"parameterType": "STRUCT"}}


def test_local_run_reads_fields_of_record_params_and_outputs(tmp_path: Path) -> None:
    from cnai.cli import main

    source = tmp_path / "fields.cnai"
    source.write_text(FIELDS, encoding="utf-8")
    assert main(["run", str(source), "--local", "--workdir", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert "lr=0.5 depth=3 tag=x" in (run / "logs" / "train.log").read_text()
    assert "lr=0.1 2" in (run / "logs" / "inner" / "0" / "1.log").read_text()


def test_templates_take_records_and_read_their_fields() -> None:
    doc = argo("""pipeline tpl {
      param sweeps: list[{lr: float, batch: int}] = [{lr: 0.1, batch: 32}]
      template trainer(cfg: {lr: float, batch: int}, extra: {tag: string} = {tag: "x"}) {
        image   = "python:3.12"
        command = ["echo", "${cfg.lr}", cfg.batch, "${cfg}", "${extra.tag}"]
      }
      for run in sweeps {
        step train { use trainer(cfg = run) }
      }
      step once { use trainer(cfg = {lr: 0.5, batch: 2}, extra = {tag: "y"}) }
    }""")
    once = templates(doc)["once"]["container"]["command"]
    assert once == ["echo", "0.5", "2", '{"lr": 0.5, "batch": 2}', "y"]
    train = templates(doc)["train"]["container"]["command"]
    assert train == ["echo", "{{inputs.parameters.run_lr}}", "{{inputs.parameters.run_batch}}",
                     "{{inputs.parameters.run}}", "x"]
    found = errors("""pipeline tpl {
      template t(cfg: {lr: float}) { image = "x" command = ["${cfg.lr}"] }
      step once { use t(cfg = {lr: "fast"}) }
    }""")
    assert found == ["E0201 template parameter `cfg` is {lr: float}, found {lr: string}"]
