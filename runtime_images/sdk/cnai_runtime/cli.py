"""Shared plumbing for the image entrypoints: plain stderr logging and exit-code mapping."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from cnai_runtime.exitcodes import CANCELLED_BASE, INTERNAL, StepError


class Cancelled(BaseException):
    """Raised in the main thread when SIGTERM or SIGINT arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def setup_logging(name: str, verbose: bool = False) -> logging.Logger:
    """One line per record on stderr: ``2024-01-01T00:00:00 cnai-preload INFO message``."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    return logger


def raise_on_signals() -> None:
    """Turn SIGTERM/SIGINT into :class:`Cancelled` so ``finally`` blocks clean up."""

    def handler(signum: int, _frame: object) -> None:
        raise Cancelled(signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back until the block ends (e.g. between creating an object and
    recording that it was created), then deliver them."""
    blocked = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_signals() -> None:
    """Ignore further SIGTERM/SIGINT (while cleaning up after a cancellation)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(name: str, body: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """Run ``body(argv)``; expected failures become one error line and their exit code.

    Signal handlers installed by ``body`` are put back afterwards, so calling an
    entrypoint in-process (tests) leaves the caller's handlers as they were.
    """
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return body(argv)
    except StepError as exc:
        print(f"{name}: error: {exc.message}", file=sys.stderr, flush=True)
        return exc.exit_code
    except Cancelled as exc:
        print(f"{name}: cancelled by {exc}", file=sys.stderr, flush=True)
        return CANCELLED_BASE + exc.signum
    except Exception:
        traceback.print_exc()
        print(f"{name}: internal error (see traceback above)", file=sys.stderr, flush=True)
        return INTERNAL
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
