"""How a function step's Python source and packages reach its container, on every target
(docs/language.md, "Function steps"; docs/runtime-images.md). A leaf, like contract.py: the
backends and the local runner read it, and it reads only the IR.

A function step's command (semantics/pyfunctions.py) is cnai's runner,
``python3 -m cnai_runtime.function FUNCTION [KIND:TYPE NAME VALUE]...``, and the runner takes
the path of the function's file as its last argument. Each target puts the file there:

- Argo: a ``script`` template. The controller appends the path where the executor stages
  ``script.source`` to the container's args (workflow/controller/operator.go, executeScript:
  ``mainCtr.Args = append(mainCtr.Args, common.ExecutorScriptSourcePath)``), so the command
  is ``sh -c INSTALL`` ending in ``exec "$@"``.
- Kubeflow: as kfp 2.17.3's lightweight components do (kfp/dsl/component_factory.py,
  _get_command_and_args_for_lightweight_component): ``sh -ec`` with the source as ``$0``,
  written to a file in a ``mktemp -d`` directory, then ``exec "$@" FILE``.
- ``cnai run --local``: the runner writes the file in the step's folder.

The source is embedded as written, unless the engine would change it on the way: Argo
substitutes ``{{...}}`` anywhere in a template, the script's source too (a tag with a known
prefix that does not resolve fails the workflow: util/template/simple_template.go,
workflow/validate/validate.go resolveAllVariables), and Kubernetes expands ``$(NAME)`` and
turns ``$$`` into ``$`` in a container's command and in the environment variable that
carries Argo's template to its executor (workflow/controller/workflowpod.go, ARGO_TEMPLATE),
unless Argo offloads that template to a ConfigMap, where nothing is expanded. No escaping is
exact on every one of those paths, so a source holding ``{{`` or ``$`` is embedded in base64
behind the line ``STAGED_BASE64``, which the runner decodes (cnai_runtime/function.py).
"""

from __future__ import annotations

import base64
import shlex
import textwrap

from cnai import __version__
from cnai.semantics import ir

STAGED_BASE64 = "# cnai: base64"  # the first line of a source embedded in base64
SCRIPT_NAME = "cnai-function"  # $0 of Argo's `sh -c` install script
_PIP = "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet --no-warn-script-location"
# The runtime (cnai_runtime) is in the cnai wheel and in runtime_images/sdk; an image without
# it installs it from the wheel, without cnai's own dependencies.
RUNTIME_REQUIREMENT = f"cnai=={__version__}"


def staged_source(function: ir.Function) -> str:
    """The text embedded in the emitted object: the source, or its base64 form."""
    source = function.source
    if "{{" not in source and "$" not in source:
        return source
    encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
    return "\n".join([STAGED_BASE64, *textwrap.wrap(encoded, 76)]) + "\n"


def install_lines(step: ir.Step) -> list[str]:
    """The shell lines that make cnai_runtime importable and install ``packages``."""
    lines = [f"python3 -c 'import cnai_runtime' 2>/dev/null || "
             f"{_PIP} --no-deps {shlex.quote(RUNTIME_REQUIREMENT)}"]
    if step.packages:
        lines.append(f"{_PIP} {' '.join(shlex.quote(p) for p in step.packages)}")
    return lines


def argo_command(step: ir.Step, runner: list[str]) -> list[str]:
    """The script template's command: install, then the runner, to which Argo appends the
    staged source's path."""
    script = "\n".join([*install_lines(step), 'exec "$@"'])
    return ["sh", "-ec", script, SCRIPT_NAME, *runner]


def kfp_command(step: ir.Step, runner: list[str]) -> list[str]:
    """The container's command on Kubeflow: the source written to a file, install, then the
    runner with the file's path."""
    assert step.function is not None
    path = f'"$program_path/{step.function.module}.py"'
    script = "\n".join(["program_path=`mktemp -d`", f'printf "%s" "$0" > {path}',
                        *install_lines(step), f'exec "$@" {path}'])
    return ["sh", "-ec", script, staged_source(step.function), *runner]
