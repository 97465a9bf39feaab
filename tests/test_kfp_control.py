"""Loops, if / else if / else and finally on Kubeflow: the shapes kfp's SDK compiles for
dsl.ParallelFor, dsl.Collected, dsl.If/Elif/Else and dsl.ExitHandler, checked structurally,
by evaluating every branch condition with cel-python, and against the SDK itself (sweep).

No ``from __future__ import annotations``: kfp reads the component functions' annotations.
"""

import itertools
from pathlib import Path
from typing import Any

import pytest
from kfp import compiler, components, dsl

from cnai import compile_file
from cnai.driver import CompileFailed
from test_kfp_support import (
    EXAMPLES_DIR,
    FIXTURES,
    ROOT,
    Doc,
    canonical,
    compile_path,
    compile_text,
    dags,
    evaluate,
    find_task,
    group_of,
    pipeline_spec,
    platform_spec,
    without_prefixes,
    yaml_documents,
)

CONTROL = ROOT / "tests" / "fixtures" / "valid" / "control.cnai"
SOURCES = [EXAMPLES_DIR / "sweep.cnai", CONTROL, FIXTURES / "flow.cnai"]
EXIT = {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}


@pytest.fixture(scope="module")
def sweep() -> Doc:
    return compile_path(EXAMPLES_DIR / "sweep.cnai")[0]


@pytest.fixture(scope="module")
def control() -> Doc:
    return compile_path(CONTROL)[0]


@pytest.fixture(scope="module")
def flow() -> list[Doc]:
    return compile_path(FIXTURES / "flow.cnai")


def component(spec: Doc, name: str) -> Doc:
    return spec["components"][f"comp-{name}"]  # type: ignore[no-any-return]


# ---- validity ----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_compiles_parses_strictly_and_loads(source: Path, tmp_path: Path) -> None:
    result = compile_file(source, "kfp")
    assert result.warnings == []
    documents = yaml_documents(result.text)
    pipeline_spec(documents[0])
    if len(documents) > 1:
        platform_spec(documents[1])
    out = tmp_path / "pipeline.yaml"
    out.write_text(result.text)
    loaded = components.load_component_from_file(str(out))
    assert loaded.name == documents[0]["pipelineInfo"]["name"]


def test_every_dag_has_a_task_and_every_reference_resolves(control: Doc) -> None:
    """What the driver needs: inputs named in the DAG's definitions, producers that are
    siblings, dependencies on siblings."""
    for name, dag in dags(control):
        assert dag["tasks"], name
        inputs = (control["root"] if name == "root" else control["components"][name]).get(
            "inputDefinitions", {})
        known = {**inputs.get("parameters", {}), **inputs.get("artifacts", {})}
        for task_name, task in dag["tasks"].items():
            for dependency in task.get("dependentTasks", []):
                assert dependency in dag["tasks"], (name, task_name, dependency)
            for kind in ("parameters", "artifacts"):
                for value in task.get("inputs", {}).get(kind, {}).values():
                    if "componentInputParameter" in value:
                        assert value["componentInputParameter"] in known, (name, value)
                    for key in ("taskOutputParameter", "taskOutputArtifact"):
                        if key in value:
                            assert value[key]["producerTask"] in dag["tasks"]
                            assert value[key]["producerTask"] in task["dependentTasks"]


# ---- loops -------------------------------------------------------------------------------------

def test_loop_over_a_list_param_with_parallel(sweep: Doc) -> None:
    group, loop = find_task(sweep, "for-loop-2")
    assert group == "comp-exit-handler-1"
    assert loop["parameterIterator"] == {
        "itemInput": "pipelinechannel--lrs-loop-item",
        "items": {"inputParameter": "pipelinechannel--lrs"}}
    assert loop["iteratorPolicy"] == {"parallelismLimit": 2}
    assert loop["inputs"]["parameters"] == {
        "pipelinechannel--lrs": {"componentInputParameter": "pipelinechannel--lrs"}}
    body = component(sweep, "for-loop-2")
    assert body["inputDefinitions"]["parameters"] == {
        "pipelinechannel--lrs": {"parameterType": "LIST"},
        "pipelinechannel--lrs-loop-item": {"parameterType": "NUMBER_DOUBLE"}}
    assert body["dag"]["tasks"]["train"]["inputs"]["parameters"] == {
        "lr": {"componentInputParameter": "pipelinechannel--lrs-loop-item"}}


