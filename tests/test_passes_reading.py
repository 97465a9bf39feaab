"""What the passes' shortcuts must not change: dedupe_templates reads a step's settings in
groups and remembers what steps share (_Seen), and run_passes checks the order again only
after a pass that changed it or an edge. Each shortcut is held to the plain reading here."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnai.passes as passes
from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.semantics import ir
from cnai.source import SourceFile, Span
from testpaths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

dedupe = importlib.import_module("cnai.passes.dedupe_templates")  # the module, not the pass

SPAN = Span(SourceFile("t.cnai", "s"), 0, 1)

# Values a compared field may hold, typed or not (model_copy does not validate): the pairs
# that Python calls equal but that are different settings (True, 1, 1.0; [] and [False]) and
# unset values next to set ones.
VALUES: list[Any] = [None, 0, 1, True, False, 1.0, "", "x", [], [0], [False], [True], [1],
                     {}, {"team": "vision"}, (), ir.Resources(), ir.Resources(gpu=1),
                     ir.Resources(gpu=2), ir.Retry(limit=1), [ir.Toleration(key="k",
                                                                            operator="Exists")]]


def _step(name: str, **changes: Any) -> ir.Step:
    step = ir.Step(name=name, k8s_name=name, span=SPAN, image="img",
                   command=[ir.Text.of("run")])
    return step.model_copy(update=changes)


def _plain(step: ir.Step) -> tuple[object, ...]:
    """The compared fields as _exact reads them one by one: what the grouped reading replaces."""
    return tuple(dedupe._exact(getattr(step, name)) for name in dedupe._COMPARED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VALUES), max_size=6))
def test_exact_items_is_exact_of_each(values: list[Any]) -> None:
    assert dedupe._exact_items(values, dedupe._exact) == [dedupe._exact(v) for v in values]


fields = st.sampled_from(dedupe._COMPARED)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(fields, st.sampled_from(VALUES), max_size=4),
       st.dictionaries(fields, st.sampled_from(VALUES), max_size=4))
def test_grouped_settings_tell_steps_apart_exactly_as_each_field_does(
        first: dict[str, Any], second: dict[str, Any]) -> None:
    one, other = _step("a", **first), _step("b", **second)
    seen = dedupe._Seen()  # one for both: what the first step left must not decide the second
    same = seen.settings(one) == seen.settings(other)
    assert same == (_plain(one) == _plain(other)), (first, second)
    assert dedupe._Seen().settings(other) == seen.settings(other)


def test_a_shared_setting_and_an_equal_copy_read_the_same() -> None:
    resources = ir.Resources(gpu=1, cpu="4")
    seen = dedupe._Seen()
    shared = [_step(name, resources=resources) for name in ("a", "b")]
    copied = _step("c", resources=resources.model_copy())
    truthy = _step("d", resources=resources.model_copy(update={"gpu": True}))
    keys = [seen.settings(step) for step in (*shared, copied, truthy)]
    assert keys[0] == keys[1] == keys[2] != keys[3]


def _pipelines() -> list[ir.Pipeline]:
    """The examples, the pass fixtures and bench/'s pipeline, checked and built (the passes
    not run)."""
    sources = [SourceFile(str(path), path.read_text())
               for path in sorted([*ROOT.glob("examples/*.cnai"),
                                   *ROOT.glob("tests/fixtures/passes/*.cnai")])]
    sources += [SourceFile("bench.cnai", generate(120, shapes=8)),
                SourceFile("distinct.cnai", generate(60, shapes=None))]
    found = []
    for source in sources:
        graph = analyze(source, CompileContext(Options(optimize=False)))
        assert isinstance(graph, ir.Pipeline)
        found.append(graph)
    return found


def test_what_other_steps_left_in_seen_does_not_change_a_steps_reading() -> None:
    """A text, a type or a setting one step shares with others is remembered by the first
    to read it; every step reads as it would alone (its own inputs' names in its texts)."""
    graphs = _pipelines()
    read = 0
    for graph in graphs:
        seen = dedupe._Seen()
        for step in graph.steps:
            shape, member = dedupe._read(step, seen)
            alone, member_alone = dedupe._read(step, dedupe._Seen())
            assert shape == alone, step.name
            assert member == member_alone, step.name
            read += 1
    assert read > 200


def test_a_text_read_by_steps_with_different_input_names() -> None:
    # One text object reading `up_v`, the second input of one step and the first of the
    # other: each step's text names the input as its own template does.
    text = ir.Text.of(ir.InputValue.named("up_v"))
    source = ir.OutputRef.of("up", "v", ir.Type(name="string"))
    string = ir.Type(name="string")
    lr = ir.Input.of("lr", ir.ParamRef.of("lr", string), string)
    up = ir.Input.of("up_v", source, string)
    first = _step("a", inputs=[lr, up], command=[ir.Text.of("run"), text])
    second = _step("b", inputs=[up], command=[ir.Text.of("run"), text])
    seen = dedupe._Seen()
    for step, name in ((first, "input2"), (second, "input1")):
        shape, member = dedupe._read(step, seen)
        assert ((("input", name),)) in shape[5]
        assert member.renamed == [1]


# ---- dedupe_templates: steps shared as they are read ----------------------------------------

def _shape_by_shape(graph: ir.Pipeline) -> ir.Pipeline:
    """dedupe_templates as it was written before it shared steps as it read them: every shape
    known first, then each shape's steps shared, with the words that differ lifted."""
    shapes: dict[object, list[tuple[int, Any]]] = {}
    for position, step in enumerate(graph.steps):
        if step.kind in dedupe.DEDUPED_KINDS:
            shape, member = dedupe._read(step, dedupe._Seen())
            shapes.setdefault(shape, []).append((position, member))
    steps = list(graph.steps)
    nodes = ir.SharedNodes()
    for members in shapes.values():
        if len(members) > 1:
            template, lifted = dedupe._template([member for _, member in members])
            for position, member in members:
                steps[position] = dedupe._share(member, template, lifted, nodes,
                                                dedupe._texts(member, lifted, nodes),
                                                dedupe._Seen())
    return graph.model_copy(update={"steps": steps})


def _dedupe(graph: ir.Pipeline) -> ir.Pipeline:
    return dedupe.dedupe_templates(graph, CompileContext(Options()))


def test_steps_shared_as_read_are_shared_as_shape_by_shape() -> None:
    for graph in _pipelines():
        assert _dedupe(graph).model_dump_json() == _shape_by_shape(graph).model_dump_json()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a:1", "b:1"]), st.sampled_from(["1", "2", "3"])),
                min_size=1, max_size=12))
