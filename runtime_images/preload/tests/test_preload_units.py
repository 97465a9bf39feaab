"""In-process tests of cnai_preload: disk full, free-space check, journal, source parsing."""

from __future__ import annotations

import errno
import importlib
import io
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from cnai_preload import cli, sources, transfer
from cnai_preload.state import MANIFEST_NAME, MARKER_NAME, PART_SUFFIX, Journal
from cnai_runtime import exitcodes


def _tree(root: Path, count: int = 4, size: int = 3000) -> None:
    for i in range(count):
        path = root / f"d{i % 2}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i]) * size)


class _FullDisk(io.BytesIO):
    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_exits_5_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path / "src")
    dest = tmp_path / "cache"
    opened: list[Path] = []

    def full_disk(path: Path) -> io.BytesIO:
        opened.append(path)
        path.write_bytes(b"")  # the real part file exists, as it would on a full disk
        return _FullDisk()

    monkeypatch.setattr(transfer, "open_part", full_disk)
    code = cli.main(["--source", str(tmp_path / "src"), "--dest", str(dest), "--workers", "2"])
    assert code == exitcodes.NO_SPACE
    err = capsys.readouterr().err
    assert "no space left on the cache volume" in err
    assert "Traceback" not in err
    assert opened
    assert not list(dest.rglob("*" + PART_SUFFIX))
    assert not (dest / MARKER_NAME).exists()


def test_disk_quota_exceeded_is_also_no_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path / "src", count=1)

    def quota(path: Path) -> io.BytesIO:
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(transfer, "open_part", quota)
    code = cli.main(["--source", str(tmp_path / "src"), "--dest", str(tmp_path / "cache")])
    assert code == exitcodes.NO_SPACE


def test_free_space_is_checked_before_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path / "src", count=2, size=10_000)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(cli.shutil, "disk_usage", lambda _path: usage(10**9, 10**9, 100))
    opened: list[Path] = []
    monkeypatch.setattr(transfer, "open_part", opened.append)
    code = cli.main(["--source", str(tmp_path / "src"), "--dest", str(tmp_path / "cache")])
    assert code == exitcodes.NO_SPACE
    assert "19.5 KiB still to copy, 100 B free" in capsys.readouterr().err
    assert opened == []


def test_journal_ignores_torn_lines_and_other_sources(tmp_path: Path) -> None:
    entry = sources.SourceFile("src/a", "a", 3, "mtime=1", None)
    (tmp_path / "a").write_bytes(b"abc")
    journal = Journal(tmp_path, "s3://b/p")
    journal.add(entry, 3, "900150983cd24fb0d6963f7d28e17f72")
    with (tmp_path / MANIFEST_NAME).open("a") as handle:
        handle.write('{"rel": "b", "si')
    reloaded = Journal(tmp_path, "s3://b/p")
    assert reloaded.is_complete(entry, tmp_path)
    assert set(reloaded.records) == {"a"}
    changed = sources.SourceFile("src/a", "a", 3, "mtime=2", None)
    assert not reloaded.is_complete(changed, tmp_path)
    other = Journal(tmp_path, "s3://other/p")
    assert not other.is_complete(entry, tmp_path)


@pytest.mark.parametrize(
    ("uri", "scheme", "root"),
    [
        ("s3://bucket/some/prefix/", "s3", "bucket/some/prefix"),
        ("gs://bucket/prefix", "gs", "bucket/prefix"),
        ("https://example.invalid/a/b.tar", "https", "https://example.invalid/a/b.tar"),
        ("pvc://claim/sub/path", "pvc", "/mnt/src/claim/sub/path"),
        ("pvc://claim", "pvc", "/mnt/src/claim"),
        ("/data/set", "file", "/data/set"),
        ("file:///data/set", "file", "/data/set"),
    ],
)
def test_source_uris(uri: str, scheme: str, root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = object()
    monkeypatch.setattr(sources, "_s3_filesystem", lambda anonymous: fake)
    monkeypatch.setattr(sources, "_gcs_filesystem", lambda anonymous: fake)
    source = sources.open_source(uri, "/mnt/src")
    assert (source.scheme, source.root) == (scheme, root)


def test_s3_endpoint_comes_from_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fs = sources._s3_filesystem(anonymous=False)
    assert fs.client_kwargs == {"endpoint_url": "http://127.0.0.1:2", "region_name": "eu-west-1"}
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    assert sources._s3_filesystem(anonymous=True).client_kwargs["endpoint_url"].endswith(":1")


def test_gs_without_gcsfs_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = importlib.import_module

    def no_gcsfs(name: str, *args: Any) -> Any:
        if name == "gcsfs":
            raise ImportError("No module named 'gcsfs'")
        return real_import(name, *args)

    monkeypatch.setattr(sources.importlib, "import_module", no_gcsfs)
    code = cli.main(["--source", "gs://bucket/data", "--dest", str(tmp_path)])
    assert code == exitcodes.USAGE
    assert "need the 'gcsfs' package" in capsys.readouterr().err


def test_md5_is_only_taken_from_real_checksums() -> None:
    assert sources._md5_of("s3", {"ETag": '"5d41402abc4b2a76b9719d911017c592"'}) == (
        "5d41402abc4b2a76b9719d911017c592"
    )
    assert sources._md5_of("s3", {"ETag": '"5d41402abc4b2a76b9719d911017c592-3"'}) is None
    assert sources._md5_of("https", {"ETag": '"5d41402abc4b2a76b9719d911017c592"'}) is None
    assert sources._md5_of("https", {"Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="}) == (
        "5d41402abc4b2a76b9719d911017c592"
    )
    assert sources._md5_of("gs", {"md5Hash": "not base64!"}) is None
