"""log_metric / log_confusion_matrix / log_roc: the artifact file, the scalar parameter
outputs, and the executor-output metadata Kubeflow's launcher reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnai_runtime import log_confusion_matrix, log_metric, log_roc, read_output
from cnai_runtime.metrics import OUTPUT_METADATA_ENV


@pytest.fixture(autouse=True)
def _no_ambient_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CNAI_OUTPUTS", "CNAI_OUTPUTS_DIR", OUTPUT_METADATA_ENV):
        monkeypatch.delenv(var, raising=False)


def test_argo_scalars_go_to_the_artifact_and_one_parameter_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path))
    log_metric("accuracy", 0.93, output="scores")
    log_metric("loss", 1e-05, output="scores")
    assert json.loads((tmp_path / "scores").read_text()) == {"accuracy": 0.93, "loss": 1e-05}
    assert (tmp_path / "scores-accuracy").read_text() == "0.93"
    assert read_output("scores-loss", float) == 1e-05
    assert not (tmp_path / "kfp").exists()


def test_kfp_metadata_is_the_executor_output_the_launcher_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {"scores": str(tmp_path / "minio" / "scores"),
               "scores-accuracy": str(tmp_path / "params" / "acc"),
               "quality": str(tmp_path / "minio" / "quality")}
    metadata = tmp_path / "kfp_outputs" / "output_metadata.json"
    monkeypatch.setenv("CNAI_OUTPUTS", json.dumps(outputs))
    monkeypatch.setenv(OUTPUT_METADATA_ENV, str(metadata))
    log_metric("accuracy", 0.9, output="scores")
    log_metric("f1", 0.8, output="scores")  # not declared: metadata only, no parameter file
    log_confusion_matrix(["cat", "dog"], [[9, 1], [2, 8]], output="quality")
    log_roc([0.0, 0.5], [0.0, 0.9], [1.0, 0.5], output="quality")
    assert (tmp_path / "params" / "acc").read_text() == "0.9"
    assert not (tmp_path / "params" / "scores-f1").exists()
    written = json.loads(metadata.read_text())
    assert written == {"artifacts": {
        "scores": {"artifacts": [{"metadata": {"accuracy": 0.9, "f1": 0.8}}]},
        "quality": {"artifacts": [{"metadata": {
            "confusionMatrix": {"annotationSpecs": [{"displayName": "cat"},
                                                    {"displayName": "dog"}],
                                "rows": [{"row": [9, 1]}, {"row": [2, 8]}]},
            "confidenceMetrics": [
                {"confidenceThreshold": 1.0, "recall": 0.0, "falsePositiveRate": 0.0},
                {"confidenceThreshold": 0.5, "recall": 0.9, "falsePositiveRate": 0.5}]}}]}}}


def test_kfp_metadata_has_the_shapes_of_kfps_own_artifacts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsl = pytest.importorskip("kfp.dsl")
    metadata = tmp_path / "output_metadata.json"
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path))
    monkeypatch.setenv(OUTPUT_METADATA_ENV, str(metadata))
    log_confusion_matrix(["a", "b"], [[1, 2], [3, 4]], output="c")
    log_roc([0.1], [0.2], [0.3], output="c")
    log_metric("acc", 0.5, output="m")
    theirs = dsl.ClassificationMetrics()
    theirs.log_confusion_matrix(["a", "b"], [[1, 2], [3, 4]])
    theirs.log_roc_curve([0.1], [0.2], [0.3])
    scalars = dsl.Metrics()
    scalars.log_metric("acc", 0.5)
    written = json.loads(metadata.read_text())["artifacts"]
    assert written["c"]["artifacts"][0]["metadata"] == theirs.metadata
    assert written["m"]["artifacts"][0]["metadata"] == scalars.metadata


@pytest.mark.parametrize("call, error", [
    (lambda: log_metric("x", float("nan")), ValueError),
    (lambda: log_metric("x", True), TypeError),  # type: ignore[arg-type]
    (lambda: log_confusion_matrix(["a"], [[1, 2]]), ValueError),
    (lambda: log_roc([0.0], [0.0, 1.0], [1.0]), ValueError),
])
def test_bad_metrics_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 call: object, error: type[Exception]) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path))
    with pytest.raises(error):
        call()  # type: ignore[operator]
    assert not list(tmp_path.iterdir())


def test_kfp_metadata_parses_as_the_launchers_executor_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # launcher_v2.go getExecutorOutputFile: protojson.Unmarshal into ExecutorOutput, which
    # refuses unknown fields.
    pipeline_spec = pytest.importorskip("kfp.pipeline_spec.pipeline_spec_pb2")
    json_format = pytest.importorskip("google.protobuf.json_format")
    metadata = tmp_path / "output_metadata.json"
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path))
    monkeypatch.setenv(OUTPUT_METADATA_ENV, str(metadata))
    log_metric("accuracy", 0.93, output="scores")
    log_confusion_matrix(["a", "b"], [[1, 0], [0, 1]], output="quality")
    parsed = json_format.Parse(metadata.read_text(), pipeline_spec.ExecutorOutput())
    scores = parsed.artifacts["scores"].artifacts[0].metadata
    assert dict(scores) == {"accuracy": 0.93}
    assert sorted(parsed.artifacts) == ["quality", "scores"]  # a map: no order
