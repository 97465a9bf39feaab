"""The parts of `cnai submit` that need no server: backoff, messages, params, the display."""

from __future__ import annotations

import argparse
import io

import pytest

from cnai.params import parse_param, parse_value
from cnai.semantics import ir
from cnai.submit import add_parser, run
from cnai.submit.errors import (
    Action,
    HttpFailure,
    Service,
    explain,
    server_message,
)
from cnai.submit.kfp_submit import kfp_cron
from cnai.submit.params import convert
from cnai.submit.retry import Backoff, Transient, parse_retry_after, with_retries
from cnai.submit.watch import Snapshot, follow
from cnai.usage import UsageError, parse_assignments

SERVICE = Service("the Argo Server", "pass a token", "--server")


# ---- retries -------------------------------------------------------------------------------


def test_backoff_doubles_from_the_base() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_retry_after_is_capped() -> None:
    assert Backoff().delay(1, "5") == 5.0
    assert Backoff().delay(1, "3600") == 30.0
    assert Backoff.from_env({"CNAI_SUBMIT_BACKOFF": "0.01"}).delay(1, "3600") == 0.6


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("text", ["-1", "fast", "61"])
def test_backoff_environment_is_checked(text: str) -> None:
    with pytest.raises(UsageError, match="CNAI_SUBMIT_BACKOFF must be a number"):
        Backoff.from_env({"CNAI_SUBMIT_BACKOFF": text})


def test_with_retries_stops_after_the_last_attempt() -> None:
    waits: list[float] = []
    tries: list[int] = []

    def attempt() -> str:
        tries.append(1)
        raise Transient(HttpFailure(503, "busy", "http://x"), None)

    with pytest.raises(HttpFailure) as failure:
        with_retries(attempt, Backoff(base=1.0), sleep=waits.append)
    assert (len(tries), waits, failure.value.attempts) == (4, [1.0, 2.0, 4.0], 4)


# ---- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    (b'{"code": 6, "message": "exists", "error": "exists"}', "exists"),  # grpc-gateway
    (b'{"error_message": "bad file", "error_details": "..."}', "bad file"),  # KFP upload
    (b"<html>\n<body>Bad   Gateway</body></html>", "<html> <body>Bad Gateway</body></html>"),
    (b"x" * 600, "x" * 497 + "..."),
    (None, ""),
])
def test_server_message(body: bytes | None, message: str) -> None:
    assert server_message(body) == message


@pytest.mark.parametrize(("status", "start"), [
    (404, "could not do it: the Argo Server answered (404 Not Found): no"),
    (422, "the Argo Server rejected the request to do it (422 Unprocessable Entity): no"),
    (429, "could not do it: the Argo Server answered (429 Too Many Requests) (tried once): no"),
    (418, "could not do it: the Argo Server answered (418 I'm a Teapot): no"),
])
def test_explain_other_statuses(status: int, start: str) -> None:
    assert explain(HttpFailure(status, "no", "http://x"), SERVICE, Action("do it")).message == (
        start)


# ---- params and cron -----------------------------------------------------------------------


def test_kfp_cron_has_a_seconds_field() -> None:
    assert kfp_cron("*/15 9-17 * * MON-FRI") == "0 */15 9-17 * * MON-FRI"
    assert kfp_cron("@daily") == "@daily"


def test_assignments_keep_everything_after_the_first_equals() -> None:
    assert parse_assignments(["a=b=c", "empty="]) == {"a": "b=c", "empty": ""}


@pytest.mark.parametrize(("text", "type_", "value"), [
    ("-3", ir.Type(name="int"), -3),
    ("2", ir.Type(name="float"), 2.0),
    ("False", ir.Type(name="bool"), False),
    # The runtime contract's readers, as `cnai run` and the images read values:
    ("1", ir.Type(name="bool"), True),
    (" 0 ", ir.Type(name="bool"), False),
    ("90.0", ir.Type(name="int"), 90),
    ('["1", 2]', ir.Type(name="list", item=ir.Type(name="int")), [1, 2]),
    ('[["a"], []]', ir.Type(name="list", item=ir.Type(name="list", item=ir.Type(name="string"))),
     [["a"], []]),
    ("[1, 2.5]", ir.Type(name="list", item=ir.Type(name="float")), [1.0, 2.5]),
])
def test_convert(text: str, type_: ir.Type, value: object) -> None:
    assert convert(text, type_, "p") == value


@pytest.mark.parametrize("text", ["nan", "inf", "1e999"])
def test_convert_refuses_non_finite_floats(text: str) -> None:
    with pytest.raises(UsageError):
        convert(text, ir.Type(name="float"), "p")


@pytest.mark.parametrize(("text", "type_"), [
    ("yes", ir.Type(name="bool")), ("2", ir.Type(name="bool")),
    ("1.5", ir.Type(name="int")), ("[true]", ir.Type(name="list", item=ir.Type(name="int"))),
])
def test_convert_refuses_what_cnai_run_refuses(text: str, type_: ir.Type) -> None:
    with pytest.raises(ValueError):
        parse_param(text, type_)
    with pytest.raises(UsageError):
        convert(text, type_, "p")


def test_a_bool_param_may_be_written_in_any_case_but_an_output_may_not() -> None:
    boolean = ir.Type(name="bool")
    assert convert("TRUE", boolean, "p") is True and parse_param("False ", boolean) is False
    with pytest.raises(ValueError):
        parse_value("TRUE", boolean)  # what a step writes follows the runtime contract


# ---- the live display ----------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_display_on_a_terminal() -> None:
    answers = iter([Snapshot("Running", False, progress="0/2"),
                    Snapshot("Running", False, progress="1/2"),
                    Snapshot("Succeeded", True, succeeded=True, progress="2/2")])
    out = Terminal()
    last = follow(lambda: next(answers), "Workflow w", out, interval=0, clock=lambda: 0.0,
                  sleep=lambda _: None)
    assert last.succeeded
    text = out.getvalue()
    assert "Workflow w: Running" in text and "Workflow w: Succeeded" in text
    assert text.endswith("Workflow w Succeeded after 0:00:00\n")


def test_run_is_what_cli_wires_in(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="cnai")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["submit", "x.cnai", "--target", "kfp"])
    assert run(args) == 2
    assert capsys.readouterr().err == "cnai submit: error: --target kfp needs --host URL\n"
