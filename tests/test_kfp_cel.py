"""Gates on Kubeflow mean what they say: every condition is compiled and evaluated with
cel-python the way KFP's driver binds it (test_kfp_support.evaluate), including the shapes the
KFP SDK gets wrong, which are shown wrong here with the SDK's own output.

No ``from __future__ import annotations`` here: kfp reads the component functions' annotations
as objects (``dsl.OutputPath(float)``), not as strings.
"""

import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kfp import compiler, dsl

from cnai.backends import kfp_cel
from cnai.driver import CompileFailed
from cnai.semantics import ir
from test_kfp_support import (
    FIXTURES,
    Doc,
    compile_path,
    compile_text,
    compiles,
    evaluate,
    group_of,
    yaml_documents,
)


def condition_of(spec: Doc, step: str) -> str:
    return str(group_of(spec, step)[1]["triggerPolicy"]["condition"])


@pytest.fixture(scope="module")
def gates() -> Doc:
    return compile_path(FIXTURES / "gates.cnai")[0]


def channels(**values: object) -> dict[str, object]:
    return {f"pipelinechannel--{k.replace('__', '-')}": v for k, v in values.items()}


# ---- the gates fixture ----------------------------------------------------------------------

@pytest.mark.parametrize("x, p, y, q", [(0.9, 0.5, 1, 3), (0.9, 0.5, 3, 3), (0.1, 0.5, 1, 3),
                                        (0.1, 0.5, 5, 3)])
def test_and_keeps_both_operands(gates: Doc, x: float, p: float, y: int, q: int) -> None:
    condition = condition_of(gates, "both")  # a.x > p and b.y < q
    assert evaluate(condition, channels(a__x=x, p=p, b__y=y, q=q)) == (x > p and y < q)


@pytest.mark.parametrize("x, y, on", [(0.9, 3, True), (0.9, 3, False), (0.1, 1, False),
                                      (0.9, 2, True), (0.5, 3, True)])
def test_not_or_and_parentheses(gates: Doc, x: float, y: int, on: bool) -> None:
    condition = condition_of(gates, "either")  # not (a.x > p) or (b.y == q and on)
    values = channels(a__x=x, p=0.5, b__y=y, q=3, on=on)
    assert evaluate(condition, values) == ((not x > 0.5) or (y == 3 and on))


LABEL = "it's \"a\" \\ test"


@pytest.mark.parametrize("tag, label, expected", [
    (LABEL, LABEL, True), ("it's", LABEL, True), ("other", "other", False),
    ("it\\'s \"a\" \\ test", "it\\'s \"a\" \\ test", False)])
def test_string_literals_with_quotes_and_backslashes(gates: Doc, tag: str, label: str,
                                                     expected: bool) -> None:
    condition = condition_of(gates, "quoted")  # a.tag == "it's \"a\" \\ test" or a.tag != label
    # Compared with the output's text as Argo reads it: one trailing newline on both sides.
    assert "'it\\'s \"a\" \\\\ test\\n'" in condition
    assert evaluate(condition, channels(a__tag=tag, label=label)) is expected


def test_a_gate_on_a_gated_output(gates: Doc) -> None:
    condition = condition_of(gates, "gated-on-gated")  # both.z == "ok" and not on
    assert evaluate(condition, channels(both__z="ok", on=False))
    assert not evaluate(condition, channels(both__z="ok", on=True))
    assert not evaluate(condition, channels(both__z="ok ", on=False))


def test_numeric_casts_follow_the_comparison_type() -> None:
    spec = compile_path(FIXTURES / "features.cnai")[0]
    assert condition_of(spec, "count-check") == (
        "inputs.parameter_values['pipelinechannel--prepare-count'] > 2.5")  # int vs float
    assert condition_of(spec, "round-check") == (
        "int(inputs.parameter_values['pipelinechannel--rounds']) != 4")  # int vs int
    assert condition_of(spec, "score-check") == (
        "inputs.parameter_values['pipelinechannel--train-score'] < 1.0")  # float vs int literal
    assert evaluate(condition_of(spec, "count-check"), channels(prepare__count=3))
    assert not evaluate(condition_of(spec, "count-check"), channels(prepare__count=2))
    assert evaluate(condition_of(spec, "round-check"), channels(rounds=3))
    assert not evaluate(condition_of(spec, "round-check"), channels(rounds=4))
    assert evaluate(condition_of(spec, "score-check"), channels(train__score=0.99))


