"""output / output_path / input_value / input_path against the documented environment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cnai_runtime import (
    ContractError,
    ValueFormatError,
    input_path,
    input_value,
    output,
    output_path,
    outputs_configured,
    read_output,
)
from cnai_runtime.paths import input_env_name, input_location, output_location


@pytest.fixture(autouse=True)
def _no_ambient_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CNAI_OUTPUTS", "CNAI_OUTPUTS_DIR", "CNAI_INPUTS", "CNAI_INPUTS_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_argo_outputs_go_to_the_outputs_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path / "outputs"))
    assert outputs_configured()
    path = output("accuracy", 0.93)
    assert path == tmp_path / "outputs" / "accuracy"
    assert path.read_bytes() == b"0.93"  # no trailing newline
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    output("epochs", 90)
    output("converged", True)
    output("name", "resnet")
    output("losses", [0.5, 0.25])
    assert {p.name: p.read_text() for p in (tmp_path / "outputs").iterdir()} == {
        "accuracy": "0.93",
        "epochs": "90",
        "converged": "true",
        "name": "resnet",
        "losses": "[0.5,0.25]",
    }
    assert read_output("losses", list[float]) == [0.5, 0.25]
    assert read_output("converged", bool) is True


def test_kfp_mapping_wins_over_the_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kfp_file = tmp_path / "tmp" / "kfp" / "outputs" / "accuracy"
    monkeypatch.setenv("CNAI_OUTPUTS", json.dumps({"accuracy": str(kfp_file)}))
    monkeypatch.setenv("CNAI_OUTPUTS_DIR", str(tmp_path / "dir"))
    assert output("accuracy", 0.5) == kfp_file
    assert kfp_file.read_text() == "0.5"
    assert output("other", 1) == tmp_path / "dir" / "other"  # not mapped: falls back


def test_output_path_creates_the_parent_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "minio" / "bucket" / "run" / "model"
    monkeypatch.setenv("CNAI_OUTPUTS", json.dumps({"model": str(target)}))
    path = output_path("model")
    assert path == target
    assert path.parent.is_dir() and not path.exists()


def test_default_locations_without_any_environment() -> None:
    assert not outputs_configured({})
    assert output_location("model", {}) == Path("/cnai/outputs/model")
    assert input_location("model", {}) == Path("/cnai/inputs/model")


def test_input_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNAI_INPUT_EPOCHS", "90")
    monkeypatch.setenv("CNAI_INPUT_LEARNING_RATE", "0.001")
    monkeypatch.setenv("CNAI_INPUT_LRS", "[0.1,0.01]")
    monkeypatch.setenv("CNAI_INPUT_DATA_URI", "s3://datasets/imagenet")
    assert input_value("epochs", int) == 90
    assert input_value("learning-rate", float) == 0.001
    assert input_value("lrs", list[float]) == [0.1, 0.01]
    assert input_value("data_uri") == "s3://datasets/imagenet"
    assert input_value("missing", int, 3) == 3
    with pytest.raises(ContractError, match="CNAI_INPUT_MISSING"):
        input_value("missing", int)
    monkeypatch.setenv("CNAI_INPUT_BAD", "ninety")
    with pytest.raises(ValueFormatError, match="input 'bad' \\(CNAI_INPUT_BAD\\)"):
        input_value("bad", int)


def test_input_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "model").write_text("weights")
    monkeypatch.setenv("CNAI_INPUTS_DIR", str(tmp_path / "inputs"))
    assert input_path("model").read_text() == "weights"
    with pytest.raises(FileNotFoundError, match="input artifact 'data' not found"):
        input_path("data")
    assert input_path("data", must_exist=False) == tmp_path / "inputs" / "data"
    monkeypatch.setenv("CNAI_INPUTS", json.dumps({"data": str(tmp_path / "inputs" / "model")}))
    assert input_path("data").read_text() == "weights"


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "9lives", "with space"])
def test_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(ContractError, match="invalid input/output name"):
        output_location(name, {})


def test_bad_mapping_is_a_contract_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNAI_OUTPUTS", "{not json")
    with pytest.raises(ContractError, match="CNAI_OUTPUTS is not valid JSON"):
        output_location("x")
    monkeypatch.setenv("CNAI_OUTPUTS", '["x"]')
    with pytest.raises(ContractError, match="JSON object"):
        output_location("x")


def test_env_names() -> None:
    assert input_env_name("learning-rate") == "CNAI_INPUT_LEARNING_RATE"
    assert input_env_name("epochs") == "CNAI_INPUT_EPOCHS"
