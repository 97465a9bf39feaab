"""cnai_preload from HTTP (a local server), local paths and pvc:// mounts, as a subprocess."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cnai_preload.state import MARKER_NAME
from cnai_runtime import exitcodes
from cnai_testkit.fileserver import FileServer
from cnai_testkit.procs import run_module

BODY = os.urandom(300_000)


def _preload(*args: str):
    return run_module("cnai_preload", list(args))


def test_http_single_file_copied_verified_and_then_skipped(
    file_server: FileServer, tmp_path: Path
) -> None:
    file_server.files["/models/weights.bin"] = BODY
    source = f"{file_server.url}/models/weights.bin?download=1"
    dest = tmp_path / "cache"
    result = _preload("--source", source, "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert (dest / "weights.bin").read_bytes() == BODY
    assert file_server.gets("/models/weights.bin") == 1
    assert json.loads((dest / MARKER_NAME).read_text())["source"] == source

    again = _preload("--source", source, "--dest", str(dest))
    assert again.returncode == 0 and "already complete" in again.stderr
    assert file_server.gets() == 1

    # Marker gone but the journal says the file is complete: a HEAD, no second GET.
    (dest / MARKER_NAME).unlink()
    third = _preload("--source", source, "--dest", str(dest))
    assert third.returncode == 0, third.stderr
    assert "skipped weights.bin (already complete)" in third.stderr
    assert file_server.gets() == 1


def test_http_file_of_unknown_size(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/stream.bin"] = BODY
    file_server.unsized.add("/stream.bin")
    dest = tmp_path / "cache"
    result = _preload("--source", f"{file_server.url}/stream.bin", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert (dest / "stream.bin").read_bytes() == BODY
    assert json.loads((dest / MARKER_NAME).read_text())["bytes"] == len(BODY)
    gets = file_server.gets("/stream.bin")
    (dest / MARKER_NAME).unlink()
    again = _preload("--source", f"{file_server.url}/stream.bin", "--dest", str(dest))
    assert again.returncode == 0, again.stderr
    assert "skipped stream.bin (already complete)" in again.stderr
    # Without a HEAD size, fsspec sizes the file with a GET it abandons after the headers;
    # that one is the only request of the second run: no download.
    assert file_server.gets("/stream.bin") == gets + 1


def test_http_404_is_not_found(file_server: FileServer, tmp_path: Path) -> None:
    result = _preload("--source", f"{file_server.url}/missing.bin", "--dest", str(tmp_path / "c"))
    assert result.returncode == exitcodes.NOT_FOUND, result.stderr
    assert "Traceback" not in result.stderr


def test_http_403_is_access_denied(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/private.bin"] = BODY
    file_server.status["/private.bin"] = 403
    result = _preload("--source", f"{file_server.url}/private.bin", "--dest", str(tmp_path / "c"))
    assert result.returncode == exitcodes.AUTH, result.stderr
    assert "access denied" in result.stderr


def test_http_checksum_mismatch_is_integrity_error(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/bad.bin"] = BODY
    file_server.lie_md5.add("/bad.bin")
    dest = tmp_path / "c"
    result = _preload("--source", f"{file_server.url}/bad.bin", "--dest", str(dest))
    assert result.returncode == exitcodes.INTEGRITY, result.stderr
    assert "verification failed after 2 attempts: MD5" in result.stderr
    assert file_server.gets("/bad.bin") == 2
    assert not (dest / "bad.bin").exists()
    assert not (dest / MARKER_NAME).exists()

    unchecked = _preload(
        "--source", f"{file_server.url}/bad.bin", "--dest", str(dest), "--checksum", "off"
    )
    assert unchecked.returncode == 0, unchecked.stderr


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(5000), "sub/deeper/c": b""}
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    return files


def test_local_directory_source(tmp_path: Path) -> None:
    files = _make_tree(tmp_path / "src")
    dest = tmp_path / "cache"
    result = _preload("--source", str(tmp_path / "src"), "--dest", str(dest), "--workers", "2")
    assert result.returncode == 0, result.stderr
    for rel, body in files.items():
        assert (dest / rel).read_bytes() == body
    via_file_uri = _preload("--source", f"file://{tmp_path / 'src'}", "--dest", str(dest))
    assert via_file_uri.returncode == 0, via_file_uri.stderr


def test_pvc_source_is_read_from_the_mounted_claim(tmp_path: Path) -> None:
    mounts = tmp_path / "cnai-source"
    files = _make_tree(mounts / "raw-data" / "datasets" / "v1")
    dest = tmp_path / "cache"
    result = _preload(
        "--source", "pvc://raw-data/datasets/v1",
        "--dest", str(dest),
        "--source-root", str(mounts),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for rel, body in files.items():
        assert (dest / rel).read_bytes() == body
    assert json.loads((dest / MARKER_NAME).read_text())["source"] == "pvc://raw-data/datasets/v1"


def test_pvc_source_missing_path(tmp_path: Path) -> None:
    result = _preload(
        "--source", "pvc://claim/nope", "--dest", str(tmp_path / "c"),
        "--source-root", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == exitcodes.NOT_FOUND, result.stderr


def test_bad_usage_exit_codes(tmp_path: Path) -> None:
    assert _preload("--source", "s3://b/p").returncode == exitcodes.USAGE  # no --dest
    unsupported = _preload("--source", "ftp://host/x", "--dest", str(tmp_path))
    assert unsupported.returncode == exitcodes.USAGE
    assert "unsupported source scheme 'ftp'" in unsupported.stderr
    workers = _preload("--source", str(tmp_path), "--dest", str(tmp_path / "d"), "--workers", "0")
    assert workers.returncode == exitcodes.USAGE
    escape = _preload("--source", "pvc://claim/../etc", "--dest", str(tmp_path / "d"))
    assert escape.returncode == exitcodes.USAGE
    listing = _preload("--source", "http://127.0.0.1:9/dir/", "--dest", str(tmp_path / "d"))
    assert listing.returncode == exitcodes.USAGE