def test_loop_over_a_literal_list_is_raw(control: Doc) -> None:
    _, loop = find_task(control, "for-loop-6")
    # The SDK numbers the item before the loop (loop-item-param-5, for-loop-6).
    assert loop["parameterIterator"] == {"itemInput": "pipelinechannel--loop-item-param-5",
                                         "items": {"raw": "[1, 2, 3]"}}
    assert "iteratorPolicy" not in loop and "inputs" not in loop
    assert component(control, "for-loop-6")["inputDefinitions"]["parameters"] == {
        "pipelinechannel--loop-item-param-5": {"parameterType": "NUMBER_INTEGER"}}


def test_loop_over_a_step_output(control: Doc) -> None:
    _, loop = find_task(control, "for-loop-2")
    assert loop["dependentTasks"] == ["split"]
    assert loop["parameterIterator"]["items"] == {
        "inputParameter": "pipelinechannel--split-shards"}
    assert loop["inputs"]["parameters"]["pipelinechannel--split-shards"] == {
        "taskOutputParameter": {"producerTask": "split", "outputParameterKey": "shards"}}


def test_fan_in_receives_the_collected_list(sweep: Doc) -> None:
    body = component(sweep, "for-loop-2")
    assert body["dag"]["outputs"] == {"parameters": {"pipelinechannel--train-loss": {
        "valueFromParameter": {"producerSubtask": "train", "outputParameterKey": "loss"}}}}
    assert body["outputDefinitions"] == {"parameters": {
        "pipelinechannel--train-loss": {"parameterType": "LIST"}}}
    _, pick = find_task(sweep, "pick")
    assert pick["dependentTasks"] == ["for-loop-2"]
    assert pick["inputs"]["parameters"] == {"train_loss": {"taskOutputParameter": {
        "producerTask": "for-loop-2", "outputParameterKey": "pipelinechannel--train-loss"}}}
    assert component(sweep, "pick")["inputDefinitions"] == {"parameters": {
        "train_loss": {"parameterType": "LIST"}}}
    # Inside the loop the output is a float; only the loop's DAG makes it a list.
    assert component(sweep, "train")["outputDefinitions"] == {"parameters": {
        "loss": {"parameterType": "NUMBER_DOUBLE"}}}


def test_nested_loops_pass_the_outer_item_in(control: Doc) -> None:
    group, inner = find_task(control, "for-loop-3")
    assert group == "comp-for-loop-2"
    assert inner["parameterIterator"] == {"itemInput": "pipelinechannel--lrs-loop-item",
                                          "items": {"inputParameter": "pipelinechannel--lrs"}}
    assert inner["iteratorPolicy"] == {"parallelismLimit": 2}
    assert inner["inputs"]["parameters"]["pipelinechannel--split-shards-loop-item"] == {
        "componentInputParameter": "pipelinechannel--split-shards-loop-item"}
    _, fit = find_task(control, "fit")
    assert fit["inputs"]["parameters"] == {
        "lr": {"componentInputParameter": "pipelinechannel--lrs-loop-item"},
        "shard": {"componentInputParameter": "pipelinechannel--split-shards-loop-item"}}
    # The gate inside the inner loop reads the step beside it and the param from the root.
    group, condition = group_of(control, "keep")
    assert find_task(control, group)[0] == "comp-for-loop-3"
    assert condition["dependentTasks"] == ["fit"]
    text = condition["triggerPolicy"]["condition"]
    for loss, quick in itertools.product([0.1, 0.5, 0.9], [True, False]):
        values = {"pipelinechannel--fit-loss": loss, "pipelinechannel--quick": quick}
        assert evaluate(text, values) is (loss < 0.5 and not quick)


def test_loop_over_an_outer_loops_item_and_a_gate_on_it(flow: list[Doc]) -> None:
    spec = flow[0]
    _, inner = find_task(spec, "for-loop-4")
    assert inner["parameterIterator"] == {
        "itemInput": "pipelinechannel--grid-loop-item-loop-item",
        "items": {"inputParameter": "pipelinechannel--grid-loop-item"}}
    assert inner["iteratorPolicy"] == {"parallelismLimit": 3}
    assert component(spec, "for-loop-3")["inputDefinitions"]["parameters"][
        "pipelinechannel--grid-loop-item"] == {"parameterType": "LIST"}
    _, gate = group_of(spec, "cell-step")
    text = gate["triggerPolicy"]["condition"]
    for cell, limit in itertools.product([1, 2, 3], [1, 2]):
        values = {"pipelinechannel--grid-loop-item-loop-item": cell,
                  "pipelinechannel--limit": limit}
        assert evaluate(text, values) is (cell > limit)


