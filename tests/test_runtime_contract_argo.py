"""The runtime helper (runtime_images/sdk) and the compiled pipelines agree: what
``cnai_runtime.output`` writes is where, and in the format, the emitted Workflow reads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from cnai import compile_file
from testpaths import EXAMPLES, ROOT

SDK = ROOT / "runtime_images" / "sdk"


def argo_template(name: str) -> dict[str, Any]:
    (doc,) = yaml.safe_load_all(compile_file(EXAMPLES / "model_pipeline.cnai", "argo").text)
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def run_as_step(template: dict[str, Any], root: Path, inputs: dict[str, str], code: str) -> None:
    """Run ``code`` with the container's environment, its paths moved under ``root`` and
    its ``{{inputs.parameters.x}}`` placeholders filled in as Argo would."""
    env = dict(os.environ, PYTHONPATH=str(SDK))
    for var in template["container"].get("env", []):
        value = var["value"]
        for name, text in inputs.items():
            value = value.replace(f"{{{{inputs.parameters.{name}}}}}", text)
        env[var["name"]] = str(root) + value if value.startswith("/cnai/") else value
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def read_like_argo(root: Path, path: str) -> str:
    """The executor reads the file and trims one trailing newline (executor.go)."""
    return (root / path.lstrip("/")).read_text().removesuffix("\n")


def test_parameter_output_lands_where_argo_reads_it(tmp_path: Path) -> None:
    evaluate = argo_template("evaluate")
    run_as_step(evaluate, tmp_path, {}, "from cnai_runtime import output; "
                "output('accuracy', 0.93)")
    (parameter,) = evaluate["outputs"]["parameters"]
    assert read_like_argo(tmp_path, parameter["valueFrom"]["path"]) == "0.93"
    # The deploy gate reads it with asFloat, which takes this text.
    assert float(read_like_argo(tmp_path, parameter["valueFrom"]["path"])) == 0.93


def test_artifact_output_and_parameter_input(tmp_path: Path) -> None:
    train = argo_template("train")
    run_as_step(train, tmp_path, {"epochs": "90"},
                "from cnai_runtime import input_value, output_path\n"
                "epochs = input_value('epochs', int)\n"
                "assert epochs == 90, epochs\n"
                "path = output_path('model')\n"
                "path.write_text('weights')\n")
    (artifact,) = train["outputs"]["artifacts"]
    assert (tmp_path / artifact["path"].lstrip("/")).read_text() == "weights"
    # The command's own `outputs.model` argument names the same path.
    assert artifact["path"] in train["container"]["command"]
