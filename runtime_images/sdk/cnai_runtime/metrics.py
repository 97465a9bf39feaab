"""Metrics a step logs, shown by Kubeflow's UI and readable by later steps and gates.

>>> from cnai_runtime.metrics import log_metric, log_confusion_matrix, log_roc
>>> log_metric("accuracy", 0.93, output="scores")       # output scores: metrics {accuracy: float}
>>> log_confusion_matrix(["cat", "dog"], [[9, 1], [2, 8]], output="quality")
>>> log_roc([0.0, 0.1, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0], output="quality")

Each call writes, for a metrics output ``OUT``:

* the artifact file ``OUT``: a JSON object of everything logged to it so far (what the
  Argo target and ``cnai run --local`` keep as the artifact);
* for a scalar, the parameter output ``OUT-NAME`` (``scores-accuracy``), which the compiler
  declares for every scalar of ``metrics {...}``: later steps and gates read it as
  ``STEP.OUT.NAME``;
* where ``CNAI_OUTPUT_METADATA`` names a file (the compiler sets it on Kubeflow), the
  artifact's ``metadata`` in that executor-output file, which Kubeflow's launcher copies
  into ML Metadata (kubeflow/pipelines backend/src/v2/component/launcher_v2.go:
  ``getExecutorOutputFile``, ``mergeRuntimeArtifacts``). The shapes are those of
  kfp.dsl.Metrics and kfp.dsl.ClassificationMetrics (kfp/dsl/types/artifact_types.py):
  ``{NAME: number}``; ``confusionMatrix: {annotationSpecs: [{displayName}], rows: [{row}]}``;
  ``confidenceMetrics: [{confidenceThreshold, recall, falsePositiveRate}]``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnai_runtime.paths import (
    OUTPUTS_ENV,
    ContractError,
    _mapping,
    output_location,
    write_text_atomically,
)
from cnai_runtime.values import format_value

OUTPUT_METADATA_ENV = "CNAI_OUTPUT_METADATA"

__all__ = ["OUTPUT_METADATA_ENV", "log_confusion_matrix", "log_metric", "log_roc",
           "metric_output_name"]


def metric_output_name(output: str, name: str) -> str:
    """The parameter output carrying scalar ``name`` of metrics output ``output``."""
    return f"{output}-{name}"


def log_metric(name: str, value: float, output: str = "metrics") -> None:
    """Log scalar metric ``name`` of metrics output ``output``."""
    number = _number(value, f"metric {name!r}")
    _merge(output, {name: number})
    parameter = metric_output_name(output, name)
    if _declared(parameter):
        write_text_atomically(output_location(parameter), format_value(number))


def log_confusion_matrix(labels: Sequence[str], matrix: Sequence[Sequence[float]],
                         output: str = "classification") -> None:
    """Log a confusion matrix: ``matrix[i][j]`` counts items of ``labels[i]`` predicted as
    ``labels[j]``."""
    if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        raise ValueError(f"a confusion matrix over {len(labels)} labels is "
                         f"{len(labels)} x {len(labels)}")
    rows = [{"row": [_number(cell, "a confusion matrix cell") for cell in row]}
            for row in matrix]
    _merge(output, {"confusionMatrix": {
        "annotationSpecs": [{"displayName": str(label)} for label in labels], "rows": rows}})


def log_roc(false_positive_rates: Sequence[float], true_positive_rates: Sequence[float],
            thresholds: Sequence[float], output: str = "classification") -> None:
    """Log an ROC curve, one point per threshold."""
    if not len(false_positive_rates) == len(true_positive_rates) == len(thresholds):
        raise ValueError("an ROC curve has as many false positive rates, true positive rates "
                         "and thresholds")
    points = [{"confidenceThreshold": _number(t, "a threshold"),
               "recall": _number(r, "a true positive rate"),
               "falsePositiveRate": _number(f, "a false positive rate")}
              for f, r, t in zip(false_positive_rates, true_positive_rates, thresholds,
                                 strict=True)]
    _merge(output, {"confidenceMetrics": points})


def _number(value: object, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} is a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


def _declared(name: str) -> bool:
    """Whether parameter output ``name`` is the step's: on Kubeflow, every output is in
    ``CNAI_OUTPUTS``; elsewhere outputs are files of a directory, where an extra file is
    harmless."""
    outputs = _mapping(os.environ, OUTPUTS_ENV)
    return not outputs or name in outputs


def _merge(output: str, values: Mapping[str, Any]) -> None:
    """Add ``values`` to the artifact file and, on Kubeflow, to the artifact's metadata."""
    path = output_location(output)
    write_text_atomically(path, json.dumps({**_read(path), **values}, sort_keys=True))
    metadata_file = os.environ.get(OUTPUT_METADATA_ENV, "").strip()
    if metadata_file:
        executor_output = _read(Path(metadata_file))
        artifacts = executor_output.setdefault("artifacts", {})
        entry = artifacts.setdefault(output, {"artifacts": [{}]})
        if not entry.get("artifacts"):
            entry["artifacts"] = [{}]
        artifact = entry["artifacts"][0]
        artifact["metadata"] = {**artifact.get("metadata", {}), **values}
        write_text_atomically(Path(metadata_file), json.dumps(executor_output, sort_keys=True))


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path} holds no JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ContractError(f"{path} holds no JSON object")
    return value
