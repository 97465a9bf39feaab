"""The descent parser (syntax/descent.py) against the LALR path it stands in for.

The descent takes only text it can parse whole and leaves everything else to the LALR path;
so wherever it returns a tree, that tree must be the LALR path's (fields, spans, nesting
depths), and the LALR path must have found nothing to report. It must also take every valid
program (or it is only slower): every example, fixture, docs block, generated program and
benchmark pipeline, and those files with tokens deleted, inserted and swapped.
"""

from __future__ import annotations

import dataclasses
import random
import re
import sys
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings

import cnai.syntax.descent as descent_module
from cnai.diagnostics import CompileError
from cnai.source import SourceFile
from cnai.syntax import ast, parse
from cnai.syntax.descent import _CHUNK, _END, _tokens, _Unexpected, descend
from cnai.syntax.lalr import Token, run
from cnai.syntax.tables import tables
from cnai.syntax.to_ast import AstBuilder
from fuzz_programs import programs
from testpaths import EXAMPLES, FIXTURES, ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

# The grammar's newer forms, which no example may use yet (the checker refuses some).
_FORMS = """import "lib.cnai"
template t(a: int, b: list[string] = ["x", "y",],) { image = "i" output o: model at "/m" }
pipeline p {
  volume cache { claim = "c" size = "1Gi" }
  volume scratch { }
  dataset d { source = "s3://b" }
  step a { mount cache labels { "team" = "ml" "cloud.google.com/gke-nodepool" = "gpu" } }
  step b after a.failed, a.done, a when not (x == 1) and y or z != 2.5 {
    use t(a = f(1, [], [2,],), b = ["q"]) distributed pytorch { workers = 2 }
    resources { gpu = 1 } retry = 3 scheduling { quota = pipeline.name }
  }
  for i in [1, 2] parallel 2 { if i > 1 { x = true } else if false { } else { y = -1 } }
  finally { step c { image = "${a.o}" } }
  param r: list[{a: int, b: list[string],}] = [{a: 1, b: []}, {a: 2, b: ["x"],}, {}]
  step m when x == {a: {b: 1}} { output s: metrics {acc: float} output t: {} }
}
"""
FENCE = re.compile(r"^```cnai[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def _sources() -> list[tuple[str, str]]:
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
             for p in sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.rglob("*.cnai")])]
    for doc in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]):
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start("body")) + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group("body")))
    found += [(f"bench-{n}", generate(n)) for n in (1, 2, 41, 300)]
    found.append(("forms", _FORMS))
    return found


SOURCES = _sources()


def lalr(text: str) -> tuple[Any, list[Any]]:
    """The LALR path's tree (None where it rejects the text) and the builder's diagnostics."""
    builder = AstBuilder()
    builder.reset(SourceFile("f.cnai", text))
    try:
        module = run(tables(), text, builder)
    except CompileError as error:  # E0008
        return None, error.diagnostics
    return module, builder.diagnostics.items


def descent(text: str) -> ast.Module | None:
    builder = AstBuilder()
    builder.reset(SourceFile("f.cnai", text))
    return descend(tables(), builder)


def depths(node: Any) -> list[tuple[str, int]]:
    """Every node's class and recorded depth, in order (AST equality does not compare them)."""
    return [(type(n).__name__, ast.depth(n)) for n in _spanned(node)]


def same(text: str, *, taken: bool | None = None) -> bool:
    """Holds the descent to the LALR path on ``text``; whether the descent took it."""
    mine = descent(text)
    reference, diagnostics = lalr(text)
    if mine is not None:
        assert reference is not None and not diagnostics
        assert mine == reference
        assert [s.span.sort_key() for s in _spanned(mine)] == [
            s.span.sort_key() for s in _spanned(reference)]
        assert depths(mine) == depths(reference)
    elif taken:
        pytest.fail(f"the descent refused a text the LALR path takes: {text[:200]!r}")
    if taken is not None:
        assert (mine is not None) == taken or not taken
    return mine is not None


