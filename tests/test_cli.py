"""The `cnai` command through a subprocess: exit codes, streams, files, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testpaths import EXAMPLES, FIXTURES, ROOT

SEED = EXAMPLES / "model_pipeline.cnai"


def cnai(*args: str, cwd: Path = ROOT, seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "cnai", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_compile_to_stdout_and_file(tmp_path: Path) -> None:
    to_stdout = cnai("compile", str(SEED), "--target", "argo")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.startswith("apiVersion: argoproj.io/v1alpha1\n")
    assert to_stdout.stderr == ""
    out = tmp_path / "wf.yaml"
    to_file = cnai("compile", str(SEED), "-o", str(out))
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert out.read_text() == to_stdout.stdout


def test_output_is_byte_identical_across_processes() -> None:
    runs = {cnai("compile", str(SEED), "--target", t, seed=s).stdout
            for t in ("argo",) for s in ("0", "1", "random")}
    assert len(runs) == 1


def test_check_ok_and_errors() -> None:
    ok = cnai("check", str(SEED))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    bad = cnai("check", str(FIXTURES / "diagnostics" / "names.cnai"), str(SEED))
    assert bad.returncode == 1
    assert "error[E0102]: unknown step `trian`" in bad.stderr
    assert "= help: did you mean `train`?" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_json_format() -> None:
    result = cnai("check", "--format", "json", str(FIXTURES / "diagnostics" / "cycle.cnai"))
    assert result.returncode == 1
    document = json.loads(result.stderr)
    assert [d["code"] for d in document["diagnostics"]] == ["E0301"]
    assert document["diagnostics"][0]["message"] == "dependency cycle: `a` -> `b` -> `c` -> `a`"


@pytest.mark.parametrize("content, code", [
    (bytes(range(256)) * 4, "E0001"),
    (b"", "E0009"),
    (b"\x00\x01\x02garbage\xff", "E0001"),
    (b"pipeline p { step a { image = " + b"[" * 3000 + b"]" * 3000 + b" } }", "E0008"),
    (b"pipeline p { " + b"if true { " * 3000 + b"}" * 3000 + b" }", "E0008"),
    (b"\x00\x00\x00", "E0002"),
])
def test_hostile_input_gets_a_diagnostic(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "bad.cnai"
    path.write_bytes(content)
    result = cnai("check", str(path))
    assert result.returncode == 1, result.stderr
    assert f"error[{code}]" in result.stderr
    assert "Traceback" not in result.stderr


def test_failed_compile_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    out.write_text("previous\n")
    bad = tmp_path / "bad.cnai"
    bad.write_text("pipeline p { step a { } }\n")
    result = cnai("compile", str(bad), "-o", str(out))
    assert result.returncode == 1 and "E0106" in result.stderr
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cnai", "wf.yaml"]


@pytest.mark.parametrize("args", [
    ["compile"], ["frobnicate"], ["compile", str(SEED), "--target", "airflow"], [],
])
def test_bad_usage_exits_2(args: list[str]) -> None:
    result = cnai(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_missing_file_and_refusing_to_clobber_the_input(tmp_path: Path) -> None:
    missing = cnai("check", str(tmp_path / "nope.cnai"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    source = tmp_path / "p.cnai"
    source.write_text(SEED.read_text())
    clobber = cnai("compile", str(source), "-o", str(source))
    assert clobber.returncode == 2 and "refusing to overwrite" in clobber.stderr
    assert source.read_text() == SEED.read_text()


def test_ir_target_is_json() -> None:
    result = cnai("compile", str(SEED), "--target", "ir")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert [s["name"] for s in document["steps"]][-1] == "deploy"


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "w.cnai"
    path.write_text('pipeline p { step a { image = "x" resources { memory = "512m" } } }\n')
    result = cnai("compile", str(path))
    assert result.returncode == 0
    assert "warning[W0101]" in result.stderr and "did you mean \"512Mi\"?" in result.stderr
    assert result.stdout.startswith("apiVersion:")


def test_python_dash_m_and_version() -> None:
    result = cnai("--version")
    assert result.returncode == 0
    assert result.stdout in ("cnai 0.1.0 (pure Python)\n", "cnai 0.1.0 (compiled)\n")


def test_explain_lists_what_each_pass_did(tmp_path: Path) -> None:
    path = tmp_path / "p.cnai"
    path.write_text('pipeline p { step a { image = "x" }\n step b when 1 > 2 { image = "x" } }\n')
    text = cnai("compile", str(path), "--explain")
    assert text.returncode == 0
    assert "explain: fold_constant_gates: `1 > 2` is always false; removed 1 step(s): b" in (
        text.stderr)
    as_json = cnai("compile", str(path), "--explain", "--format", "json")
    document = json.loads(as_json.stderr)
    assert [d["code"] for d in document["diagnostics"]] == ["W0302"]
    assert any(line.startswith("check_size: ") for line in document["explain"])
    unknown = cnai("compile", str(path), "--passes", "reduce_edges,frobnicate")
    assert unknown.returncode == 2 and "unknown pass 'frobnicate'" in unknown.stderr


def test_output_to_a_device_writes_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    result = cnai("compile", str(SEED), "-o", str(fifo))
    out, _ = reader.communicate(timeout=60)
    assert result.returncode == 0
    assert out.startswith("apiVersion: argoproj.io/v1alpha1")
    assert fifo.exists() and not fifo.is_file()  # still the pipe, not replaced by a file


def test_split_writes_one_file_per_object(tmp_path: Path) -> None:
    example = EXAMPLES / "cloud_native.cnai"
    argo = cnai("compile", str(example), "--split", str(tmp_path / "argo"))
    assert argo.returncode == 0
    assert sorted(p.name for p in (tmp_path / "argo").glob("*.yaml")) == [
        "01-cronworkflow-resnet.yaml", "02-resourcequota-resnet-quota.yaml",
        "03-limitrange-resnet-limits.yaml"]
    kfp = cnai("compile", str(example), "--target", "kfp", "--split", str(tmp_path / "kfp"))
    assert kfp.returncode == 0
    # The quota objects, which the KFP file cannot carry, come after the pipeline.
    assert sorted(p.name for p in (tmp_path / "kfp").glob("*.yaml")) == [
        "01-pipeline-resnet.yaml", "02-resourcequota-resnet-quota.yaml",
        "03-limitrange-resnet-limits.yaml"]


def test_the_cycle_collector_is_as_the_caller_left_it() -> None:
    # `check` and `compile` turn the collector off while they run; a caller that goes on
    # (a test run, a tool) gets it back as it was.
    import gc

    from cnai.cli import main

    assert gc.isenabled()
    main(["check", str(EXAMPLES / "model_pipeline.cnai")])
    assert gc.isenabled()
