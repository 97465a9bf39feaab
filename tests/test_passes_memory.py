"""The passes' shortcuts that copy less: an input renamed as ir.updated would, and a shape's
command and args made once for all its steps as each step's own would be."""

from __future__ import annotations

import importlib
from typing import Any

from cnai.semantics import ir
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
