"""``python -m cnai_evaluate``: compute metrics with scikit-learn, write them as typed outputs."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from cnai_evaluate.data import read_values
from cnai_evaluate.metrics import METRICS, compute
from cnai_runtime import format_value, output, outputs_configured
from cnai_runtime.cli import run, setup_logging
from cnai_runtime.exitcodes import USAGE, StepError

NAME = "cnai-evaluate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnai_evaluate",
        description="Compute metrics from predictions and labels with scikit-learn and "
        "write each as a typed float output.",
    )
    parser.add_argument("--predictions", required=True, help=".json, .npy, .csv or text file")
    parser.add_argument("--labels", required=True, help=".json, .npy, .csv or text file")
    parser.add_argument(
        "--metric", action="append", required=True, metavar="NAME",
        help=f"repeatable; one of: {', '.join(sorted(METRICS))}",
    )  # fmt: skip
    parser.add_argument(
        "--out", action="append", default=[], metavar="PATH",
        help="where each metric's value goes, in --metric order (default: the step output "
        "named after the metric)",
    )  # fmt: skip
    parser.add_argument("--report", metavar="PATH", help="also write all metrics as JSON")
    parser.add_argument(
        "--average",
        choices=("binary", "micro", "macro", "weighted"),
        help="for precision/recall/f1 (default: binary for 0/1 labels, else macro)",
    )
    parser.add_argument("--prediction-column", help="CSV column of the predictions")
    parser.add_argument("--label-column", help="CSV column of the labels")
    return parser


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _evaluate(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging(NAME)
    if args.out and len(args.out) != len(args.metric):
        raise StepError(
            f"{len(args.out)} --out for {len(args.metric)} --metric: give one per metric or none",
            USAGE,
        )
    y_pred = read_values(args.predictions, args.prediction_column, "prediction")
    y_true = read_values(args.labels, args.label_column, "label")
    if len(y_pred) != len(y_true):
        raise StepError(f"{len(y_pred)} predictions for {len(y_true)} labels", USAGE)
    log.info("evaluating %d examples", len(y_true))
    results = {name: compute(name, y_true, y_pred, args.average) for name in args.metric}
    for index, (name, value) in enumerate(results.items()):
        print(f"{name}={format_value(value)}", flush=True)
        if args.out:
            _write_text(Path(args.out[index]), format_value(value))
            log.info("%s = %s -> %s", name, format_value(value), args.out[index])
        elif outputs_configured():
            log.info("%s = %s -> output %s", name, format_value(value), output(name, value))
    if args.report:
        _write_text(Path(args.report), json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, _evaluate, argv)
