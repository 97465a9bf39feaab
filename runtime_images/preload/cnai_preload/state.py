"""What a destination already holds: the manifest journal and the completion marker.

``<dest>/.cnai-preload-manifest.jsonl``
    First line ``{"source": URI}``; then one line per file written and verified:
    ``{"rel": ..., "size": ..., "version": ..., "md5": ...}``. Appended as files complete,
    so an interrupted run leaves an accurate record; a torn last line is ignored.
``<dest>/.cnai-preload-complete``
    Written last: ``{"source", "files", "bytes", "manifest_sha256", "completed_at"}``.
    Its presence (same source, files intact) makes a re-run a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnai_preload.sources import SourceFile

MANIFEST_NAME = ".cnai-preload-manifest.jsonl"
MARKER_NAME = ".cnai-preload-complete"
PART_SUFFIX = ".cnai-part"


@dataclass(frozen=True)
class Record:
    rel: str
    size: int
    version: str
    md5: str | None


def manifest_hash(entries: Iterable[SourceFile | Record]) -> str:
    """A stable digest of (path, size, version) for every file of the data set."""
    digest = hashlib.sha256()
    for item in sorted(entries, key=lambda e: e.rel):
        digest.update(json.dumps([item.rel, item.size, item.version]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def read_journal(path: Path, source_uri: str) -> dict[str, Record] | None:
    """The journalled records, or None when there is no journal for this source."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("source") != source_uri:
        return None
    records: dict[str, Record] = {}
    for line in lines[1:]:
        try:
            raw = json.loads(line)
            record = Record(str(raw["rel"]), int(raw["size"]), str(raw["version"]), raw["md5"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a torn line from an interrupted run
        records[record.rel] = record
    return records


class Journal:
    """Thread-safe append-only record of completed files."""

    def __init__(self, dest: Path, source_uri: str) -> None:
        self.path = dest / MANIFEST_NAME
        self.source_uri = source_uri
        self._lock = threading.Lock()
        records = read_journal(self.path, source_uri)
        if records is None:
            # Another source (or no journal): start afresh, nothing counts as complete.
            self._rewrite([])
            records = {}
        self.records = records

    def _rewrite(self, records: list[Record]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"source": self.source_uri})]
        lines += [json.dumps(r.__dict__) for r in sorted(records, key=lambda r: r.rel)]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def is_complete(self, entry: SourceFile, dest: Path) -> bool:
        record = self.records.get(entry.rel)
        if record is None or record.version != entry.version:
            return False
        if entry.size >= 0 and record.size != entry.size:
            return False
        if entry.md5 and record.md5 and entry.md5 != record.md5:
            return False
        try:
            return (dest / entry.rel).stat().st_size == record.size
        except OSError:
            return False

    def add(self, entry: SourceFile, size: int, md5: str | None) -> None:
        record = Record(entry.rel, size, entry.version, md5)
        line = json.dumps(record.__dict__) + "\n"
        with self._lock:
            self.records[entry.rel] = record
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()

    def compact(self, entries: list[SourceFile]) -> None:
        """Keep only the records of ``entries`` (drops files the source no longer has)."""
        with self._lock:
            keep = {e.rel for e in entries}
            self.records = {rel: r for rel, r in self.records.items() if rel in keep}
            self._rewrite(list(self.records.values()))


def read_marker(dest: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((dest / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def marker_still_valid(dest: Path, source_uri: str) -> bool:
    """True when the marker names this source and every journalled file is still intact."""
    marker = read_marker(dest)
    if not marker or marker.get("source") != source_uri:
        return False
    records = read_journal(dest / MANIFEST_NAME, source_uri)
    if records is None or len(records) != marker.get("files"):
        return False
    if manifest_hash(records.values()) != marker.get("manifest_sha256"):
        return False
    for record in records.values():
        try:
            if (dest / record.rel).stat().st_size != record.size:
                return False
        except OSError:
            return False
    return True


def write_marker(dest: Path, source_uri: str, records: list[Record]) -> dict[str, Any]:
    """Mark ``dest`` complete; ``records`` are the journal's, one per source file."""
    marker = {
        "source": source_uri,
        "files": len(records),
        "bytes": sum(r.size for r in records),
        "manifest_sha256": manifest_hash(records),
        "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = dest / (MARKER_NAME + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, dest / MARKER_NAME)
    return marker


def remove_marker(dest: Path) -> None:
    (dest / MARKER_NAME).unlink(missing_ok=True)
