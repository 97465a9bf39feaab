"""Reusing a tree for an edited text (syntax/incremental.py), as the language server does.

Wherever ``reparse`` returns a tree, it must be the tree a whole parse of the new text gives:
the same nodes and fields, the same offsets, the same nesting depths, and every span pointing
at the new text; where it returns None, the previous tree must be as it was. Held over random
edits of every example and fixture, one after another (each reusing the tree and spans the
one before returned, as keystrokes do), and over edits chosen to be refused.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cnai.authoring.lsp_analysis import analyze_text
from cnai.diagnostics import CompileError
from cnai.source import SourceFile, Span
from cnai.syntax import ast, parse
from cnai.syntax.incremental import all_spans, reparse
from test_descent import _spanned, depths
from testpaths import EXAMPLES, FIXTURES


def parsed(path: str, text: str) -> ast.Module | None:
    try:
        return parse(SourceFile(path, text))
    except CompileError:
        return None


def steps_of(module: ast.Module | None) -> list[ast.StepDecl]:
    return [n for n in _spanned(module) if isinstance(n, ast.StepDecl)]


# Every example and fixture that parses and declares a step in a pipeline.
FILES = [path for path in sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.rglob("*.cnai")])
         if steps_of(parsed(str(path), path.read_text(encoding="utf-8")))]
# What an edit inserts: text that keeps a step parsing, breaks it, or changes its nesting.
PIECES = ["", "1", "x", "_b", " ", "\n", "# note\n", '"', '""', '"${lr}"', ",", "[", "]",
          "{", "}", "[[1]]", "=", "0.5", "-", "step", ".", "(", ")", "\t", "é"]


def sources_of(module: ast.Module) -> set[int]:
    return {id(span.source) for span in all_spans(module)}


def positions(spans: list[Span]) -> list[tuple[int, int, int]]:
    return [(id(span), span.start, span.length) for span in spans]


def assert_whole(tree: ast.Module, spans: list[Span], source: SourceFile) -> None:
    """``tree`` is the whole parse of ``source``, and ``spans`` are all of its spans."""
    reference = parse(source)
    assert tree == reference
    assert [n.span.sort_key() for n in _spanned(tree)] == [
        n.span.sort_key() for n in _spanned(reference)]
    assert depths(tree) == depths(reference)
    assert {id(span) for span in spans} == {id(span) for span in all_spans(tree)}
    assert len(spans) == len({id(span) for span in spans})
    assert sources_of(tree) == {id(source)}


def edit(rng: random.Random, text: str, module: ast.Module) -> str | None:
    """``text`` with a random edit, most inside a step (what a keystroke does), some across
    its edges; None if the text has no step."""
    steps = steps_of(module)
    if not steps:
        return None
    step = rng.choice(steps)
    start, end = step.span.start, step.span.end
    if rng.random() < 0.8:
        at = rng.randint(start + 1, end - 1)
        length = rng.choice([0, 0, 0, 1, 1, 2, 5])
        cut = min(at + length, end - 1)
    else:  # near or over the step's edges
        at = max(0, rng.randint(start - 3, start + 2))
        cut = min(len(text), rng.randint(end - 2, end + 3))
    return text[:at] + rng.choice(PIECES) + text[cut:]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_random_edits_reuse_the_tree_a_whole_parse_gives(path: Path) -> None:
    rng = random.Random(path.name)
    text = path.read_text(encoding="utf-8")
    source = SourceFile(str(path), text)
    module = parse(source)
    spans: list[Span] | None = None
    reused = refused = 0
    for _ in range(120):
        edited = edit(rng, source.text, module)
        if edited is None:  # an edit parsed whole left no step: start again
            source = SourceFile(str(path), text)
            module, spans = parse(source), None
            continue
        new = SourceFile(str(path), edited)
        before = positions(all_spans(module))
        result = reparse(module, spans, source, new)
        if result is None:
            refused += 1
            assert positions(all_spans(module)) == before  # untouched
            if rng.random() < 0.5:
                continue  # the next edit is of the same text again
            whole = parsed(str(path), edited)
            if whole is None:
                continue
            module, spans = whole, None
        else:
            reused += 1
            module, spans = result
            assert_whole(module, spans, new)
        source = new
    assert reused >= 10, (reused, refused)  # most random pieces break the text: refused


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_keystroke_inside_any_step_reuses_the_tree(path: Path) -> None:
    """A space typed inside each step in turn (after its name): always taken."""
    text = path.read_text(encoding="utf-8")
    source = SourceFile(str(path), text)
    module = parse(source)
    spans: list[Span] | None = None
    names = [step.name.span.end for step in steps_of(module)]
    for count, offset in enumerate(names):
        at = offset + count  # each space typed moves the later names by one
        new = SourceFile(str(path), source.text[:at] + " " + source.text[at:])
        result = reparse(module, spans, source, new)
        assert result is not None, source.text[at - 20:at + 20]
        module, spans = result
        assert_whole(module, spans, new)
        source = new


def test_an_edit_moves_every_later_span_and_grows_the_enclosing_ones() -> None:
    text = ('pipeline p {\n  param lr: float = 0.1\n  for x in [1, 2] {\n'
            '    step a { image = "i" cpu = 1 }\n  }\n'
            '  step b after a { image = "j" }\n}\n')
    old = SourceFile("p.cnai", text)
    module = parse(old)
    edited = text.replace("cpu = 1", "cpu = 100")
    new = SourceFile("p.cnai", edited)
    result = reparse(module, None, old, new)
    assert result is not None
    tree, spans = result
    assert_whole(tree, spans, new)
    pipeline = tree.pipelines[0]
    assert pipeline.span.end == len(edited) - 1  # the pipeline grew by two
    later = pipeline.items[-1]
    assert isinstance(later, ast.StepDecl)
    assert edited[later.span.start:later.span.end] == 'step b after a { image = "j" }'


NESTED = """pipeline p {
  param n: int = 1
  for x in [1, 2] {
    step a { image = "i" }
  }
  if n > 1 {
    step b { image = "i" }
  } else if n > 0 {
    step c { image = "i" }
  } else {
    step d { image = "i" }
  }
  finally {
    step e { image = "i" }
  }
}
"""


@pytest.mark.parametrize("name", ["a", "b", "c", "d", "e"])
def test_a_step_in_a_loop_a_branch_or_finally_is_replaced_in_place(name: str) -> None:
    old = SourceFile("p.cnai", NESTED)
    module = parse(old)
    edited = NESTED.replace(f"step {name} {{ image", f"step {name} {{ cpu = 2  image")
    new = SourceFile("p.cnai", edited)
    result = reparse(module, None, old, new)
    assert result is not None
    assert_whole(*result, new)


@pytest.mark.parametrize("before, after", [
    ("  param lr: float = 0.1", "  param lr: float = 0.2"),  # not in a step
    ('step a { image = "i" cpu = 1 }', 'step a { image = "i" cpu = 1 '),  # its `}` goes
    ('image = "i" cpu = 1', 'image = "i cpu = 1'),  # a string left open
    ("cpu = 1", "cpu = [[1]]"),  # nests deeper: the enclosing blocks' depths would change
    ('cpu = 1 }\n  }\n  step b', 'cpu = 2 }\n  }\n  step bb'),  # two steps
    ("step a {", "stop a {"),  # its keyword
    ("cpu = 1", "cpu = 1 }"),  # ends before its old end: the rest would be read otherwise
])
def test_edits_it_leaves_to_a_whole_parse(before: str, after: str) -> None:
    text = ('pipeline p {\n  param lr: float = 0.1\n  for x in [1, 2] {\n'
            '    step a { image = "i" cpu = 1 }\n  }\n'
            '  step b after a { image = "j" }\n}\n')
    assert before in text
    old = SourceFile("p.cnai", text)
    module = parse(old)
    spans = all_spans(module)
    was = positions(spans)
    assert reparse(module, spans, old, SourceFile("p.cnai", text.replace(before, after))) \
        is None
    assert positions(spans) == was
    assert sources_of(module) == {id(old)}


def _rendered(analysis: Any) -> list[tuple[str, str, int, int]]:
    return [(d.code, d.message, d.span.start, d.span.end) for d in analysis.diagnostics]


def test_an_analysis_reusing_a_tree_reports_what_a_fresh_one_does() -> None:
    path = str(FIXTURES / "lsp" / "main.cnai")
    text = Path(path).read_text(encoding="utf-8")
    base = analyze_text(text, path)
    assert base.module is not None and base.diagnostics == []
    typo = text.replace("after prepare", "after prepar", 1)
    reused = analyze_text(typo, path, base)
    assert base.consumed and base.module is None  # its tree is the new text's now
    assert reused.spans is not None  # the tree was reused, not parsed anew
    assert _rendered(reused) == _rendered(analyze_text(typo, path))
    assert [d.code for d in reused.diagnostics] == ["E0102"]
    fixed = analyze_text(text, path, reused)
    assert fixed.spans is not None and fixed.diagnostics == []
    # A consumed analysis is never a base again: the next one parses the text whole.
    again = analyze_text(typo, path, base)
    assert again.spans is None and _rendered(again) == _rendered(reused)
