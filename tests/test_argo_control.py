"""Control flow on Argo: loops, fan-in, branches, finally, templates, schedules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file, compile_source
from cnai.driver import CompileFailed
from testpaths import EXAMPLES, FIXTURES


def document(text: str) -> dict[str, Any]:
    (doc,) = yaml.safe_load_all(compile_source(text).text)
    schemacheck.assert_valid(doc)
    return doc  # type: ignore[no-any-return]


def spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"].get("workflowSpec", doc["spec"])  # type: ignore[no-any-return]


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in spec(doc)["templates"] if t["name"] == name)


def tasks(doc: dict[str, Any], name: str = "main") -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in template(doc, name)["dag"]["tasks"]}


@pytest.fixture(scope="module")
def sweep() -> dict[str, Any]:
    (doc,) = yaml.safe_load_all(compile_file(EXAMPLES / "sweep.cnai").text)
    schemacheck.assert_valid(doc)
    return doc  # type: ignore[no-any-return]


def test_param_loop_with_parallel_is_with_param_and_parallelism(sweep: dict[str, Any]) -> None:
    loop = tasks(sweep)["for-lr"]
    assert loop["arguments"]["parameters"] == [
        {"name": "items", "value": "{{workflow.parameters.lrs}}"}]
    wrapper = template(sweep, "for-lr")
    assert wrapper["parallelism"] == 2
    (iteration,) = wrapper["dag"]["tasks"]
    assert iteration["withParam"] == "{{inputs.parameters.items}}"
    assert iteration["arguments"]["parameters"][0] == {"name": "lr", "value": "{{item}}"}
    body = tasks(sweep, "for-lr-body")
    assert body["train"]["arguments"]["parameters"] == [
        {"name": "lr", "value": "{{inputs.parameters.lr}}"}]


def test_fan_in_receives_the_aggregated_list(sweep: dict[str, Any]) -> None:
    pick = tasks(sweep)["pick"]
    assert pick["depends"] == "for-lr.Succeeded"
    assert pick["arguments"]["parameters"] == [
        {"name": "train_loss", "value": "{{=toJson(map(filter(fromJSON("
         "tasks['for-lr'].outputs.parameters['train_loss']), len(#) > 0), #[0]))}}"}]
    assert template(sweep, "for-lr-body")["outputs"]["parameters"] == [
        {"name": "train_loss", "valueFrom": {"expression": (
            "tasks['train'].status == 'Succeeded' ? "
            "toJson([asFloat(trim(tasks['train'].outputs.parameters['loss']))]) : '[]'")}}]
    assert template(sweep, "for-lr")["outputs"]["parameters"] == [
        {"name": "train_loss", "valueFrom": {
            "parameter": "{{tasks.iteration.outputs.parameters.train_loss}}"}}]
    assert template(sweep, "pick")["container"]["command"][-1] == (
        "{{inputs.parameters.train_loss}}")


def test_if_else_branches_are_exclusive(sweep: dict[str, Any]) -> None:
    main = tasks(sweep)
    condition = "asFloat(trim(tasks['pick'].outputs.parameters['best'])) < 0.05"
    assert main["publish"]["when"] == "{{=" + condition + "}}"
    assert main["alert"]["when"] == "{{=!(" + condition + ")}}"
    assert main["publish"]["depends"] == main["alert"]["depends"] == "pick.Succeeded"


def test_finally_is_the_exit_handler_with_the_status(sweep: dict[str, Any]) -> None:
    assert spec(sweep)["onExit"] == "finally"
    notify = tasks(sweep, "finally")["notify"]
    assert notify["arguments"]["parameters"] == [
        {"name": "pipeline_status", "value": "{{workflow.status}}"}]
    assert "notify" not in tasks(sweep)


def test_literal_loop_is_with_items_and_else_if_negates_earlier_branches() -> None:
    (doc,) = yaml.safe_load_all(compile_file(FIXTURES / "valid" / "control.cnai").text)
    assert doc["kind"] == "CronWorkflow"
    assert doc["spec"]["schedules"] == ["0 2 * * *"]
    assert doc["metadata"]["name"] == "control"
    main = tasks(doc)
    assert main["for-seed"]["withItems"] == [1, 2, 3]
    best = "asFloat(trim(tasks['summarize'].outputs.parameters['best']))"
    full = f"(workflow.parameters['mode'] == \"full\") && ({best} > 0.5)"
    assert main["ship"]["when"] == "{{=" + f"{best} > 0.9" + "}}"
    assert main["retune"]["when"] == "{{=" + f"(!({best} > 0.9)) && ({full})" + "}}"
    assert main["give-up"]["when"] == "{{=" + f"(!({best} > 0.9)) && (!({full}))" + "}}"


def test_nested_loops_pass_outer_values_in() -> None:
    (doc,) = yaml.safe_load_all(compile_file(FIXTURES / "valid" / "control.cnai").text)
    outer = tasks(doc)["for-shard"]
    assert outer["withParam"] == "{{tasks.split.outputs.parameters.shards}}"
    assert outer["depends"] == "split.Succeeded"
    inner = tasks(doc, "for-shard-body")["for-lr"]
    assert {"name": "shard", "value": "{{inputs.parameters.shard}}"} in inner["arguments"][
        "parameters"]
    keep = tasks(doc, "for-lr-body")["keep"]
    assert keep["when"] == (
        "{{=(asFloat(trim(tasks['fit'].outputs.parameters['loss'])) < 0.5) && "
        "(!((workflow.parameters['quick'] in ['1', 't', 'T', 'TRUE', 'true', 'True'])))}}")


def test_templates_merge_with_the_steps_own_fields() -> None:
    (doc,) = yaml.safe_load_all(compile_file(FIXTURES / "valid" / "control.cnai").text)
    fit = template(doc, "fit")
    assert fit["container"]["resources"]["limits"] == {"nvidia.com/gpu": "2", "memory": "16Gi"}
    assert fit["container"]["command"][5:8] == ["{{inputs.parameters.shard}}", "--epochs", "3"]
    assert fit["retryStrategy"]["limit"] == "2"


def test_steps_in_branches_default_their_outputs() -> None:
    doc = document('pipeline p { step s { image = "x" output v: float }\n'
                   ' if s.v > 1 { step a { image = "x" output w: string } } }')
    (param,) = template(doc, "a")["outputs"]["parameters"]
    assert param["valueFrom"]["default"] == ""


def test_artifact_fan_in_is_refused_on_argo() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source('pipeline p { for x in [1, 2] { step a { image = "x" output m: model } }'
                       ' step b { image = "x" command = ["${a.m}"] } }')
    assert [d.code for d in failure.value.diagnostics] == ["E0401"]


def test_loop_over_an_output_of_a_loop() -> None:
    doc = document('pipeline p { for x in [1, 2] { step a { image = "x" output v: string } }\n'
                   ' for y in a.v { step b { image = "x" command = ["${y}"] } } }')
    loop = tasks(doc)["for-y"]
    assert loop["withParam"] == ("{{=toJson(map(filter(fromJSON("
                                 "tasks['for-x'].outputs.parameters['a_v']), len(#) > 0), "
                                 "#[0]))}}")
    assert loop["depends"] == "for-x.Succeeded"
