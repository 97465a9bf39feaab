"""cnai_evaluate: metrics from scikit-learn, written as typed outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy
import pytest
from sklearn import metrics

from cnai_evaluate import cli
from cnai_runtime import exitcodes
from cnai_testkit.procs import run_module

LABELS = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1]
PREDS = [0, 1, 0, 0, 1, 1, 1, 0, 1, 1]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    preds = tmp_path / "predictions.txt"
    preds.write_text("\n".join(map(str, PREDS)) + "\n")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    return preds, labels


def test_metrics_become_typed_outputs(tmp_path: Path) -> None:
    preds, labels = _files(tmp_path)
    outputs = tmp_path / "outputs"
    result = run_module(
        "cnai_evaluate",
        ["--predictions", str(preds), "--labels", str(labels),
         "--metric", "accuracy", "--metric", "f1", "--report", str(tmp_path / "report.json")],
        env={"CNAI_OUTPUTS_DIR": str(outputs)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    accuracy = metrics.accuracy_score(LABELS, PREDS)
    f1 = metrics.f1_score(LABELS, PREDS)
    assert (outputs / "accuracy").read_text() == repr(accuracy) == "0.8"
    assert float((outputs / "f1").read_text()) == f1
    assert result.stdout.splitlines() == [f"accuracy={accuracy!r}", f"f1={f1!r}"]
    assert json.loads((tmp_path / "report.json").read_text()) == {"accuracy": accuracy, "f1": f1}


def test_out_paths_csv_columns_and_npy(tmp_path: Path) -> None:
    table = tmp_path / "scores.csv"
    table.write_text(
        "id,prediction,truth\n"
        + "".join(f"{i},{p},{t}\n" for i, (p, t) in enumerate(zip(PREDS, LABELS, strict=True)))
    )
    numpy.save(tmp_path / "labels.npy", numpy.array(LABELS))
    out = tmp_path / "kfp" / "outputs" / "recall" / "data"
    code = cli.main(
        ["--predictions", str(table), "--labels", str(tmp_path / "labels.npy"),
         "--metric", "recall", "--out", str(out)],
    )  # fmt: skip
    assert code == 0
    assert float(out.read_text()) == metrics.recall_score(LABELS, PREDS)
    by_column = cli.main(
        ["--predictions", str(table), "--labels", str(table), "--label-column", "truth",
         "--metric", "precision", "--out", str(tmp_path / "p")]
    )  # fmt: skip
    assert by_column == 0
    assert float((tmp_path / "p").read_text()) == metrics.precision_score(LABELS, PREDS)


def test_multiclass_and_regression_metrics(tmp_path: Path) -> None:
    y_true, y_pred = ["cat", "dog", "bird", "dog"], ["cat", "dog", "dog", "dog"]
    (tmp_path / "t.json").write_text(json.dumps(y_true))
    (tmp_path / "p.json").write_text(json.dumps(y_pred))
    args = ["--predictions", str(tmp_path / "p.json"), "--labels", str(tmp_path / "t.json")]
    assert cli.main([*args, "--metric", "f1", "--out", str(tmp_path / "f1")]) == 0
    assert float((tmp_path / "f1").read_text()) == metrics.f1_score(
        y_true, y_pred, average="macro", zero_division=0
    )
    r_true, r_pred = [1.0, 2.0, 3.5], [1.5, 2.0, 3.0]
    (tmp_path / "rt.txt").write_text("\n".join(map(str, r_true)))
    (tmp_path / "rp.txt").write_text("\n".join(map(str, r_pred)))
    rargs = ["--predictions", str(tmp_path / "rp.txt"), "--labels", str(tmp_path / "rt.txt")]
    names = ["mse", "rmse", "mae", "r2"]
    outs = [x for name in names for x in ("--metric", name, "--out", str(tmp_path / name))]
    assert cli.main([*rargs, *outs]) == 0
    mse = metrics.mean_squared_error(r_true, r_pred)
    assert float((tmp_path / "mse").read_text()) == mse
    assert float((tmp_path / "rmse").read_text()) == math.sqrt(mse)
    assert float((tmp_path / "mae").read_text()) == metrics.mean_absolute_error(r_true, r_pred)
    assert float((tmp_path / "r2").read_text()) == metrics.r2_score(r_true, r_pred)


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"labels": "missing.json"}, exitcodes.NOT_FOUND, "labels file not found"),
        ({"metric": "auc_pr"}, exitcodes.USAGE, "unknown metric 'auc_pr'"),
        ({"short": True}, exitcodes.USAGE, "10 predictions for 3 labels"),
        ({"outs": 2}, exitcodes.USAGE, "2 --out for 1 --metric"),
        ({"metric": "roc_auc", "one_class": True}, exitcodes.USAGE, "cannot compute roc_auc"),
    ],
)
def test_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, code: int, message: str
) -> None:
    preds, labels = _files(tmp_path)
    if change.get("short"):
        labels.write_text("[1, 0, 1]")
    if change.get("one_class"):
        labels.write_text(json.dumps([1] * len(PREDS)))
    args = ["--predictions", str(preds),
            "--labels", str(tmp_path / change.get("labels", labels.name)),
            "--metric", change.get("metric", "accuracy")]  # fmt: skip
    args += ["--out", str(tmp_path / "o")] * change.get("outs", 0)
    assert cli.main(args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
