"""Which process runs a run folder, and what to do with a run whose runner is gone.

run.json names its runner while the run is under way: its pid, the pid's start time (field 22
of ``/proc/PID/stat``, clock ticks since boot, so a reused pid is not taken for the runner),
the host, and the token that marks its steps' processes (cnai.local.process). A run whose
run.json says ``Running`` but whose runner is gone (SIGKILL, a crash, a reboot) is marked
``Failed``, with its unfinished nodes, by ``cnai run --status`` and by the next ``cnai run``
in the same ``--workdir``; processes its steps left are killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from cnai.local.layout import RUN_FILE, iso, write_json
from cnai.local.process import PROC, kill_marked
from cnai.outfiles import pid_alive

UNFINISHED = ("Pending", "Running", "Retrying")


def identity(token: str) -> dict[str, Any]:
    """This process, as run.json's ``runner`` names it."""
    return {"pid": os.getpid(), "pid_started": _start_ticks(os.getpid()),
            "host": socket.gethostname(), "token": token}


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; None without /proc or process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the whole line; 3 is the first after ")"
    except (IndexError, ValueError):
        return None


def alive(runner: dict[str, Any]) -> bool | None:
    """Whether the runner named in run.json still runs; None when this machine cannot tell
    (another host)."""
    if runner.get("host") != socket.gethostname():
        return None
    pid = runner.get("pid")
    if not isinstance(pid, int):
        return False
    if not pid_alive(pid):
        return False
    started = runner.get("pid_started")
    return started is None or _start_ticks(pid) in (started, None)


def repair(folder: Path) -> dict[str, Any] | None:
    """run.json of ``folder``, marked Failed first if its runner is gone; None if unreadable."""
    path = folder / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    runner = data.get("runner")
    if (data.get("status") != "Running" or not isinstance(runner, dict)
            or alive(runner) is not False):
        return data
    token = runner.get("token")
    killed = kill_marked(None, f"{token}/", signal.SIGKILL) if isinstance(token, str) else 0
    now = iso(time.time())
    message = f"interrupted: its runner (pid {runner.get('pid')}) is gone"
    if killed:
        message += f"; {killed} process{'es' if killed > 1 else ''} left by its steps killed"
    data["status"] = "Failed"
    data["message"] = message
    data["finished"] = now
    for node in data.get("nodes", []):
        if isinstance(node, dict) and node.get("status") in UNFINISHED:
            node["status"] = "Failed"
            node["message"] = "interrupted: the runner is gone"
            node["finished"] = now
    with contextlib.suppress(OSError):
        write_json(path, data)
    return data


def repair_all(workdir: Path) -> None:
    """Mark every run in ``workdir`` whose runner is gone (before a new run starts there)."""
    if not workdir.is_dir():
        return
    for folder in sorted(workdir.iterdir()):
        if _says_running(folder / RUN_FILE):
            repair(folder)


def _says_running(path: Path) -> bool:
    """A cheap look at the start of run.json, where ``status`` is (before params and nodes)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b'"status": "Running"' in head
