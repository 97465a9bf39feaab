"""Writing what cnai makes (``-o``, ``--split``, run.json, the parser tables' cache) so that a
failed or killed write loses nothing and leaves nothing behind.

- A file is replaced only once its new text is on disk (written to a temporary beside it,
  fsynced, renamed over it, the directory fsynced). The replacement keeps the old file's
  mode (a new file gets the umask's); a symlink stays a symlink, and the file it points at
  is replaced; a file with no write permission for anyone is refused, not replaced.
- SIGTERM, SIGINT and SIGHUP during a write remove the temporary before the process ends
  with the signal's status. SIGKILL cannot be caught: the temporary is named after the
  process (``.NAME.PID.cnai-tmp``), and the next write into that directory removes those
  whose process is gone.
- ``--split DIR`` owns the files it wrote: ``DIR/.cnai-split`` lists them, and the next
  compile into DIR removes those it no longer writes, so ``kubectl apply -f DIR`` never
  meets a stale object beside the new ones. Other files in DIR are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import BinaryIO

TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.cnai-tmp$")
SPLIT_LEDGER = ".cnai-split"
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                 if hasattr(signal, name))


class _Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn the catchable termination signals into an exception while the block runs, then
    die of the signal as the process would have."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; other threads are not signalled
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in _SIGNALS}
    try:
        yield
    except _Interrupted as interrupted:
        _restore(previous)
        signal.raise_signal(interrupted.signum)
        raise SystemExit(128 + interrupted.signum) from None  # a handler that returned
    finally:
        _restore(previous)


def _restore(previous: Mapping[int, signal.Handlers | int | object]) -> None:
    for signum, handler in previous.items():
        if handler is not None:  # None: set outside Python; leave what is there
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temporaries(directory: Path) -> None:
    """Remove temporaries that killed writers left in ``directory``."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = TEMPORARY.match(name)
        if match and int(match["pid"]) != os.getpid() and not pid_alive(int(match["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(directory / name)


def write_atomically(target: Path, text: str | bytes, *, sweep: bool = True) -> None:
    """Replace ``target`` with ``text`` (UTF-8 text, or bytes as they are: a PNG) only once
    all of it is on disk.

    A target that exists and is not a regular file (``/dev/null``, a pipe) is written in
    place: replacing it would put a file where the device was.
    """
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.exists() and not target.is_file():
        with target.open("wb") as device:
            _write(device, text)
        return
    try:
        status: os.stat_result | None = target.stat()
    except FileNotFoundError:
        status = None
    if status is not None and not (status.st_mode & 0o222 and os.access(target, os.W_OK)):
        raise PermissionError(errno.EACCES, "the file is read-only", str(target))
    mode = stat.S_IMODE(status.st_mode) if status is not None else 0o666 & ~_umask()
    directory = target.parent
    if sweep:  # write_split sweeps its directory once, not per file
        sweep_temporaries(directory)
    temporary = directory / f".{target.name}.{os.getpid()}.cnai-tmp"
    with _signals_interrupt():
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                _write(handle, text)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                if status is not None and (status.st_uid, status.st_gid) != (
                        os.getuid(), os.getgid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(handle.fileno(), status.st_uid, status.st_gid)
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    _fsync_directory(directory)


# Text is encoded a slice at a time: encoded at once, it would be a second copy of a large
# pipeline's YAML, made at the end of the compile, where its memory peaks.
_SLICE = 1 << 20


def _write(handle: BinaryIO, text: str | bytes) -> None:
    if isinstance(text, bytes):
        handle.write(text)
        return
    for start in range(0, len(text), _SLICE):
        handle.write(text[start:start + _SLICE].encode("utf-8"))


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_split(directory: Path, files: Mapping[str, str]) -> list[str]:
    """Write ``files`` (name -> text) into ``directory`` as one set: the files of the last
    split into it that this one does not write are removed. Returns the names removed."""
    directory.mkdir(parents=True, exist_ok=True)
    ledger = directory / SPLIT_LEDGER
    try:
        previous = set(ledger.read_text(encoding="utf-8").split())
    except FileNotFoundError:
        previous = set()
    for name, text in files.items():
        write_atomically(directory / name, text, sweep=False)
    write_atomically(ledger, "".join(f"{name}\n" for name in sorted(files)))
    stale = sorted(name for name in previous - set(files)
                   if "/" not in name and name not in (".", "..", SPLIT_LEDGER))
    for name in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
    return stale
