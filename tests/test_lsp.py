"""`cnai lsp` driven over stdio by pygls's LanguageClient: diagnostics after edits, hover,
definition, references, completion and formatting, each as an editor would ask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path

from lsp_session import LspSession
from testpaths import FIXTURES

MAIN = FIXTURES / "lsp" / "main.cnai"
LIB = FIXTURES / "lsp" / "lib.cnai"
CONTROL = FIXTURES / "valid" / "control.cnai"
TEXT = MAIN.read_text()


@pytest.fixture(scope="module")
def lsp() -> Iterator[LspSession]:
    session = LspSession()
    session.start()
    yield session
    session.stop()


@pytest.fixture()
def main(lsp: LspSession) -> str:
    """main.cnai opened afresh (each test's edits are its own), its first analysis done."""
    uri = lsp.open(MAIN)
    assert lsp.diagnostics(uri) == []
    return uri


def at(needle: str, nth: int = 0, text: str = TEXT, shift: int = 0) -> tuple[int, int]:
    """(line, character) of the ``nth`` occurrence of ``needle`` in ``text`` (ASCII)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += shift
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def span(location: types.Location) -> tuple[int, int, int, int]:
    r = location.range
    return r.start.line, r.start.character, r.end.line, r.end.character


def uri_of(path: Path) -> str:
    return from_fs_path(str(path)) or ""


# ---- diagnostics --------------------------------------------------------------------------

def test_diagnostics_follow_edits(lsp: LspSession, main: str) -> None:
    lsp.edit(main, at("after prepare", shift=6), at("after prepare", shift=13), "prepar")
    (diagnostic,) = lsp.diagnostics(main)
    assert diagnostic.code == "E0102"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "cnai"
    line, start = at("after prepare", shift=6)
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (line, start)
    assert (diagnostic.range.end.line, diagnostic.range.end.character) == (line, start + 6)
    assert "no step named `prepar`" in diagnostic.message
    assert "help: did you mean `prepare`?" in diagnostic.message
    lsp.edit(main, at("after prepare", shift=6), (line, start + 6), "prepare")
    assert lsp.diagnostics(main) == []


def test_edits_inside_steps_move_what_follows(lsp: LspSession, main: str) -> None:
    """Keystrokes inside a step reuse the rest of the tree (syntax/incremental.py): a line
    added in `prepare` moves every step after it, and an error typed in `deploy` then points
    at the text as it is now, as does go-to-definition."""
    line, _ = at("    mount images")
    lsp.edit(main, (line, 0), (line, 0), "    # the rows to train on\n")
    text = TEXT.replace("    mount images", "    # the rows to train on\n    mount images")
    assert lsp.diagnostics(main) == []
    start = at("train.model", nth=1, text=text)
    lsp.edit(main, start, (start[0], start[1] + 5), "trian")
    text = text.replace("train.model]", "trian.model]")
    (diagnostic,) = lsp.diagnostics(main)
    assert diagnostic.code == "E0103"  # an unknown name
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == start
    assert (diagnostic.range.end.line, diagnostic.range.end.character) == (start[0],
                                                                           start[1] + 5)
    gate = at("evaluate.accuracy", text=text)
    (location,) = lsp.definition(main, *gate)
    assert span(location)[:2] == at("evaluate {", text=text)
    lsp.edit(main, start, (start[0], start[1] + 5), "train")
    assert lsp.diagnostics(main) == []


def test_a_syntax_error_and_a_warning(lsp: LspSession, main: str) -> None:
    lsp.replace(main, TEXT.replace("  step deploy", "  step deploy {"))
    (syntax,) = lsp.diagnostics(main)
    assert syntax.code == "E0003"
    lsp.replace(main, TEXT.replace("  param epochs: int = 90\n",
                                   "  param epochs: int = 90\n  param unused: int = 1\n"))
    (warning,) = lsp.diagnostics(main)
    assert (warning.code, warning.severity) == ("W0102", types.DiagnosticSeverity.Warning)


def test_ranges_count_utf16_code_units(lsp: LspSession, main: str) -> None:
    # "🚀" is one code point but two UTF-16 code units: the bad name after it starts at the
    # character the editor counts, not the code point cnai counts.
    text = TEXT.replace('"python:3.12"\n    command = ["python", "deploy.py"',
                        '"python:3.12"  # 🚀 ok\n    command = ["python", "deploy.py"', 1)
    text = text.replace("--model\", train.model]", "--model\", \"é🚀\", trian.model]")
    lsp.replace(main, text)
    (diagnostic,) = lsp.diagnostics(main)
    line, character = at("trian.model", text=text)
    assert diagnostic.range.start.line == line
    # The line holds é (one unit) and 🚀 (two units) before the name: one more unit than
    # code points.
    assert diagnostic.range.start.character == character + 1
    assert diagnostic.range.end.character == character + 1 + len("trian")


def test_imported_files_errors_point_at_the_import(lsp: LspSession, tmp_path: Path) -> None:
    (tmp_path / "lib.cnai").write_text(LIB.read_text().replace("output model", "output 1x"))
    main = tmp_path / "main.cnai"
    uri = lsp.open(main, TEXT)
    diagnostic, *others = lsp.diagnostics(uri)
    assert diagnostic.code == "E0003"
    assert [d.code for d in others] == ["E0104", "E0104"]  # train.model: the template failed
    assert diagnostic.message.startswith("in lib.cnai: ")
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (0, 7)
    (related,) = diagnostic.related_information or []
    assert related.location.uri == uri_of(tmp_path / "lib.cnai")
    # The imported file fixed on disk: the editor's watcher tells the server, which
    # analyses the open file again.
    (tmp_path / "lib.cnai").write_text(LIB.read_text())
    lsp.published.pop(uri)
    lsp.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams([
        types.FileEvent(uri_of(tmp_path / "lib.cnai"), types.FileChangeType.Changed)]))
    assert lsp.diagnostics(uri) == []


# ---- hover --------------------------------------------------------------------------------

def test_hover_on_a_step_shows_its_image_resources_and_outputs(lsp: LspSession, main: str
                                                               ) -> None:
    text = lsp.hover(main, *at("prepare.rows", shift=2))
    assert text is not None
    assert "step prepare" in text
    assert '- image: `"python:3.12"`' in text
    assert '- resources: `resources { cpu = 2 memory = "4Gi" }`' in text
    assert "- output `output rows: dataset`" in text


def test_hover_on_a_param_shows_its_type_and_default(lsp: LspSession, main: str) -> None:
    text = lsp.hover(main, *at("${epochs}", shift=3))
    assert text is not None and "param epochs: int = 90" in text
    assert lsp.hover(main, *at("min_accuracy {", shift=1)) is not None


def test_hover_on_a_diagnostic_shows_its_help(lsp: LspSession, main: str) -> None:
    lsp.replace(main, TEXT.replace("train.model]\n  }\n}", "train.modle]\n  }\n}"))
    assert [d.code for d in lsp.diagnostics(main)] == ["E0104"]
    text = lsp.hover(main, *at("train.modle", shift=8, text=TEXT.replace(
        "train.model]\n  }\n}", "train.modle]\n  }\n}")))
    assert text is not None
    assert "**E0104** (unknown output)" in text
    assert "help: " in text


# ---- definition and references ------------------------------------------------------------

def test_definition_of_a_step_an_output_and_a_dataset(lsp: LspSession, main: str) -> None:
    (step,) = lsp.definition(main, *at("after prepare", shift=7))
    line, character = at("step prepare", shift=5)
    assert (step.uri, span(step)) == (main, (line, character, line, character + 7))
    (output,) = lsp.definition(main, *at("prepare.rows", shift=9))
    line, character = at("output rows", shift=7)
    assert span(output) == (line, character, line, character + 4)
    (dataset,) = lsp.definition(main, *at("mount images", shift=7))
    assert span(dataset)[:2] == at("dataset images", shift=8)


def test_definition_across_imports(lsp: LspSession, main: str) -> None:
    (template,) = lsp.definition(main, *at("use trainer", shift=5))
    lib = LIB.read_text()
    assert template.uri == uri_of(LIB)
    assert span(template)[:2] == at("template trainer", shift=9, text=lib)
    (output,) = lsp.definition(main, *at("train.model", shift=7))  # the template's output
    assert (output.uri, span(output)[:2]) == (uri_of(LIB), at("output model", 0, lib, 7))
    (imported,) = lsp.definition(main, *at('"lib.cnai"', shift=2))
    assert imported.uri == uri_of(LIB)
    (lr,) = lsp.definition(main, *at("lr = 0.1"))
    assert span(lr)[:2] == at("lr: float", text=lib)


def test_definition_of_a_template_two_imports_away(lsp: LspSession) -> None:
    uri = lsp.open(CONTROL)
    lsp.diagnostics(uri)
    control = CONTROL.read_text()
    (notifier,) = lsp.definition(uri, *at("use notifier", shift=5, text=control))
    assert notifier.uri.endswith("/imports/lib/notify.cnai")
    (loop_var,) = lsp.definition(uri, *at("data = shard", shift=8, text=control))
    assert span(loop_var)[:2] == at("for shard", shift=4, text=control)


def test_references_of_an_imported_template_and_of_an_import(lsp: LspSession, main: str
                                                             ) -> None:
    template = lsp.references(main, *at("use trainer", shift=5))
    assert [(r.uri, span(r)[:2]) for r in template] == [
        (uri_of(LIB), at("template trainer", shift=9, text=LIB.read_text())),
        (main, at("use trainer", shift=4))]
    imported = lsp.references(main, *at('"lib.cnai"', shift=1), declaration=False)
    assert [span(r)[:2] for r in imported] == [at("use trainer", shift=4)]


def test_references_of_a_step_and_a_param(lsp: LspSession, main: str) -> None:
    references = lsp.references(main, *at("step train", shift=6))
    assert [span(r)[:2] for r in references] == [
        at("train after", 0), at("train.model", 0), at("train.model", 1)]
    without = lsp.references(main, *at("step train", shift=6), declaration=False)
    assert len(without) == 2
    params = lsp.references(main, *at("param epochs", shift=6))
    assert [span(r)[:2] for r in params] == [at("epochs:"), at("${epochs}", shift=2)]


# ---- completion ---------------------------------------------------------------------------

def test_completion_of_a_steps_outputs(lsp: LspSession, main: str) -> None:
    assert lsp.completion(main, *at("prepare.rows", shift=8)) == ["rows"]
    assert lsp.completion(main, *at("outputs.accuracy", shift=8)) == ["accuracy"]
    assert lsp.completion(main, *at("train.model]", 0, shift=6)) == ["model"]


def test_completion_while_typing(lsp: LspSession, main: str) -> None:
    # A half-typed reference does not parse; names come from the last text that did.
    typed = TEXT.replace('"--model", train.model]\n  }\n}', '"--model", evaluate.]\n  }\n}')
    lsp.replace(main, typed)
    assert lsp.diagnostics(main)[0].code == "E0003"
    assert lsp.completion(main, *at("evaluate.]", shift=9, text=typed)) == ["accuracy"]


def test_completion_of_fields_step_names_and_values(lsp: LspSession, main: str) -> None:
    fields = lsp.completion(main, *at("    mount images", shift=4))
    assert {"image", "command", "resources", "retry", "output", "mount"} <= set(fields)
    assert "schedule" not in fields  # a pipeline's field, not a step's
    inside = lsp.completion(main, *at("cpu = 2", shift=0))
    assert {"cpu", "gpu", "memory"} <= set(inside) and "image" not in inside
    assert lsp.completion(main, *at("after prepare", shift=6)) == ["prepare", "train",
                                                                      "evaluate", "deploy"]
    values = lsp.completion(main, *at("min_accuracy {", shift=0))
    assert {"epochs", "min_accuracy", "images", "prepare", "train"} <= set(values)


# ---- formatting ---------------------------------------------------------------------------

def test_formatting_goes_through_cnai_fmt(lsp: LspSession, main: str) -> None:
    from cnai.authoring.fmt import format_source

    messy = TEXT.replace("  param epochs: int = 90", "param   epochs :int=90")
    lsp.replace(main, messy)
    lsp.diagnostics(main)
    edits = lsp.format(main)
    assert edits is not None
    (edit,) = edits
    assert edit.new_text == format_source(messy, str(MAIN))
    assert "  param epochs: int = 90" in edit.new_text
    lsp.replace(main, edit.new_text)
    lsp.diagnostics(main)
    assert lsp.format(main) == []