def test_same_list_in_nested_loops_gets_two_items() -> None:
    spec = compile_text("""
pipeline twice {
  param xs: list[int] = [1, 2]
  for a in xs { for b in xs { step s { image = "i"  command = ["s", "${a}", "${b}"] } } }
}""")[0]
    _, inner = find_task(spec, "for-loop-2")
    assert inner["parameterIterator"]["itemInput"] == "pipelinechannel--xs-loop-item-2"
    _, step = find_task(spec, "s")
    assert step["inputs"]["parameters"] == {
        "a": {"componentInputParameter": "pipelinechannel--xs-loop-item"},
        "b": {"componentInputParameter": "pipelinechannel--xs-loop-item-2"}}
    pipeline_spec(spec)


def test_artifacts_gathered_over_a_loop_are_refused() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_text("""
pipeline arts {
  for x in [1, 2] { step s { image = "i"  command = ["s", outputs.m]  output m: model } }
  step t { image = "i"  command = ["t", "${s.m}"] }
}""")
    assert [(d.code, d.message) for d in failure.value.diagnostics] == [
        ("E0401", "`t` reads `s_m`, model artifacts gathered over a loop; a Kubeflow container "
                  "sees only the first artifact of a list")]


# ---- if / else if / else ------------------------------------------------------------------------

CHAIN_GRID = {"pipelinechannel--summarize-best": [0.0, 0.5, 0.6, 0.9, 0.95, 1.0],
              "pipelinechannel--mode": ["full", "quick", ""]}


def branch_conditions(spec: Doc, wrapper: str) -> dict[str, str]:
    tasks = component(spec, wrapper)["dag"]["tasks"]
    return {name: task["triggerPolicy"]["condition"] for name, task in tasks.items()}


def test_if_elif_else_is_a_condition_branches_group(control: Doc) -> None:
    _, wrapper = find_task(control, "condition-branches-7")
    assert wrapper["dependentTasks"] == ["summarize"]
    assert "triggerPolicy" not in wrapper
    branches = branch_conditions(control, "condition-branches-7")
    assert sorted(branches) == ["condition-10", "condition-8", "condition-9"]
    assert [group_of(control, s)[0] for s in ("ship", "retune", "give-up")] == [
        "condition-8", "condition-9", "condition-10"]
    # The SDK's Elif/Else text: each branch, and the negation of every earlier one.
    first = "inputs.parameter_values['pipelinechannel--summarize-best'] > 0.9"
    second = ("inputs.parameter_values['pipelinechannel--mode'] == 'full' && "
              "inputs.parameter_values['pipelinechannel--summarize-best'] > 0.5")
    assert branches == {"condition-8": first,
                        "condition-9": f"!({first}) && ({second})",
                        "condition-10": f"!({first}) && !({second})"}


@pytest.mark.parametrize("values", [dict(zip(CHAIN_GRID, v, strict=True)) for v in
                                    itertools.product(*CHAIN_GRID.values())],
                         ids=lambda v: f"{v['pipelinechannel--summarize-best']}-"
                                       f"{v['pipelinechannel--mode'] or 'empty'}")
def test_exactly_one_branch_runs(control: Doc, values: dict[str, object]) -> None:
    branches = branch_conditions(control, "condition-branches-7")
    running = [name for name, text in branches.items() if evaluate(text, values)]
    best, mode = values["pipelinechannel--summarize-best"], values["pipelinechannel--mode"]
    assert isinstance(best, float)
    expected = ("condition-8" if best > 0.9 else "condition-9" if mode == "full" and best > 0.5
                else "condition-10")
    assert running == [expected]


def test_if_else_in_sweep_is_exclusive(sweep: Doc) -> None:
    branches = branch_conditions(sweep, "condition-branches-3")
    assert group_of(sweep, "publish")[0] == "condition-4"
    assert group_of(sweep, "alert")[0] == "condition-5"
    for best in (0.0, 0.04, 0.05, 0.06, 1.0):
        running = [n for n, t in branches.items()
                   if evaluate(t, {"pipelinechannel--pick-best": best})]
        assert running == (["condition-4"] if best < 0.05 else ["condition-5"])


