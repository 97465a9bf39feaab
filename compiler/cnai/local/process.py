"""Run one attempt of a step as a process group, with a deadline, its output to a log.

A timeout sends SIGTERM to the whole process group, then SIGKILL after a grace period, as
Kubernetes does to a pod past ``activeDeadlineSeconds``. When the command exits, whatever
it left running in its group is killed too: a pod's processes end with its main container.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

GRACE_SECONDS = 3.0
EXIT_NOT_FOUND = 127


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    timeout: float | None = None
    container: str | None = None  # the `docker run --name`, to stop it on a timeout
    notes: tuple[str, ...] = ()  # for the log, after the header


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    timed_out: bool = False
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class Processes:
    """The process groups running now, so that an interrupt can stop them all."""

    grace: float = GRACE_SECONDS
    _running: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: bool = False

    def run(self, invocation: Invocation, header: str) -> Outcome:
        invocation.log.parent.mkdir(parents=True, exist_ok=True)
        with invocation.log.open("ab") as log:
            notes = "".join(f"cnai: {note}\n" for note in invocation.notes)
            log.write(f"{header}\n{notes}$ {shlex.join(invocation.argv)}\n".encode())
            log.flush()
            try:
                process = self._start(invocation, log)
            except OSError as error:
                message = _start_error(invocation.argv[0], error)
                log.write(f"cnai: {message}\n".encode())
                return Outcome(EXIT_NOT_FOUND, message=message)
            try:
                code = process.wait(invocation.timeout)
            except subprocess.TimeoutExpired:
                self._stop(process, invocation.container)
                message = f"timed out after {invocation.timeout:g}s; the process group was killed"
                log.write(f"\ncnai: {message}\n".encode())
                return Outcome(_code(process.returncode), timed_out=True, message=message)
            finally:
                self._forget(process)
            _kill_group(process.pid, signal.SIGKILL)
        code = _code(code)
        return Outcome(code, message="" if code == 0 else f"exited with status {code}")

    def _start(self, invocation: Invocation, log: BinaryIO) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.stopping:
                raise InterruptedError("the run is being stopped")
            process = subprocess.Popen(
                invocation.argv, cwd=invocation.cwd, env=invocation.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
            self._running[process.pid] = process
            return process

    def _forget(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.pop(process.pid, None)

    def _stop(self, process: subprocess.Popen[bytes], container: str | None) -> None:
        if container is not None:
            subprocess.run(["docker", "kill", container], capture_output=True, check=False)
        _kill_group(process.pid, signal.SIGTERM)
        try:
            process.wait(self.grace)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        """Stop every running attempt (Ctrl-C): SIGTERM, then SIGKILL after the grace."""
        with self._lock:
            self.stopping = True
            running = list(self._running.values())
        for process in running:
            _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(process.pid, signal.SIGKILL)


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _code(returncode: int | None) -> int:
    """Exit status as a shell shows it: 128+N for a process killed by signal N."""
    if returncode is None:
        return 1
    return 128 - returncode if returncode < 0 else returncode


def _start_error(program: str, error: OSError) -> str:
    if isinstance(error, InterruptedError):
        return str(error)
    if isinstance(error, FileNotFoundError):
        return f"cannot run `{program}`: command not found"
    return f"cannot run `{program}`: {error.strerror or error}"


# ---- Docker -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool = False


def docker_argv(image: str, command: Sequence[str], args: Sequence[str],
                env_names: Sequence[str], mounts: Sequence[Mount], name: str,
                gpus: int | None = None, user: str | None = None) -> list[str]:
    """``docker run`` for one attempt. Env values are not on the command line: ``-e NAME``
    passes each from the environment of the docker client, which the runner sets."""
    argv = ["docker", "run", "--rm", "--name", name, "--init"]
    if user:
        argv += ["--user", user]
    for mount in mounts:
        spec = f"{mount.host}:{mount.container}" + (":ro" if mount.read_only else "")
        argv += ["--volume", spec]
    for env in env_names:
        argv += ["--env", env]
    if gpus:
        argv += ["--gpus", str(gpus)]
    if command:
        argv += ["--entrypoint", command[0], image, *command[1:], *args]
    else:
        argv += [image, *args]
    return argv


def host_user() -> str | None:
    """``UID:GID`` so files written in the run folder belong to the user (None on Windows)."""
    if not hasattr(os, "getuid"):
        return None
    return f"{os.getuid()}:{os.getgid()}"


def check_docker(env: Mapping[str, str] | None = None) -> str | None:
    """None when a Docker engine answers ``docker info``, else why not, for the user."""
    path = (env or os.environ).get("PATH")
    docker = shutil.which("docker", path=path)
    if docker is None:
        return "--docker needs the `docker` command, and it is not on PATH"
    try:
        result = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                                capture_output=True, text=True, timeout=20, check=False,
                                env=dict(env) if env is not None else None)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"--docker: `docker info` did not answer ({error})"
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit status {result.returncode}"
        return f"--docker: no Docker engine is reachable (`docker info`: {reason})"
    return None
