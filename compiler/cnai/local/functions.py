"""A function step run locally (docs/run-local.md, "Function steps"): the function's file
is written in the step's folder and its path ends the runner's command, as each target's
engine stages it (function_contract.py).

Without ``--docker`` the runner runs in this Python (``sys.executable``), with cnai_runtime
from this installation (the cnai wheel ships it) or, in a checkout, from runtime_images/sdk;
``packages`` are not installed: they must be importable here already (a note says so). With
``--docker`` the step's image runs the same install lines as on a cluster.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cnai import function_contract
from cnai.local.datasets import preload_paths
from cnai.semantics import ir
from cnai.semantics.pyfunctions import RUNNER


def prepare(step: ir.Step, command: list[str], step_dir: Path, docker: bool,
            env: dict[str, str], notes: list[str]) -> list[str]:
    """The command that runs the step's function; ``env`` and ``notes`` are added to."""
    assert step.function is not None
    step_dir.mkdir(parents=True, exist_ok=True)
    source = step_dir / f"{step.function.module}.py"
    source.write_text(step.function.source, encoding="utf-8")
    runner = command[len(RUNNER):] if tuple(command[:len(RUNNER)]) == RUNNER else command
    if docker:
        return function_contract.argo_command(step, [*RUNNER, *runner, str(source)])
    if step.packages:
        notes.append("packages are not installed by a local run: "
                      + ", ".join(step.packages) + " must be importable by " + sys.executable)
    paths = [str(p) for p in preload_paths() if (p / "cnai_runtime").is_dir()]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])
    return [sys.executable, *RUNNER[1:], *runner, str(source)]
