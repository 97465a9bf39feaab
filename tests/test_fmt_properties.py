"""The properties of `cnai fmt` (#19 item 2), over generated programs (fuzz_programs.py, with
comments and line breaks inserted between their tokens) and every example and fixture:
formatting never changes the parsed pipeline (the syntax trees are equal, spans aside; a
file with semantic errors keeps its diagnostics), keeps every comment, and formatting twice
equals formatting once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnai.authoring.fmt import FormatError, ast_shape, format_source
from cnai.authoring.fmt_tokens import COMMENT, scan
from cnai.diagnostics import CompileError
from cnai.driver import CompileFailed, check_source
from cnai.source import SourceFile
from cnai.syntax import parse
from fuzz_programs import programs
from fuzz_support import fuzz_settings
from test_fuzz_mutations import mutants
from testpaths import EXAMPLES, FIXTURES

FILES = sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.rglob("*.cnai")])
# What goes between two tokens: nothing added, a space, line breaks, comments.
GAPS = ("", " ", "\n", "\n\n\n", "  # note\n", "\n# own line\n\n", "\t#\n")


def tree(text: str) -> object:
    return ast_shape(parse(SourceFile("f.cnai", text)))


def comments(text: str) -> list[str]:
    return [t.text for t in scan(text) if t.kind == COMMENT]


def assert_formats_well(text: str) -> str:
    once = format_source(text, "f.cnai")
    assert tree(once) == tree(text), f"the pipeline changed:\n{text}\n----\n{once}"
    assert comments(once) == comments(text)
    twice = format_source(once, "f.cnai")
    assert twice == once, f"formatting twice differs:\n{once}\n----\n{twice}"
    return once


def with_gaps(text: str, choices: list[int]) -> str:
    """``text`` with GAPS[choice] before each token (its white space kept too)."""
    pieces, position = [], 0
    for token, choice in zip(scan(text), choices, strict=False):
        pieces += [text[position:token.start], GAPS[choice]]
        position = token.start
    pieces.append(text[position:])
    return "".join(pieces)


@fuzz_settings("programs")
@given(text=programs(), data=st.data())
def test_generated_programs(text: str, data: st.DataObject) -> None:
    assert_formats_well(text)
    choices = data.draw(st.lists(st.integers(0, len(GAPS) - 1), min_size=len(scan(text)),
                                 max_size=len(scan(text))), label="gaps")
    assert_formats_well(with_gaps(text, choices))


@fuzz_settings("mutations")
@given(data=mutants())
def test_mutated_files(data: bytes) -> None:
    """Mutants of every example, fixture and docs block: what parses formats well, what does
    not raises FormatError, never another exception."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the command reports E0001 before it formats (test_fmt.py)
    try:
        parse(SourceFile("f.cnai", text))
    except CompileError:
        with pytest.raises(FormatError):
            format_source(text, "f.cnai")
        return
    assert_formats_well(text)


def diagnostics(text: str, path: Path) -> list[tuple[str, str]]:
    try:
        found, _ = check_source(text, str(path))
    except CompileFailed as failed:
        found = failed.diagnostics
    return [(d.code, d.message) for d in found]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES.parent.parent))
                                             for p in FILES])
def test_every_example_and_fixture(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        once = assert_formats_well(text)
    except FormatError as error:  # the parser refuses it: a fixture of syntax errors
        assert error.diagnostics and "diagnostics" in path.parts
        return
    # The same findings, at the moved places (imports resolve from the same directory).
    assert diagnostics(once, path) == diagnostics(text, path)
    for seed in range(3):
        choices = [(seed + 3 * i) % len(GAPS) for i in range(len(scan(text)))]
        assert_formats_well(with_gaps(text, choices))
