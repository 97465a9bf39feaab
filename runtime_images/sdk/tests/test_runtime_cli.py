"""The entrypoint plumbing shared by the images: exit codes, signals, logging."""

from __future__ import annotations

import signal
from collections.abc import Sequence

import pytest

from cnai_runtime import exitcodes
from cnai_runtime.cli import Cancelled, raise_on_signals, run, setup_logging, signals_deferred
from cnai_runtime.exitcodes import StepError


def test_expected_failures_are_one_line_and_their_code(capsys: pytest.CaptureFixture[str]) -> None:
    def body(argv: Sequence[str] | None) -> int:
        raise StepError("bucket does not exist", exitcodes.NOT_FOUND)

    assert run("cnai-x", body, []) == exitcodes.NOT_FOUND
    assert capsys.readouterr().err == "cnai-x: error: bucket does not exist\n"


def test_bugs_print_a_traceback_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def body(argv: Sequence[str] | None) -> int:
        raise KeyError("boom")

    assert run("cnai-x", body, None) == exitcodes.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'boom'" in err
    assert err.endswith("cnai-x: internal error (see traceback above)\n")


def test_sigterm_becomes_cancelled_and_handlers_are_restored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    cleaned: list[str] = []

    def body(argv: Sequence[str] | None) -> int:
        raise_on_signals()
        try:
            with signals_deferred():
                # raise_signal delivers to this thread now; os.kill may land on another
                # thread of the process (servers left by other tests) and arrive late.
                signal.raise_signal(signal.SIGTERM)
                cleaned.append("still running inside the deferred block")
            pytest.fail("the deferred SIGTERM was not delivered")
        finally:
            cleaned.append("finally ran")
        return 0

    assert run("cnai-x", body, None) == 128 + signal.SIGTERM
    assert cleaned == ["still running inside the deferred block", "finally ran"]
    assert "cnai-x: cancelled by SIGTERM" in capsys.readouterr().err
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_cancelled_is_not_an_exception_library_code_would_swallow() -> None:
    assert not issubclass(Cancelled, Exception)


def test_log_lines_are_plain(capsys: pytest.CaptureFixture[str]) -> None:
    log = setup_logging("cnai-x")
    log.info("[1/2] fetched a.bin")
    log.debug("hidden")
    line = capsys.readouterr().err
    assert line.endswith(" cnai-x INFO [1/2] fetched a.bin\n")
    assert line.count("\n") == 1 and "\x1b" not in line
