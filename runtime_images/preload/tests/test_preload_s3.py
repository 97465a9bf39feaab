"""cnai_preload against a real S3 endpoint (moto's server on 127.0.0.1), run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from cnai_preload.state import MANIFEST_NAME, MARKER_NAME, PART_SUFFIX
from cnai_runtime import exitcodes
from cnai_testkit.procs import run_module
from cnai_testkit.s3server import S3Server

FILES = {
    "train/part-0000.bin": os.urandom(9 * 1024 * 1024 + 17),  # more than one 8 MiB chunk
    "train/part-0001.bin": os.urandom(4096),
    "train/nested/deep/labels.csv": b"id,label\n1,cat\n2,dog\n",
    "val/part-0000.bin": os.urandom(1500),
    "README": b"tiny data set\n",
    "empty.txt": b"",
}


def _env(server: S3Server, **extra: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_S3": server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def _seed(server: S3Server) -> str:
    name = f"data-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    for key, body in FILES.items():
        client.put_object(Bucket=name, Key=f"imagenet/{key}", Body=body)
    client.put_object(Bucket=name, Key="imagenet-other/not-this.bin", Body=b"x")
    return name


@pytest.fixture(scope="module")
def seeded(s3_server: S3Server) -> str:
    """A bucket the tests only read."""
    return _seed(s3_server)


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A bucket of the test's own, free to change."""
    name = _seed(s3_server)
    s3_server.clear()
    return name


