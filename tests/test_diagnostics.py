"""Diagnostics: expected codes written inline in fixture files, and the exact text per family."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cnai.diagnostics.render import render_json, render_text
from cnai.driver import CompileFailed, check_source
from testpaths import FIXTURES

MARKER = re.compile(r"#\s*(error|warning|error-eof):\s*([EW]\d{4})")
CASES = sorted((FIXTURES / "diagnostics").glob("*.cnai"))


def expected(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines, start=1):
        for kind, code in MARKER.findall(line):
            found.append((len(lines) + 1 if kind == "error-eof" else number, code))
    return sorted(found)


def actual(path: Path) -> list[tuple[int, str]]:
    try:
        diagnostics, _ = check_source(path.read_bytes(), str(path))
    except CompileFailed as failure:
        diagnostics = failure.diagnostics
    return sorted((d.span.line, d.code) for d in diagnostics)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture_codes_on_their_lines(path: Path) -> None:
    assert expected(path), f"{path.name} declares no expected diagnostics"
    assert actual(path) == expected(path)


def render(text: str, path: str = "p.cnai") -> str:
    try:
        diagnostics, sources = check_source(text, path)
    except CompileFailed as failure:
        diagnostics, sources = failure.diagnostics, failure.sources
    return render_text(diagnostics, sources)


def test_unknown_step_text() -> None:
    text = ('pipeline p {\n  step train { image = "x" }\n'
            '  step evaluate after trian {\n    image = "x"\n  }\n}\n')
    assert render(text) == (
        "error[E0102]: unknown step `trian`\n"
        " --> p.cnai:3:23\n"
        "  |\n"
        "3 |   step evaluate after trian {\n"
        "  |                       ^^^^^ no step named `trian`\n"
        "  = help: did you mean `train`?\n"
        "\n1 error\n")


def test_syntax_error_text() -> None:
    assert render('pipeline p {\n  step a { image "x" }\n}\n') == (
        "error[E0003]: unexpected string `\"x\"`\n"
        " --> p.cnai:2:18\n"
        "  |\n"
        "2 |   step a { image \"x\" }\n"
        "  |                  ^^^ expected `=`, `{`\n"
        "  = help: a field is written `name = value`\n"
        "\n1 error\n")


def test_an_unquoted_quantity_is_pointed_at_with_its_fix() -> None:
    # `10Gi` is the number 10, then `Gi` starting a field: the parse fails a token later.
    assert render('pipeline p {\n  step a {\n    image = "x"\n    memory = 10Gi\n  }\n}\n') == (
        "error[E0003]: unexpected `}`\n"
        " --> p.cnai:5:3\n"
        "  |\n"
        "5 |   }\n"
        "  |   ^ expected `=`, `{`\n"
        " ::: p.cnai:4:14\n"
        "  |\n"
        "4 |     memory = 10Gi\n"
        "  |              ---- read as the number 10, then a field named `Gi`\n"
        '  = help: quantities and durations are strings: write "10Gi"\n'
        "\n1 error\n")
    # A name with digits in it is not a glued quantity.
    assert "quantities" not in render('pipeline p {\n  step a {\n    x = a10Gi\n    y\n  }\n}\n')


def test_end_of_file_names_the_open_block() -> None:
    text = render('pipeline p {\n  step a {\n    image = "x"\n')
    assert text.startswith("error[E0004]: unexpected end of file: `step a` is still open\n"
                           " --> p.cnai:4:1\n")
    assert " ::: p.cnai:2:10\n" in text
    assert "`step a {` is not closed" in text
    # What may come next after a value in a block: `}` first; not the `)`, `,` or `]` that
    # only a call or a list would take (LALR merges those states).
    assert "^ expected `}`, `and`, " in text
    assert "`)`" not in text and "`]`" not in text


def test_a_stray_character_after_a_value_lists_what_may_follow_it() -> None:
    text = render('pipeline p {\n  step a {\n    image = "x" @\n  }\n}\n')
    assert text.startswith("error[E0002]: unexpected character `@`\n --> p.cnai:3:17\n")
    assert "^ expected `}`, `and`, " in text
    assert "`)`" not in text and "`{`" not in text


def test_type_error_text() -> None:
    text = ('pipeline p {\n  param name: string = "a"\n  step e {\n    image = "x"\n'
            '    output acc: float\n  }\n  step d when e.acc > name { image = "x" }\n}\n')
    assert render(text) == (
        "error[E0203]: cannot compare float with string using `>`\n"
        " --> p.cnai:7:21\n"
        "  |\n"
        "7 |   step d when e.acc > name { image = \"x\" }\n"
        "  |                     ^ float > string\n"
        "  = help: convert one side, or compare with a value of the same type\n"
        "\n1 error\n")


def test_cycle_text_names_every_step() -> None:
    text = ('pipeline p {\n  step a after c { image = "x" }\n  step b after a { image = "x" }\n'
            '  step c after b { image = "x" }\n}\n')
    assert render(text) == (
        "error[E0301]: dependency cycle: `a` -> `b` -> `c` -> `a`\n"
        " --> p.cnai:2:8\n"
        "  |\n"
        "2 |   step a after c { image = \"x\" }\n"
        "  |        ^ this step is part of the cycle\n"
        " ::: p.cnai:3:16\n"
        "  |\n"
        "3 |   step b after a { image = \"x\" }\n"
        "  |                - `b` waits for `a`\n"
        " ::: p.cnai:4:16\n"
        "  |\n"
        "4 |   step c after b { image = \"x\" }\n"
        "  |                - `c` waits for `b`\n"
        " ::: p.cnai:2:16\n"
        "  |\n"
        "2 |   step a after c { image = \"x\" }\n"
        "  |                - `a` waits for `c`\n"
        "  = note: steps in the cycle: a, b, c\n"
        "  = help: remove one of these references or `after` edges\n"
        "\n1 error\n")


def test_unknown_field_suggests() -> None:
    text = render('pipeline p {\n  step a {\n    imgae = "x"\n  }\n}\n')
    assert "error[E0105]: unknown field `imgae` in step" in text
    assert "did you mean `image`?" in text


def test_errors_are_sorted_and_capped() -> None:
    steps = "".join(f'  step s{i} after nope{i} {{ image = "x" }}\n' for i in range(60))
    text = render("pipeline p {\n" + steps + "}\n")
    assert text.count("error[E0102]") == 50
    assert "... and 10 more" in text
    lines = [int(m) for m in re.findall(r"--> p\.cnai:(\d+):", text)]
    assert lines == sorted(lines)
    assert text.endswith("60 errors\n")


def test_json_has_the_same_record() -> None:
    try:
        check_source('pipeline p {\n  step a after b { image = "x" }\n}\n', "p.cnai")
    except CompileFailed as failure:
        document = json.loads(render_json(failure.diagnostics))
    else:
        pytest.fail("expected an error")
    assert document["errors"] == 1 and document["warnings"] == 0
    (record,) = document["diagnostics"]
    assert record == {
        "code": "E0102", "severity": "error", "message": "unknown step `b`", "file": "p.cnai",
        "line": 2, "column": 16, "end_line": 2, "end_column": 17,
        "label": "no step named `b`", "related": [], "notes": [], "help": []}


def test_warning_does_not_fail() -> None:
    warnings, _ = check_source(
        'pipeline p { step a { image = "x" resources { memory = "1m" } } }')
    assert [w.code for w in warnings] == ["W0101"]


def test_errors_inside_imported_files_point_into_them() -> None:
    path = FIXTURES / "imports" / "bad_import.cnai"
    try:
        check_source(path.read_bytes(), str(path))
    except CompileFailed as failure:
        found = {(Path(d.span.file).name, d.span.line, d.span.col, d.code)
                 for d in failure.diagnostics}
        text = render_text(failure.diagnostics, failure.sources)
    else:
        pytest.fail("expected errors")
    assert found == {("bad_import.cnai", 2, 8, "E0111"), ("cycle_b.cnai", 1, 8, "E0111"),
                     ("broken.cnai", 3, 25, "E0103")}
    assert "3 |   command = [\"echo\", \"${y}\"]" in text
    assert "import cycle: " in text and "cycle_a.cnai` -> `" in text


SYNTAX_MISTAKES = {
    "missing }": 'pipeline p {\n  step a { image = "x"\n}\n',
    "else without if": ('pipeline p {\n  step a { image = "x" }\n'
                        '  else { step b { image = "x" } }\n}\n'),
    "single quotes": "pipeline p {\n  step a { image = 'x' }\n}\n",
    "semicolon": 'pipeline p {\n  step a { image = "x"; }\n}\n',
    "stray }": 'pipeline p {\n  step a { image = "x" } }\n  step b { image = "x" }\n}\n',
    "keyword as a name": 'pipeline p {\n  param in: int = 1\n}\n',
    "keyword as a template parameter": 'template t(in: int) { image = "x" }\npipeline p {}\n',
    "comma between fields": 'pipeline p {\n  step a { image = "x", command = ["a"] }\n}\n',
    "unterminated string": 'pipeline p {\n  step a { image = "x }\n}\n',
    "missing value": 'pipeline p {\n  step a { image = }\n}\n',
    "end of file, no block open": "pipeline p",
    "list items without commas": 'pipeline p {\n  step a { command = ["a" "b"] }\n}\n',
}


@pytest.mark.parametrize("name", sorted(SYNTAX_MISTAKES))
def test_every_syntax_error_has_a_help_line(name: str) -> None:
    text = render(SYNTAX_MISTAKES[name])
    assert "= help: " in text, text


def test_a_keyword_as_a_name_is_e0208_as_the_docs_say() -> None:
    # docs/language.md: "E0208: `param in: int = 1` is refused".
    assert render(SYNTAX_MISTAKES["keyword as a name"]).startswith(
        "error[E0208]: `in` is a keyword")


def _chain(branches: int) -> str:
    head = 'pipeline p {\n  param x: int = 1\n  if x == 0 { step b0 { image = "x" } }\n'
    rest = "".join(f'  else if x == {i} {{ step b{i} {{ image = "x" }} }}\n'
                   for i in range(1, branches))
    return head + rest + '  else { step z { image = "x" } }\n}\n'


def test_a_flat_else_if_chain_is_not_nesting() -> None:
    from cnai.driver import compile_source

    text = _chain(150)  # past MAX_DEPTH branches, each one level deep
    check_source(text, "chain.cnai")
    for target in ("argo", "kfp"):
        assert compile_source(text, "chain.cnai", target).text


def test_nesting_is_still_capped() -> None:
    text = "pipeline p {\n  param x: int = 1\n" + "  if x == 1 {\n" * 101 + (
        '  step a { image = "x" }\n') + "  }\n" * 101 + "}\n"
    assert render(text).startswith("error[E0008]: nesting too deep")
