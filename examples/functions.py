"""The steps of examples/functions.cnai, written as Python functions.

cnai reads each function's signature without running it: the typed parameters are the step's
inputs, ``Output[...]`` parameters and the return value its outputs. Each function runs in its
step's container, so what it imports it imports inside (or at the top of this file, from the
standard library and the step's ``packages``).
"""

from typing import NamedTuple, TypedDict

from cnai_runtime import Dataset, Input, Metrics, Model, Output


def prepare(rows: int, seed: int, data: Output[Dataset]) -> int:
    """Write ``rows`` labelled points ``x,label`` (label 1 when x > 0.6) to ``data``."""
    import random

    rng = random.Random(seed)
    with open(data.path, "w", encoding="utf-8") as handle:
        for _ in range(rows):
            x = rng.random()
            handle.write(f"{x:.6f},{int(x > 0.6)}\n")
    return rows


def _points(path: str) -> list[tuple[float, int]]:
    with open(path, encoding="utf-8") as handle:
        return [(float(x), int(label)) for x, label in
                (line.strip().split(",") for line in handle if line.strip())]


def train(lr: float, epochs: int, data: Input[Dataset], model: Output[Model]) -> float:
    """Fit a threshold classifier by gradient steps; write the threshold, return the loss."""
    points = _points(data.path)
    threshold = 0.5
    for _ in range(epochs):
        wrong = [x for x, label in points if (x > threshold) != bool(label)]
        step = sum(1 if x > threshold else -1 for x in wrong) / max(len(points), 1)
        threshold += lr * step
    with open(model.path, "w", encoding="utf-8") as handle:
        handle.write(f"{threshold:.6f}\n")
    return len([x for x, label in points if (x > threshold) != bool(label)]) / len(points)


class Evaluation(NamedTuple):
    accuracy: float
    threshold: float


def evaluate(data: Input[Dataset], model: Input[Model], scores: Output[Metrics]) -> Evaluation:
    """The model's accuracy on the data, as a return value and as metrics."""
    with open(model.path, encoding="utf-8") as handle:
        threshold = float(handle.read())
    points = _points(data.path)
    right = sum((x > threshold) == bool(label) for x, label in points)
    accuracy = round(right / len(points), 4)
    scores.log_metric("accuracy", accuracy)
    scores.log_metric("threshold", round(threshold, 4))
    return Evaluation(accuracy=accuracy, threshold=threshold)


def pick(accuracies: list[float]) -> float:
    """The best accuracy of the sweep."""
    return max(accuracies)


class Config(TypedDict):
    lr: float
    epochs: int


def publish(config: Config, accuracy: float, target: str) -> str:
    """Publish the model (here: say where it would go)."""
    message = f"published lr={config['lr']} to {target} with accuracy {accuracy}"
    print(message)
    return message