def test_a_word_that_differs_late_is_lifted_in_every_step_of_its_shape(
        steps: list[tuple[str, str]]) -> None:
    # The first steps of a shape may agree on a word that a later one changes: all of them
    # then read it as an argument.
    lines = ["pipeline p {", "  param lr: float = 0.1"]
    lines += [f'  step s{i} {{ image = "{image}"  command = ["run", "--seed", "{seed}", lr] }}'
              for i, (image, seed) in enumerate(steps)]
    graph = analyze(SourceFile("p.cnai", "\n".join([*lines, "}"])),
                    CompileContext(Options(optimize=False)))
    after = _dedupe(graph)
    assert after.model_dump_json() == _shape_by_shape(graph).model_dump_json()
    for image in ("a:1", "b:1"):
        seeds = {seed for i, seed in steps if i == image}
        shared = [s for s in after.steps if s.image == image]
        lifted = [s for s in shared if any(i.name == "arg3" for i in s.inputs)]
        assert len(lifted) == (len(shared) if len(seeds) > 1 else 0)


# ---- run_passes: the order's check --------------------------------------------------------

def _chain() -> list[ir.Step]:
    """a -> b -> c."""
    return [_step("a"), _step("b", depends=[ir.Dependency.of("a", "order", None)]),
            _step("c", depends=[ir.Dependency.of("b", "order", None)])]


def test_edges_changed() -> None:
    steps = _chain()
    assert not passes._edges_changed(steps, list(steps))
    copied = [ir.updated(step, template="a") for step in steps]  # as dedupe_templates does
    assert not passes._edges_changed(steps, copied)
    assert passes._edges_changed(steps, steps[:2])
    assert passes._edges_changed(steps, [steps[1], steps[0], steps[2]])
    rewired = [*steps[:2], ir.updated(steps[2], depends=list(steps[2].depends))]
    assert passes._edges_changed(steps, rewired)


def _graph(steps: list[ir.Step]) -> ir.Pipeline:
    return ir.Pipeline(name="p", k8s_name="p", span=SPAN, steps=steps)


def test_a_pass_that_makes_a_cycle_is_still_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def cycle(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
        first, *rest = graph.steps
        looped = ir.updated(first, depends=[ir.Dependency.of(rest[-1].name, "order", None)])
        return graph.model_copy(update={"steps": [looped, *rest]})

    monkeypatch.setattr(passes, "PIPELINE", (("cycle", cycle),))
    with pytest.raises(AssertionError, match="pass cycle made a cycle"):
        passes.run_passes(_graph(_chain()), CompileContext(Options()))


def test_a_pass_that_only_copies_steps_is_not_checked_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    checked = []

    def copy(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
        return graph.model_copy(update={"steps": [ir.updated(s, template="t")
                                                  for s in graph.steps]})

    def order(steps: list[ir.Step]) -> list[ir.Step]:
        checked.append(len(steps))
        return steps

    monkeypatch.setattr(passes, "PIPELINE", (("copy", copy),))
    monkeypatch.setattr(passes, "topological_order", order)
    passes.run_passes(_graph(_chain()), CompileContext(Options()))
    assert checked == []


KEPT_SOURCES = {
    "param": lambda: ir.ParamRef.of("p", ir.Type(name="string")),
    "loop_var": lambda: ir.LoopVarRef(name="x", loop="l", type=ir.Type(name="string")),
    "pipeline_status": lambda: ir.PipelineStatus(),
    "output": lambda: ir.OutputRef.of("a", "out", ir.Type(name="string")),
}
# Names a kept input may have next to numbered ones: spelled like them in any case, or not.
INPUT_NAMES = ["lr", "input1", "INPUT2", "Input3", "input2_2", "input", "i", "in", "x",
               "inputs", "s0_score", "imag"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(INPUT_NAMES), st.sampled_from(sorted(KEPT_SOURCES))),
                max_size=6, unique_by=lambda pair: pair[0]))
def test_renames_without_a_name_like_a_numbered_one_are_the_general_ones(
        inputs: list[tuple[str, str]]) -> None:
    # _renames numbers other steps' outputs at once unless a kept name starts like a numbered
    # one; _renames_apart is the general way, which avoids every taken name.
    items = [ir.Input.of(name, KEPT_SOURCES[kind](), ir.Type(name="string"))
             for name, kind in inputs]
    step = _step("s", inputs=items)
    assert list(dedupe._renames(step).items()) == list(dedupe._renames_apart(step).items())
