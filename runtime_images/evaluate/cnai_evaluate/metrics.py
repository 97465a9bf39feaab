"""Metrics, all computed by scikit-learn, each returning one float."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from cnai_runtime.exitcodes import USAGE, StepError

Metric = Callable[[list[Any], list[Any], str], float]


def _classification(name: str) -> Metric:
    def compute(y_true: list[Any], y_pred: list[Any], average: str) -> float:
        from sklearn import metrics

        function = getattr(metrics, f"{name}_score")
        return float(function(y_true, y_pred, average=average, zero_division=0))

    return compute


def _plain(function_name: str, transform: Callable[[float], float] = float) -> Metric:
    def compute(y_true: list[Any], y_pred: list[Any], average: str) -> float:
        from sklearn import metrics

        return transform(float(getattr(metrics, function_name)(y_true, y_pred)))

    return compute


def _roc_auc(y_true: list[Any], y_score: list[Any], average: str) -> float:
    from sklearn import metrics

    return float(metrics.roc_auc_score(y_true, y_score))


METRICS: dict[str, Metric] = {
    "accuracy": _plain("accuracy_score"),
    "balanced_accuracy": _plain("balanced_accuracy_score"),
    "precision": _classification("precision"),
    "recall": _classification("recall"),
    "f1": _classification("f1"),
    "roc_auc": _roc_auc,
    "mse": _plain("mean_squared_error"),
    "rmse": _plain("mean_squared_error", math.sqrt),
    "mae": _plain("mean_absolute_error"),
    "r2": _plain("r2_score"),
}


def default_average(y_true: list[Any], y_pred: list[Any]) -> str:
    """``binary`` for 0/1 labels, ``macro`` otherwise."""
    values = set(y_true) | set(y_pred)
    return "binary" if values <= {0, 1} else "macro"


def compute(name: str, y_true: list[Any], y_pred: list[Any], average: str | None) -> float:
    if name not in METRICS:
        raise StepError(f"unknown metric {name!r} (known: {', '.join(sorted(METRICS))})", USAGE)
    avg = average or default_average(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an ill-defined metric is an error, not a warning
        try:
            value = METRICS[name](y_true, y_pred, avg)
        except (ValueError, TypeError, Warning) as exc:
            raise StepError(f"cannot compute {name}: {exc}", USAGE) from None
    if not math.isfinite(value):
        raise StepError(f"{name} is not a finite number ({value})", USAGE)
    return value
