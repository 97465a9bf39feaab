"""The artifact types a function step's parameters are annotated with, as Kubeflow's
``kfp.dsl`` names them: ``data: Input[Dataset]`` is a data set the step reads,
``model: Output[Model]`` one it writes. The function gets an object whose ``path`` is where
the artifact is (``Input``) or must be written (``Output``): a file or a directory.

>>> from cnai_runtime import Input, Output, Dataset, Model, Metrics
>>> def train(data: Input[Dataset], model: Output[Model], scores: Output[Metrics]) -> float:
...     scores.log_metric("accuracy", 0.93)     # written to scores.path as JSON
...     return 0.93
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Artifact:
    """A file or directory a step reads or writes."""

    schema_title = "system.Artifact"

    def __init__(self, name: str = "", path: str = "",
                 metadata: dict[str, Any] | None = None) -> None:
        self.name = name
        self.path = path
        self.metadata: dict[str, Any] = metadata or {}


class Dataset(Artifact):
    schema_title = "system.Dataset"


class Model(Artifact):
    schema_title = "system.Model"


class Metrics(Artifact):
    """Scalar metrics (Kubeflow's ``system.Metrics``): each ``log_metric`` is written at once
    by :func:`cnai_runtime.metrics.log_metric` to this output's file, to its scalar's parameter
    output when the step declares ``output NAME: metrics {SCALAR: float}``, and to the
    artifact's metadata on Kubeflow, which its UI shows."""

    schema_title = "system.Metrics"

    def log_metric(self, metric: str, value: float) -> None:
        from cnai_runtime import metrics

        self.metadata[metric] = value
        metrics.log_metric(metric, value, output=self.name)


class ClassificationMetrics(Artifact):
    """A confusion matrix and an ROC curve (Kubeflow's ``system.ClassificationMetrics``),
    with kfp.dsl.ClassificationMetrics's method names."""

    schema_title = "system.ClassificationMetrics"

    def log_confusion_matrix(self, categories: list[str], matrix: list[list[int]]) -> None:
        from cnai_runtime import metrics

        metrics.log_confusion_matrix(categories, matrix, output=self.name)

    def log_roc_curve(self, fpr: list[float], tpr: list[float],
                      threshold: list[float]) -> None:
        from cnai_runtime import metrics

        metrics.log_roc(fpr, tpr, threshold, output=self.name)


class Input(Generic[T]):
    """``Input[Dataset]``: an annotation only; the function gets the artifact itself."""


class Output(Generic[T]):
    """``Output[Model]``: an annotation only; the function gets the artifact itself."""


ARTIFACT_TYPES: dict[str, type[Artifact]] = {
    "artifact": Artifact, "dataset": Dataset, "model": Model, "metrics": Metrics,
    "classification_metrics": ClassificationMetrics}
