"""The documentation is tested: its examples compile, its code list is complete, and the README
gives the commands that set the project up.

- Every fenced block tagged ``cnai`` in docs/*.md and README.md is a complete pipeline that
  passes ``check_source`` and compiles for Argo without errors (the docs show what Argo gets,
  and some codes come from the backend only). A block whose first line is ``# expect: CODE``
  must instead produce exactly that one diagnostic code when compiled for Argo (the front
  end, the passes and the backend, so the codes only the backend reports are covered too).
- Blocks tagged ``cnai-fragment`` are excerpts and are not checked.
- Every code in the registry has its own section in docs/diagnostics.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnai.diagnostics import CODES
from cnai.driver import CompileFailed, check_source, compile_source

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"

FENCE = re.compile(r"^```(?P<tag>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
EXPECT = re.compile(r"#\s*expect:\s*(?P<code>[EW]\d{4})\s*$")

COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -e . && "
    ".venv/bin/cnai compile examples/model_pipeline.cnai --target argo -o model_pipeline.yaml",
    ".venv/bin/pip install -e '.[test]' -c tests/constraints.txt && .venv/bin/python -m pytest -q",
)


def blocks(path: Path) -> list[tuple[int, str]]:
    """The ``cnai`` blocks of one Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group("tag") == "cnai":
            line = text.count("\n", 0, match.start("body")) + 1
            found.append((line, match.group("body")))
    return found


EXAMPLES = [(path, line, body) for path in [*DOCS, README] for line, body in blocks(path)]
IDS = [f"{path.relative_to(ROOT)}:{line}" for path, line, _ in EXAMPLES]


def test_there_are_examples() -> None:
    assert DOCS, "docs/*.md not found"
    assert len(EXAMPLES) > 20


@pytest.mark.parametrize(("path", "line", "body"), EXAMPLES, ids=IDS)
def test_example(path: Path, line: int, body: str) -> None:
    name = str(ROOT / "docs" / f"example-{line}.cnai")
    first = body.split("\n", 1)[0].strip()
    expect = EXPECT.fullmatch(first)
    if expect is None:
        try:
            check_source(body, name)
            compile_source(body, name, "argo")
        except CompileFailed as failure:
            codes = [f"{d.code} at {d.span.line}:{d.span.col}: {d.message}"
                     for d in failure.diagnostics]
            pytest.fail(f"{path.name}:{line}: the example does not check and compile for "
                        "Argo:\n" + "\n".join(codes))
        return
    code = expect.group("code")
    assert code in CODES, f"{path.name}:{line}: `# expect: {code}` is not a registered code"
    try:
        result = compile_source(body, name, "argo")
    except CompileFailed as failure:
        found = {d.code for d in failure.diagnostics}
    else:
        found = {d.code for d in result.warnings}
    assert found == {code}, f"{path.name}:{line}: expected only {code}, got {sorted(found)}"


def test_every_code_has_a_section() -> None:
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,4} ([EW]\d{4})\b", text, re.M))
    missing = sorted(set(CODES) - headings)
    assert not missing, f"docs/diagnostics.md has no section for {', '.join(missing)}"
    unknown = sorted(headings - set(CODES))
    assert not unknown, f"docs/diagnostics.md documents unregistered codes {unknown}"


def test_readme_gives_the_commands() -> None:
    text = README.read_text(encoding="utf-8")
    for command in COMMANDS:
        assert command in text, f"README.md lacks the command: {command}"
