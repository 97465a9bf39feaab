"""Where a step's inputs and outputs live, on Argo and on Kubeflow Pipelines.

Resolution order (see runtime_images/README.md, "Contract with the compiler"):

outputs
    1. ``CNAI_OUTPUTS``: JSON object ``{"<name>": "<path>"}`` (set on Kubeflow Pipelines);
    2. ``$CNAI_OUTPUTS_DIR/<name>`` (set on Argo to ``/cnai/outputs``);
    3. ``/cnai/outputs/<name>``.
artifact inputs
    1. ``CNAI_INPUTS``: JSON object ``{"<name>": "<path>"}``;
    2. ``$CNAI_INPUTS_DIR/<name>``;
    3. ``/cnai/inputs/<name>``.
parameter inputs
    ``CNAI_INPUT_<NAME>``: ``<NAME>`` is the input name upper-cased, every character
    outside ``[A-Za-z0-9]`` replaced by ``_``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

OUTPUTS_ENV = "CNAI_OUTPUTS"
OUTPUTS_DIR_ENV = "CNAI_OUTPUTS_DIR"
INPUTS_ENV = "CNAI_INPUTS"
INPUTS_DIR_ENV = "CNAI_INPUTS_DIR"
INPUT_VALUE_PREFIX = "CNAI_INPUT_"

DEFAULT_OUTPUTS_DIR = "/cnai/outputs"
DEFAULT_INPUTS_DIR = "/cnai/inputs"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class ContractError(RuntimeError):
    """The step's environment does not follow the contract (bad name, bad JSON)."""


def check_name(name: str) -> str:
    """Reject names that are not identifiers: they become file names and env var names."""
    if not _NAME.fullmatch(name):
        raise ContractError(
            f"invalid input/output name {name!r}: use letters, digits, '_' or '-', "
            "starting with a letter or '_'"
        )
    return name


def input_env_name(name: str) -> str:
    """The variable holding input ``name``: ``learning-rate`` -> ``CNAI_INPUT_LEARNING_RATE``."""
    return INPUT_VALUE_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", check_name(name)).upper()


def _mapping(env: Mapping[str, str], var: str) -> dict[str, str]:
    raw = env.get(var, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{var} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ContractError(f"{var} must be a JSON object mapping names to paths")
    return value


def _resolve(
    name: str, env: Mapping[str, str], map_var: str, dir_var: str, default_dir: str
) -> Path:
    check_name(name)
    mapped = _mapping(env, map_var).get(name)
    if mapped:
        return Path(mapped)
    return Path(env.get(dir_var) or default_dir) / name


def output_location(name: str, env: Mapping[str, str] | None = None) -> Path:
    """The path output ``name`` must be written to."""
    return _resolve(
        name, os.environ if env is None else env, OUTPUTS_ENV, OUTPUTS_DIR_ENV, DEFAULT_OUTPUTS_DIR
    )


def input_location(name: str, env: Mapping[str, str] | None = None) -> Path:
    """The path artifact input ``name`` was placed at."""
    return _resolve(
        name, os.environ if env is None else env, INPUTS_ENV, INPUTS_DIR_ENV, DEFAULT_INPUTS_DIR
    )


def outputs_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the step was given an outputs mapping or directory by the compiler."""
    values = os.environ if env is None else env
    return bool(values.get(OUTPUTS_ENV, "").strip() or values.get(OUTPUTS_DIR_ENV, "").strip())


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