def test_a_chain_a_later_step_reads_has_no_wrapper(flow: list[Doc]) -> None:
    """The wrapper always succeeds; the branch's own group is skipped with its condition."""
    spec = flow[0]
    handler = component(spec, "exit-handler-2")["dag"]["tasks"]
    assert not any(name.startswith("condition-branches") for name in handler)
    assert handler["condition-6"]["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--score-value'] > 0.5")
    assert handler["condition-7"]["triggerPolicy"]["condition"] == (
        "!(inputs.parameter_values['pipelinechannel--score-value'] > 0.5)")
    assert handler["after-good"]["dependentTasks"] == ["condition-6"]
    assert handler["after-good"]["inputs"]["parameters"]["good_tag"] == {"taskOutputParameter": {
        "producerTask": "condition-6", "outputParameterKey": "pipelinechannel--good-tag"}}


def test_if_alone_is_one_condition_group() -> None:
    spec = compile_text("""
pipeline lone {
  param n: int = 1
  if n > 0 { step s { image = "i"  command = ["s"] } }
}""")[0]
    assert set(spec["root"]["dag"]["tasks"]) == {"condition-1"}
    assert spec["root"]["dag"]["tasks"]["condition-1"]["triggerPolicy"] == {
        "condition": "int(inputs.parameter_values['pipelinechannel--n']) > 0"}


# ---- finally -------------------------------------------------------------------------------------

def test_finally_is_an_exit_task_with_the_final_status(sweep: Doc) -> None:
    tasks = sweep["root"]["dag"]["tasks"]
    assert set(tasks) == {"exit-handler-1", "notify"}
    notify = tasks["notify"]
    assert notify["triggerPolicy"] == EXIT
    assert notify["dependentTasks"] == ["exit-handler-1"]  # [0] is the status's producer
    assert notify["inputs"]["parameters"] == {"pipeline_status": {
        "taskFinalStatus": {"producerTask": "exit-handler-1"}}}
    assert component(sweep, "notify")["inputDefinitions"] == {"parameters": {
        "pipeline_status": {"parameterType": "TASK_FINAL_STATUS", "isOptional": True}}}
    main = component(sweep, "exit-handler-1")["dag"]["tasks"]
    assert set(main) == {"for-loop-2", "pick", "condition-branches-3"}


def test_finally_of_several_steps_is_one_exit_dag_inside_the_data_sets(flow: list[Doc]) -> None:
    spec = flow[0]
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"createpvc-data", "exit-handler-1", "deletepvc-data"}
    assert root["deletepvc-data"]["triggerPolicy"] == EXIT
    # The claim outlives the finally block: its handler holds the finally's handler and DAG.
    outer = component(spec, "exit-handler-1")["dag"]["tasks"]
    assert set(outer) == {"exit-handler-2", "finally-8"}
    exit_dag = outer["finally-8"]
    assert exit_dag["triggerPolicy"] == EXIT
    assert exit_dag["dependentTasks"] == ["exit-handler-2"]
    assert exit_dag["inputs"]["parameters"]["pipelinechannel--pipeline-status"] == {
        "taskFinalStatus": {"producerTask": "exit-handler-2"}}
    inside = component(spec, "finally-8")
    assert inside["inputDefinitions"]["parameters"]["pipelinechannel--pipeline-status"] == {
        "parameterType": "TASK_FINAL_STATUS"}
    assert inside["dag"]["tasks"]["first"]["inputs"]["parameters"] == {"pipeline_status": {
        "componentInputParameter": "pipelinechannel--pipeline-status"}}
    assert inside["dag"]["tasks"]["condition-9"]["dependentTasks"] == ["first"]


def test_a_gated_lone_finally_step_makes_its_group_the_exit_task() -> None:
    spec = compile_text("""
pipeline gated {
  param loud: bool = true
  step s { image = "i"  command = ["s"] }
  finally { step n when loud { image = "i"  command = ["n", "${pipeline.status}"] } }
}""")[0]
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"exit-handler-1", "condition-2"}
    assert tasks["condition-2"]["triggerPolicy"] == {
        **EXIT, "condition": "inputs.parameter_values['pipelinechannel--loud']"}
    assert tasks["condition-2"]["inputs"]["parameters"]["pipelinechannel--pipeline-status"] == {
        "taskFinalStatus": {"producerTask": "exit-handler-1"}}
    pipeline_spec(spec)


# ---- against the SDK: sweep written with dsl.ParallelFor, Collected, If/Else, ExitHandler ---

@dsl.container_component
def train(lr: float, loss: dsl.OutputPath(float)):  # type: ignore[no-untyped-def,valid-type]
    return dsl.ContainerSpec(image="pytorch:latest", command=[
        "python", "train.py", "--lr", lr, "--loss-out", loss])


