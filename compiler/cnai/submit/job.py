"""What one ``cnai submit`` does, once the arguments are checked: the shared inputs of the
Argo and KFP submitters."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from cnai.params import JSON
from cnai.submit.arguments import DEFAULT_TIMEOUT
from cnai.submit.compiled import Compiled
from cnai.submit.errors import HttpFailure
from cnai.submit.retry import Backoff, Notify
from cnai.submit.watch import clock_text


@dataclass(frozen=True)
class Connection:
    url: str  # with scheme, without a trailing slash
    namespace: str | None
    token: str | None  # without the "Bearer " prefix
    verify_tls: bool = True
    ca_cert: str | None = None  # a PEM bundle to verify the server with, instead of the system's
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Job:
    compiled: Compiled
    connection: Connection
    values: dict[str, JSON]  # -p overrides, typed
    watch: bool = False
    poll_interval: float = 2.0
    experiment: str = "Default"  # KFP only
    service_account: str | None = None  # --service-account: the run's, over the pipeline's
    out: TextIO = field(default_factory=lambda: sys.stdout)


def note(text: str) -> None:
    """A side remark for the user, on stderr so stdout stays the result."""
    sys.stderr.write(f"cnai submit: {text}\n")
    sys.stderr.flush()


def retry_notice(failure: HttpFailure, attempt: int, wait: float) -> None:
    note(f"{failure}; retrying in {clock_text(wait) if wait >= 60 else f'{wait:g} s'} "
         f"(attempt {attempt + 1})")


NOTIFY: Notify = retry_notice
