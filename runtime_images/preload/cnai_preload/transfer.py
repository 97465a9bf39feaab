"""Copy one file into the cache: stream, hash, verify, then rename into place."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cnai_preload.errors import classify_remote, is_no_space, no_space
from cnai_preload.sources import Source, SourceFile
from cnai_preload.state import PART_SUFFIX
from cnai_runtime.exitcodes import INTEGRITY, USAGE, StepError

CHUNK = 8 * 1024 * 1024


class Stopped(Exception):
    """Another worker failed or the run was cancelled: abandon this file."""


@dataclass(frozen=True)
class Copied:
    entry: SourceFile
    size: int  # bytes written (the listed size, or what arrived when it was unknown)
    md5: str
    seconds: float
    attempts: int


def open_part(path: Path) -> BinaryIO:
    """Open the temporary file a copy is written to (a seam for tests)."""
    return open(path, "wb")


def _local_error(path: Path, exc: OSError) -> StepError:
    if is_no_space(exc):
        return no_space(str(path), exc)
    return StepError(f"cannot write {path}: {exc.strerror or exc}", USAGE)


def _stream(
    source: Source, entry: SourceFile, part: Path, stop: threading.Event
) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    label = f"{source.uri} ({entry.rel})"
    try:
        # Remote failures are converted to StepError inside; any OSError escaping this
        # block comes from the local side (open, write, flush, close of the part file).
        with open_part(part) as handle:
            try:
                remote = source.fs.open(entry.path, "rb", **source.open_kwargs)
            except Exception as exc:
                raise classify_remote(exc, label) from None
            with remote:
                while True:
                    if stop.is_set():
                        raise Stopped
                    try:
                        chunk = remote.read(CHUNK)
                    except Exception as exc:
                        raise classify_remote(exc, label) from None
                    if not chunk:
                        break
                    handle.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
    except OSError as exc:
        raise _local_error(part, exc) from None
    return written, digest.hexdigest()


def _verify(entry: SourceFile, written: int, md5: str, check_md5: bool) -> str | None:
    """A description of the mismatch, or None when the copy is good."""
    if entry.size >= 0 and written != entry.size:
        return f"size {written} bytes, the source listed {entry.size}"
    if check_md5 and entry.md5 and md5 != entry.md5:
        return f"MD5 {md5}, the source reports {entry.md5}"
    return None


def copy_file(
    source: Source,
    entry: SourceFile,
    dest: Path,
    stop: threading.Event,
    check_md5: bool = True,
    attempts: int = 2,
) -> Copied:
    """Copy ``entry`` to ``dest/entry.rel``; retried once when verification fails."""
    target = dest / entry.rel
    part = target.with_name(target.name + PART_SUFFIX)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _local_error(target.parent, exc) from None
    started = time.monotonic()
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            written, md5 = _stream(source, entry, part, stop)
            mismatch = _verify(entry, written, md5, check_md5)
            if mismatch is None:
                os.replace(part, target)
                return Copied(entry, written, md5, time.monotonic() - started, attempt)
            problem = mismatch
        finally:
            part.unlink(missing_ok=True)
    hint = ""
    if entry.md5 and problem.startswith("MD5"):
        hint = " (objects encrypted with SSE-KMS have non-MD5 ETags: use --checksum off)"
    raise StepError(
        f"{entry.rel}: verification failed after {attempts} attempts: {problem}{hint}", INTEGRITY
    )
