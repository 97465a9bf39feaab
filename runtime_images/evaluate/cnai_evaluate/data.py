"""Read predictions and labels: JSON arrays, .npy arrays, CSV columns or one value a line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from cnai_runtime.exitcodes import NOT_FOUND, USAGE, StepError

Values = list[Any]


def _typed(raw: list[str]) -> Values:
    """Numbers when every value is one (ints when all are integral), else the strings."""
    try:
        return [int(v) for v in raw]
    except ValueError:
        pass
    try:
        return [float(v) for v in raw]
    except ValueError:
        return raw


def _csv(path: Path, column: str | None, role: str) -> Values:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if column is None:
            if len(fields) == 1:
                column = fields[0]
            elif role in fields:
                column = role
            else:
                raise StepError(
                    f"{path}: several columns {fields}; choose one with --{role}-column", USAGE
                )
        if column not in fields:
            raise StepError(f"{path}: no column {column!r} (columns: {fields})", USAGE)
        return _typed([row[column].strip() for row in reader])


def _json(path: Path) -> Values:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StepError(f"{path}: not valid JSON: {exc}", USAGE) from None
    if not isinstance(value, list):
        raise StepError(f"{path}: expected a JSON array", USAGE)
    return value


def _npy(path: Path) -> Values:
    import numpy

    try:
        array = numpy.load(path, allow_pickle=False)
    except ValueError as exc:
        raise StepError(f"{path}: not a plain .npy array: {exc}", USAGE) from None
    return list(array.ravel().tolist())


def read_values(path_text: str, column: str | None, role: str) -> Values:
    """``role`` is ``prediction`` or ``label``: the default CSV column name."""
    path = Path(path_text)
    if not path.is_file():
        raise StepError(f"{role}s file not found: {path}", NOT_FOUND)
    suffix = path.suffix.lower()
    if suffix == ".json":
        values = _json(path)
    elif suffix == ".npy":
        values = _npy(path)
    elif suffix in (".csv", ".tsv"):
        values = _csv(path, column, role)
    else:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        values = _typed([line for line in lines if line])
    if not values:
        raise StepError(f"{path}: no values", USAGE)
    return values
