"""What `cnai compile -o` and `--split` leave on disk (cnai.outfiles): nothing lost, nothing
half-written, nothing stale, the user's file modes and links kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cnai import outfiles
from testpaths import EXAMPLES, ROOT

SEED = EXAMPLES / "model_pipeline.cnai"


def cnai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnai", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".cnai-tmp"))


def test_output_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    out.write_text("old\n")
    out.chmod(0o640)
    assert cnai("compile", str(SEED), "-o", str(out)).returncode == 0
    assert out.read_text().startswith("apiVersion: argoproj.io/v1alpha1")
    assert out.stat().st_mode & 0o777 == 0o640


def test_a_new_output_gets_the_umasks_mode_not_0600(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    result = subprocess.run(["sh", "-c", f'umask 022 && "{sys.executable}" -m cnai compile '
                             f'"{SEED}" -o "{out}"'], cwd=ROOT, check=False)
    assert result.returncode == 0
    assert out.stat().st_mode & 0o777 == 0o644


def test_a_symlink_stays_a_link_to_the_replaced_file(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real.name)
    assert cnai("compile", str(SEED), "-o", str(link)).returncode == 0
    assert link.is_symlink() and os.readlink(link) == "real.yaml"
    assert real.read_text().startswith("apiVersion:")


def test_a_read_only_output_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    out.write_text("keep me\n")
    out.chmod(0o444)
    result = cnai("compile", str(SEED), "-o", str(out))
    assert result.returncode == 2
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert out.read_text() == "keep me\n"
    assert leftovers(tmp_path) == []


def test_the_text_is_fsynced_before_the_rename(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), replace(a, b))[1])
    outfiles.write_atomically(tmp_path / "out.yaml", "text\n")
    assert calls[:2] == ["fsync", "replace"]  # then the directory's fsync
    assert (tmp_path / "out.yaml").read_text() == "text\n"


def test_a_long_text_is_written_as_its_utf8_bytes(tmp_path: Path) -> None:
    # Written a slice at a time (not encoded whole), with characters of every UTF-8 length
    # across the slices' ends.
    text = "a\u00e9\u20ac\U0001f600" * 300_001
    outfiles.write_atomically(tmp_path / "out.yaml", text)
    assert (tmp_path / "out.yaml").read_bytes() == text.encode("utf-8")


KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from cnai import outfiles
real_fsync = os.fsync
def fsync(fd):
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    real_fsync(fd)
os.fsync = fsync
outfiles.write_atomically(Path(sys.argv[1]), "new\\n")
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_mid_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                                 name: str) -> None:
    out = tmp_path / "wf.yaml"
    out.write_text("old\n")
    result = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(out), name],
                            capture_output=True, text=True, check=False)
    signum = getattr(signal, name)
    assert result.returncode in (-signum, 128 + signum, 1)  # SIGINT: KeyboardInterrupt
    assert out.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_a_temporary_left_by_a_killed_writer_is_removed_next_time(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".wf.yaml.{int(gone.stdout)}.cnai-tmp"
    stale.write_text("half a work")
    alive = tmp_path / f".wf.yaml.{os.getpid() + 0}.cnai-tmp"  # ours: a live process
    alive.write_text("in progress")
    assert cnai("compile", str(SEED), "-o", str(tmp_path / "wf.yaml")).returncode == 0
    assert not stale.exists()
    assert alive.exists()


def test_split_replaces_its_files_as_a_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cnai("compile", str(EXAMPLES / "cloud_native.cnai"), "--split", str(out)
                ).returncode == 0
    first = sorted(p.name for p in out.iterdir())
    assert "01-cronworkflow-resnet.yaml" in first
    (out / "notes.txt").write_text("the user's own\n")
    assert cnai("compile", str(SEED), "--split", str(out)).returncode == 0
    # Only the new pipeline's objects remain beside the user's file: `kubectl apply -f out`
    # would otherwise apply the stale CronWorkflow and quota too.
    assert sorted(p.name for p in out.iterdir()) == [
        ".cnai-split", "01-workflow-model-pipeline.yaml", "notes.txt"]
    assert (out / ".cnai-split").read_text() == "01-workflow-model-pipeline.yaml\n"


def test_split_removes_nothing_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / ".cnai-split").write_text("../outside.yaml\n.cnai-split\nmine.yaml\n")
    (tmp_path.parent / "outside.yaml").write_text("not ours\n")
    (tmp_path / "mine.yaml").write_text("listed: removed\n")
    removed = outfiles.write_split(tmp_path, {"01-a.yaml": "a\n"})
    assert removed == ["mine.yaml"]
    assert (tmp_path.parent / "outside.yaml").exists()