# ---- the SDK, shown wrong -------------------------------------------------------------------

@dsl.container_component
def produce(x: dsl.OutputPath(float), y: dsl.OutputPath(int),  # type: ignore[valid-type]
            s: dsl.OutputPath(str)):  # type: ignore[valid-type]
    return dsl.ContainerSpec(image="alpine:3", command=["produce", x, y, s])


@dsl.container_component
def consume():  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="alpine:3", command=["consume"])


@dsl.pipeline(name="sdk-gates")
def sdk_gates(p: float = 0.5, q: int = 3) -> None:
    task = produce()
    # What a user writes for "x > p and y < q": Python's `and` hands dsl.If the second
    # comparison alone, and the SDK compiles that.
    with dsl.If(task.outputs["x"] > p and task.outputs["y"] < q):
        consume()
    with dsl.If(task.outputs["s"] == "it's"):
        consume()
    with dsl.If(task.outputs["x"] == "0.5"):
        consume()


OURS = """
pipeline ours {
  param p: float = 0.5
  param q: int = 3
  step produce {
    image = "alpine:3"
    command = ["produce", outputs.x, outputs.y, outputs.s]
    output x: float
    output y: int
    output s: string
  }
  step both when produce.x > p and produce.y < q { image = "alpine:3" }
  step quote when produce.s == "it's" { image = "alpine:3" }
}
"""


@pytest.fixture(scope="module")
def sdk_conditions(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out: Path = tmp_path_factory.mktemp("sdk") / "sdk_gates.yaml"
    compiler.Compiler().compile(sdk_gates, str(out))
    spec = yaml_documents(out.read_text())[0]
    return [condition_of(spec, name) for name in ("consume", "consume-2", "consume-3")]


@pytest.fixture(scope="module")
def our_conditions() -> list[str]:
    spec = compile_text(OURS)[0]
    return [condition_of(spec, "both"), condition_of(spec, "quote")]


def test_sdk_drops_the_first_operand_of_and(sdk_conditions: list[str],
                                            our_conditions: list[str]) -> None:
    sdk, ours = sdk_conditions[0], our_conditions[0]
    assert "produce-x" not in sdk
    values = channels(produce__x=0.1, p=0.5, produce__y=1, q=3)  # x > p fails, y < q holds
    assert evaluate(sdk, values), "the SDK's gate runs the step"
    assert not evaluate(ours, values), "ours does not: 0.1 > 0.5 is false"
    assert evaluate(ours, channels(produce__x=0.9, p=0.5, produce__y=1, q=3))


def test_sdk_does_not_escape_quotes(sdk_conditions: list[str],
                                    our_conditions: list[str]) -> None:
    sdk, ours = sdk_conditions[1], our_conditions[1]
    assert sdk.endswith("== 'it's'")
    assert not compiles(sdk), "KFP's driver would fail the run on this CEL"
    assert evaluate(ours, channels(produce__s="it's"))
    assert not evaluate(ours, channels(produce__s="its"))


def test_sdk_quotes_the_reference_when_a_float_meets_a_string(sdk_conditions: list[str]) -> None:
    sdk = sdk_conditions[2]
    assert sdk == "'inputs.parameter_values['pipelinechannel--produce-x']' == '0.5'"
    assert not compiles(sdk), "a quoted reference with quotes inside is not even CEL"
    with pytest.raises(CompileFailed) as failure:  # we refuse the comparison instead
        compile_text(OURS.replace('produce.s == "it\'s"', 'produce.x == "0.5"'))
    assert [(d.code, d.message) for d in failure.value.diagnostics] == [
        ("E0203", "cannot compare float with string using `==`")]


# ---- property: our CEL means what the gate means ---------------------------------------------

TYPES = {name: ir.Type(name=name) for name in ("int", "float", "string", "bool")}
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}
REFS = [ir.ParamRef(name=f"p_{t}", type=TYPES[t]) for t in TYPES] + [
    ir.OutputRef(step="step-a", output=f"o_{t}", type=TYPES[t]) for t in TYPES]