@dsl.container_component
def pick(train_loss: list, best: dsl.OutputPath(float)):  # type: ignore[no-untyped-def,valid-type]
    return dsl.ContainerSpec(image="python:3.12", command=[
        "python", "pick.py", "--losses", train_loss])


@dsl.container_component
def publish():  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="python:3.12", command=["python", "publish.py"])


@dsl.container_component
def alert():  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="curlimages/curl",
                             command=["curl", "-d", "poor sweep", "http://alerts"])


@dsl.container_component
def notify(pipeline_status: dsl.PipelineTaskFinalStatus):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="curlimages/curl",
                             command=["curl", "-d", pipeline_status, "http://hooks/done"])


@dsl.pipeline(name="sweep")
def sdk_sweep(lrs: list[float] = [0.1, 0.01, 0.001]) -> None:  # noqa: B006 - kfp reads it
    exit_task = notify().set_caching_options(False)
    with dsl.ExitHandler(exit_task):
        with dsl.ParallelFor(lrs, parallelism=2) as lr:
            trained = (train(lr=lr).set_caching_options(False)
                       .set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1))
        picked = pick(train_loss=dsl.Collected(trained.outputs["loss"])).set_caching_options(False)
        with dsl.If(picked.outputs["best"] < 0.05):
            publish().set_caching_options(False)
        with dsl.Else():
            alert().set_caching_options(False)


def test_sweep_matches_the_sdk(tmp_path: Path) -> None:
    out = tmp_path / "sweep.yaml"
    compiler.Compiler().compile(sdk_sweep, str(out))
    theirs = canonical(yaml_documents(out.read_text())[0])
    ours_doc = without_prefixes(compile_path(EXAMPLES_DIR / "sweep.cnai")[0])
    # Deliberate difference: the status goes through the prefix, which turns KFP's struct into
    # Argo's word (test_runtime_contract_kfp.py); the SDK passes the struct's JSON.
    notify = ours_doc["deploymentSpec"]["executors"]["exec-notify"]["container"]
    assert notify["command"][2] == "%CNAI_PIPELINE_STATUS%"
    notify["command"][2] = "{{$.inputs.parameters['pipeline_status']}}"
    ours = canonical(ours_doc)
    for doc in (ours, theirs):
        doc.pop("sdkVersion")
    conditions: list[dict[str, Any]] = []
    for doc in (ours, theirs):
        found = {}
        for _, dag in dags(doc):
            for name, task in dag["tasks"].items():
                if "condition" in task.get("triggerPolicy", {}):
                    found[name] = task["triggerPolicy"].pop("condition")
                    if not task["triggerPolicy"]:
                        del task["triggerPolicy"]
        conditions.append(found)
    assert ours == theirs
    ours_conditions, sdk_conditions = conditions
    assert ours_conditions.keys() == sdk_conditions.keys() == {"condition-4", "condition-5"}
    for best in (0.0, 0.05, 0.5):  # the SDK writes 0.05 as we do; compare the meaning anyway
        for name in ours_conditions:
            values = {"pipelinechannel--pick-best": best}
            assert evaluate(ours_conditions[name], values) is evaluate(sdk_conditions[name],
                                                                       values)


ALL_SOURCES = sorted([*EXAMPLES_DIR.glob("*.cnai"), *(ROOT / "tests" / "fixtures").rglob("*.cnai")])


@pytest.mark.parametrize("source", ALL_SOURCES,
                         ids=[str(p.relative_to(ROOT)) for p in ALL_SOURCES])
@pytest.mark.parametrize("target", ["kfp", "argo"])
def test_every_file_compiles_or_gets_diagnostics(source: Path, target: str) -> None:
    # Whatever the file, the compiler either emits documents or reports errors in the input:
    # never an exception (the CLI's "internal error"). A folded `if 2 > 1` once crashed KFP.
    try:
        result = compile_file(source, target)
    except CompileFailed as failed:
        assert any(d.severity == "error" for d in failed.diagnostics)
        return
    documents = yaml_documents(result.text)
    if target == "kfp":
        pipeline_spec(documents[0])
        if len(documents) > 1:
            platform_spec(documents[1])


def test_a_folded_always_true_if_runs_its_steps_unconditionally() -> None:
    (spec, *_) = compile_path(ROOT / "tests" / "fixtures" / "passes" / "fold_constant_gates.cnai")
    root = spec["root"]["dag"]["tasks"]
    assert "taken" in root and "triggerPolicy" not in root["taken"]
    assert "dead" not in str(spec)
