"""`cnai fmt` and ``cnai.authoring.fmt.format_source``: the canonical layout (docs/fmt.md),
comments kept, the command's files, streams and exit codes. The properties over generated
programs and every example and fixture are in test_fmt_properties.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnai.authoring.fmt import FormatError, format_source
from cnai.authoring.fmt_tokens import words
from cnai.cli import main
from testpaths import EXAMPLES, FIXTURES, ROOT


def fmt(text: str) -> str:
    result = format_source(text)
    assert format_source(result) == result, "formatting twice differs from once"
    return result


# ---- the layout ----------------------------------------------------------------------------

def test_indent_one_item_per_line_and_aligned_assignments() -> None:
    text = ('pipeline p {\n'
            '\tparam epochs:int=90\n'
            '    step train after   a,b when epochs>1 and not(x) {\n'
            'image="i" command=["a","b"]\n'
            'mount d output m:model at "/m"\n'
            '  use t( lr = 1 )\n'
            '  }\n'
            '}')
    assert fmt(text) == ('pipeline p {\n'
                         '  param epochs: int = 90\n'
                         '  step train after a, b when epochs > 1 and not (x) {\n'
                         '    image   = "i"\n'
                         '    command = ["a", "b"]\n'
                         '    mount d\n'
                         '    output m: model at "/m"\n'
                         '    use t(lr = 1)\n'
                         '  }\n'
                         '}\n')


def test_a_run_of_assignments_ends_at_a_blank_line_a_comment_or_another_item() -> None:
    text = ('pipeline p {\n  a = 1\n  long_name = 2\n\n  bb = 3\n  # c\n  cccc = 4\n'
            '  ddd = 5\n  step s { image = "x" }\n  e = 6\n}\n')
    assert fmt(text) == ('pipeline p {\n  a         = 1\n  long_name = 2\n\n  bb = 3\n  # c\n'
                         '  cccc = 4\n  ddd  = 5\n  step s { image = "x" }\n  e = 6\n}\n')


def test_one_line_blocks_stay_on_one_line_when_they_fit() -> None:
    text = ('pipeline p {\n  step s { image = "x"   resources {gpu=1 cpu=2} }\n'
            '  step t {\n    resources { gpu = 1 }\n  }\n  step u {}\n  step v {\n  }\n}\n')
    assert fmt(text) == ('pipeline p {\n  step s { image = "x"  resources { gpu = 1  cpu = 2 } }\n'
                         '  step t {\n    resources { gpu = 1 }\n  }\n  step u {}\n'
                         '  step v {}\n}\n')


def test_a_one_line_block_wider_than_100_columns_gets_one_item_per_line() -> None:
    image = "i" * 70
    text = f'pipeline p {{ step s {{ image = "{image}"  command = ["run"] }} }}\n'
    assert fmt(text) == (f'pipeline p {{\n  step s {{\n    image   = "{image}"\n'
                         '    command = ["run"]\n  }\n}\n')
    fits = f'pipeline p {{\n  step s {{ image = "{image[:58]}"  command = ["run"] }}\n}}\n'
    assert len(fits.split("\n")[1]) == 100
    assert fmt(fits) == fits


def test_a_list_written_over_lines_gets_one_element_per_line_and_commas() -> None:
    text = ('pipeline p {\n  step s {\n    image = "x"\n    command = ["a", "b",\n'
            '      "c"]\n    args = [1, 2,]\n    env = [\n      "d"  # the last\n'
            '      # end\n    ]\n  }\n}\n')
    assert fmt(text) == ('pipeline p {\n  step s {\n    image = "x"\n    command = [\n'
                         '      "a",\n      "b",\n      "c",\n    ]\n    args = [1, 2]\n'
                         '    env = [\n      "d",  # the last\n      # end\n    ]\n  }\n}\n')


def test_comments_stay_where_they_were() -> None:
    text = ('# head\n\n\n\npipeline p {   # the pipeline\n'
            '      # about a\n  a = 1      # one\n  bb = 2 # two\n'
            '  c = [\n    "x",  # first\n    # before y\n    "y"\n  ]\n'
            '  # at the end\n}  # after\n# tail\n')
    assert fmt(text) == ('# head\n\npipeline p {  # the pipeline\n'
                         '  # about a\n  a  = 1  # one\n  bb = 2  # two\n'
                         '  c = [\n    "x",  # first\n    # before y\n    "y",\n  ]\n'
                         '  # at the end\n}  # after\n# tail\n')


def test_a_comment_inside_a_header_ends_its_line() -> None:
    text = 'pipeline p {\n  step s after a # wait for a\n  when x > 1 { image = "x" }\n}\n'
    assert fmt(text) == ('pipeline p {\n  step s after a  # wait for a\n'
                         '      when x > 1 { image = "x" }\n}\n')


def test_trailing_comments_of_consecutive_lines_line_up() -> None:
    text = ('step s {\n  a = 1 # x\n  resources { gpu = 1 }   # y\n'
            '  mount d\n  b = 2 # z\n}\n').replace("step s", "template s()")
    assert fmt(text) == ('template s() {\n  a = 1                  # x\n'
                         '  resources { gpu = 1 }  # y\n  mount d\n  b = 2  # z\n}\n')


def test_token_text_is_kept_byte_for_byte() -> None:
    text = ('pipeline p {\n  a = 1e-3\n  b = 0.10\n  c = -7\n'
            '  d = "x # not a comment \\" \\\\ \\n ${a} \u2028 \x85 日"\n'
            '  "quoted.key/x" = "v"\n}\n')
    pad = " " * len('"quoted.key/x"')
    expected = text
    for key in "abcd":
        expected = expected.replace(f"  {key} = ", f"  {(key + pad)[:len(pad)]} = ")
    assert fmt(text) == expected
    assert '  a              = 1e-3\n' in expected


def test_else_if_chains_and_loops() -> None:
    text = ('pipeline p { for x in [1,2] parallel 2 { step a { image = "x" } }\n'
            'if a.y>1 {\nstep b { image = "x" }\n} else if a.y<0 {\nstep c { image = "x" }\n}'
            ' else {\nstep d { image = "x" }\n}\nfinally {\nstep e { image = "x" } } }\n')
    assert fmt(text) == ('pipeline p {\n  for x in [1, 2] parallel 2 { step a { image = "x" } }\n'
                         '  if a.y > 1 {\n    step b { image = "x" }\n'
                         '  } else if a.y < 0 {\n    step c { image = "x" }\n'
                         '  } else {\n    step d { image = "x" }\n  }\n'
                         '  finally {\n    step e { image = "x" }\n  }\n}\n')


def test_templates_imports_and_types() -> None:
    text = ('import "lib/common.cnai"\ntemplate t(a:int,b:list[list[float]]=[[1.5]],) {\n'
            'image="x"\n}\npipeline p { param xs : list[int] = []\n step s { use t(a=1) } }')
    assert fmt(text) == ('import "lib/common.cnai"\n'
                         'template t(a: int, b: list[list[float]] = [[1.5]]) {\n'
                         '  image = "x"\n}\npipeline p {\n  param xs: list[int] = []\n'
                         '  step s { use t(a = 1) }\n}\n')


def test_records_are_laid_out_as_lists_not_blocks() -> None:
    text = ('pipeline p {\n param rs:list[{ lr:float,batch:int }]=[{lr:0.1 , batch:32},]\n'
            ' param r: {a: int} = {\n a: 1\n }\n'
            ' step s { image = "x"  output m: metrics {acc: float} }\n}\n')
    assert fmt(text) == ('pipeline p {\n'
                         '  param rs: list[{lr: float, batch: int}] = [{lr: 0.1, batch: 32}]\n'
                         '  param r: {a: int} = {\n    a: 1,\n  }\n'
                         '  step s { image = "x"  output m: metrics {acc: float} }\n}\n')


def test_windows_line_endings_and_trailing_white_space_go() -> None:
    assert fmt('pipeline p {  \r\n  a = 1  # c  \r\n}\r\n') == 'pipeline p {\n  a = 1  # c\n}\n'


def test_the_result_check_sees_a_lost_or_changed_token_or_comment() -> None:
    kept = words('x = [1, "a # b",]  # c\n')
    assert kept == ["x", "=", "[", "1", ",", '"a # b"', "]", "# c"]
    assert words('x = [1, "a # b"]  # c') == kept
    assert words('x = [1, "a # b"]') != kept and words('x = [1, "a #  b"] # c') != kept


def test_the_example_in_the_docs_is_in_the_canonical_layout() -> None:
    doc = (ROOT / "docs" / "fmt.md").read_text(encoding="utf-8")
    block = doc.split("```cnai\n", 1)[1].split("```", 1)[0]
    assert fmt(block) == block


def test_text_that_does_not_parse_raises_format_error_with_the_diagnostics() -> None:
    with pytest.raises(FormatError) as raised:
        format_source('pipeline p {\n  step a {\n', "broken.cnai")
    assert [d.code for d in raised.value.diagnostics] == ["E0004"]
    assert raised.value.diagnostics[0].primary.span.file == "broken.cnai"


# ---- the command ---------------------------------------------------------------------------

MISFORMATTED = 'pipeline p {\nstep a {image="x"}\n}\n'
FORMATTED = 'pipeline p {\n  step a { image = "x" }\n}\n'


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["fmt", *args])
    out, err = capsys.readouterr()
    return code, out, err


def formatted_files() -> list[Path]:
    """Every example and fixture that this repository keeps in the canonical layout: all
    but the diagnostics fixtures, whose expected errors name lines and columns."""
    files = sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.rglob("*.cnai")])
    return [f for f in files if "diagnostics" not in f.parts and f.name != "broken.cnai"]


def test_check_passes_on_every_example_and_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    files = formatted_files()
    assert len(files) > 40
    code, out, err = run("--check", *map(str, files), capsys=capsys)
    assert (code, out, err) == (0, "", "")


def test_check_fails_on_a_misformatted_file_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = tmp_path / "bad.cnai", tmp_path / "good.cnai"
    bad.write_text(MISFORMATTED)
    good.write_text(FORMATTED)
    code, out, err = run("--check", str(bad), str(good), capsys=capsys)
    assert (code, out, err) == (1, "", f"would reformat {bad}\n")
    assert bad.read_text() == MISFORMATTED


def test_diff_prints_a_unified_diff_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.cnai"
    bad.write_text(MISFORMATTED)
    code, out, err = run("--diff", str(bad), capsys=capsys)
    assert code == 0 and err == ""
    assert out.startswith(f"--- {bad}\n+++ {bad} (formatted)\n@@ ")
    assert '-step a {image="x"}\n+  step a { image = "x" }\n' in out
    assert bad.read_text() == MISFORMATTED
    assert run("--diff", "--check", str(bad), capsys=capsys)[0] == 1


def test_rewrites_in_place_only_what_changes_keeping_the_mode(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = tmp_path / "bad.cnai", tmp_path / "good.cnai"
    bad.write_text(MISFORMATTED)
    good.write_text(FORMATTED)
    bad.chmod(0o640)
    before = good.stat().st_mtime_ns
    time.sleep(0.01)
    code, out, err = run(str(tmp_path), capsys=capsys)  # a directory: its .cnai files
    assert (code, out, err) == (0, "", f"reformatted {bad}\n")
    assert bad.read_text() == FORMATTED
    assert stat.S_IMODE(bad.stat().st_mode) == 0o640
    assert good.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cnai", "good.cnai"]


def test_a_file_that_does_not_parse_is_reported_and_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken, bad = tmp_path / "broken.cnai", tmp_path / "bad.cnai"
    broken.write_text('pipeline p {\n  step a {\n')
    bad.write_text(MISFORMATTED)
    code, out, err = run(str(broken), str(bad), capsys=capsys)
    assert code == 1 and out == ""
    assert "error[E0004]: unexpected end of file" in err and f"{broken}:3:1" in err
    assert f"reformatted {bad}" in err  # the other files are formatted all the same
    assert broken.read_text() == 'pipeline p {\n  step a {\n'
    code, out, err = run("--format", "json", "--check", str(broken), capsys=capsys)
    assert code == 1 and '"code": "E0004"' in err


def test_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(tmp_path / "missing.cnai"), capsys=capsys)[0] == 2
    assert run(str(tmp_path), capsys=capsys)[0] == 2  # a directory with no .cnai file


def test_standard_input_to_standard_output() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "cnai", "fmt"], input=MISFORMATTED, env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (0, FORMATTED, "")
    check = subprocess.run([sys.executable, "-m", "cnai", "fmt", "--check", "-"],
                           input=MISFORMATTED, env=env, capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    assert (check.returncode, check.stdout, check.stderr) == (
        1, "", "would reformat <stdin>\n")