def _spanned(node: Any) -> list[Any]:
    found: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, ast.Node):
            found.append(value)
            for item in dataclasses.fields(cast(Any, value)):
                walk(getattr(value, item.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(node)
    return found


@pytest.mark.parametrize("text", [t for _, t in SOURCES], ids=[n for n, _ in SOURCES])
def test_the_descent_builds_the_lalr_tree(text: str) -> None:
    reference, diagnostics = lalr(text)
    same(text, taken=reference is not None and not diagnostics)


@given(text=programs())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_programs(text: str) -> None:
    same(text, taken=True)


_TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|\w+|\S')
_INSERTS = ["{", "}", "(", ")", "[", "]", ",", ".", "=", ":", "==", "step", "after", "when",
            "else", "if", "x", '"s"', "1", "1.5", "not", "and", "or", "pipeline", "'", ";"]


def _mutations(text: str, rng: random.Random, count: int) -> list[str]:
    tokens = [m.span() for m in _TOKEN.finditer(text)]
    if len(tokens) < 2:
        return []
    mutated = []
    for _ in range(count):
        start, end = tokens[rng.randrange(len(tokens))]
        choice = rng.randrange(3)
        if choice == 0:
            mutated.append(text[:start] + text[end:])
        elif choice == 1:
            mutated.append(text[:start] + rng.choice(_INSERTS) + " " + text[start:])
        else:
            other_start, other_end = tokens[rng.randrange(len(tokens))]
            if other_start < start:
                start, end, other_start, other_end = other_start, other_end, start, end
            if other_start < end:
                continue
            mutated.append(text[:start] + text[other_start:other_end] + text[end:other_start]
                           + text[start:end] + text[other_end:])
    return mutated


@pytest.mark.parametrize("text", [t for _, t in SOURCES[::3] if len(t) < 20_000],
                         ids=[n for n, t in SOURCES[::3] if len(t) < 20_000])
def test_mutations_give_the_same_result(text: str) -> None:
    rng = random.Random(text)
    for mutated in _mutations(text, rng, 25):
        same(mutated)


@pytest.mark.parametrize("text", [
    "pipeline p { x = " + "(" * 500 + "1" + ")" * 500 + " }",  # no node: LALR takes it
    "pipeline p { x = " + "[" * 150 + "]" * 150 + " }",  # E0008
    "pipeline p { x = " + "not " * 150 + "true }",
    "pipeline p { " + "if true { } else " * 300 + "{ } }",  # a chain is not nested
    "pipeline p { param x: " + "list[" * 150 + "int" + "]" * 150 + " }",
    "pipeline p { x = 99999999999999999999999 }", 'pipeline p { x = "\\q" }',
    'pipeline p { "${a}" = 1 }', 'pipeline p { x = "{{" }', "pipeline p { x = 1e999 }",
    "", "# nothing", "pipeline p { x = 1 } @", "pipeline p { x = a < b < c }",
    # Characters no token starts with, wherever they are: the descent's scanner splits the
    # text, so what lies between two tokens must be blanks.
    "pipeline p { x = - 1 }", 'pipeline p { x = "a }', "pipeline p { x = é }",
    "pipeline p { x = 1 }\v", "pipeline p {\u00a0}", "$pipeline p { }",
    "pipeline p { x = \u0661\u0662 y = -\u0663.5 }",  # digits `\\d` takes: numbers
    'pipeline p { x = "a#b" # "c\n y = 1 }  # }', "pipeline p { x = 1 }  # end",
    # Integers at int64's edge, read without AstBuilder under 19 characters.
    "pipeline p { a = 999999999999999999 b = -99999999999999999 c = -999999999999999999 }",
    "pipeline p { a = 9223372036854775807 b = -9223372036854775807 }",
    "pipeline p { a = 9223372036854775808 }", "pipeline p { a = 0000000000000000000001 }",
])
def test_edges_go_the_lalr_way(text: str) -> None:
    same(text)


def test_parse_reports_as_the_lalr_path() -> None:
    """Through parse(): an error found by the LALR path after the descent gave up."""
    with pytest.raises(CompileError) as error:
        parse(SourceFile("f.cnai", "pipeline p {\n  x = [\n}\n"))
    assert error.value.diagnostics[0].code == "E0003"


def test_every_rule_is_taken_by_the_descent_somewhere() -> None:
    """Every rule with an AstBuilder method is met in some text the descent takes. The rules
    met are read off the LALR path's plain tree (a builder that records each rule by name;
    the compiled build's AstBuilder cannot be patched)."""
    handlers = {rule[2] for rule in tables().rules if rule[2] is not None}
    used: set[str] = set()
    for _, text in SOURCES:
        if descent(text) is not None:
            _rules(run(tables(), text, _RuleNames()), used)
    assert handlers - used == set()


class _RuleNames:
    def __getattr__(self, rule: str) -> Any:
        return lambda children: (rule, children)


def _rules(value: Any, found: set[str]) -> None:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and \
            isinstance(value[1], list):
        found.add(value[0])
        _rules(value[1], found)
    elif isinstance(value, list):  # an inlined rule's children
        for child in value:
            _rules(child, found)


@pytest.mark.parametrize("raw", ['"${lr}"', '"a ${x.y} b ${ z }"', '"\\n${a}\\$"', '"p"'])
def test_a_string_read_again_is_read_as_the_first_time(raw: str) -> None:
    """AstBuilder keeps what it read of a string (its pieces, the references' offsets): the
    same text further on gives the nodes a fresh builder gives it there."""
    text = f"{raw}   {raw}"
    source = SourceFile("f.cnai", text)
    second = len(text) - len(raw)
    builder = AstBuilder()
    builder.reset(source)
    builder.string_token(Token("STRING", raw, 0, len(raw)))
    again = builder.string_token(Token("STRING", raw, second, len(text)))
    fresh = AstBuilder()
    fresh.reset(source)
    expected = fresh.string_token(Token("STRING", raw, second, len(text)))
    assert again == expected and _spanned(again) == _spanned(expected)
    assert [n.span.sort_key() for n in _spanned(again)] == [
        n.span.sort_key() for n in _spanned(expected)]


def _lalr_tokens(text: str) -> list[tuple[str, str, int, int]] | None:
    """The LALR path's scanner (tables().pattern, a named group per terminal) as the
    descent's tokens: a keyword's or punctuation's kind is its text; None for a character no
    token starts with."""
    found: list[tuple[str, str, int, int]] = []
    punctuation = set(tables().punctuation)
    for match in re.finditer(tables().pattern, text):
        kind = match.lastgroup
        if kind is None:
            if match.end() != len(text):
                return None
            break
        value, start = match[kind], match.start(kind)
        if (kind == "NAME" and value in tables().keywords) or value in punctuation:
            kind = value
        found.append((kind, value, start, match.end()))
    return found


def _descent_tokens(text: str, start: int = 0, stop: int = -1
                    ) -> list[tuple[str, str, int, int]] | None:
    stop = len(text) if stop == -1 else stop
    found: list[tuple[str, str, int, int]] = []
    stream = (token for chunk in _tokens(tables(), text, start, stop) for token in chunk)
    try:
        for token in stream:
            if token[0] == _END:
                assert token == (_END, "", stop, stop)
                return found
            found.append(token)
    except _Unexpected:
        return None
    raise AssertionError("no end")


_ODD = ["$", "-", '"', "é", "\v", "\u00a0", "\u0661", "-\u0662.5", "1e5", "-2", "1.5e-3",
        "#", "# c", "==", "=", "!=", "<", ">=", "!", "'", ";", "\t", "\r\n", '"a\\"b"', '"#"']


@pytest.mark.parametrize("text", [t for _, t in SOURCES], ids=[n for n, _ in SOURCES])
def test_the_descent_scans_as_the_lalr_path(text: str) -> None:
    """Kinds, texts and offsets, token by token, as the named-group scanner gives them."""
    assert _descent_tokens(text) == _lalr_tokens(text)


def test_odd_characters_scan_as_the_lalr_path() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choice([*_ODD, " ", "\n", "x", "step", "(", "{", "}", "1", ","])
                       for _ in range(rng.randrange(1, 8)))
        assert _descent_tokens(text) == _lalr_tokens(text), text


def test_chunks_end_where_lines_do() -> None:
    """A text of several chunks (comments, floats, strings across each cut) and a part of
    it, as incremental.py scans one step."""
    line = 'x = [1.5, "a # b", -2]  # a comment with "quotes" { and } braces\n'
    text = line * (3 * _CHUNK // len(line) + 7)
    assert _descent_tokens(text) == _lalr_tokens(text)
    start, stop = len(line) * 5, len(text) - len(line) * 3
    part = _lalr_tokens(text[start:stop])
    assert part is not None
    assert _descent_tokens(text, start, stop) == [
        (kind, value, begin + start, end + start) for kind, value, begin, end in part]
    assert _descent_tokens(text + "x = $\n") is None


def test_several_tokens_a_match_scan_as_one_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner takes up to _PER_MATCH tokens a match: a match never splits a token to
    make up a count (`ab cd` is two), a chunk's last tokens (fewer than a match takes, a
    string of many words among them) are scanned as the LALR path scans them, a character
    no token starts with after fewer tokens than a match takes is still refused, and a
    long token with few after it is scanned once (a search for a required count of tokens
    tried again from every position in it)."""
    many = '"a b c d e f g h i j k l m n o p"'
    texts = ["ab cd", "ab cd ef", f"x = [{many}]\n", f"{many} {many}\n  y\n",
             "a b c d e f g h i\n" * 3, f"a = {many} # b c d e f g h i j\n" * 5,
             *(text for _, text in SOURCES[:40])]
    for chunk in (1, 7, 50, _CHUNK):
        monkeypatch.setattr(descent_module, "_CHUNK", chunk)
        for text in texts:
            assert _descent_tokens(text) == _lalr_tokens(text), (chunk, text)
        assert _descent_tokens(f"a b c $ {many} d e f g h i j k l\n") is None
        assert _descent_tokens("a b c d e f g h i j k l m n o p q r s t u v $") is None
    assert _descent_tokens("ab cd") == [("NAME", "ab", 0, 2), ("NAME", "cd", 3, 5)]
    long = f'x = "{"a" * 200_000}"\n'
    assert _descent_tokens(long) == [("NAME", "x", 0, 1), ("=", "=", 2, 3),
                                     ("STRING", long[4:-1], 4, len(long) - 1)]
    assert same(f"pipeline p {{ step s {{ x = [{many}] }} }}\n", taken=True)


@pytest.mark.parametrize("body", [
    'x = "a"  y = "a" == "b"  z = "a" or true  n = 1  m = 1 < 2  k = 1 and f(2)',
    'x = "a"  c = ["a", "a" == "a", b, b.c.d, f(1, [2]), g(), "${p}", "${p}" == "q", b < 1]',
    'c = ["${p}", "${p}"] d = "${p}" e = { f: "${p}" } g { h = "${p}" i = 1234567890123456789 }',
    'k = f(g(h(1)))  l = [[["a"]], ("a"), not b, -1, 1.5]  m = "a" != "b" or n and "a"',
    'i = 12345678901234567890',  # past int64: the LALR path reports it
])
def test_the_inline_shapes_build_the_lalr_tree(body: str) -> None:
    """Literals, references and strings read before are read inline in a body and a list
    (body_items, exprs): whatever follows them (operators, a call, nesting) ends as the
    LALR path builds it, each one in a step, twice, and in a nested block."""
    text = f'pipeline p {{ step s {{ {body} }} step t {{ {body} b {{ {body} }} }} }}'
    same(text, taken="12345678901234567890" not in body)
