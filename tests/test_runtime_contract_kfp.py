"""The runtime contract on Kubeflow, executed: the compiled container command, its placeholders
filled in as KFP fills them, run under POSIX shells with cnai_runtime (runtime_images/sdk) on
the path; what the step writes lands where KFP reads its outputs.

How KFP fills placeholders (kubeflow/pipelines at 7b70c7b): the driver replaces
``{{$.inputs.parameters['x']}}`` in every argument that does not mention ``$.outputs``
(backend/src/v2/driver/util.go, resolveContainerArgs: numbers with Go's ``%d`` / ``%g``, lists
and structs as compact JSON with sorted keys); the launcher then replaces what is left, output
paths included, with plain string replacement (backend/src/v2/component/launcher_v2.go).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cnai import compile_file, compile_source
from test_kfp_support import step_command
from testpaths import EXAMPLES, ROOT

SDK = ROOT / "runtime_images" / "sdk"
SHELLS = [shell for shell in ("dash", "bash", "busybox") if shutil.which(shell)]
PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")


def shell_command(shell: str) -> list[str]:
    return {"busybox": ["busybox", "sh"], "bash": ["bash", "--posix"]}.get(shell, [shell])


def driver_text(value: Any) -> str:
    """A parameter value as KFP's driver renders it into an argument (pbValueToString)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)  # Go's %g with the shortest precision, for these values
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def substitute(command: list[str], parameters: dict[str, Any], paths: dict[str, str]) -> list[str]:
    """``command`` with every placeholder filled in: parameters by the driver (in arguments
    that name no output), then everything by the launcher."""
    filled = []
    for arg in command:
        if "$.outputs" not in arg:
            arg = PARAMETER.sub(lambda m: driver_text(parameters[m.group(1)]), arg)
        for name, value in parameters.items():
            arg = arg.replace(f"{{{{$.inputs.parameters['{name}']}}}}", driver_text(value))
        for placeholder, path in paths.items():
            arg = arg.replace(placeholder, path)
        assert "{{$" not in arg, arg
        filled.append(arg)
    return filled


def with_own_command(command: list[str], own: list[str]) -> list[str]:
    """The compiled command with the step's own command (after the prefix) replaced."""
    mine = step_command(command)
    return command[:len(command) - len(mine)] + own


