"""`cnai check --format sarif`: a SARIF 2.1.0 log that the OASIS schema accepts, with a rule
per registered code and a result per diagnostic, located by its span."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cnai.cli import main
from cnai.diagnostics import CODES
from testpaths import EXAMPLES, ROOT

SCHEMA = ROOT / "tests" / "schemas" / "sarif" / "sarif-schema-2.1.0.json"
BAD = 'pipeline p {\n  # café\n  step a after trian { image = "busybox:1.36" }\n}\n'
UNUSED = 'pipeline q {\n  param unused: int = 1\n  step b { image = "busybox:1.36" }\n}\n'


@cache
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def sarif(capsys: pytest.CaptureFixture[str], *files: str) -> tuple[int, dict[str, Any]]:
    status = main(["check", "--format", "sarif", *files])
    captured = capsys.readouterr()
    assert captured.err == ""
    log = json.loads(captured.out)
    errors = sorted(validator().iter_errors(log), key=str)
    assert not errors, "\n".join(str(e) for e in errors[:3])
    return status, log


def test_a_clean_file_gives_a_valid_log_with_every_rule(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, log = sarif(capsys, str(EXAMPLES / "model_pipeline.cnai"))
    assert status == 0 and log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["results"] == [] and run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    assert all(r["shortDescription"]["text"] == CODES[r["id"]] for r in rules)
    e0208 = rules[list(CODES).index("E0208")]
    assert e0208["fullDescription"]["text"].startswith("Invalid value: a value of the right "
                                                       "type that is not allowed.")
    assert "# expect: E0208" in e0208["help"]["markdown"]


def test_results_from_every_file_in_one_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.cnai").write_text(BAD, encoding="utf-8")
    (tmp_path / "unused.cnai").write_text(UNUSED, encoding="utf-8")
    absolute = tmp_path / "unused.cnai"
    status, log = sarif(capsys, str(tmp_path / "bad.cnai"), str(absolute))
    assert status == 1
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("E0102", "error"),
                                                            ("W0102", "warning")]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    unknown = results[0]
    assert unknown["message"]["text"] == "unknown step `trian`"
    assert unknown["locations"][0]["message"] == {"text": "no step named `trian`"}
    assert results[1]["message"]["text"].startswith("param `unused` is never used")
    location = unknown["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": (tmp_path / "bad.cnai").as_uri()}
    assert location["region"] == {"startLine": 3, "startColumn": 16, "endLine": 3,
                                  "endColumn": 21}


def test_a_relative_path_stays_relative(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my pipelines").mkdir()
    (tmp_path / "my pipelines" / "bad.cnai").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    status, log = sarif(capsys, "my pipelines/bad.cnai")
    assert status == 1
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "my%20pipelines/bad.cnai",
                                            "uriBaseId": "%SRCROOT%"}


def test_columns_count_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wide.cnai"
    path.write_text('pipeline p {\n  step a { image = "😀" command = [x] }\n}\n',
                    encoding="utf-8")
    status, log = sarif(capsys, str(path))
    assert status == 1
    (result,) = log["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    # `x` is the 35th character of its line; in UTF-16 code units it would be the 36th
    assert result["ruleId"] == "E0103"
    assert (region["startColumn"], region["endColumn"]) == (35, 36)


def test_help_joins_the_message_and_output_is_deterministic(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "colon.cnai").write_text('pipeline p {\n  step a { image: "x" }\n}\n',
                                         encoding="utf-8")
    status, log = sarif(capsys, str(tmp_path / "colon.cnai"))
    assert status == 1
    assert log["runs"][0]["results"][0]["message"]["text"] == (
        "unexpected `:`\nhelp: a field is written `name = value`; `:` is for types "
        "(`param x: int`)")
    main(["check", "--format", "sarif", str(tmp_path / "colon.cnai")])
    first = capsys.readouterr().out
    main(["check", "--format", "sarif", str(tmp_path / "colon.cnai")])
    assert capsys.readouterr().out == first
