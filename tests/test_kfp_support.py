"""Helpers for the Kubeflow target's tests: strict parsing with kfp's own protos, and CEL
evaluation the way KFP's driver binds a condition's inputs. Plus tests of the emulation itself.

The protos come from kfp-pipeline-spec and kfp-kubernetes; they are imported here, in tests
only: the compiler never imports kfp (its package init alone takes ~0.9 s).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from cnai import compile_file, compile_source
from cnai.context import Options

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kfp"
EXAMPLES_DIR = ROOT / "examples"

Doc = dict[str, Any]


# ---- compiling and parsing ---------------------------------------------------------------

def compile_path(path: Path, options: Options | None = None) -> list[Doc]:
    return compile_file(path, "kfp", options).documents


def compile_text(text: str, options: Options | None = None) -> list[Doc]:
    return compile_source(text, "test.cnai", "kfp", options).documents


def yaml_documents(text: str) -> list[Doc]:
    return list(yaml.safe_load_all(text))


def pipeline_spec(doc: Doc) -> pipeline_spec_pb2.PipelineSpec:
    """The document as kfp-pipeline-spec's PipelineSpec; an unknown field is an error. Its
    ``deploymentSpec`` is a Struct there, so it is also parsed as PipelineDeploymentConfig."""
    json_format.ParseDict(doc["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig(),
                          ignore_unknown_fields=False)
    return json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec(),
                                 ignore_unknown_fields=False)


def platform_spec(doc: Doc) -> dict[str, kubernetes_executor_config_pb2.KubernetesExecutorConfig]:
    """The platform document as PlatformSpec, and each executor's config as kfp-kubernetes'
    KubernetesExecutorConfig (PlatformSpec keeps them as Structs); unknown fields are errors."""
    platform = json_format.ParseDict(doc, pipeline_spec_pb2.PlatformSpec(),
                                     ignore_unknown_fields=False)
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    return {name: json_format.ParseDict(json_format.MessageToDict(config),
                                        kubernetes_executor_config_pb2.KubernetesExecutorConfig(),
                                        ignore_unknown_fields=False)
            for name, config in executors.items()}


def step_command(command: list[str]) -> list[str]:
    """A container command without the runtime contract's ``sh`` prefix (kfp_contract.py),
    i.e. the step's own command; test_runtime_contract_kfp.py checks the prefix itself."""
    if command[:2] != ["sh", "-c"] or len(command) < 4 or command[3] != "cnai-step":
        return command
    shift = re.search(r"\bshift (\d+)", command[2])
    assert shift is not None, command[2]
    return command[4 + int(shift.group(1)):]


def without_prefixes(spec: Doc) -> Doc:
    """A copy of a PipelineSpec document whose executors run their steps' own commands."""
    spec = copy.deepcopy(spec)
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        if "command" in container:
            container["command"] = step_command(container["command"])
    return spec


def canonical(doc: Doc) -> Doc:
    """A PipelineSpec document as protobuf reads it: defaults dropped, numbers as doubles."""
    return json_format.MessageToDict(pipeline_spec(doc))


# ---- walking a spec ------------------------------------------------------------------------

def dags(spec: Doc) -> Iterator[tuple[str, Doc]]:
    """(component name, DAG) for the root and every DAG component."""
    yield "root", spec["root"]["dag"]
    for name, component in sorted(spec["components"].items()):
        if "dag" in component:
            yield name, component["dag"]


def find_task(spec: Doc, task: str) -> tuple[str, Doc]:
    """(the component whose DAG holds ``task``, the task's spec)."""
    for component, dag in dags(spec):
        if task in dag["tasks"]:
            return component, dag["tasks"][task]
    raise KeyError(task)


def group_of(spec: Doc, task: str) -> tuple[str, Doc]:
    """(the name of the group task that holds ``task``, that group task's spec)."""
    component, _ = find_task(spec, task)
    group = component.removeprefix("comp-")
    return group, find_task(spec, group)[1]


# ---- CEL, as KFP's driver evaluates a condition --------------------------------------------

_ENV = celpy.Environment()


def driver_value(value: object) -> celtypes.Value:
    """A parameter value as the driver hands it to CEL: a google.protobuf.Value. KFP stores
    NUMBER_INTEGER and NUMBER_DOUBLE alike as a number, i.e. a double
    (backend/src/v2/metadata/converter.go, TextToPbValue), strings as strings, bools as bools."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, (int, float)):
        return celtypes.DoubleType(float(value))
    if isinstance(value, dict):  # a STRUCT (a record), read by CEL as a map
        return celtypes.MapType({celtypes.StringType(k): driver_value(v)
                                 for k, v in value.items()})
    if isinstance(value, list):
        return celtypes.ListType([driver_value(v) for v in value])
    assert isinstance(value, str)
    return celtypes.StringType(value)


def evaluate(condition: str, values: Mapping[str, object]) -> bool:
    """Evaluate ``condition`` over ``inputs.parameter_values`` as KFP's driver binds it
    (backend/src/v2/expression/expression.go, Condition: the ExecutorInput's fields are the
    CEL variables); raises on a CEL error or a non-bool result, as the driver fails then."""
    program = _ENV.program(_ENV.compile(condition))
    parameter_values = celtypes.MapType(
        {celtypes.StringType(k): driver_value(v) for k, v in values.items()})
    result = program.evaluate(
        {"inputs": celtypes.MapType({celtypes.StringType("parameter_values"): parameter_values})})
    if not isinstance(result, celtypes.BoolType):
        raise TypeError(f"condition gave {result!r}, not a bool")
    return bool(result)


def compiles(condition: str) -> bool:
    try:
        _ENV.compile(condition)
    except celpy.CELParseError:
        return False
    return True


# ---- the emulation itself --------------------------------------------------------------------

def test_numbers_reach_cel_as_doubles() -> None:
    # Why our int comparisons cast: without it an int channel is a double to CEL.
    assert evaluate("int(inputs.parameter_values['n']) == 3", {"n": 3})
    assert evaluate("inputs.parameter_values['n'] == 3.0", {"n": 3})
    with pytest.raises(celpy.CELEvalError):  # cel-python has no double == int overload
        evaluate("inputs.parameter_values['n'] == 3", {"n": 3})


def test_a_non_bool_condition_is_an_error() -> None:
    with pytest.raises(TypeError):
        evaluate("inputs.parameter_values['s']", {"s": "yes"})
