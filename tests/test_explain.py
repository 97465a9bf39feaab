"""`cnai explain CODE`: docs/diagnostics.md's section for the code, an example in each, and
each example that is a program gives its code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import cnai
from cnai.authoring import explain
from cnai.cli import main
from cnai.diagnostics import CODES
from cnai.driver import CompileFailed, compile_source
from testpaths import ROOT

FENCE = re.compile(r"^```(?P<tag>[\w-]*)\n(?P<body>.*?)^```$", re.M | re.S)
RETIRED = [code for code, text in CODES.items() if "retired" in text]


def explained(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["explain", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_explain_prints_the_description_and_the_example(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = explained(capsys, "e0208")
    assert (status, err) == (0, "")
    assert out.startswith("E0208: invalid value\n\n**Invalid value**: a value of the right "
                          "type that is not allowed.")
    assert "```cnai\n# expect: E0208\npipeline p {\n" in out
    assert "### E0209" not in out and "Over the quota" not in out


def test_unknown_code_is_a_usage_error_with_a_suggestion(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = explained(capsys, "E0280")
    assert (status, out) == (2, "")
    assert err == ("cnai: error: unknown diagnostic code 'E0280' (did you mean E0208?); "
                   "`cnai explain` lists them\n")


def test_no_code_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = explained(capsys)
    assert status == 0
    assert out.splitlines() == [f"{code}  {text}" for code, text in CODES.items()]


@pytest.mark.parametrize("code", list(CODES))
def test_every_code_has_an_explanation_with_an_example(code: str) -> None:
    text = explain.explanation(code)
    assert text.startswith(f"{code}: {CODES[code]}\n\n**")
    examples = [m for m in FENCE.finditer(text) if m.group("tag") in ("cnai", "text")]
    if code in RETIRED:  # no longer reported: nothing to show
        assert not examples and "no longer reported" in text
        return
    assert examples, f"docs/diagnostics.md's {code} has no example"
    for example in examples:
        body = example.group("body")
        if example.group("tag") == "text":  # what the message looks like
            assert f"[{code}]: " in body
            continue
        assert body.startswith(f"# expect: {code}\n")
        try:
            found = {d.code for d in compile_source(body, f"{code}.cnai", "argo").warnings}
        except CompileFailed as failure:
            found = {d.code for d in failure.diagnostics}
        assert found == {code}


def test_the_wheel_carries_the_descriptions_where_explain_looks() -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    wheel_path = build["targets"]["wheel"]["force-include"]["docs/diagnostics.md"]
    assert wheel_path == "cnai/docs/diagnostics.md"
    # Where cnai is imported from: the checkout (pure Python) or the compiled wheel's files
    # (.ci/run's second run), whose copy sits at the force-include path.
    package = Path(cnai.__file__).parent
    assert explain.docs_path() in (package / "docs" / "diagnostics.md",
                                   ROOT / "docs" / "diagnostics.md")
    assert explain.docs_path().read_text() == (ROOT / "docs" / "diagnostics.md").read_text()
    # the wheel is built from the sdist (.ci/run), so the sdist must carry the file too
    assert "docs/diagnostics.md" in build["targets"]["sdist"]["include"]
