"""The compiler contract, executed: the same user code under Argo's env and KFP's sh prefix.

Placeholders are substituted the way each engine does it (Argo: in env values; KFP: by
string replacement in every command element after the first), then the step runs for
real in a subprocess and its output files are compared.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cnai_runtime.contract import (
    argo_env,
    argo_input_artifact_path,
    argo_output_path,
    kfp_command,
)
from cnai_testkit.procs import clean_env

USER_CODE = """
from cnai_runtime import input_path, input_value, output, output_path
epochs = input_value("epochs", int)
note = input_value("note")
data = input_path("data").read_text()
output("accuracy", 0.93)
output("summary", f"{epochs} epochs on {data}: {note}")
output("losses", [0.5, 0.25])
model = output_path("model")
model.mkdir()
(model / "weights.bin").write_bytes(b"w" * epochs)
"""
NOTE = """it's "quoted" $HOME `date`; rm -rf / \\n"""
OUTPUTS = {
    "accuracy": "parameter",
    "summary": "parameter",
    "losses": "parameter",
    "model": "artifact",
}
EXPECTED = {
    "accuracy": "0.93",
    "losses": "[0.5,0.25]",
    "summary": f"90 epochs on imagenet-v1: {NOTE}",
}


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "inputs" / "data"
    path.parent.mkdir(parents=True)
    path.write_text("imagenet-v1")
    return path


def _check(files: dict[str, Path]) -> None:
    for name, text in EXPECTED.items():
        assert files[name].read_text() == text, name
    assert (files["model"] / "weights.bin").read_bytes() == b"w" * 90


def test_argo_environment(tmp_path: Path) -> None:
    data = _data(tmp_path)
    values = {"epochs": "90", "note": NOTE}
    env = {}
    for item in argo_env(["epochs", "note"]):
        # Argo substitutes {{inputs.parameters.x}} inside env values.
        env[item["name"]] = re.sub(
            r"\{\{inputs\.parameters\.(\w+)\}\}", lambda m: values[m.group(1)], item["value"]
        )
    assert env["CNAI_OUTPUTS_DIR"] == "/cnai/outputs" and env["CNAI_INPUTS_DIR"] == "/cnai/inputs"
    env["CNAI_OUTPUTS_DIR"] = str(tmp_path / "outputs")  # the emptyDir mount, here
    env["CNAI_INPUTS_DIR"] = str(data.parent)
    run = subprocess.run(
        [sys.executable, "-c", USER_CODE],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    _check({name: tmp_path / "outputs" / name for name in OUTPUTS})
    assert argo_output_path("accuracy") == "/cnai/outputs/accuracy"
    assert argo_input_artifact_path("data") == "/cnai/inputs/data"


def test_kfp_command_prefix(tmp_path: Path) -> None:
    data = _data(tmp_path)
    command = kfp_command([sys.executable, "-c", USER_CODE], OUTPUTS, ["epochs", "note"], ["data"])
    assert command[:4] == [
        "sh", "-c",
        'export CNAI_OUTPUTS="${1}" CNAI_INPUTS="${2}" CNAI_INPUT_EPOCHS="${3}" '
        'CNAI_INPUT_NOTE="${4}"; shift 4; exec "$@"',
        "cnai-step",
    ]  # fmt: skip
    assert json.loads(command[4])["model"] == "{{$.outputs.artifacts['model'].path}}"
    assert command[6:8] == ["{{$.inputs.parameters['epochs']}}", "{{$.inputs.parameters['note']}}"]

    # What the KFP launcher resolves each placeholder to.
    kfp_root = tmp_path / "kfp"
    resolved = {
        "{{$.inputs.parameters['epochs']}}": "90",
        "{{$.inputs.parameters['note']}}": NOTE,
        "{{$.inputs.artifacts['data'].path}}": str(data),
        "{{$.outputs.artifacts['model'].path}}": str(kfp_root / "minio/mlpipeline/run-1/model"),
    }
    for name, kind in OUTPUTS.items():
        if kind == "parameter":
            resolved[f"{{{{$.outputs.parameters['{name}'].output_file}}}}"] = str(
                kfp_root / "tmp/outputs" / name / "data"
            )
    final = [command[0]]
    for arg in command[1:]:
        for placeholder, value in resolved.items():
            arg = arg.replace(placeholder, value)
        final.append(arg)
    assert not any("{{$" in arg for arg in final)

    run = subprocess.run(
        final, env=clean_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert run.returncode == 0, run.stderr
    files = {
        name: Path(
            resolved[
                f"{{{{$.outputs.parameters['{name}'].output_file}}}}"
                if kind == "parameter"
                else f"{{{{$.outputs.artifacts['{name}'].path}}}}"
            ]
        )
        for name, kind in OUTPUTS.items()
    }
    _check(files)
    assert not (tmp_path / "cnai").exists()


def test_kfp_prefix_without_inputs_passes_the_exit_code_through(tmp_path: Path) -> None:
    code = "import sys, os; sys.exit(len(os.environ['CNAI_OUTPUTS']))"
    command = kfp_command([sys.executable, "-c", code], {})
    run = subprocess.run(
        command, env=clean_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert run.returncode == len("{}")
