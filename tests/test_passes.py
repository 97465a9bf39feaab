"""The optimizer passes: one fixture per pass (input .cnai, expected graph), and properties
on random DAGs: reachability unchanged, deterministic, still acyclic."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import schemacheck
from cnai import compile_source
from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.passes import PIPELINE
from cnai.passes._graph import ancestors
from cnai.semantics import ir
from cnai.source import SourceFile
from testpaths import FIXTURES

PASSES = FIXTURES / "passes"


def run(text: str, passes: tuple[str, ...] | None = None,
        optimize: bool = True) -> tuple[ir.Pipeline, CompileContext]:
    ctx = CompileContext(Options(passes=passes, optimize=optimize))
    graph = analyze(SourceFile("t.cnai", text), ctx)
    assert isinstance(graph, ir.Pipeline)
    return graph, ctx


def fixture(name: str) -> str:
    return (PASSES / f"{name}.cnai").read_text()


def edges(graph: ir.Pipeline) -> dict[str, list[tuple[str, str]]]:
    return {s.name: [(d.step, d.kind) for d in s.depends] for s in graph.steps}


def test_fold_constant_gates() -> None:
    graph, ctx = run(fixture("fold_constant_gates"), ("fold_constant_gates",))
    assert [s.name for s in graph.steps] == ["prep", "always", "kept", "taken"]
    assert graph.step("always").when is None
    assert graph.step("kept").when is not None
    warnings = [(d.code, d.message) for d in ctx.diagnostics.sorted()]
    assert warnings == [
        ("W0302", "`1 > 2` is always false: it removes `never`, `after_never`"),
        ("W0302", "A branch after an always-true one never runs: it removes `dead`")]
    assert not any(isinstance(g, ir.Branch) and g.index == 1 for g in graph.groups)


def test_gate_when_1_gt_2_through_the_cli_text() -> None:
    result = compile_source('pipeline p { step a { image = "x" }\n'
                            ' step b when 1 > 2 { image = "x" } }', "p.cnai")
    (warning,) = result.warnings
    assert warning.code == "W0302" and warning.span.line == 2
    assert "removes `b`" in warning.message
    assert "name: b" not in result.text


def test_reduce_edges_keeps_data_edges() -> None:
    before, _ = run(fixture("reduce_edges"), optimize=False)
    after, ctx = run(fixture("reduce_edges"), ("reduce_edges",))
    assert edges(before)["c"] == [("a", "data"), ("b", "order"), ("preload_data", "dataset")]
    # a -> b -> c implies nothing for the data edge a -> c (it carries a.v); the preload edge
    # is implied by a path through b.
    assert edges(after)["c"] == [("a", "data"), ("b", "order")]
    assert edges(after)["b"] == [("a", "data")]
    assert "reduce_edges: dropped 2 implied edge(s)" in ctx.explain[0]


def test_dedupe_templates_shares_and_lifts_differences() -> None:
    graph, ctx = run(fixture("dedupe_templates"), ("dedupe_templates",))
    shared = {s.name: s.template for s in graph.steps}
    assert shared == {"seed1": "seed1", "seed2": "seed1", "seed3": "seed1", "other": None,
                      "pick": None}
    seed2 = graph.step("seed2")
    assert [(i.name, i.source.kind) for i in seed2.inputs] == [("lr", "param"),
                                                              ("arg4", "literal")]
    lifted = seed2.input("arg4").source
    assert isinstance(lifted, ir.Literal_) and lifted.value == "2"
    (doc,) = yaml.safe_load_all(compile_source(fixture("dedupe_templates")).text)
    schemacheck.assert_valid(doc)
    names = [t["name"] for t in doc["spec"]["templates"]]
    assert names == ["main", "seed1", "other", "pick"]
    tasks = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    assert tasks["seed3"]["template"] == "seed1"
    assert {"name": "arg4", "value": "3"} in tasks["seed3"]["arguments"]["parameters"]
    seed = next(t for t in doc["spec"]["templates"] if t["name"] == "seed1")
    assert seed["container"]["command"] == ["python", "train.py", "--seed",
                                            "{{inputs.parameters.arg4}}", "--lr",
                                            "{{inputs.parameters.lr}}"]
    assert "dedupe_templates: 3 steps share 1 template" in ctx.explain


def test_place_preloads_drops_unmounted_data_sets() -> None:
    graph, ctx = run(fixture("place_preloads"), ("place_preloads",))
    assert [d.name for d in graph.datasets] == ["used"]
    assert [s.name for s in graph.steps] == ["preload_used", "first", "reader"]
    assert edges(graph)["preload_used"] == []  # starts at once, not after `first`
    (warning,) = ctx.diagnostics.sorted()
    assert warning.code == "W0104" and "`unused`" in warning.message


def test_report_unused() -> None:
    _, ctx = run(fixture("report_unused"), ("report_unused",))
    found = [(d.code, d.message) for d in ctx.diagnostics.sorted()]
    assert found == [("W0102", "param `spare` is never used"),
                     ("W0103", "output `unread` of `a` is never read")]


def test_no_optimize_changes_nothing() -> None:
    graph, ctx = run(fixture("fold_constant_gates"), optimize=False)
    assert "never" in {s.name for s in graph.steps}
    assert ctx.explain == [] and not ctx.diagnostics.items


# ---- properties on random DAGs ----------------------------------------------------------

@st.composite
def dags(draw: Any) -> str:
    count = draw(st.integers(min_value=1, max_value=14))
    lines = ["pipeline random {", "  param p: int = 1"]
    images = draw(st.lists(st.sampled_from(["a:1", "b:1"]), min_size=count, max_size=count))
    for index in range(count):
        parents = draw(st.lists(st.integers(min_value=0, max_value=max(index - 1, 0)),
                                max_size=3, unique=True)) if index else []
        data = draw(st.lists(st.sampled_from(parents), max_size=2, unique=True)) if parents \
            else []
        order = [p for p in parents if p not in data]
        after = f" after {', '.join(f's{p}' for p in order)}" if order else ""
        reads = "".join(f", s{p}.v" for p in data)
        gate = " when p > 0" if draw(st.booleans()) else ""
        lines.append(f'  step s{index}{after}{gate} {{ image = "{images[index]}"'
                     f'  command = ["run", "{draw(st.sampled_from("xyz"))}"{reads}]'
                     "  output v: string }")
    lines.append("}")
    return "\n".join(lines)


def reachability(graph: ir.Pipeline) -> set[tuple[str, str]]:
    reach = ancestors(graph.steps)
    names = [s.name for s in graph.steps]
    return {(names[i], step) for step, bits in reach.items()
            for i in range(len(names)) if bits >> i & 1}


PASS_NAMES = [name for name, _ in PIPELINE]


@pytest.mark.parametrize("selected", [None, *PASS_NAMES], ids=["all", *PASS_NAMES])
@settings(max_examples=40, deadline=None)
@given(text=dags())
def test_passes_keep_reachability_determinism_and_acyclicity(selected: str | None,
                                                            text: str) -> None:
    """Each pass on its own, and all of them in order."""
    passes = None if selected is None else (selected,)
    before, _ = run(text, optimize=False)
    after, _ = run(text, passes)
    assert [s.name for s in after.steps] == [s.name for s in before.steps]
    assert reachability(after) == reachability(before)
    again, _ = run(text, passes)
    assert again.model_dump_json() == after.model_dump_json()
    for step in after.steps:  # still topological: every dependency comes first
        seen = {s.name for s in after.steps[: after.steps.index(step)]}
        assert {d.step for d in step.depends} <= seen
    assert compile_source(text).text == compile_source(text).text


def test_dedupe_does_not_share_steps_that_write_different_outputs() -> None:
    # `a` writes `p_v` and `b` writes `q_v`; their inputs (read from p.v and q.v) are named
    # p_v and q_v too, and both become `input1` in a shared template. The output paths keep
    # their names, so the two steps keep their own templates.
    graph, _ = run("""pipeline odd {
      step p { image = "x"  command = ["p", outputs.v]  output v: int }
      step q { image = "x"  command = ["q", outputs.v]  output v: int }
      step a { image = "x"  command = ["run", p.v, outputs.p_v]  output p_v: int  output q_v: int }
      step b { image = "x"  command = ["run", q.v, outputs.q_v]  output p_v: int  output q_v: int }
    }""", passes=("dedupe_templates",))
    steps = {s.name: s for s in graph.steps}
    assert steps["a"].template is None and steps["b"].template is None


def test_the_size_check_runs_with_no_optimize_too() -> None:
    # docs/diagnostics.md (E0402): the output must fit whether or not the passes ran.
    from cnai.driver import CompileFailed

    text = ('pipeline p {\n  param x: string = "' + "x" * 1_100_000 + '"\n'
            '  step s { image = "a"  command = ["echo", "${x}"] }\n}\n')
    for optimize in (True, False):
        with pytest.raises(CompileFailed) as failed:
            compile_source(text, "p.cnai", "argo", Options(optimize=optimize))
        assert [d.code for d in failed.value.diagnostics] == ["E0402"]
