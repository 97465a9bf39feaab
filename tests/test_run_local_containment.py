"""`cnai run --local` stays within its bounds (issue 15, items 5 and 6): a step's log is read
from its end, a parameter output is capped, a data set cannot be read from outside its claim,
no process a step started outlives it, a run whose runner was killed is marked, and a step
without `timeout` is bounded by a default."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from cnai.cli import main
from cnai.local.layout import Layout
from cnai.local.logs import tail_lines
from cnai.local.progress import summary
from cnai.local.state import Context, Status, StepRun
from cnai.local.values import MAX_PARAMETER_BYTES
from cnai.semantics import ir

LOCAL = Path(__file__).resolve().parent / "fixtures" / "local"
LOG_BYTES = 50_000_000
# Processes that left their group are found through /proc (Linux); elsewhere only the group.
needs_proc = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="no /proc")


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fixture: str,
         *extra: str) -> tuple[int, dict[str, Any], Path, str]:
    workdir = tmp_path / "runs"
    before = set(workdir.iterdir()) if workdir.exists() else set()
    code = main(["run", str(LOCAL / fixture), "--local", "--workdir", str(workdir), *extra])
    out = capsys.readouterr().out
    (folder,) = set(workdir.iterdir()) - before
    return code, json.loads((folder / "run.json").read_text()), folder, out


def _node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def _gone(pid: int) -> bool:
    """No such process, or a zombie (a reaped-by-nobody orphan in a container is one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def _wait_for(check: Any, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


# ---- item 5: logs and parameter outputs ----------------------------------------------------

def test_the_summary_reads_a_failed_logs_end_only(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "chatty.log"
    log.parent.mkdir()
    with log.open("wb") as handle:
        chunk = b"a line of the log\n" * 65536
        for _ in range(LOG_BYTES // len(chunk)):
            handle.write(chunk)
        handle.write(b"the last line\n")
    step = ir.Step.model_construct(name="chatty", kind="container")
    node = StepRun("chatty", Context(), step=step, status=Status.FAILED, message="exited",
                   log=log)
    out = io.StringIO()
    tracemalloc.start()
    try:
        summary(Status.FAILED, Layout(tmp_path), [node], 1.0, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"reading the log's end took {peak:,} bytes"
    shown = out.getvalue().splitlines()
    assert shown[2:11] == ["  log: logs/chatty.log (last lines)",
                           *["  | a line of the log"] * 7, "  | the last line"]


def test_tail_lines_keeps_whole_lines_of_its_window(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"0123456789\nabc\ndef\n")
    assert tail_lines(log, 8, budget=8) == ["abc", "def"]  # the window starts in "0123..."
    assert tail_lines(log, 8, budget=9) == ["abc", "def"]  # ... and at "abc"
    assert tail_lines(log, 1) == ["def"]
    log.write_bytes(b"x" * 100)
    assert tail_lines(log, 8, budget=10) == ["x" * 10]  # a long line, cut at its start
    assert tail_lines(tmp_path / "missing.log") == []


@needs_proc
def test_a_run_with_a_huge_log_stays_small(tmp_path: Path) -> None:
    """The whole command, in a process of its own: its peak memory does not follow the 50 MB
    log of the failed step (it did: the log was read whole, then split)."""
    # VmHWM, the peak of this process's memory since its exec (ru_maxrss would carry the
    # pytest process's own peak over the fork and exec).
    code = ("import re, sys; from pathlib import Path; from cnai.cli import main; "
            f"main(['run', {str(LOCAL / 'bigoutputs.cnai')!r}, '--local', '--workdir', "
            f"{str(tmp_path / 'runs')!r}, '-p', 'bytes=10']); "
            "status = Path('/proc/self/status').read_text(); "
            r"print('peak', re.search(r'VmHWM:\s*(\d+)', status)[1], file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False, env=env)
    peak_kib = int(result.stderr.rsplit("peak ", 1)[1])
    assert "  | the last line" in result.stdout, result.stdout
    assert peak_kib < 100_000, f"peak {peak_kib} KiB"  # the log alone is 48,828 KiB


def test_a_parameter_output_is_capped_as_on_argo(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, data, folder, out = _run(tmp_path, capsys, "bigoutputs.cnai",
                                   "-p", f"bytes={MAX_PARAMETER_BYTES}")
    assert code == 1  # chatty fails; wordy wrote exactly the cap (and a newline): kept
    assert len(_node(data, "wordy")["outputs"]["text"]["value"]) == MAX_PARAMETER_BYTES
    code, data, folder, out = _run(tmp_path, capsys, "bigoutputs.cnai",
                                   "-p", "bytes=50000000")
    node = _node(data, "wordy")
    assert node["status"] == "Failed"
    path = folder / "steps" / "wordy" / "outputs" / "text"
    assert node["message"] == (
        f"output `text` (string): 50,000,001 bytes were written at {path}, more than the "
        "256 KiB a parameter output may hold (Argo keeps no more of a step's result); write "
        "it as an artifact output instead")
    assert node["outputs"] == {}
    assert (folder / "run.json").stat().st_size < 10_000
    assert len(out) < 10_000 and "xxxxxxxxxx" not in out


# ---- item 6: containment -------------------------------------------------------------------

@pytest.mark.parametrize("source", ["pvc://data/../../secret", "pvc://data/../other/x",
                                    "pvc://../secret", "pvc://data/out", "pvc://data/tree"])
def test_a_claim_is_read_inside_its_folder_only(tmp_path: Path, source: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    claims = tmp_path / "claims"
    (claims / "data" / "tree").mkdir(parents=True)
    (claims / "other").mkdir()
    (claims / "other" / "x").write_text("another claim's\n")
    (tmp_path / "secret").write_text("not for steps\n")
    (claims / "data" / "out").symlink_to(tmp_path / "secret")
    (claims / "data" / "tree" / "words.txt").write_text("a b\n")
    (claims / "data" / "tree" / "leak").symlink_to(tmp_path / "secret")
    code, data, folder, _ = _run(tmp_path, capsys, "dataset.cnai", "-p", f"source={source}",
                                 "--pvc-root", str(claims))
    assert code == 1
    preload = _node(data, "preload_corpus")
    assert preload["status"] == "Failed"
    assert "outside the claim's folder" in preload["message"] or (
        "does not name a claim" in preload["message"])
    assert not any(p.is_file() and "not for steps" in p.read_text()
                   for p in (folder / "datasets").rglob("*"))


@needs_proc
def test_no_process_outlives_its_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    pids = tmp_path / "pids"
    _, data, _, _ = _run(tmp_path, capsys, "daemons.cnai", "-p", f"pids={pids}")
    assert _node(data, "leaves")["status"] == "Succeeded"
    assert _node(data, "hangs")["message"].startswith("timed out after 1s")
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 5  # 2 left by `leaves`, 2 + 1 by `hangs`
    try:
        _wait_for(lambda: all(_gone(pid) for pid in started), "a step's process survived", 5)
    finally:
        for pid in started:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def _killed_run(tmp_path: Path) -> tuple[Path, int]:
    """A run SIGKILLed while its step runs: its run folder and the step's pid."""
    pidfile = tmp_path / "pid"
    command = [sys.executable, "-m", "cnai", "run", str(LOCAL / "interrupt.cnai"), "--local",
               "--workdir", str(tmp_path / "runs"), "-p", f"pidfile={pidfile}"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as cnai:
        _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), "no step started")
        (folder,) = (tmp_path / "runs").iterdir()
        _wait_for(lambda: '"Running"' in (folder / "run.json").read_text().split('"nodes"')[1],
                  "run.json does not show the running step")
        cnai.kill()
        cnai.wait()
    step_pid = int(pidfile.read_text())
    assert not _gone(step_pid)  # what the issue saw: the step, orphaned
    return folder, step_pid


@needs_proc
def test_status_marks_a_run_whose_runner_was_killed(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder, step_pid = _killed_run(tmp_path)
    runner_pid = json.loads((folder / "run.json").read_text())["runner"]["pid"]
    assert main(["run", "--status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{folder.name} Failed - interrupted: its runner (pid {runner_pid}) is gone; 1 "
        "process left by its steps killed",
        "  wait Failed - interrupted: the runner is gone"]
    data = json.loads((folder / "run.json").read_text())
    assert data["status"] == "Failed" and data["finished"] is not None
    assert _node(data, "wait")["status"] == "Failed"
    _wait_for(lambda: _gone(step_pid), "the orphaned step still runs", 5)
    assert main(["run", "--status", "--workdir", str(tmp_path / "runs")]) == 0
    assert capsys.readouterr().out.startswith(f"{folder.name} Failed - interrupted")


@needs_proc
def test_the_next_run_marks_a_killed_one(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder, step_pid = _killed_run(tmp_path)
    code, _, new, _ = _run(tmp_path, capsys, "gates.cnai")
    assert code == 0 and new != folder
    data = json.loads((folder / "run.json").read_text())
    assert data["status"] == "Failed"
    assert _node(data, "wait")["message"] == "interrupted: the runner is gone"
    _wait_for(lambda: _gone(step_pid), "the orphaned step still runs", 5)


def test_a_live_run_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, data, folder, _ = _run(tmp_path, capsys, "gates.cnai")
    assert "runner" not in data  # only while it runs
    running = {**data, "status": "Running", "runner": {
        "pid": os.getpid(), "pid_started": None, "host": os.uname().nodename, "token": "x"}}
    (folder / "run.json").write_text(json.dumps(running))
    assert main(["run", "--status", str(folder)]) == 0
    assert capsys.readouterr().out.startswith(f"{folder.name} Running\n")


def test_a_step_without_timeout_gets_the_default(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _, _ = _run(tmp_path, capsys, "interrupt.cnai", "-p",
                            f"pidfile={tmp_path / 'pid'}", "--step-timeout", "0.5")
    assert code == 1
    assert _node(data, "wait")["message"] == (
        "timed out after 0.5s (--step-timeout: the step sets no `timeout`); the process "
        "group was killed")
    code, data, _, _ = _run(tmp_path, capsys, "timeout.cnai", "--step-timeout", "1d")
    assert _node(data, "sleepy")["message"] == (
        "timed out after 1s; the process group was killed")  # its own timeout wins


def test_step_timeout_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "soon", "-3", "inf"):
        assert main(["run", str(LOCAL / "gates.cnai"), "--local", "--workdir",
                     str(tmp_path), "--step-timeout", bad]) == 2
        assert f"--step-timeout {bad}: expected a duration" in capsys.readouterr().err
