"""Read a step's inputs and write its typed outputs, on Argo or Kubeflow Pipelines alike.

>>> from cnai_runtime import output, output_path, input_value, input_path
>>> epochs = input_value("epochs", int)          # env CNAI_INPUT_EPOCHS
>>> data = input_path("model")                   # an artifact placed by the engine
>>> output("accuracy", 0.93)                     # writes the text "0.93"
>>> output_path("model").mkdir()                 # write the artifact there

The exact environment each engine provides is documented in runtime_images/README.md
("Contract with the compiler"); the value encoding is in :mod:`cnai_runtime.values`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar, overload

from cnai_runtime.artifacts import (
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Metrics,
    Model,
    Output,
)
from cnai_runtime.metrics import log_confusion_matrix, log_metric, log_roc
from cnai_runtime.paths import (
    ContractError,
    input_env_name,
    input_location,
    output_location,
    outputs_configured,
    write_text_atomically,
)
from cnai_runtime.values import ValueFormatError, format_value, parse_value

__all__ = [
    "Artifact",
    "ClassificationMetrics",
    "ContractError",
    "Dataset",
    "Input",
    "Metrics",
    "Model",
    "Output",
    "ValueFormatError",
    "format_value",
    "input_path",
    "input_value",
    "log_confusion_matrix",
    "log_metric",
    "log_roc",
    "output",
    "output_path",
    "outputs_configured",
    "parse_value",
    "read_output",
]

__version__ = "0.1.0"

T = TypeVar("T")
_MISSING: Any = object()


def output_path(name: str) -> Path:
    """Where artifact output ``name`` goes (a file or a directory); its parent exists."""
    path = output_location(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def output(name: str, value: object) -> Path:
    """Write parameter output ``name`` in the shared text encoding; returns the file path.

    The file is replaced atomically, so a reader never sees a half-written value.
    """
    text = format_value(value)
    path = output_path(name)
    write_text_atomically(path, text)
    return path


@overload
def input_value(name: str) -> str: ...
@overload
def input_value(name: str, type_: type[T]) -> T: ...
@overload
def input_value(name: str, type_: Any) -> Any: ...
@overload
def input_value(name: str, type_: type[T], default: T) -> T: ...


def input_value(name: str, type_: Any = str, default: Any = _MISSING) -> Any:
    """Parameter input ``name`` decoded as ``type_``, from env ``CNAI_INPUT_<NAME>``."""
    var = input_env_name(name)
    text = os.environ.get(var)
    if text is None:
        if default is not _MISSING:
            return default
        raise ContractError(f"input {name!r} is not set (expected environment variable {var})")
    try:
        return parse_value(text, type_)
    except ValueFormatError as exc:
        raise ValueFormatError(f"input {name!r} ({var}): {exc}") from None


def input_path(name: str, must_exist: bool = True) -> Path:
    """Where artifact input ``name`` was placed by the engine."""
    path = input_location(name)
    if must_exist and not path.exists():
        raise FileNotFoundError(f"input artifact {name!r} not found at {path}")
    return path


def read_output(name: str, type_: Any = str) -> Any:
    """Read back an output written by :func:`output` (useful in tests and local runs)."""
    return parse_value(output_location(name).read_text(encoding="utf-8"), type_)
