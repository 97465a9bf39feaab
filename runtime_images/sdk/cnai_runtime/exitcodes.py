"""Exit codes shared by every cnai runtime image, and the error type that carries one.

Expected failures raise :class:`StepError`; each entrypoint prints its message on one
line of stderr (no traceback) and exits with its code.
"""

from __future__ import annotations

OK = 0
INTERNAL = 1  # a bug: unexpected exception (a traceback is printed)
USAGE = 2  # bad command line, bad manifest, bad condition, unsupported source
AUTH = 3  # missing credentials, or access denied (HTTP 401/403)
NOT_FOUND = 4  # missing bucket, object, file, HTTP 404, Kubernetes object gone
NO_SPACE = 5  # disk full (ENOSPC) or quota exceeded (EDQUOT) while writing
INTEGRITY = 6  # written data does not match the source's size or checksum
REMOTE = 7  # the remote service failed (network error, HTTP 5xx, API error)
CONDITION_FAILED = 8  # launcher/deploy: the failure condition held, revision failed
TIMEOUT = 9  # launcher/deploy: neither condition held before --timeout
NO_GPU = 10  # train: --require-gpu and no CUDA device is visible
# Cancelled by a signal: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
CANCELLED_BASE = 128


class StepError(Exception):
    """An expected failure: a one-line message and the exit code that names it."""

    def __init__(self, message: str, exit_code: int = INTERNAL) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