@pytest.fixture(scope="module")
def pristine(
    s3_server: S3Server, seeded: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One full copy of the seeded bucket; tests start from copies of its result."""
    dest = tmp_path_factory.mktemp("pristine") / "imagenet"
    return dest, _preload(s3_server, f"s3://{seeded}/imagenet", dest)


@pytest.fixture
def copied(
    s3_server: S3Server, pristine: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> Path:
    dest = tmp_path / "cache"
    shutil.copytree(pristine[0], dest)
    s3_server.clear()
    return dest


def _preload(server: S3Server, source: str, dest: Path, *extra: str, **env: str):
    return run_module(
        "cnai_preload",
        ["--source", source, "--dest", str(dest), "--workers", "4", *extra],
        env=_env(server, **env),
    )


def _assert_copied(dest: Path) -> None:
    for rel, body in FILES.items():
        assert (dest / rel).read_bytes() == body, rel
    assert not list(dest.rglob("*" + PART_SUFFIX))
    assert not (dest / "not-this.bin").exists()


def test_full_copy_writes_files_marker_and_progress(
    seeded: str, pristine: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    dest, result = pristine
    source = f"s3://{seeded}/imagenet"
    assert result.returncode == 0, result.stderr
    _assert_copied(dest)
    marker = json.loads((dest / MARKER_NAME).read_text())
    assert marker["source"] == source
    assert marker["files"] == len(FILES)
    assert marker["bytes"] == sum(len(b) for b in FILES.values())
    assert len(marker["manifest_sha256"]) == 64
    fetched_lines = [line for line in result.stderr.splitlines() if "] fetched " in line]
    assert len(fetched_lines) == len(FILES)
    assert f"[{len(FILES)}/{len(FILES)}]" in result.stderr
    assert "done: 6 files (6 fetched, 0 already complete)" in result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    # The journal records every file with the MD5 of the bytes written.
    records = [json.loads(x) for x in (dest / MANIFEST_NAME).read_text().splitlines()[1:]]
    assert {r["rel"] for r in records} == set(FILES)
    assert all(len(r["md5"]) == 32 for r in records)


def test_second_run_is_a_no_op_without_any_request(
    s3_server: S3Server, seeded: str, copied: Path
) -> None:
    result = _preload(s3_server, f"s3://{seeded}/imagenet", copied)
    assert result.returncode == 0, result.stderr
    assert "already complete" in result.stderr
    assert s3_server.requests == []


def test_resume_fetches_only_missing_and_partial_files(
    s3_server: S3Server, seeded: str, copied: Path
) -> None:
    dest = copied
    source = f"s3://{seeded}/imagenet"
    bucket = seeded

    # Recreate what an interrupted run leaves behind: no marker; one file never finished
    # (only a half-written part file, absent from the journal); one file cut short.
    (dest / MARKER_NAME).unlink()
    interrupted, truncated = "train/part-0000.bin", "val/part-0000.bin"
    (dest / interrupted).unlink()
    (dest / (interrupted + PART_SUFFIX)).write_bytes(FILES[interrupted][:1000])
    journal = dest / MANIFEST_NAME
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(x for x in lines if interrupted not in x) + "\n{torn")
    (dest / truncated).write_bytes(FILES[truncated][:10])
    untouched = {
        rel: (dest / rel).stat().st_mtime_ns for rel in FILES if rel not in (interrupted, truncated)
    }
    s3_server.clear()

    result = _preload(s3_server, source, dest)
    assert result.returncode == 0, result.stderr
    _assert_copied(dest)
    fetched = {key.removeprefix("imagenet/") for key in s3_server.gets(bucket)}
    assert fetched == {interrupted, truncated}
    assert len(s3_server.gets(bucket)) == 3  # 9 MiB in two 8 MiB ranges, plus one small file
    assert {rel: (dest / rel).stat().st_mtime_ns for rel in untouched} == untouched
    assert "done: 6 files (2 fetched, 4 already complete)" in result.stderr


def test_changed_object_is_fetched_again(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    source = f"s3://{bucket}/imagenet"
    assert _preload(s3_server, source, dest).returncode == 0
    boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).put_object(Bucket=bucket, Key="imagenet/README", Body=b"new text, same path\n")
    (dest / MARKER_NAME).unlink()  # a new run is asked for
    s3_server.clear()
    result = _preload(s3_server, source, dest)
    assert result.returncode == 0, result.stderr
    assert (dest / "README").read_bytes() == b"new text, same path\n"
    assert s3_server.gets(bucket) == ["imagenet/README"]


def test_single_object_source(s3_server: S3Server, seeded: str, tmp_path: Path) -> None:
    result = _preload(s3_server, f"s3://{seeded}/imagenet/README", tmp_path / "one")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "one" / "README").read_bytes() == FILES["README"]


def test_wrong_credentials_exit_code(s3_server: S3Server, seeded: str, tmp_path: Path) -> None:
    with S3Server.iam_enforced():
        result = _preload(
            s3_server,
            f"s3://{seeded}/imagenet",
            tmp_path / "cache",
            AWS_ACCESS_KEY_ID="AKIANOTAREALKEY00000",
        )
    assert result.returncode == exitcodes.AUTH, result.stderr
    assert "access denied" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cache" / MARKER_NAME).exists()


def test_missing_credentials_exit_code(s3_server: S3Server, seeded: str, tmp_path: Path) -> None:
    result = run_module(
        "cnai_preload",
        ["--source", f"s3://{seeded}/imagenet", "--dest", str(tmp_path / "cache")],
        env={"AWS_ENDPOINT_URL_S3": s3_server.url, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert result.returncode == exitcodes.AUTH, result.stderr
    assert "no usable credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_bucket_exit_code(s3_server: S3Server, tmp_path: Path) -> None:
    result = _preload(s3_server, "s3://no-such-bucket-here/imagenet", tmp_path / "cache")
    assert result.returncode == exitcodes.NOT_FOUND, result.stderr
    assert "bucket does not exist" in result.stderr
    assert not (tmp_path / "cache").exists()


def test_missing_prefix_exit_code(s3_server: S3Server, seeded: str, tmp_path: Path) -> None:
    result = _preload(s3_server, f"s3://{seeded}/no-such-prefix", tmp_path / "cache")
    assert result.returncode == exitcodes.NOT_FOUND, result.stderr
    assert "no such file, object or prefix" in result.stderr


def _secret_volume(root: Path, keys: dict[str, str]) -> Path:
    """A directory laid out as Kubernetes mounts a Secret: files under ..data, linked."""
    data = root / "..2026_12_03_00_00_00.000000001"
    data.mkdir(parents=True)
    for key, value in keys.items():
        (data / key).write_text(value)
    (root / "..data").symlink_to(data.name)
    for key in keys:
        (root / key).symlink_to(f"..data/{key}")
    return root


def test_credentials_come_from_the_mounted_secret(
    s3_server: S3Server, seeded: str, tmp_path: Path
) -> None:
    # A data set's `credentials = "SECRET"`: the keys are files in CNAI_CREDENTIALS_DIR.
    secret = _secret_volume(tmp_path / "secret", {
        "AWS_ACCESS_KEY_ID": "testing\n", "AWS_SECRET_ACCESS_KEY": "testing",
        "not-a-variable": "ignored"})
    result = run_module(
        "cnai_preload",
        ["--source", f"s3://{seeded}/imagenet/README", "--dest", str(tmp_path / "one")],
        env={"AWS_ENDPOINT_URL_S3": s3_server.url, "AWS_DEFAULT_REGION": "us-east-1",
             "CNAI_CREDENTIALS_DIR": str(secret)},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "one" / "README").read_bytes() == FILES["README"]
    assert "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in result.stderr
    assert "testing" not in result.stderr  # names are logged, never values


def test_the_pods_own_variables_win_over_the_secret(tmp_path: Path) -> None:
    from cnai_preload import credentials

    secret = _secret_volume(tmp_path / "s", {"AWS_REGION": "eu-west-1",
                                             "service-account.json": "{}"})
    env = {"CNAI_CREDENTIALS_DIR": str(secret), "AWS_REGION": "us-east-1"}
    assert credentials.load(env) == ["GOOGLE_APPLICATION_CREDENTIALS"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == str(secret / "service-account.json")
