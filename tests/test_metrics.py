"""Metrics outputs: `output scores: metrics {accuracy: float}` and `classification_metrics`,
as Kubeflow artifacts (system.Metrics / system.ClassificationMetrics) with one parameter
output per declared scalar, as Argo artifacts and output parameters, gated on, and read back
by `cnai run --local` from what cnai_runtime.log_metric wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import components

import schemacheck
from cnai import compile_source
from cnai.cli import main
from cnai.driver import CompileFailed
from test_kfp_support import evaluate, pipeline_spec
from testpaths import FIXTURES, ROOT

METRICS = (FIXTURES / "valid" / "metrics.cnai").read_text(encoding="utf-8")
LOG = ("import cnai_runtime as r; r.log_metric('accuracy', 0.93, 'scores'); "
       "r.log_roc([0.0, 1.0], [0.0, 1.0], [1.0, 0.0], 'roc')")
LOGGED = """
pipeline mets {
  step evaluate {
    image   = "python:3.12"
    command = ["python", "-c", "LOG"]
    output scores: metrics {accuracy: float}
    output roc: classification_metrics
  }
  step deploy when evaluate.scores.accuracy > 0.9 {
    image   = "python:3.12"
    command = ["echo", "deploying at ${evaluate.scores.accuracy}"]
  }
}
""".replace("LOG", LOG)


def errors(text: str) -> list[str]:
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "t.cnai", "argo")
    return [f"{d.code} {d.message}" for d in failed.value.diagnostics if d.severity == "error"]


def test_metrics_are_numbers_and_their_fields_are_checked() -> None:
    found = errors("""pipeline p {
      step e { image = "x" command = [outputs.s] output s: metrics {accuracy: string} }
      step f { image = "x" command = ["${e.s.acuracy}"] output m: model }
      step g { image = "x" command = ["${f.m.x}"] }
    }""")
    assert "E0202 a metric is a number, found string" in found
    assert "E0104 `f.m` has no fields" in found


def test_an_unknown_metric_suggests_the_declared_one() -> None:
    found = errors(METRICS.replace("evaluate.scores.accuracy >=", "evaluate.scores.acuracy >="))
    assert found == ["E0104 `evaluate.scores` has no field `acuracy`"]


def test_argo_has_the_artifact_and_a_parameter_per_scalar() -> None:
    (doc,) = yaml.safe_load_all(compile_source(METRICS, "m.cnai", "argo").text)
    schemacheck.assert_valid(doc)
    evaluate_template = next(t for t in doc["spec"]["templates"] if t["name"] == "evaluate")
    outputs = evaluate_template["outputs"]
    assert [a["name"] for a in outputs["artifacts"]] == ["scores", "quality"]
    assert [(p["name"], p["valueFrom"]["path"]) for p in outputs["parameters"]] == [
        ("scores-accuracy", "/cnai/outputs/scores-accuracy"),
        ("scores-loss", "/cnai/outputs/scores-loss")]
    assert "/cnai/outputs/scores-loss" in evaluate_template["container"]["command"]


def test_kfp_has_metrics_artifacts_scalar_parameters_and_the_metadata_file() -> None:
    compiled = compile_source(METRICS, "m.cnai", "kfp")
    doc = compiled.documents[0]
    pipeline_spec(doc)
    components.load_component_from_text(compiled.text)
    definitions = doc["components"]["comp-evaluate"]["outputDefinitions"]
    assert definitions["artifacts"]["scores"]["artifactType"]["schemaTitle"] == "system.Metrics"
    assert definitions["artifacts"]["quality"]["artifactType"]["schemaTitle"] == \
        "system.ClassificationMetrics"
    assert definitions["parameters"] == {"scores-accuracy": {"parameterType": "NUMBER_DOUBLE"},
                                         "scores-loss": {"parameterType": "NUMBER_DOUBLE"}}
    container = doc["deploymentSpec"]["executors"]["exec-evaluate"]["container"]
    # The launcher's executor output (backend/src/v2/component/launcher_v2.go).
    assert {"name": "CNAI_OUTPUT_METADATA",
            "value": "/tmp/kfp_outputs/output_metadata.json"} in container["env"]
    condition = doc["root"]["dag"]["tasks"]["condition-1"]["triggerPolicy"]["condition"]
    channels = {"pipelinechannel--evaluate-scores-accuracy": 0.95,
                "pipelinechannel--min_accuracy": 0.9}
    assert evaluate(condition, channels) is True
    assert evaluate(condition, {**channels, "pipelinechannel--evaluate-scores-accuracy": 0.5}) \
        is False


def test_local_run_reads_the_logged_metric_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "runtime_images" / "sdk"))
    source = tmp_path / "mets.cnai"
    source.write_text(LOGGED, encoding="utf-8")
    assert main(["run", str(source), "--local", "--workdir", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    nodes: dict[str, Any] = {n["id"]: n for n in json.loads((run / "run.json").read_text())[
        "nodes"]}
    assert nodes["evaluate"]["outputs"]["scores-accuracy"]["value"] == 0.93
    assert json.loads((run / nodes["evaluate"]["outputs"]["scores"]["path"]).read_text()) == {
        "accuracy": 0.93}
    assert nodes["deploy"]["status"] == "Succeeded"
    assert "deploying at 0.93" in (run / "logs" / "deploy.log").read_text()
    assert "metrics:\n  evaluate scores.accuracy = 0.93\n" in capsys.readouterr().out
