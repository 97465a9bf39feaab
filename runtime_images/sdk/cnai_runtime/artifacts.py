"""The artifact types a function step's parameters are annotated with, as Kubeflow's
``kfp.dsl`` names them: ``data: Input[Dataset]`` is a data set the step reads,
``model: Output[Model]`` one it writes. The function gets an object whose ``path`` is where
the artifact is (``Input``) or must be written (``Output``): a file or a directory.

>>> from cnai_runtime import Input, Output, Dataset, Model, Metrics
>>> def train(data: Input[Dataset], model: Output[Model], scores: Output[Metrics]) -> float:
...     scores.log_metric("accuracy", 0.93)     # written to scores.path as JSON at the end
...     return 0.93
"""

from __future__ import annotations

import json
from pathlib import Path
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

    def save(self) -> None:
        """Called once the function has returned; an output artifact is its own file."""


class Dataset(Artifact):
    schema_title = "system.Dataset"


class Model(Artifact):
    schema_title = "system.Model"


class Metrics(Artifact):
    """Scalar metrics: each ``log_metric`` is kept, and the whole set is written to
    ``path`` as a JSON object when the function returns."""

    schema_title = "system.Metrics"

    def log_metric(self, metric: str, value: float) -> None:
        self.metadata[metric] = value

    def save(self) -> None:
        Path(self.path).write_text(json.dumps(self.metadata, sort_keys=True), encoding="utf-8")


class Input(Generic[T]):
    """``Input[Dataset]``: an annotation only; the function gets the artifact itself."""


class Output(Generic[T]):
    """``Output[Model]``: an annotation only; the function gets the artifact itself."""


ARTIFACT_TYPES: dict[str, type[Artifact]] = {
    "artifact": Artifact, "dataset": Dataset, "model": Model, "metrics": Metrics}
