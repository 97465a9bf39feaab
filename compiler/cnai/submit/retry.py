"""Bounded retries with exponential backoff for answers that may succeed later (5xx, 429).

Only an HTTP answer is retried: a refused connection, an unknown host or a TLS failure will
not fix itself in a second and is reported at once.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from cnai.submit.errors import HttpFailure
from cnai.usage import UsageError

T = TypeVar("T")

BACKOFF_ENV = "CNAI_SUBMIT_BACKOFF"  # base delay in seconds; tests set it small


@dataclass(frozen=True)
class Backoff:
    """``attempts`` tries in all; before try n+1 wait ``base * 2**(n-1)`` seconds, or what
    the server's Retry-After asks for, capped at ``retry_after_cap``."""

    attempts: int = 4
    base: float = 0.5
    retry_after_cap: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Backoff:
        text = environ.get(BACKOFF_ENV)
        if text is None:
            return cls()
        try:
            base = float(text)
        except ValueError:
            base = -1.0
        if not 0 <= base <= 60:
            raise UsageError(f"{BACKOFF_ENV} must be a number of seconds from 0 to 60, "
                             f"not {text!r}")
        # The cap scales with the base, so a small test backoff also bounds Retry-After.
        return cls(base=base, retry_after_cap=min(cls.retry_after_cap, 60 * base))

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.retry_after_cap)
        return float(self.base * 2 ** (attempt - 1))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is delay-seconds or an HTTP-date (RFC 9110 10.2.3); None if neither."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class Transient(Exception):
    """Raised by one try whose answer is worth another try later."""

    def __init__(self, failure: HttpFailure, retry_after: str | None) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.retry_after = retry_after


def is_transient(status: int) -> bool:
    return status == 429 or status >= 500


Notify = Callable[[HttpFailure, int, float], None]  # (failure, attempt, delay before next)


def with_retries(attempt: Callable[[], T], backoff: Backoff, notify: Notify | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``attempt`` until it returns or raises something other than Transient; after the
    last try, raise the last failure (an HttpFailure) with the number of tries."""
    for number in range(1, backoff.attempts + 1):
        try:
            return attempt()
        except Transient as transient:
            failure = transient.failure
            failure.attempts = number
            if number == backoff.attempts:
                raise failure from None
            wait = backoff.delay(number, transient.retry_after)
            if notify is not None:
                notify(failure, number, wait)
            sleep(wait)
    raise AssertionError("unreachable: Backoff.attempts must be at least 1")
