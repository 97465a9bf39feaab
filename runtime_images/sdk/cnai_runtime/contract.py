"""Reference form of what the compiler emits so that cnai_runtime works on each engine.

runtime_images/README.md ("Contract with the compiler") is the specification; these
functions produce exactly what it describes, and the tests run their output.

Argo Workflows substitutes ``{{...}}`` in environment variables, so a step gets plain
env vars. Kubeflow Pipelines substitutes placeholders only in the command and args, so
the command starts with a POSIX ``sh`` prefix that exports the same variables from
positional arguments and then ``exec``\\s the step's own command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cnai_runtime.paths import (
    DEFAULT_INPUTS_DIR,
    DEFAULT_OUTPUTS_DIR,
    INPUTS_DIR_ENV,
    INPUTS_ENV,
    OUTPUTS_DIR_ENV,
    OUTPUTS_ENV,
    check_name,
    input_env_name,
)

OUTPUTS_VOLUME = "cnai-outputs"
PARAMETER = "parameter"
ARTIFACT = "artifact"


def argo_env(parameter_inputs: Sequence[str]) -> list[dict[str, str]]:
    """The ``env`` entries of an Argo step container."""
    env = [
        {"name": OUTPUTS_DIR_ENV, "value": DEFAULT_OUTPUTS_DIR},
        {"name": INPUTS_DIR_ENV, "value": DEFAULT_INPUTS_DIR},
    ]
    env += [
        {"name": input_env_name(name), "value": f"{{{{inputs.parameters.{name}}}}}"}
        for name in parameter_inputs
    ]
    return env


def argo_output_path(name: str) -> str:
    """``valueFrom.path`` of an output parameter, ``path`` of an output artifact."""
    return f"{DEFAULT_OUTPUTS_DIR}/{check_name(name)}"


def argo_input_artifact_path(name: str) -> str:
    return f"{DEFAULT_INPUTS_DIR}/{check_name(name)}"


def kfp_output_placeholder(name: str, kind: str) -> str:
    if kind == PARAMETER:
        return f"{{{{$.outputs.parameters['{check_name(name)}'].output_file}}}}"
    if kind == ARTIFACT:
        return f"{{{{$.outputs.artifacts['{check_name(name)}'].path}}}}"
    raise ValueError(f"output kind must be {PARAMETER!r} or {ARTIFACT!r}, got {kind!r}")


def kfp_command(
    command: Sequence[str],
    outputs: Mapping[str, str],
    parameter_inputs: Sequence[str] = (),
    artifact_inputs: Sequence[str] = (),
) -> list[str]:
    """The full KFP container command: the ``sh`` prefix, then ``command``.

    ``outputs`` maps each declared output name to ``"parameter"`` or ``"artifact"``.
    Positional arguments: ``$1`` the CNAI_OUTPUTS JSON, ``$2`` the CNAI_INPUTS JSON,
    ``$3``... one per parameter input, in the given order. ``$0`` is ``cnai-step``.
    """
    output_map = {name: kfp_output_placeholder(name, kind) for name, kind in outputs.items()}
    input_map = {
        check_name(name): f"{{{{$.inputs.artifacts['{name}'].path}}}}" for name in artifact_inputs
    }
    exports = [f'{OUTPUTS_ENV}="${{1}}"', f'{INPUTS_ENV}="${{2}}"']
    exports += [
        f'{input_env_name(name)}="${{{index}}}"'
        for index, name in enumerate(parameter_inputs, start=3)
    ]
    shifts = 2 + len(parameter_inputs)
    script = f'export {" ".join(exports)}; shift {shifts}; exec "$@"'
    return [
        "sh",
        "-c",
        script,
        "cnai-step",
        json.dumps(output_map, separators=(",", ":")),
        json.dumps(input_map, separators=(",", ":")),
        *[f"{{{{$.inputs.parameters['{name}']}}}}" for name in parameter_inputs],
        *command,
    ]
