"""Data set sources: URI parsing, filesystem construction and listing.

Supported URIs:

``s3://bucket/prefix``
    s3fs; endpoint from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, credentials from the
    standard AWS variables / files / pod identity.
``gs://bucket/prefix``
    gcsfs (imported only for ``gs://``); credentials from Application Default Credentials.
``http://...``, ``https://...``
    one file, fetched with fsspec's HTTP filesystem; directory listings are not supported.
``pvc://claim/sub/path``
    the claim mounted at ``<source-root>/<claim>`` (the compiler mounts it there).
``/local/path`` or ``file:///local/path``
    a local file or directory.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from cnai_preload.errors import classify_remote
from cnai_runtime.exitcodes import NOT_FOUND, USAGE, StepError

_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')


@dataclass(frozen=True)
class SourceFile:
    """One file to copy: where it is in the source, where it goes, how to judge it."""

    path: str  # path in the source filesystem
    rel: str  # path relative to the destination directory
    size: int  # -1 when the server does not say (HTTP without Content-Length)
    version: str  # ETag / generation / mtime: changes when the content may have changed
    md5: str | None  # hex MD5 the written bytes must match, when the store provides one


@dataclass
class Source:
    uri: str
    scheme: str
    fs: Any  # an fsspec AbstractFileSystem
    root: str
    open_kwargs: dict[str, Any] = field(default_factory=dict)


def _s3_filesystem(anonymous: bool) -> Any:
    import s3fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    client_kwargs: dict[str, Any] = {}
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        client_kwargs["region_name"] = region
    return s3fs.S3FileSystem(anon=anonymous, client_kwargs=client_kwargs, skip_instance_cache=True)


def _gcs_filesystem(anonymous: bool) -> Any:
    try:
        gcsfs = importlib.import_module("gcsfs")
    except ImportError:
        raise StepError(
            "gs:// sources need the 'gcsfs' package (it is installed in the cnai-preload image)",
            USAGE,
        ) from None
    return gcsfs.GCSFileSystem(token="anon" if anonymous else None, skip_instance_cache=True)


def _http_filesystem() -> Any:
    import fsspec

    return fsspec.filesystem("http", skip_instance_cache=True)


def _local_root(path: str) -> str:
    return os.path.abspath(path)


def _pvc_root(uri: str, source_root: str) -> str:
    parsed = urlparse(uri)
    claim = parsed.netloc
    sub = parsed.path.lstrip("/")
    if not claim:
        raise StepError(f"{uri}: expected pvc://<claim>/<sub/path>", USAGE)
    parts = PurePosixPath(sub).parts if sub else ()
    if ".." in parts:
        raise StepError(f"{uri}: '..' is not allowed in a pvc:// path", USAGE)
    return os.path.join(source_root, claim, *parts)


def open_source(uri: str, source_root: str, anonymous: bool = False) -> Source:
    """Build the filesystem for ``uri``; nothing is fetched yet."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme == "s3":
        if not parsed.netloc:
            raise StepError(f"{uri}: expected s3://<bucket>/<prefix>", USAGE)
        root = (parsed.netloc + parsed.path).rstrip("/")
        # Sequential ranged reads of 8 MiB, no read-ahead cache (the copy loop streams).
        return Source(uri, scheme, _s3_filesystem(anonymous), root, {"cache_type": "none"})
    if scheme in ("gs", "gcs"):
        if not parsed.netloc:
            raise StepError(f"{uri}: expected gs://<bucket>/<prefix>", USAGE)
        root = (parsed.netloc + parsed.path).rstrip("/")
        return Source(uri, "gs", _gcs_filesystem(anonymous), root, {"cache_type": "none"})
    if scheme in ("http", "https"):
        if not parsed.path or parsed.path.endswith("/"):
            raise StepError(
                f"{uri}: an http(s) source must name one file (directory listings are not read)",
                USAGE,
            )
        # block_size=0: one streaming GET instead of ranged reads.
        return Source(uri, scheme, _http_filesystem(), uri, {"block_size": 0})
    if scheme == "pvc":
        return Source(uri, "pvc", _local_filesystem(), _pvc_root(uri, source_root))
    if scheme == "file":
        return Source(uri, "file", _local_filesystem(), _local_root(parsed.path))
    if scheme == "" or len(scheme) == 1:  # plain path (a one-letter scheme is a drive)
        return Source(uri, "file", _local_filesystem(), _local_root(uri))
    raise StepError(
        f"{uri}: unsupported source scheme {scheme!r} (use s3://, gs://, http(s)://, pvc:// "
        "or a local path)",
        USAGE,
    )


def _local_filesystem() -> Any:
    import fsspec

    return fsspec.filesystem("file")


def _md5_of(scheme: str, info: dict[str, Any]) -> str | None:
    if scheme == "s3":
        match = _MD5_ETAG.match(str(info.get("ETag", "")))
        return match.group(1).lower() if match else None  # multipart ETags contain '-'
    if scheme == "gs":
        return _b64_md5(info.get("md5Hash"))
    if scheme in ("http", "https"):
        return _b64_md5(info.get("Content-MD5"))
    return None


def _b64_md5(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def _version_of(scheme: str, info: dict[str, Any]) -> str:
    for key in ("ETag", "generation", "md5Hash", "Last-Modified", "mtime", "LastModified"):
        value = info.get(key)
        if value not in (None, ""):
            return f"{key}={value}"
    return ""


def _entry(source: Source, info: dict[str, Any], rel: str) -> SourceFile:
    size = info.get("size")
    return SourceFile(
        path=info["name"],
        rel=rel,
        size=-1 if size is None else int(size),
        version=_version_of(source.scheme, info),
        md5=_md5_of(source.scheme, info),
    )


def list_files(source: Source) -> list[SourceFile]:
    """Every file under the source, sorted by relative path."""
    fs = source.fs
    try:
        if source.scheme in ("http", "https"):
            info = fs.info(source.root)
            name = posixpath.basename(urlparse(source.root).path)
            return [_entry(source, {**info, "name": source.root}, name)]
        try:
            info = fs.info(source.root)
        except FileNotFoundError as exc:
            message = str(exc).lower()
            if "bucket" in message:
                raise StepError(f"{source.uri}: bucket does not exist ({exc})", NOT_FOUND) from None
            raise StepError(f"{source.uri}: no such file, object or prefix", NOT_FOUND) from None
        if info.get("type") != "directory":
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            return [_entry(source, info, name)]
        found = fs.find(source.root, detail=True)
    except StepError:
        raise
    except Exception as exc:
        raise classify_remote(exc, source.uri) from None
    root = fs._strip_protocol(source.root).rstrip("/")
    entries: list[SourceFile] = []
    for name, info in sorted(found.items()):
        if info.get("type") == "directory":
            continue
        rel = str(name)[len(root) :].lstrip("/")
        if not rel or ".." in PurePosixPath(rel).parts:
            continue
        entries.append(_entry(source, info, rel))
    if not entries:
        raise StepError(f"{source.uri}: no files under this prefix", NOT_FOUND)
    return entries
