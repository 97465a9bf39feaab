"""The LALR driver (syntax/lalr.py) against lark's own parser, and the tables' cache.

The driver runs the tables lark builds, with its own scanner and child shaping; these tests
hold it to lark: the same tree for every file lark accepts, and a rejection exactly where
lark raises.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lark import Lark, Tree
from lark import Token as LarkToken
from lark.exceptions import UnexpectedInput

from cnai.syntax.grammar import grammar_text
from cnai.syntax.lalr import Token, run
from cnai.syntax.tables import build, lark_parser, load, tables
from testpaths import EXAMPLES, FIXTURES, ROOT

SOURCES = sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.rglob("*.cnai")])


class TreeBuilder:
    """Builds (rule, children) for every rule, as lark's default tree does."""

    def __getattr__(self, rule: str) -> Any:
        return lambda children: (rule, [_plain(c) for c in children])


def _plain(value: Any) -> Any:
    if isinstance(value, Token):
        return (value.type, value.value, value.start, value.end)
    if isinstance(value, LarkToken):
        return (value.type, str(value), value.start_pos, value.end_pos)
    if isinstance(value, Tree):
        return (str(value.data), [_plain(c) for c in value.children])
    if isinstance(value, tuple):  # already plain
        return value
    assert value is None, value
    return None


@cache
def standard_lexer() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="basic", keep_all_tokens=True)


def lark_tree(text: str) -> Any:
    """lark's tree, or None where lark raises a syntax error."""
    try:
        return _plain(lark_parser(grammar_text()).parse(text))
    except UnexpectedInput:
        return None


def driver_tree(text: str) -> Any:
    result = run(tables(), text, TreeBuilder())
    return None if result is None else _plain(result)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_the_driver_builds_lark_s_tree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert driver_tree(text) == lark_tree(text)


def _tokens(tree: Any) -> list[Any]:
    if tree is None:
        return []
    if isinstance(tree, tuple) and len(tree) == 4:
        return [tree]
    return [token for child in tree[1] for token in _tokens(child)]


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_the_scanner_reads_tokens_as_lark_s_standard_lexer(path: Path) -> None:
    # The scanner is one regex built from the grammar's terminals (lexer.scanner_spec); lark's
    # standard lexer, built from the same terminals by lark's own rules (priorities, keywords
    # over names), must read the same tokens. The parse keeps every token, so a valid file's
    # tree holds them all; for a file with a syntax error, lark's parser is run with the
    # scanner as its lexer (lexer.FastLexer) and reads them.
    text = path.read_text(encoding="utf-8")
    tree = driver_tree(text)
    ours = (_tokens(tree), None) if tree is not None else _lexed(lark_parser(grammar_text()), text)
    assert ours == _lexed(standard_lexer(), text)


def _lexed(parser: Lark, text: str) -> tuple[list[Any], int | None]:
    """The tokens ``parser``'s lexer reads, up to the offset of a character it cannot read."""
    tokens: list[Any] = []
    try:
        for t in parser.lex(text):
            tokens.append((t.type, str(t), t.start_pos, t.end_pos))
    except UnexpectedInput as error:
        return tokens, error.pos_in_stream
    return tokens, None


def test_the_driver_rejects_exactly_what_lark_rejects() -> None:
    # Every file above, cut, spliced and with characters dropped or doubled at random places:
    # most variants are invalid, some stay valid; the two parsers must agree on each.
    rng = random.Random(20261128)
    texts = [p.read_text(encoding="utf-8") for p in SOURCES]
    rejected = accepted = 0
    for _ in range(400):
        text = rng.choice(texts)
        at = rng.randrange(len(text) + 1)
        change = rng.choice(("cut", "drop", "double", "splice"))
        if change == "cut":
            text = text[:at]
        elif change == "drop":
            text = text[:at] + text[at + 1:]
        elif change == "double":
            text = text[:at] + text[at:at + 3] + text[at:]
        else:
            other = rng.choice(texts)
            start = rng.randrange(len(other) + 1)
            text = text[:at] + other[start:start + rng.randrange(40)] + text[at:]
        expected = lark_tree(text)
        assert driver_tree(text) == expected, text
        rejected += expected is None
        accepted += expected is not None
    assert rejected > 100 and accepted > 20  # both outcomes were exercised


def test_tables_are_cached_and_rebuilt_when_the_cache_is_bad(tmp_path: Path) -> None:
    built = load(tmp_path)
    (cached,) = tmp_path.glob("tables-*.json")
    data = json.loads(cached.read_text(encoding="utf-8"))
    assert data["format"] and data["grammar"]
    fresh = build(grammar_text())
    assert {k: v for k, v in data.items() if k not in ("format", "grammar")} == \
        json.loads(json.dumps(fresh))
    assert load(tmp_path) == built  # read back from the file
    for damage in ("{not json", json.dumps({**data, "format": -1}), json.dumps([1, 2])):
        cached.write_text(damage, encoding="utf-8")
        assert load(tmp_path) == built
        assert json.loads(cached.read_text(encoding="utf-8"))["format"] == data["format"]


def test_tables_work_without_a_writable_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a directory", encoding="utf-8")
    assert load(blocked / "cnai") == load(tmp_path / "other")


def test_a_warm_compile_does_not_import_lark(tmp_path: Path) -> None:
    # lark is imported to build the tables (once per grammar) and to describe a syntax
    # error; a compile with the tables cached runs without it.
    program = (
        "import sys\n"
        "from cnai.driver import compile_source\n"
        "compile_source(open(sys.argv[1]).read(), sys.argv[1], 'kfp')\n"
        "print('lark' in sys.modules)\n")
    env = {**os.environ, "CNAI_CACHE_DIR": str(tmp_path)}
    example = str(EXAMPLES / "model_pipeline.cnai")
    runs = [subprocess.run([sys.executable, "-c", program, example], env=env, check=True,
                           capture_output=True, text=True).stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]  # the first run built the tables


@pytest.mark.parametrize("text", [
    'pipeline a { step s { image = "x" } }\n# pipeline p { }',
    'pipeline a { step s { image = "x" } } # pipeline p { }',
    'pipeline a { # step t { image = "y" }\n  step s { image = "x" } }',
    'pipeline a { step s { image = "x" } } # a comment\n@',
    'pipeline a { step s { image = "x" } } #',
])
def test_comments_are_never_read_as_tokens(text: str) -> None:
    # A scanner that backtracks into a comment when no token follows it would read the code
    # in the comment; this one skips white space and comments before each token for good.
    expected = lark_tree(text)
    assert driver_tree(text) == expected
    if expected is not None:
        assert str(expected).count("('PIPELINE', 'pipeline'") == 1