def run(command: list[str], shell: str = "dash", **env: str) -> subprocess.CompletedProcess[str]:
    assert command[0] == "sh"
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SDK), **env}
    return subprocess.run([*shell_command(shell), *command[1:]], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def executor(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return documents[0]["deploymentSpec"]["executors"][f"exec-{name}"]["container"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def seed() -> list[dict[str, Any]]:
    return compile_file(EXAMPLES / "model_pipeline.cnai", "kfp").documents


# ---- the seed's steps, as the brief's users run them -----------------------------------------

def test_evaluate_writes_its_parameter_output_where_kfp_reads_it(
        seed: list[dict[str, Any]], tmp_path: Path) -> None:
    model = tmp_path / "minio" / "train" / "model"
    model.parent.mkdir(parents=True)
    model.write_text("weights")
    accuracy = tmp_path / "tmp" / "outputs" / "accuracy" / "data"
    accuracy.parent.mkdir(parents=True)  # the launcher makes each output's directory
    code = ("from cnai_runtime import input_path, output\n"
            "assert input_path('train_model').read_text() == 'weights'\n"
            "output('accuracy', 0.93)\n")
    command = with_own_command(executor(seed, "evaluate")["command"],
                               [sys.executable, "-c", code])
    filled = substitute(command, {}, {
        "{{$.inputs.artifacts['train_model'].path}}": str(model),
        "{{$.outputs.parameters['accuracy'].output_file}}": str(accuracy)})
    result = run(filled)
    assert result.returncode == 0, result.stderr
    assert accuracy.read_text() == "0.93"
    # The step's own command names the same file as CNAI_OUTPUTS.
    own = substitute(step_command(executor(seed, "evaluate")["command"]), {}, {
        "{{$.inputs.artifacts['train_model'].path}}": str(model),
        "{{$.outputs.parameters['accuracy'].output_file}}": str(accuracy)})
    assert own == ["python", "evaluate.py", "--model", str(model), "--out", str(accuracy)]


def test_train_reads_its_parameter_input_and_writes_its_artifact(
        seed: list[dict[str, Any]], tmp_path: Path) -> None:
    model = tmp_path / "minio" / "run-1" / "train" / "model"
    code = ("from cnai_runtime import input_value, output_path\n"
            "assert input_value('epochs', int) == 90\n"
            "output_path('model').write_text('weights')\n")
    command = with_own_command(executor(seed, "train")["command"],
                               [sys.executable, "-c", code])
    result = run(substitute(command, {"epochs": 90},
                            {"{{$.outputs.artifacts['model'].path}}": str(model)}))
    assert result.returncode == 0, result.stderr
    assert model.read_text() == "weights"


def test_the_prefix_is_cnai_runtimes_reference_form(seed: list[dict[str, Any]]) -> None:
    sys.path.insert(0, str(SDK))
    try:
        from cnai_runtime.contract import kfp_command
    finally:
        sys.path.remove(str(SDK))
    train = executor(seed, "train")["command"]
    assert train == kfp_command(step_command(train), {"model": "artifact"}, ["epochs"])
    evaluate = executor(seed, "evaluate")["command"]
    assert evaluate == kfp_command(step_command(evaluate), {"accuracy": "parameter"}, [],
                                   ["train_model"])


def test_steps_that_pass_nothing_keep_their_command(seed: list[dict[str, Any]]) -> None:
    # validate reads only the data set's path, a literal: images without sh still run it.
    assert executor(seed, "validate")["command"][:2] == ["python", "validate.py"]


@pytest.mark.parametrize("shell", SHELLS)
def test_exit_status_and_awkward_values_pass_through(seed: list[dict[str, Any]], shell: str,
                                                     tmp_path: Path) -> None:
    text = "it's \"quoted\" $HOME `x` \\ and\na newline"
    code = ("import os, sys\n"
            "assert os.environ['CNAI_INPUT_EPOCHS'] == sys.argv[1], sys.argv\n"
            "sys.exit(7)\n")
    command = with_own_command(executor(seed, "train")["command"],
                               [sys.executable, "-c", code, "{{$.inputs.parameters['epochs']}}"])
    result = run(substitute(command, {"epochs": text},
                            {"{{$.outputs.artifacts['model'].path}}": str(tmp_path / "m")}), shell)
    assert result.returncode == 7, result.stderr


# ---- pipeline.status --------------------------------------------------------------------------

def final_status(state: str, spaced: bool = False) -> str:
    """PipelineTaskFinalStatus as text: the driver's compact JSON, or protojson's (which may put
    a space after a colon) as the launcher renders it."""
    struct = {"error": {}, "pipelineJobResourceName": 'run "state":"COMPLETE"',
              "pipelineTaskName": "exit-handler-1", "state": state}
    return json.dumps(struct, separators=(",", ": ") if spaced else (",", ":"))


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("state", "word"), [
    ("COMPLETE", "Succeeded"), ("FAILED", "Failed"), ("CANCELED", "Failed"),
    ("SUCCEEDED", "Succeeded"), ("CANCELLED", "Failed"), ("RUNNING", "Error"), ("", "Error")])
def test_pipeline_status_reads_like_argos(shell: str, state: str, word: str,
                                          tmp_path: Path) -> None:
    documents = compile_file(EXAMPLES / "sweep.cnai", "kfp").documents
    command = executor(documents, "notify")["command"]
    assert step_command(command) == ["curl", "-d", "%CNAI_PIPELINE_STATUS%", "http://hooks/done"]
    out = tmp_path / "seen"
    code = ("import os, sys\n"
            f"open({str(out)!r}, 'w').write(os.environ['CNAI_INPUT_PIPELINE_STATUS'] + '|' "
            "+ '|'.join(sys.argv[1:]))\n")
    own = [sys.executable, "-c", code, "%CNAI_PIPELINE_STATUS%", "was %CNAI_PIPELINE_STATUS%!",
           "x%CNAI_PIPELINE_STATUS%%CNAI_PIPELINE_STATUS%y", "plain"]
    for spaced in (False, True):
        status = final_status(state, spaced)
        filled = substitute(with_own_command(command, own), {"pipeline_status": status}, {})
        result = run(filled, shell)
        assert result.returncode == 0, result.stderr
        assert out.read_text() == f"{word}|{word}|was {word}!|x{word}{word}y|plain"


# ---- environment values with references, fixed-path outputs ------------------------------------

REFERENCES = """
pipeline refs {
  param who: string = "world"
  param n: int = 3
  step make {
    image = "python:3.12"
    command = ["python", "make.py"]
    env { GREETING = "hello ${who}, ${n} times"  PLAIN = "as is" }
    output score: float at "/tmp/cnai-fixed/score"
    output model: model at "/tmp/cnai-fixed/model"
  }
  step read { image = "python:3.12"  command = ["python", "read.py", "${make.score}"] }
}
"""


@pytest.fixture(scope="module")
def refs() -> dict[str, Any]:
    return executor(compile_source(REFERENCES, "refs.cnai", "kfp").documents, "make")


def test_env_references_are_exported_by_the_prefix(refs: dict[str, Any]) -> None:
    assert refs["env"] == [{"name": "PLAIN", "value": "as is"}]
    assert refs["command"][4:11] == [
        '{"score":"/tmp/cnai-fixed/score","model":"/tmp/cnai-fixed/model"}', "{}",
        "{{$.inputs.parameters['who']}}", "{{$.inputs.parameters['n']}}",
        "hello {{$.inputs.parameters['who']}}, {{$.inputs.parameters['n']}} times",
        "/tmp/cnai-fixed/score", "{{$.outputs.parameters['score'].output_file}}"]
    assert 'GREETING="${5}"' in refs["command"][2]


@pytest.mark.parametrize("shell", SHELLS)
def test_fixed_path_outputs_are_copied_where_kfp_reads_them(refs: dict[str, Any], shell: str,
                                                           tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    score, model = tmp_path / "kfp" / "score", tmp_path / "kfp" / "model"
    score.parent.mkdir()
    command = [arg.replace("/tmp/cnai-fixed", str(fixed)) for arg in refs["command"]]
    paths = {"{{$.outputs.parameters['score'].output_file}}": str(score),
             "{{$.outputs.artifacts['model'].path}}": str(model)}
    code = ("import os, sys\n"
            "from cnai_runtime import output, output_path\n"
            "assert os.environ['GREETING'] == 'hello world, 3 times'\n"
            "output('score', 0.5)\n"
            "output_path('model').mkdir()\n"
            "(output_path('model') / 'weights').write_text('w')\n"
            "sys.exit(int(sys.argv[1]))\n")
    filled = substitute(with_own_command(command, [sys.executable, "-c", code, "0"]),
                        {"who": "world", "n": 3}, paths)
    result = run(filled, shell)
    assert result.returncode == 0, result.stderr
    assert score.read_text() == "0.5"
    assert (model / "weights").read_text() == "w"
    # A failing command keeps its status, and nothing is copied.
    shutil.rmtree(fixed)
    score.unlink()
    filled = substitute(with_own_command(command, [sys.executable, "-c", code, "3"]),
                        {"who": "world", "n": 3}, paths)
    assert run(filled, shell).returncode == 3
    assert not score.exists()
    # A command that succeeds without writing its fixed output fails the step.
    shutil.rmtree(fixed)
    filled = substitute(with_own_command(command, ["true"]), {"who": "world", "n": 3}, paths)
    result = run(filled, shell)
    assert result.returncode == 1
    assert "an output at a fixed path was not written" in result.stderr
