"""cnai_train: runtime report, GPU requirement, output preparation, exec of the command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cnai_runtime import exitcodes
from cnai_testkit.procs import PACKAGE_DIRS, run_module

FAKE_TORCH = """
__version__ = "9.9.9+fake"
class version:
    cuda = "12.4"
class cuda:
    @staticmethod
    def is_available():
        return True
    @staticmethod
    def device_count():
        return 2
    @staticmethod
    def get_device_name(index):
        return f"Fake GPU {index}"
"""


def _with_fake_torch(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "fake" / "torch").mkdir(parents=True)
    (tmp_path / "fake" / "torch" / "__init__.py").write_text(FAKE_TORCH)
    return {"PYTHONPATH": ":".join([str(tmp_path / "fake"), *map(str, PACKAGE_DIRS)])}


def test_report_then_exec_passes_the_exit_status_through(tmp_path: Path) -> None:
    code = "import os, sys; print(os.environ['RANK']); sys.exit(7)"
    result = run_module(
        "cnai_train",
        ["--", sys.executable, "-c", code],
        env={"RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "job-master-0", "MASTER_PORT": "23456"},
    )
    assert result.returncode == 7, result.stderr
    assert result.stdout == "1\n"
    assert "torch: not installed" in result.stderr
    assert "distributed: rank 1 of 4 (master job-master-0:23456)" in result.stderr
    assert "exec: " in result.stderr


def test_require_gpu_without_cuda_exits_10(tmp_path: Path) -> None:
    result = run_module("cnai_train", ["--require-gpu", "--", "true"])
    assert result.returncode == exitcodes.NO_GPU
    assert "no CUDA device is visible" in result.stderr


def test_gpus_and_tfjob_role_are_reported(tmp_path: Path) -> None:
    tf_config = {
        "cluster": {"chief": ["c:2222"], "worker": ["w0:2222", "w1:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    env = {**_with_fake_torch(tmp_path), "TF_CONFIG": json.dumps(tf_config)}
    result = run_module("cnai_train", ["--require-gpu"], env=env)
    assert result.returncode == 0, result.stderr
    assert "torch: 9.9.9+fake (CUDA build 12.4)" in result.stderr
    assert "cuda: 2 device(s): Fake GPU 0, Fake GPU 1" in result.stderr
    assert "distributed: TFJob worker 1 of 3 tasks" in result.stderr


def test_output_locations_are_prepared(tmp_path: Path) -> None:
    mapped = tmp_path / "kfp" / "outputs" / "loss" / "data"
    env = {
        "CNAI_OUTPUTS_DIR": str(tmp_path / "outputs"),
        "CNAI_OUTPUTS": json.dumps({"loss": str(mapped)}),
    }
    result = run_module("cnai_train", [], env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "outputs").is_dir()
    assert mapped.parent.is_dir() and not mapped.exists()


def test_missing_command_is_reported(tmp_path: Path) -> None:
    result = run_module("cnai_train", ["--", "no-such-command-cnai"])
    assert result.returncode == exitcodes.NOT_FOUND
    assert "command not found: no-such-command-cnai" in result.stderr
