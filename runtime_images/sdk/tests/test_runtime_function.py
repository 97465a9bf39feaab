"""cnai_runtime.function: the runner a function step's command runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cnai_runtime import function

SOURCE = '''
from typing import NamedTuple
from cnai_runtime import Dataset, Input, Metrics, Model, Output

class Scores(NamedTuple):
    accuracy: float
    ok: bool

def train(lrs: list[float], data: Input[Dataset], model: Output[Model],
          scores: Output[Metrics], tag: str = "x") -> Scores:
    with open(data.path) as source, open(model.path, "w") as handle:
        handle.write(source.read() + tag)
    scores.log_metric("accuracy", max(lrs))
    return Scores(accuracy=max(lrs), ok=True)

def nothing() -> int:
    return None

if __name__ == "__main__":
    raise SystemExit("a module's main block does not run")
'''


def test_inputs_outputs_metrics_and_named_returns(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path / "out"))  # as every target sets it
    source = tmp_path / "steps.py"
    source.write_text(SOURCE)
    data = tmp_path / "in" / "data"
    data.parent.mkdir()
    data.write_text("rows;")
    out = tmp_path / "out"
    code = function.main([
        "train", "in:list[float]", "lrs", "[0.1, 0.5]", "in:dataset", "data", str(data),
        "out:model", "model", str(out / "model"), "out:metrics", "scores", str(out / "scores"),
        "in:string", "tag", "v1", "ret:float", "accuracy", str(out / "accuracy"),
        "ret:bool", "ok", str(out / "ok"), str(source)])
    assert code == 0
    assert (out / "model").read_text() == "rows;v1"
    assert json.loads((out / "scores").read_text()) == {"accuracy": 0.5}
    assert (out / "accuracy").read_text() == "0.5"
    assert (out / "ok").read_text() == "true"


def test_a_base64_staged_source_is_decoded(tmp_path: Path) -> None:
    text = 'def f() -> str:\n    return "{{x}} $(Y) $$"\n'
    staged = tmp_path / "script"
    staged.write_text("# cnai: base64\n" + base64.b64encode(text.encode()).decode() + "\n")
    assert function.main(["f", "ret:string", "Output", str(tmp_path / "o"), str(staged)]) == 0
    assert (tmp_path / "o").read_text() == "{{x}} $(Y) $$"


def test_usage_errors_and_a_missing_return_value(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "steps.py"
    source.write_text(SOURCE)
    assert function.main(["train"]) == 2
    assert function.main(["absent", str(source)]) == 2
    assert "has no function `absent`" in capsys.readouterr().err
    assert function.main(["nothing", "ret:int", "Output", str(tmp_path / "o"), str(source)]) == 1
    assert "returned no value for output 'Output'" in capsys.readouterr().err


def test_classification_metrics_log_as_kfp_names_them(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path))
    source = tmp_path / "steps.py"
    source.write_text(
        "from cnai_runtime import ClassificationMetrics, Output\n"
        "def judge(quality: Output[ClassificationMetrics]) -> None:\n"
        "    quality.log_confusion_matrix(['cat', 'dog'], [[9, 1], [2, 8]])\n"
        "    quality.log_roc_curve([0.0, 1.0], [0.0, 1.0], [1.0, 0.0])\n")
    assert function.main(["judge", "out:classification_metrics", "quality",
                          str(tmp_path / "quality"), str(source)]) == 0
    logged = json.loads((tmp_path / "quality").read_text())
    assert logged["confusionMatrix"]["rows"] == [{"row": [9, 1]}, {"row": [2, 8]}]
    assert len(logged["confidenceMetrics"]) == 2
