"""``python -m cnai_train [--require-gpu] -- COMMAND...``: report the runtime, then exec.

The report (stderr) names the Python and PyTorch versions, the visible CUDA devices and
the distributed role that the training operator assigned (PyTorchJob: ``RANK`` /
``WORLD_SIZE`` / ``MASTER_ADDR``; TFJob: ``TF_CONFIG``). The output locations of the
cnai contract are created, then COMMAND replaces this process (``exec``), so signals
and the exit status are the command's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

from cnai_runtime.cli import run, setup_logging
from cnai_runtime.exitcodes import NO_GPU, NOT_FOUND, StepError
from cnai_runtime.paths import OUTPUTS_DIR_ENV, OUTPUTS_ENV

NAME = "cnai-train"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnai_train",
        description="Report the training runtime (PyTorch, CUDA, distributed role), prepare "
        "the step's output locations, then exec COMMAND.",
    )
    parser.add_argument(
        "--require-gpu",
        action="store_true",
        help=f"exit {NO_GPU} unless at least one CUDA device is visible",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return parser


def torch_report() -> tuple[list[str], int]:
    """Report lines and the number of visible CUDA devices (0 without torch)."""
    try:
        import torch
    except ImportError:
        return ["torch: not installed"], 0
    lines = [f"torch: {torch.__version__} (CUDA build {torch.version.cuda or 'none'})"]
    try:
        count = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except RuntimeError as exc:  # a driver/toolkit mismatch surfaces here
        lines.append(f"cuda: unavailable ({exc})")
        return lines, 0
    if count:
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(count))
        lines.append(f"cuda: {count} device(s): {names}")
    else:
        lines.append("cuda: no device visible")
    return lines, count


def distributed_report(env: dict[str, str] | os._Environ[str]) -> str:
    tf_config = env.get("TF_CONFIG")
    if tf_config:
        try:
            parsed: Any = json.loads(tf_config)
            task = parsed.get("task", {})
            cluster = parsed.get("cluster", {})
            size = sum(len(v) for v in cluster.values() if isinstance(v, list))
            return (
                f"distributed: TFJob {task.get('type', '?')} {task.get('index', '?')} "
                f"of {size} tasks"
            )
        except (ValueError, AttributeError):
            return "distributed: TF_CONFIG is set but is not valid JSON"
    if env.get("WORLD_SIZE"):
        return (
            f"distributed: rank {env.get('RANK', '?')} of {env['WORLD_SIZE']} "
            f"(master {env.get('MASTER_ADDR', '?')}:{env.get('MASTER_PORT', '?')})"
        )
    return "distributed: single process"


def prepare_outputs() -> None:
    """Create the outputs directory and the parents of mapped outputs, if any."""
    directory = os.environ.get(OUTPUTS_DIR_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
    try:
        mapping = json.loads(os.environ.get(OUTPUTS_ENV) or "{}")
    except ValueError:
        mapping = {}
    if isinstance(mapping, dict):
        for path in mapping.values():
            if isinstance(path, str) and path:
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def _train(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging(NAME)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    log.info("python: %s (%s)", platform.python_version(), sys.executable)
    lines, gpus = torch_report()
    for line in lines:
        log.info("%s", line)
    log.info("%s", distributed_report(os.environ))
    if args.require_gpu and gpus == 0:
        raise StepError("--require-gpu: no CUDA device is visible to this container", NO_GPU)
    prepare_outputs()
    if not command:
        return 0
    log.info("exec: %s", " ".join(command))
    for handler in log.handlers:
        handler.flush()
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        raise StepError(f"command not found: {command[0]}", NOT_FOUND) from None
    except PermissionError:
        raise StepError(f"command is not executable: {command[0]}", NOT_FOUND) from None
    return 0  # unreachable: exec replaced the process


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, _train, argv)
