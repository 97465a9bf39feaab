"""Run one attempt of a step as a process group, with a deadline, its output to a log.

A timeout sends SIGTERM to the whole process group, then SIGKILL after a grace period, as
Kubernetes does to a pod past ``activeDeadlineSeconds``. When the command exits, whatever
it left running is killed too: a pod's processes end with its main container.

"Whatever it left running" is more than its process group: a process that calls ``setsid``
(or ``setpgid``) leaves the group, and once its parent exits it is reparented to init, out of
reach of the runner's process tree. So every attempt carries a mark in its environment,
``CNAI_LOCAL_STEP=<run token>/<attempt>``, which every descendant inherits whatever session
or group it moves to; killing an attempt kills its group and every process of this user
whose ``/proc/PID/environ`` holds the mark (Linux; elsewhere only the group). A process that
rewrites its own environment escapes; ``--docker`` contains it for good.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

GRACE_SECONDS = 3.0
EXIT_NOT_FOUND = 127
MARK_VARIABLE = "CNAI_LOCAL_STEP"
PROC = Path("/proc")


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    timeout: float | None = None
    container: str | None = None  # the `docker run --name`, to stop it on a timeout
    notes: tuple[str, ...] = ()  # for the log, after the header
    timeout_note: str = ""  # why this timeout, when it is not the step's own
    stdout: Path | None = None  # the step's stdout goes here (an output `at stdout`), then
    # into the log after it ended; stderr goes to the log as it comes


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
    """The process groups running now, so that an interrupt can stop them all.

    ``token`` marks every process of this run (see the module's docstring)."""

    grace: float = GRACE_SECONDS
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _running: dict[int, tuple[subprocess.Popen[bytes], str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: itertools.count[int] = field(default_factory=itertools.count)
    stopping: bool = False

    def run(self, invocation: Invocation, header: str) -> Outcome:
        invocation.log.parent.mkdir(parents=True, exist_ok=True)
        with invocation.log.open("ab") as log:
            notes = "".join(f"cnai: {note}\n" for note in invocation.notes)
            log.write(f"{header}\n{notes}$ {shlex.join(invocation.argv)}\n".encode())
            log.flush()
            mark = f"{self.token}/{next(self._count)}"
            with _stdout(invocation, log) as stdout:
                try:
                    process = self._start(invocation, log, stdout, mark)
                except OSError as error:
                    message = _start_error(invocation.argv[0], error)
                    log.write(f"cnai: {message}\n".encode())
                    return Outcome(EXIT_NOT_FOUND, message=message)
                try:
                    code = process.wait(invocation.timeout)
                except subprocess.TimeoutExpired:
                    self._stop(process, invocation.container, mark)
                    message = (f"timed out after {invocation.timeout:g}s"
                               f"{invocation.timeout_note}; the process group was killed")
                    log.write(f"\ncnai: {message}\n".encode())
                    return Outcome(_code(process.returncode), timed_out=True, message=message)
                finally:
                    self._forget(process)
                kill_marked(process.pid, mark, signal.SIGKILL)
        code = _code(code)
        return Outcome(code, message="" if code == 0 else f"exited with status {code}")

    def _start(self, invocation: Invocation, log: BinaryIO, stdout: BinaryIO,
               mark: str) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.stopping:
                raise InterruptedError("the run is being stopped")
            process = subprocess.Popen(
                invocation.argv, cwd=invocation.cwd,
                env={**invocation.env, MARK_VARIABLE: mark},
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=log,
                start_new_session=True)
            self._running[process.pid] = (process, mark)
            return process

    def _forget(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.pop(process.pid, None)

    def _stop(self, process: subprocess.Popen[bytes], container: str | None,
              mark: str) -> None:
        if container is not None:
            subprocess.run(["docker", "kill", container], capture_output=True, check=False)
        kill_marked(process.pid, mark, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(self.grace)
        kill_marked(process.pid, mark, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Stop every running attempt (Ctrl-C): SIGTERM, then SIGKILL after the grace."""
        with self._lock:
            self.stopping = True
            running = list(self._running.values())
        for process, mark in running:
            kill_marked(process.pid, mark, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process, mark in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
            kill_marked(process.pid, mark, signal.SIGKILL)


@contextlib.contextmanager
def _stdout(invocation: Invocation, log: BinaryIO) -> Iterator[BinaryIO]:
    """Where the process's stdout goes: the log, or ``invocation.stdout``, whose text is
    copied into the log once the process has ended."""
    if invocation.stdout is None:
        yield log
        return
    with invocation.stdout.open("wb") as stdout:
        yield stdout
    log.write(invocation.stdout.read_bytes())
    log.flush()


def kill_marked(group: int | None, mark: str, sig: signal.Signals) -> int:
    """Send ``sig`` to process group ``group`` and to every process whose environment holds
    ``CNAI_LOCAL_STEP=<mark>`` (or, for a mark ending in ``/``, a mark starting with it); the
    number of marked processes found. SIGKILL rescans until none is left (a process may fork
    while it is being killed), a few times at most."""
    if group is not None:
        _kill_group(group, sig)
    found: set[int] = set()
    for _ in range(5 if sig == signal.SIGKILL else 1):
        pids = marked_pids(mark)
        found.update(pids)  # a process killed a moment ago may be listed again
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if not pids:
            break
    return len(found)


def marked_pids(mark: str) -> list[int]:
    """The processes of this user (not this one) carrying ``mark`` (see :func:`kill_marked`);
    [] without /proc."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    whole = not mark.endswith("/")
    found = []
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return []
    me = os.getpid()
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        for item in environ.split(b"\0"):
            if item == needle or (item.startswith(needle) and not whole):
                if not _is_zombie(entry):
                    found.append(int(entry.name))
                break
    return found


def _is_zombie(entry: Path) -> bool:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:][:1] in ("Z", "X")


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
                gpus: int | None = None, user: str | None = None,
                shm: str | None = None) -> list[str]:
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
    if shm:  # `shm`, in bytes
        argv += ["--shm-size", shm]
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
