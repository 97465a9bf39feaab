"""What can go wrong when submitting, and the message a user reads for each.

The clients (hera's WorkflowsService, kfp.Client) fail in their own ways; argo_submit.py and
kfp_submit.py turn those into the three transport failures below, and explain() turns a
failure into one SubmitError: a sentence saying what happened, and a hint saying what to do.
"""

from __future__ import annotations

import http
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MAX_MESSAGE = 500  # a server may answer with a whole HTML page; keep the first part


class SubmitError(Exception):
    """The submission failed (exit 1); ``hint`` says what to try."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(eq=False)
class HttpFailure(Exception):
    """A non-2xx answer, after any retries."""

    status: int
    message: str  # the server's own message, or the start of its body
    url: str
    attempts: int = 1
    location: str | None = None  # of a redirect

    def __str__(self) -> str:
        return f"{status_text(self.status)} from {self.url}: {self.message}"


@dataclass(eq=False)
class Unreachable(Exception):
    """No HTTP answer: refused, unknown host, TLS failure (``connect``, ``tls``), or a
    connection that was made but not answered in time (``no-answer``)."""

    url: str
    reason: str
    kind: str = "connect"

    def __str__(self) -> str:
        return f"cannot reach {self.url}: {self.reason}"


@dataclass(frozen=True)
class Service:
    """How to talk about one kind of server in messages."""

    name: str  # "the Argo Server"
    token_hint: str  # where a token comes from
    url_flag: str  # "--server"


@dataclass(frozen=True)
class Action:
    """What a request was for: ``create the Workflow``; the hint when the object exists."""

    verb: str
    conflict_hint: str = "choose another name"


def status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def server_message(body: bytes | str | None) -> str:
    """The message in an error body: Argo and KFP's grpc-gateway write ``message``, KFP's
    upload handler ``error_message``; anything else is shown as text, shortened."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("message", "error_message", "error"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def unreachable(url: str, error: BaseException) -> Unreachable:
    """Why ``url`` gave no answer, from a requests or urllib3 exception.

    They wrap the socket error two or three times (ConnectionError -> MaxRetryError ->
    NewConnectionError -> OSError); the innermost ones name the cause.
    """
    import ssl

    from urllib3.exceptions import ReadTimeoutError

    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.append(current)
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__,
                       *current.args):
            if isinstance(linked, BaseException):
                pending.append(linked)
    for cause in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Unreachable(url, "TLS certificate verification failed "
                               f"({cause.verify_message})", "tls")
        if isinstance(cause, ssl.SSLError):
            return Unreachable(url, f"TLS handshake failed ({cause.reason or cause})", "tls")
        if isinstance(cause, ReadTimeoutError):
            return Unreachable(url, "no answer within the timeout", "no-answer")
    for cause in seen:
        if isinstance(cause, ConnectionRefusedError):
            return Unreachable(url, "connection refused")
        if isinstance(cause, socket.gaierror):
            return Unreachable(url, "unknown host (DNS lookup failed)")
        if isinstance(cause, TimeoutError) or "timed out" in str(cause).lower():
            return Unreachable(url, "connection timed out")
    innermost = seen[-1]
    return Unreachable(url, str(innermost) or type(innermost).__name__)


def explain(failure: HttpFailure | Unreachable, service: Service, action: Action) -> SubmitError:
    """One user-facing error for a failed request."""
    if isinstance(failure, Unreachable):
        if failure.kind == "no-answer":
            return SubmitError(
                f"could not {action.verb}: {service.name} at {failure.url} gave no answer "
                "within the timeout",
                "the request may still have been carried out, so check before trying again; "
                "--timeout SECONDS waits longer")
        hint = (f"check {service.url_flag} (scheme, host and port) and that the server is "
                "running")
        if failure.kind == "tls":
            hint = ("check the URL; --ca-cert FILE trusts a private CA, --insecure turns "
                    "verification off (for a throwaway test cluster only)")
        return SubmitError(f"cannot reach {service.name} at {failure.url}: {failure.reason}",
                           hint)
    status, detail = failure.status, f" ({status_text(failure.status)})"
    said = f": {failure.message}" if failure.message else ""
    if 300 <= status < 400:
        where = f" to {failure.location}" if failure.location else ""
        return SubmitError(
            f"{service.name} redirected the request to {action.verb}{where}{detail}",
            "an authenticating proxy sends unauthenticated clients to its login page: "
            f"{service.token_hint}; otherwise check {service.url_flag}")
    if status == 401:
        return SubmitError(f"not authorised: {service.name} rejected the credentials{detail}{said}",
                           service.token_hint)
    if status == 403:
        return SubmitError(
            f"not authorised to {action.verb}: {service.name} refused{detail}{said}",
            "the token was accepted but lacks permission here; check the namespace and "
            "the RBAC of the account the token belongs to")
    if status == 409:
        return SubmitError(f"could not {action.verb}: it already exists{detail}{said}",
                           action.conflict_hint)
    if status in (400, 422):
        return SubmitError(f"{service.name} rejected the request to {action.verb}{detail}{said}")
    if status == 404:
        return SubmitError(
            f"could not {action.verb}: {service.name} answered{detail}{said}",
            f"check that {service.url_flag} points at {service.name} and that the "
            "namespace exists")
    if status >= 500 or status == 429:
        tries = "once" if failure.attempts == 1 else f"{failure.attempts} times"
        return SubmitError(f"could not {action.verb}: {service.name} answered{detail} "
                           f"(tried {tries}){said}", "try again later")
    return SubmitError(f"could not {action.verb}: {service.name} answered{detail}{said}")


@contextmanager
def explained(service: Service, action: Action) -> Iterator[None]:
    """Turn a transport failure inside the block into the SubmitError for ``action``."""
    try:
        yield
    except (HttpFailure, Unreachable) as failure:
        raise explain(failure, service, action) from None
