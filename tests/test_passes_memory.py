"""The passes' shortcuts that copy less: an input renamed as ir.updated would, and a shape's
command and args made once for all its steps as each step's own would be; build_graph's
edges and order as the plain definitions give them."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.semantics import dag, ir
from cnai.source import SourceFile, Span
from test_passes_reading import _pipelines

# The module: cnai.passes.dedupe_templates is the function of that name.
dedupe = importlib.import_module("cnai.passes.dedupe_templates")
SPAN = Span(SourceFile("t.cnai", "s"), 0, 1)


def test_renamed_input_is_updated() -> None:
    string = ir.Type(name="string")
    for item in (ir.Input.of("up_v", ir.OutputRef.of("up", "v", string), string, SPAN),
                 ir.Input(name="up_v", source=ir.OutputRef.of("up", "v", string), type=string)):
        made = ir.renamed_input(item, "input1")
        copied = ir.updated(item, name="input1")
        assert made == copied and made.model_dump_json() == copied.model_dump_json()
        assert made.model_fields_set == copied.model_fields_set
        assert list(made.__dict__) == list(copied.__dict__)
        assert item.name == "up_v"  # a copy


def test_a_shapes_texts_are_each_members_own() -> None:
    nodes = ir.SharedNodes()
    compared = 0
    for graph in _pipelines():
        shapes: dict[object, list[Any]] = {}
        for step in graph.steps:
            if step.kind in dedupe.DEDUPED_KINDS:
                shape, member = dedupe._read(step, dedupe._Seen())
                shapes.setdefault(shape, []).append(member)
        for members in shapes.values():
            _, lifted = dedupe._template(members)
            first = dedupe._texts(members[0], lifted, nodes)
            for member in members:
                own = dedupe._texts(member, lifted, nodes)
                assert ([t.model_dump() for t in first[0] + first[1]]
                        == [t.model_dump() for t in own[0] + own[1]])
                assert len(first[0]) == len(own[0])
                compared += 1
    assert compared > 100


# ---- build_graph: the edges of most steps, and their order, seen as they are made ---------

def test_assign_each_sets_fields_as_assign_does() -> None:
    made, assigned = ([ir.Step(name=n, k8s_name=n, span=SPAN, image="x") for n in "ab"]
                      for _ in range(2))
    values = [[ir.Dependency.of("up", "data", None)], []]
    ir.assign_each(made, "depends", values)
    for node, value in zip(assigned, values, strict=True):
        ir.assign(node, depends=value)
    for one, other in zip(made, assigned, strict=True):
        assert one == other and one.model_fields_set == other.model_fields_set
        assert list(one.__dict__) == list(other.__dict__)
    shared = ir.Step(name="c", k8s_name="c", span=SPAN, image="x")
    ir.share_fields_set(shared)
    ir.assign_each([shared], "image", ["y"])  # a field the shared set names
    with pytest.raises(AssertionError, match="`depends`"):
        ir.assign_each([shared], "depends", [[]])


def _plain_data_edges(inputs: list[ir.Input]) -> list[ir.Dependency]:
    """The data edges of a step without other edges, as _edges makes anyone's."""
    strongest: dict[str, ir.Dependency] = {}
    for read in inputs:
        if isinstance(read.source, ir.OutputRef):
            strongest.setdefault(read.source.step, ir.Dependency.of(read.source.step, "data",
                                                                    read.span))
    return sorted(strongest.values(), key=lambda dep: dep.step)


def test_build_graph_orders_and_connects_steps_as_the_plain_definitions() -> None:
    string = ir.Type(name="string")
    inputs = [ir.Input.of(name, source, string, SPAN) for name, source in (
        ("z_v", ir.OutputRef.of("z", "v", string)), ("lr", ir.ParamRef.of("lr", string)),
        ("a_v", ir.OutputRef.of("a", "v", string)), ("z_w", ir.OutputRef.of("z", "w", string)))]
    made, plain = dag._data_edges(inputs), _plain_data_edges(inputs)
    assert [d.model_dump() for d in made] == [d.model_dump() for d in plain]
    assert [d.model_fields_set for d in made] == [d.model_fields_set for d in plain]
    assert [list(d.__dict__) for d in made] == [list(d.__dict__) for d in plain]
    for graph in _pipelines():  # as build_graph made them
        assert [s.name for s in graph.steps] == [
            s.name for s in dag.topological_order(list(graph.steps)) or []]
        for step in graph.steps:
            if not step.depends and not step.group and not step.when and not step.mounts:
                assert dag._data_edges(step.inputs) == _plain_data_edges(step.inputs)
    # Steps written after those that read them are ordered as Kahn's algorithm orders them.
    built = analyze(SourceFile("p.cnai", """pipeline p {
      step b { image = "x"  command = ["b", a.out, c.out] }
      step a { image = "x"  command = ["a", outputs.out]  output out: string }
      step c { image = "x"  command = ["c", a.out, outputs.out]  output out: string }
    }"""), CompileContext(Options(optimize=False)))
    assert [s.name for s in built.steps] == ["a", "c", "b"]
    assert [[d.step for d in s.depends] for s in built.steps] == [[], ["a"], ["a", "c"]]


# ---- dedupe_templates: a shared step copied, its inputs and texts read once ----------------

def test_copied_is_updated() -> None:
    step = ir.Step(name="a", k8s_name="a", span=SPAN, image="x")
    shared = ir.Step.of("b", "b", SPAN, "x", [], None, ir.Resources())
    ir.share_fields_set(shared)
    changes: dict[str, Any] = {"template": "t", "inputs": [], "env": [],
                               "command": [ir.Text.of("run")], "args": []}
    seen = dedupe._Seen()
    for node in (step, shared, step):  # the second read of a set: the one made before
        fields_set = seen.fields_set_sharing(node.__pydantic_fields_set__)
        made = ir.copied(node, changes, fields_set)
        copied = ir.updated(node, **changes)
        assert made == copied and made.model_fields_set == copied.model_fields_set
        assert list(made.__dict__) == list(copied.__dict__)
        assert node.template is None  # a copy
    assert seen.fields_set_sharing(shared.__pydantic_fields_set__) is ir.shared_fields_set(
        shared.model_fields_set | set(changes))


def test_a_steps_inputs_and_texts_read_as_the_plain_definitions() -> None:
    for graph in _pipelines():
        seen = dedupe._Seen()
        for step in graph.steps:
            renames, inputs = dedupe._read_inputs(step, seen)
            assert list(renames) == [i.name for i in step.inputs]  # in order, as _share reads
            assert inputs == tuple((renames[i.name], str(i.type)) for i in step.inputs)
            assert dedupe._read(step, seen)[0][-1] == inputs
            for text in step.command + step.args:
                read = dedupe._Seen().text(text)
                if text.is_literal:
                    assert read == text.literal
                elif len(text.parts) == 1:
                    (part,) = text.parts
                    assert not isinstance(part, str)
                    assert read == (part.kind, part.name, isinstance(part, ir.InputValue),
                                    ((part.kind, part.name),))
                else:
                    assert read is dedupe._PIECES
