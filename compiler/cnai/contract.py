"""What every stage agrees on, with no stage of its own: where a step finds its inputs and
writes its outputs, how a value is written as text, and the names of the variables that tell
a step's code where those are (runtime_images/README.md, "Value encoding" and "Contract").

A leaf: it imports nothing from cnai but the IR's data classes (semantics/ir.py, itself a
leaf), so the checker (semantics/), the backends, the local runner (local/) and `cnai submit`
(submit/) all read it without pointing at one another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from cnai.semantics import ir

OUTPUTS_DIR = "/cnai/outputs"
INPUTS_DIR = "/cnai/inputs"
OUTPUTS_DIR_ENV = "CNAI_OUTPUTS_DIR"  # where the step writes outputs.NAME
INPUTS_DIR_ENV = "CNAI_INPUTS_DIR"  # where the step finds its input artifacts
INPUT_ENV_PREFIX = "CNAI_INPUT_"  # one variable per parameter input
# ---- records and metrics (#18) ----
# Where cnai_runtime merges metrics metadata on Kubeflow: the launcher reads this file after
# the command and copies each artifact's `metadata` into ML Metadata, which the UI shows
# (backend/src/v2/component/launcher_v2.go: OutputMetadataFilepath, getExecutorOutputFile,
# mergeRuntimeArtifacts in uploadOutputArtifacts).
OUTPUT_METADATA_ENV = "CNAI_OUTPUT_METADATA"
KFP_OUTPUT_METADATA = "/tmp/kfp_outputs/output_metadata.json"
METRICS_TYPES = ("metrics", "classification_metrics")


def input_env_name(name: str) -> str:
    """The variable cnai_runtime reads a parameter input from (runtime_images/README.md)."""
    return INPUT_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def output_path(name: str, fixed: str | None = None) -> str:
    """Where a step writes output ``name``: its fixed path, or /cnai/outputs/NAME."""
    return fixed or f"{OUTPUTS_DIR}/{name}"


def input_path(name: str) -> str:
    """Where a step finds input artifact ``name``."""
    return f"{INPUTS_DIR}/{name}"


def param_text(value: Any) -> str:
    """A value as a step, Argo and our runtime read it: ints in decimal, floats as Python's
    shortest ``repr``, ``true``/``false``, strings as they are, lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def contract_parameters(step: ir.Step) -> list[ir.Input]:
    """The parameter inputs the runtime contract hands the step's code as ``CNAI_INPUT_*``:
    not the literal words dedupe_templates lifts into a shared template's arguments (``arg3``),
    which only fill the command's text and are nothing the code reads."""
    return [i for i in step.inputs
            if not i.type.is_artifact and not isinstance(i.source, ir.Literal_)]


def runtime_env(step: ir.Step, parameter: Callable[[str], str]) -> list[dict[str, Any]]:
    """What cnai_runtime needs to find the step's inputs and outputs: the directories, and
    each parameter input's value (``parameter`` renders the engine's placeholder, or the
    value itself for the local runner)."""
    env: list[dict[str, Any]] = []
    if step.outputs:
        env.append({"name": OUTPUTS_DIR_ENV, "value": OUTPUTS_DIR})
    if any(i.type.is_artifact for i in step.inputs):
        env.append({"name": INPUTS_DIR_ENV, "value": INPUTS_DIR})
    env += [{"name": input_env_name(i.name), "value": parameter(i.name)}
            for i in contract_parameters(step)]
    return env


def logs_metrics(step: ir.Step) -> bool:
    """Whether the step has a metrics output, whose values cnai_runtime logs."""
    return any(o.type.name in METRICS_TYPES for o in step.outputs)
