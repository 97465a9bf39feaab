"""The checker's short ways against its full ones: an output read whole outside loops is made
as it is declared (Checker._declare_outputs), so every read takes StepChecker._text_items's short
way, the first one too; a source's input name is found once per pipeline (StepInputs.named);
a step without pod settings takes the pipeline's (PodReader.read); a step setting only common
fields takes StepChecker._common_step. Each must read as the full path does, and report what
it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import codes, graph
from cnai.diagnostics import CompileError, DiagnosticBag
from cnai.diagnostics.render import render_one
from cnai.semantics import ir, steps
from cnai.semantics.checker import check
from cnai.semantics.step_inputs import InputNaming, StepInputs
from cnai.source import SourceFile, Span
from cnai.syntax import parse


def test_the_first_read_of_an_output_is_the_declared_source() -> None:
    p = graph("""pipeline p {
      param xs: list[int] = [1, 2]
      step a { image = "i"  command = ["a", outputs.m]  output m: float }
      for x in xs {
        step l { image = "i"  command = ["l", a.m, "${x}", outputs.n]  output n: int }
      }
      step b { image = "i"  command = ["b", "${a.m}", l.n] }
    }""")
    inside, after = p.step("l"), p.step("b")
    # Read in a loop, an output from outside it is still the one source, not a list.
    assert inside.inputs[0].source is after.inputs[0].source
    assert inside.inputs[0].source == ir.OutputRef(step="a", output="m",
                                                   type=ir.Type(name="float"))
    assert [i.name for i in after.inputs] == ["a_m", "l_n"]
    assert after.inputs[1].source.type == ir.Type(name="list", item=ir.Type(name="int"))


def test_reads_the_short_way_refuses_are_still_reported() -> None:
    # Its own output by its step's name, and an output across `finally`: the full path's
    # errors, though the source exists from the declaration on.
    assert codes("""pipeline p {
      step a { image = "i"  command = ["a", a.m]  output m: float }
    }""") == ["E0302"]
    assert codes("""pipeline p {
      step a { image = "i"  command = ["a", outputs.m]  output m: float }
      finally { step f { image = "i"  command = ["f", a.m] } }
    }""") == ["E0201"]
    assert codes("""pipeline p {
      step a { image = "i"  command = ["a", outputs.m]  output m: float }
      step b { image = "i"  command = ["b", a.n] }
    }""") == ["E0104"]


def test_input_names_shared_across_steps_are_each_steps_own() -> None:
    span = Span(SourceFile("t.cnai", "x"), 0, 1)
    lr = ir.ParamRef.of("lr", ir.Type(name="float"))
    upper = ir.ParamRef.of("LR", ir.Type(name="float"))
    out = ir.OutputRef.of("lr", "x", ir.Type(name="int"))  # asks for `lr_x`
    named: dict[int, InputNaming] = {}
    kept = frozenset({"LR", "LR_X"})
    for _ in range(2):  # the second step finds every naming made by the first
        shared = StepInputs(kept, named)
        alone = StepInputs(kept)
        for inputs in (shared, alone):
            assert [inputs.add(s, span) for s in (lr, out, lr, upper)] == \
                ["lr", "lr_x_2", "lr", "LR_2"]
            assert [(i.name, i.source) for i in inputs.all()] == \
                [("lr", lr), ("lr_x_2", out), ("LR_2", upper)]
            assert [c[1] for c in inputs.clashes] == ["LR"]  # E0114 for the step
    assert len(named) == 3


def test_a_step_without_pod_settings_takes_the_pipelines() -> None:
    p = graph("""pipeline p {
      pod_labels { team = "ml" }
      step a { image = "i" }
      step b { image = "i"  pod_labels { tier = "x" } }
    }""")
    assert p.step("a").pod_labels == {"team": "ml"}
    assert p.step("b").pod_labels == {"team": "ml", "tier": "x"}
    assert p.step("a").pod_annotations == {} and p.step("a").security is None


ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted([*ROOT.glob("examples/*.cnai"), *ROOT.glob("tests/fixtures/**/*.cnai")])


def checked(path: Path) -> tuple[str, list[list[object]], list[str]]:
    """``path`` checked: the pipeline's JSON, each step's fields set, the diagnostics (all
    of them, in the order reported, with their spans)."""
    source = SourceFile(str(path), path.read_text(encoding="utf-8"))
    bag = DiagnosticBag()
    sources = {source.path: source}
    try:
        module = parse(source)
    except CompileError:  # a syntax error's fixture: nothing to check
        return "", [], ["syntax"]
    pipeline = check(module, source, bag, sources, release=True)
    reported = [render_one(d, sources, colour=False) + "".join(
        f"{label.span.sort_key()}{label.text}" for label in (d.primary, *d.secondary))
        for d in bag]
    if pipeline is None:
        return "", [], reported
    return (pipeline.model_dump_json(), [sorted(s.model_fields_set) for s in pipeline.steps],
            reported)


def test_the_short_way_of_common_steps_reads_as_the_full_way(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # StepChecker._common_step against check()'s full way, which every step takes when no
    # field is common: the same IR, fields sets and diagnostics for every example and fixture.
    assert len(PROGRAMS) > 50
    short = [checked(path) for path in PROGRAMS]
    monkeypatch.setattr(steps, "_COMMON_FIELDS", frozenset())
    for path, made in zip(PROGRAMS, short, strict=True):
        assert checked(path) == made, path


def test_common_steps_with_rare_settings_of_the_pipeline(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    # The pipeline's settings that steps take (its defaults, pod metadata, env, security),
    # its errors reported in every step, and steps that read a data set's path or wait for
    # another's failure: both ways.
    text = """pipeline p {
      param n: int = 1
      image_pull_policy = "Always"
      service_account = "runner"
      pod_labels { team = "ml" }
      security { run_as_user = 1000 }
      env { MODE = "x"  LEVEL = n }
      shm = "1Gi"
      dataset d { source = "s3://b/d"  path = "/data"  size = "1Gi" }
      step a { image = "i"  command = ["a", d.path, outputs.m]  output m: float  timeout = "1h" }
      step b after a.failed { image = "i:${n}"  command = ["b", "${a.m}", n]  cache = true
                              env { MODE = "y" }  retry { limit = 2 } }
      step c when a.m > 1.0 { image = "i"  args = ["--n", n, "x${n}y"]
                              resources { gpu = n  cpu = "bad" } }
      step d2 { image = "i"  command = "not a list" }
    }"""

    def both() -> list[tuple[str, list[list[object]], list[str]]]:
        source = SourceFile("t.cnai", text)
        bag = DiagnosticBag()
        pipeline = check(parse(source), source, bag, release=True)
        assert pipeline is not None and len(bag) >= 2
        return [(pipeline.model_dump_json(), [sorted(s.model_fields_set)
                                             for s in pipeline.steps],
                 [render_one(d, {"t.cnai": source}, colour=False) for d in bag])]

    short = both()
    monkeypatch.setattr(steps, "_COMMON_FIELDS", frozenset())
    assert both() == short