ints = st.integers(min_value=-4, max_value=4) | st.integers(-(2**40), 2**40)
floats = (st.sampled_from([-1.5, -0.0, 0.0, 0.5, 1.0, 2.0, 1e-3, 1e300])
          | st.floats(allow_nan=False, allow_infinity=False))
strings = st.sampled_from(["", "a", "'", '"', "\\", "it's", "a\nb", "é", "\x00"]) | st.text(
    max_size=6)
VALUES = {"int": ints, "float": floats, "string": strings, "bool": st.booleans()}


def channel_name(ref: ir.ParamRef | ir.OutputRef) -> str:
    if isinstance(ref, ir.ParamRef):
        return f"pipelinechannel--{ref.name}"
    return f"pipelinechannel--{ref.step}-{ref.output}"


def operand(type_name: str) -> st.SearchStrategy[ir.Expr]:
    refs = [r for r in REFS if r.type.name == type_name]
    literal = VALUES[type_name].map(lambda v: ir.Literal_(value=v, type=TYPES[type_name]))
    return st.sampled_from(refs) | literal


@st.composite
def comparisons(draw: st.DrawFn) -> ir.Expr:
    family = draw(st.sampled_from(["number", "string", "bool"]))
    if family == "number":
        left = draw(operand(draw(st.sampled_from(["int", "float"]))))
        right = draw(operand(draw(st.sampled_from(["int", "float"]))))
        op = draw(st.sampled_from(list(OPS)))
    else:
        left, right = draw(operand(family)), draw(operand(family))
        op = draw(st.sampled_from(["==", "!="]))
    return ir.Compare(op=op, left=left, right=right)  # type: ignore[arg-type]


def connect(children: st.SearchStrategy[ir.Expr]) -> st.SearchStrategy[ir.Expr]:
    bool_ops = st.builds(lambda kind, operands: ir.BoolOp(kind=kind, operands=operands),
                         st.sampled_from(["and", "or"]), st.lists(children, min_size=2,
                                                                  max_size=3))
    return bool_ops | children.map(lambda e: ir.Not(operand=e))


gate_trees = st.recursive(comparisons() | operand("bool"), connect, max_leaves=6)
environments = st.fixed_dictionaries({channel_name(r): VALUES[r.type.name] for r in REFS})


def python_value(expr: ir.Expr, env: Mapping[str, object]) -> Any:
    if isinstance(expr, ir.Literal_):
        return expr.value
    if isinstance(expr, (ir.ParamRef, ir.OutputRef)):
        return env[channel_name(expr)]
    return python_truth(expr, env)


def python_truth(expr: ir.Expr, env: Mapping[str, object]) -> bool:
    """The gate's meaning, in Python: numbers compare by value, ints and floats alike."""
    if isinstance(expr, ir.BoolOp):
        results = [python_truth(o, env) for o in expr.operands]
        return all(results) if expr.kind == "and" else any(results)
    if isinstance(expr, ir.Not):
        return not python_truth(expr.operand, env)
    if isinstance(expr, ir.Compare):
        return OPS[expr.op](python_value(expr.left, env), python_value(expr.right, env))
    return bool(python_value(expr, env))


@settings(max_examples=300, deadline=None)
@given(gate_trees, environments)
def test_cel_of_any_gate_evaluates_like_the_gate(tree: ir.Expr, env: dict[str, object]) -> None:
    condition = kfp_cel.condition(tree, channel_name)
    assert evaluate(condition, env) == python_truth(tree, env), condition


@given(strings)
def test_any_string_literal_reads_back_unchanged(text: str) -> None:
    literal = kfp_cel.string_literal(text)
    assert evaluate(f"inputs.parameter_values['s'] == {literal}", {"s": text})
