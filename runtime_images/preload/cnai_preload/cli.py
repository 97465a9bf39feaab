"""``python -m cnai_preload``: copy a data set into the cache volume, once."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from cnai_preload import credentials
from cnai_preload.errors import is_no_space, no_space
from cnai_preload.sources import Source, SourceFile, list_files, open_source
from cnai_preload.state import Journal, marker_still_valid, remove_marker, write_marker
from cnai_preload.transfer import Copied, copy_file
from cnai_runtime.cli import raise_on_signals, run, setup_logging
from cnai_runtime.exitcodes import AUTH, NO_SPACE, USAGE, StepError

NAME = "cnai-preload"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # unreachable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnai_preload",
        description="Copy a data set (s3://, gs://, http(s)://, pvc:// or a local path) into a "
        "cache directory: parallel, resumable, verified, and a no-op once complete.",
    )
    parser.add_argument("--source", required=True, help="data set URI")
    parser.add_argument("--dest", required=True, help="cache directory to fill")
    parser.add_argument("--workers", type=int, default=8, help="parallel transfers (default 8)")
    parser.add_argument(
        "--source-root",
        default="/cnai/source",
        help="where pvc://<claim>/... sources are mounted (default /cnai/source)",
    )
    parser.add_argument(
        "--anonymous", action="store_true", help="unsigned requests (public buckets)"
    )
    parser.add_argument(
        "--checksum",
        choices=("auto", "off"),
        default="auto",
        help="auto: verify MD5 where the store gives one (S3 single-part ETag, GCS md5Hash, "
        "HTTP Content-MD5); off: verify sizes only",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def _prepare_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / ".cnai-preload-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if is_no_space(exc):
            raise no_space(str(dest), exc) from None
        raise StepError(f"cannot write to --dest {dest}: {exc.strerror or exc}", USAGE) from None


def _check_free_space(dest: Path, todo: list[SourceFile]) -> None:
    need = 0
    for entry in todo:
        try:
            existing = (dest / entry.rel).stat().st_size  # replaced, so its space comes back
        except OSError:
            existing = 0
        need += max(0, entry.size - existing)  # unknown sizes (-1) count as 0
    free = shutil.disk_usage(dest).free
    if need > free:
        raise StepError(
            f"not enough space in {dest}: {_size(need)} still to copy, {_size(free)} free",
            NO_SPACE,
        )


@dataclass
class Plan:
    source: Source
    dest: Path
    journal: Journal
    todo: list[SourceFile]
    total: int
    workers: int
    check_md5: bool


def _copy_all(plan: Plan, log: logging.Logger) -> int:
    stop = threading.Event()
    done_bytes = 0
    skipped = plan.total - len(plan.todo)
    with ThreadPoolExecutor(max_workers=plan.workers, thread_name_prefix="preload") as pool:
        futures: list[Future[Copied]] = [
            pool.submit(copy_file, plan.source, entry, plan.dest, stop, plan.check_md5)
            for entry in plan.todo
        ]
        try:
            for index, future in enumerate(as_completed(futures), start=skipped + 1):
                copied = future.result()
                plan.journal.add(copied.entry, copied.size, copied.md5)
                done_bytes += copied.size
                rate = copied.size / max(copied.seconds, 1e-6)
                retry = f", {copied.attempts} attempts" if copied.attempts > 1 else ""
                log.info(
                    "[%d/%d] fetched %s (%s in %.2fs, %s/s%s)",
                    index,
                    plan.total,
                    copied.entry.rel,
                    _size(copied.size),
                    copied.seconds,
                    _size(rate),
                    retry,
                )
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise
    return done_bytes


def _preload(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging(NAME, args.verbose)
    if args.workers < 1:
        raise StepError("--workers must be at least 1", USAGE)
    raise_on_signals()
    try:
        loaded = credentials.load()
    except (OSError, UnicodeDecodeError) as error:
        raise StepError(f"cannot read the data set's credentials: {error}", AUTH) from None
    if loaded:
        log.info("credentials from the data set's Secret: %s", ", ".join(loaded))
    dest = Path(args.dest)
    started = time.monotonic()
    if marker_still_valid(dest, args.source):
        log.info("already complete: %s -> %s (marker present, files intact)", args.source, dest)
        return 0
    source = open_source(args.source, args.source_root, args.anonymous)
    log.info("listing %s", args.source)
    entries = list_files(source)
    _prepare_dest(dest)
    remove_marker(dest)
    journal = Journal(dest, args.source)
    todo: list[SourceFile] = []
    for index, entry in enumerate(entries, start=1):
        if journal.is_complete(entry, dest):
            log.info("[%d/%d] skipped %s (already complete)", index, len(entries), entry.rel)
        else:
            todo.append(entry)
    skipped = len(entries) - len(todo)
    _check_free_space(dest, todo)
    log.info(
        "%d files, %s: %d to fetch with %d workers, %d already complete",
        len(entries),
        _size(sum(max(e.size, 0) for e in entries)),
        len(todo),
        min(args.workers, max(len(todo), 1)),
        skipped,
    )
    plan = Plan(source, dest, journal, todo, len(entries), args.workers, args.checksum == "auto")
    fetched = _copy_all(plan, log)
    journal.compact(entries)
    os.sync()
    marker = write_marker(dest, args.source, list(journal.records.values()))
    elapsed = time.monotonic() - started
    log.info(
        "done: %d files (%d fetched, %d already complete), %s fetched in %.2fs; marker %s",
        len(entries),
        len(todo),
        skipped,
        _size(fetched),
        elapsed,
        marker["manifest_sha256"][:12],
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, _preload, argv)
