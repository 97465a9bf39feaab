"""The language server's analysis without the protocol: the diagnostics are `cnai check`'s,
and the index and completion read the syntax tree as the checker does."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnai.authoring.lsp_analysis import ImportCache, analyze_text
from cnai.authoring.lsp_complete import complete, enclosing, hover_text
from cnai.driver import CompileFailed, check_source
from testpaths import EXAMPLES, FIXTURES

FILES = sorted(EXAMPLES.glob("*.cnai")) + sorted((FIXTURES / "valid").glob("*.cnai")) \
    + sorted((FIXTURES / "diagnostics").glob("*.cnai"))


def check_diagnostics(path: Path) -> list[tuple[str, str, int, int, str]]:
    try:
        diagnostics, _ = check_source(path.read_bytes(), str(path))
    except CompileFailed as failed:
        diagnostics = failed.diagnostics
    return [(d.code, d.span.file, d.span.start, d.span.end, d.message) for d in diagnostics]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_diagnostics_are_cnai_checks(path: Path) -> None:
    analysis = analyze_text(path.read_text(), str(path))
    assert [(d.code, d.span.file, d.span.start, d.span.end, d.message)
            for d in analysis.diagnostics] == check_diagnostics(path)


def test_fixtures_with_diagnostics_are_among_them() -> None:
    assert sum(bool(check_diagnostics(p)) for p in FILES) >= 20


TEXT = """pipeline p {
  param lr: float = 0.1
  template fit(rate: float) {
    image = "python:3.12"
    command = ["fit", "${rate}", outputs.loss]
    output loss: float
  }
  for shard in ["a", "b"] {
    step train { use fit(rate = lr)  resources { gpu = 1 } }
    step tag { image = "python:3.12"  command = ["tag", "${shard}"] }
  }
  step report after train {
    image = "python:3.12"
    command = ["report", train.loss]
  }
}
"""


def test_names_in_templates_and_loops() -> None:
    analysis = analyze_text(TEXT, "p.cnai")
    index = analysis.index_names(ImportCache())
    assert index is not None

    def declared(offset: int) -> tuple[str, str, int]:
        found = index.at(offset)
        assert found is not None
        return found.symbol.kind, found.symbol.name, found.symbol.span.start

    rate = TEXT.index("rate: float")
    assert declared(TEXT.index("${rate}") + 3) == ("template param", "rate", rate)
    assert declared(TEXT.index("rate = lr")) == ("template param", "rate", rate)
    assert declared(TEXT.index("= lr") + 2) == ("param", "lr", TEXT.index("lr: float"))
    loss = TEXT.index("loss: float")
    assert declared(TEXT.index("outputs.loss") + 8) == ("output", "loss", loss)
    assert declared(TEXT.index("train.loss") + 6) == ("output", "loss", loss)  # via `use fit`
    assert declared(TEXT.index("${shard}") + 2)[:2] == ("loop variable", "shard")
    assert index.at(TEXT.index('"python:3.12"')) is None


def test_enclosing_blocks_and_fields() -> None:
    offset = TEXT.index("gpu = 1")
    assert [(b.kind, b.name) for b in enclosing(TEXT, offset)] == [
        ("block", "resources"), ("step", "train"), ("group", "shard"), ("pipeline", "p")]
    assert {"gpu", "cpu", "memory"} <= {i.label for i in complete(TEXT, offset, None)}
    in_template = TEXT.index('image = "python:3.12"')
    labels = {i.label for i in complete(TEXT, in_template, None)}
    assert {"image", "command", "output", "use"} <= labels


def test_hover_of_a_template_and_of_a_loop_variable() -> None:
    analysis = analyze_text(TEXT, "p.cnai")
    analysis.index_names(ImportCache())
    template = hover_text(analysis, TEXT.index("use fit") + 5)
    assert template is not None and "template fit(rate: float)" in template
    assert '- image: `"python:3.12"`' in template
    assert "- output `output loss: float`" in template
    loop = hover_text(analysis, TEXT.index("${shard}") + 3)
    assert loop is not None and 'for shard in ["a", "b"]' in loop


def test_completion_in_strings_only_inside_interpolations() -> None:
    analysis = analyze_text(TEXT, "p.cnai")
    index = analysis.index_names(ImportCache())
    in_text = TEXT.index('"report"') + 4
    assert complete(TEXT, in_text, index) == []
    typed = TEXT.replace('["report", train.loss]', '["report", "${train.", train.loss]')
    labels = [i.label for i in complete(typed, typed.index("${train.") + 8, index)]
    assert labels == ["loss"]
    in_when = TEXT.replace("step report after train {", "step report after train when l {")
    values = {i.label for i in complete(in_when, in_when.index("when l") + 6, index)}
    assert "lr" in values  # a value, not the step names `after` takes


@pytest.mark.parametrize("path", FILES[::3], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_position_answers(path: Path) -> None:
    """Hover and completion anywhere in a file (every 7th offset, and cut short there, as
    while typing) answer without failing."""
    text = path.read_text()
    analysis = analyze_text(text, str(path))
    index = analysis.index_names(ImportCache())
    for offset in range(0, len(text), 7):
        hover_text(analysis, offset)
        complete(text, offset, index)
        complete(text[:offset], offset, index)
