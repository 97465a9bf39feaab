"""Map storage-client exceptions to the shared exit codes, with one-line messages."""

from __future__ import annotations

import errno

from cnai_runtime.exitcodes import AUTH, NO_SPACE, NOT_FOUND, REMOTE, StepError

# Exception class names (matched along the MRO, so botocore/google are never imported here).
_NO_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "DefaultCredentialsError",
    "RefreshError",
}
_CONNECTION = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ClientPayloadError",
    "ConnectionError",
    "TimeoutError",
}


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def no_space(path: str, exc: BaseException | None = None) -> StepError:
    detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
    return StepError(f"no space left on the cache volume while writing {path}{detail}", NO_SPACE)


def classify_remote(exc: BaseException, uri: str) -> StepError:
    """Turn an exception raised while talking to the source into a :class:`StepError`.

    The whole cause chain is read: fsspec's HTTP filesystem, for one, reports a 403 as a
    FileNotFoundError caused by the HTTP error, so the most specific signal wins.
    """
    chain = _chain(exc)
    for item in chain:
        if _names(item) & _NO_CREDENTIALS:
            return StepError(
                f"{uri}: no usable credentials ({type(item).__name__}: {item}); for s3:// set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a pod identity), for gs:// "
                "GOOGLE_APPLICATION_CREDENTIALS",
                AUTH,
            )
    for item in chain:
        status = _status(item)
        if status in (401, 403):
            return StepError(f"{uri}: access denied (HTTP {status})", AUTH)
        if status == 404:
            return StepError(f"{uri}: not found (HTTP 404)", NOT_FOUND)
        if status is not None and status >= 400:
            return StepError(f"{uri}: the server answered HTTP {status} ({item})", REMOTE)
    for item in chain:
        if isinstance(item, PermissionError):
            return StepError(f"{uri}: access denied ({item})", AUTH)
        if isinstance(item, FileNotFoundError):
            return StepError(f"{uri}: not found ({item})", NOT_FOUND)
        if _names(item) & _CONNECTION:
            return StepError(f"{uri}: cannot reach the storage service ({item})", REMOTE)
    return StepError(f"{uri}: {type(exc).__name__}: {exc}", REMOTE)
