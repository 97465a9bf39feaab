"""The grammar and the AST: every example parses, spans are exact, strings are decoded."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnai.diagnostics import CompileError
from cnai.source import SourceFile
from cnai.syntax import ast, parse
from testpaths import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.cnai"))


def parse_text(text: str) -> ast.Module:
    return parse(SourceFile("t.cnai", text))


def only_step(module: ast.Module) -> ast.StepDecl:
    (pipeline,) = module.pipelines
    (step,) = [i for i in pipeline.items if isinstance(i, ast.StepDecl)]
    return step


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_parses(path: Path) -> None:
    module = parse(SourceFile.read(path))
    assert len(module.pipelines) == 1


def test_language_sketch_examples_are_the_shipped_examples() -> None:
    # LANGUAGE.md's examples are acceptance tests; examples/ holds them verbatim.
    assert {p.stem for p in EXAMPLE_FILES} >= {"model_pipeline", "sweep", "cloud_native"}


def test_spans_are_one_based_and_exact() -> None:
    step = only_step(parse_text('pipeline p {\n  step train after a, b {\n    image = "x"\n  }\n}'))
    assert (step.name.span.line, step.name.span.col, step.name.span.end_col) == (2, 8, 13)
    assert [a.step.name for a in step.after] == ["a", "b"]
    assert (step.after[1].span.line, step.after[1].span.col) == (2, 23)
    assert (step.span.line, step.span.end_line) == (2, 4)


def test_after_items_take_an_outcome() -> None:
    step = only_step(parse_text(
        'pipeline p {\n  step s after a.failed, b {\n    image = "x"\n  }\n}'))
    first, second = step.after
    assert (first.step.name, first.status and first.status.name) == ("a", "failed")
    assert (first.span.col, first.span.end_col) == (16, 24)
    assert (second.step.name, second.status) == ("b", None)


def test_quoted_keys_are_the_users_text() -> None:
    step = only_step(parse_text(
        'pipeline p { step s { image = "x"  pod_labels { "app.kubernetes.io/name" = "a"  '
        'team = "b" } } }'))
    block = next(i for i in step.items if isinstance(i, ast.Block))
    keys = [(i.key.name, i.key.quoted) for i in block.items if isinstance(i, ast.Assignment)]
    assert keys == [("app.kubernetes.io/name", True), ("team", False)]


def test_volume_declarations_parse() -> None:
    module = parse_text('pipeline p { volume models { claim = "m"  path = "/m" } '
                        'step s { image = "x"  mount models } }')
    volume = module.pipelines[0].items[0]
    assert isinstance(volume, ast.VolumeDecl) and volume.name.name == "models"
    assert [i.key.name for i in volume.items if isinstance(i, ast.Assignment)] == ["claim", "path"]


def test_gate_precedence_or_and_not() -> None:
    step = only_step(parse_text(
        'pipeline p { step s when a.x > 1 and not b or c == "z" and d { image = "x" } }'))
    gate = step.when
    assert isinstance(gate, ast.BoolOp) and gate.op == "or"
    left, right = gate.operands
    assert isinstance(left, ast.BoolOp) and left.op == "and"
    assert isinstance(left.operands[0], ast.Compare) and isinstance(left.operands[1], ast.Not)
    assert isinstance(right, ast.BoolOp) and right.op == "and"


def test_and_chains_keep_every_operand() -> None:
    step = only_step(parse_text(
        'pipeline p { step s when a and (b and c) and d { image = "x" } }'))
    assert isinstance(step.when, ast.BoolOp)
    assert [o.dotted for o in step.when.operands if isinstance(o, ast.Ref)] == ["a", "b", "c", "d"]


def test_string_escapes_and_interpolation() -> None:
    step = only_step(parse_text(
        'pipeline p { step s { image = "x"\n'
        ' command = ["a\\"b\\\\c\\n\\t\\$x", "lr=${ lr }/${t.out}"] } }'))
    command = next(i for i in step.items if isinstance(i, ast.Assignment) and
                   i.key.name == "command")
    assert isinstance(command.value, ast.ListLit)
    first, second = command.value.items
    assert isinstance(first, ast.StringLit) and first.parts == ('a"b\\c\n\t$x',)
    assert isinstance(second, ast.StringLit)
    assert second.parts[0] == "lr=" and second.parts[2] == "/"
    ref = second.parts[1]
    assert isinstance(ref, ast.Ref) and ref.dotted == "lr"
    assert (ref.span.line, ref.span.col, ref.span.end_col) == (2, 38, 40)


def test_numbers() -> None:
    step = only_step(parse_text(
        'pipeline p { step s { image = "x"\n a = 1e-3  b = 0.9  c = -2  d = 10 } }'))
    values = {i.key.name: i.value for i in step.items if isinstance(i, ast.Assignment)}
    assert isinstance(values["a"], ast.FloatLit) and values["a"].value == 0.001
    assert isinstance(values["b"], ast.FloatLit) and values["b"].value == 0.9
    assert isinstance(values["c"], ast.IntLit) and values["c"].value == -2
    assert isinstance(values["d"], ast.IntLit) and values["d"].value == 10


def test_control_flow_shapes() -> None:
    module = parse_text(
        'pipeline p { for x in [1, 2] parallel 2 { step a { image = "x" } }\n'
        ' if a.v > 1 { step b { image = "x" } } else if a.v > 0 { step c { image = "x" } }'
        ' else { step d { image = "x" } }\n finally { step e { image = "x" } } }')
    loop, branch, final = module.pipelines[0].items
    assert isinstance(loop, ast.ForBlock) and loop.parallel is not None
    assert loop.parallel.value == 2
    assert isinstance(branch, ast.IfBlock) and isinstance(branch.orelse, ast.IfBlock)
    assert isinstance(branch.orelse.orelse, tuple)
    assert isinstance(final, ast.FinallyBlock)


@pytest.mark.parametrize("text", ["", "   \n# only a comment\n"])
def test_empty_input_parses_to_an_empty_module(text: str) -> None:
    assert parse_text(text).pipelines == ()


@pytest.mark.parametrize("text, code", [
    ("pipeline p { step a { image = " + "[" * 3000 + "]" * 3000 + " } }", "E0008"),
    ("pipeline p { step a when " + "not " * 3000 + "true { image = \"x\" } }", "E0008"),
    ("pipeline p { step a when " + "(" * 3000 + "true" + ")" * 3000 + " { image = \"x\" } }",
     None),
])
def test_deep_nesting_never_overflows(text: str, code: str | None) -> None:
    if code is None:
        parse_text(text)  # parentheses do not deepen the tree
        return
    with pytest.raises(CompileError) as raised:
        parse_text(text)
    assert [d.code for d in raised.value.diagnostics] == [code]
