"""The VS Code extension (editors/vscode/): its TextMate grammar tokenizes every example as
VS Code would (vscode-textmate + vscode-oniguruma, run by node), and its manifest holds
together."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from testpaths import EXAMPLES, FIXTURES, ROOT

VSCODE = ROOT / "editors" / "vscode"
MANIFEST = json.loads((VSCODE / "package.json").read_text())
FILES = sorted(EXAMPLES.glob("*.cnai")) + sorted((FIXTURES / "valid").glob("*.cnai"))
PUNCTUATION = set("{}[](),:.=")
Token = dict[str, object]


def node(script: str, *args: str) -> object:
    """What a script of editors/vscode/test/ prints (JSON). Skipped only off CI without node
    or `npm ci`; on CI (env CI set) either missing is a failure, not a skip."""
    program = shutil.which("node")
    modules = VSCODE / "node_modules" / "vscode-textmate"
    if (program is None or not modules.is_dir()) and not os.environ.get("CI"):
        pytest.skip("node or editors/vscode/node_modules missing (run `npm ci` there)")
    assert program is not None, "node is needed on CI"
    result = subprocess.run([program, str(VSCODE / "test" / script), *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@cache
def tokens() -> dict[str, list[list[Token]]]:
    """Every file's tokens, line by line."""
    found = node("tokenize.js", *map(str, FILES))
    assert isinstance(found, dict)
    return {Path(name).name: lines for name, lines in found.items()}


def scopes_of(file: str, text: str, nth: int = 0) -> list[str]:
    """The scopes of the ``nth`` token reading ``text`` in ``file``."""
    matches = [token["scopes"] for line in tokens()[file] for token in line
               if token["text"] == text]
    assert len(matches) > nth, f"no token {text!r} in {file}"
    scopes = matches[nth]
    assert isinstance(scopes, list)
    return scopes


@pytest.mark.parametrize(("text", "scope"), [
    ("pipeline", "keyword.other.declaration.cnai"),
    ("model_pipeline", "entity.name.type.pipeline.cnai"),
    ("train", "entity.name.function.cnai"),  # step train
    ("after", "keyword.control.cnai"),
    ("description", "variable.other.property.cnai"),
    ("int", "support.type.cnai"),
    ("90", "constant.numeric.integer.cnai"),
    ("0.9", "constant.numeric.float.cnai"),
    ("resources", "entity.name.section.block.cnai"),
    ("outputs", "variable.language.cnai"),  # outputs.model: a reserved name
    ("min_accuracy", "variable.other.declaration.cnai"),  # param min_accuracy
])
def test_scopes_of_keywords_names_types_and_numbers(text: str, scope: str) -> None:
    assert scope in scopes_of("model_pipeline.cnai", text)


def test_strings_comments_and_interpolations() -> None:
    image = scopes_of("model_pipeline.cnai", "great-expectations:latest")
    assert "string.quoted.double.cnai" in image
    comment = " Pre-load the data set from object storage into a shared cache volume, once."
    assert "comment.line.number-sign.cnai" in scopes_of("model_pipeline.cnai", comment)
    begin = scopes_of("model_pipeline.cnai", "${")
    assert begin[-2:] == ["meta.interpolation.cnai",
                          "punctuation.section.interpolation.begin.cnai"]
    assert "string.quoted.double.cnai" in begin
    inner = scopes_of("model_pipeline.cnai", "epochs", nth=1)  # "${epochs}"
    assert "meta.interpolation.cnai" in inner and inner[-1] == "variable.other.cnai"


def test_reserved_names_and_templates() -> None:
    line = next(line for line in tokens()["control.cnai"]
                if "pipeline.status" in "".join(str(t["text"]) for t in line))
    texts = [(t["text"], t["scopes"][-1]) for t in line]  # type: ignore[index]
    assert ("pipeline", "variable.language.cnai") in texts
    assert ("status", "variable.other.member.cnai") in texts
    assert ("notifier", "entity.name.function.template.cnai") in texts


def test_step_output_references() -> None:
    line = next(line for line in tokens()["model_pipeline.cnai"]
                if '"evaluate.py"' in "".join(str(t["text"]) for t in line))
    texts = [(t["text"], t["scopes"][-1]) for t in line]  # type: ignore[index]
    assert ("train", "variable.other.object.cnai") in texts
    assert (".", "punctuation.accessor.cnai") in texts
    assert ("model", "variable.other.member.cnai") in texts


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_text_is_left_unscoped(path: Path) -> None:
    """Every non-blank character but punctuation gets a scope beyond the file's own."""
    for number, line in enumerate(tokens()[path.name], start=1):
        for token in line:
            text = str(token["text"])
            if token["scopes"] == ["source.cnai"] and set(text) - PUNCTUATION - {" ", "\t"}:
                raise AssertionError(f"{path.name}:{number}: {text!r} has no scope")


def test_the_manifest_holds_together() -> None:
    contributes = MANIFEST["contributes"]
    (language,) = contributes["languages"]
    (grammar,) = contributes["grammars"]
    assert language["id"] == grammar["language"] == "cnai"
    assert language["extensions"] == [".cnai"]
    assert (VSCODE / language["configuration"]).is_file()
    json.loads((VSCODE / language["configuration"]).read_text())
    grammar_file = json.loads((VSCODE / grammar["path"]).read_text())
    assert grammar["scopeName"] == grammar_file["scopeName"] == "source.cnai"
    assert (VSCODE / MANIFEST["main"]).is_file()
    assert "onLanguage:cnai" in MANIFEST["activationEvents"]
    setting = contributes["configuration"]["properties"]["cnai.path"]
    assert setting["default"] == "cnai"
    assert "vscode-languageclient" in MANIFEST["dependencies"]


@pytest.mark.parametrize(("setting", "command"), [
    ((), "cnai"), (("/opt/venv/bin/cnai",), "/opt/venv/bin/cnai")])
def test_the_extension_starts_cnai_lsp(setting: tuple[str, ...], command: str) -> None:
    """extension.js, loaded with stand-ins for VS Code's API, starts `<cnai.path> lsp` over
    stdio for .cnai files."""
    (client,) = node("extension.js", *setting)  # type: ignore[misc]
    server = {"command": command, "args": ["lsp"], "transport": 0}
    assert client["serverOptions"] == {"run": server, "debug": server}
    assert client["clientOptions"]["documentSelector"] == [{"scheme": "file",
                                                            "language": "cnai"}]


def test_the_lock_file_pins_the_manifests_versions() -> None:
    lock = json.loads((VSCODE / "package-lock.json").read_text())
    root = lock["packages"][""]
    for kind in ("dependencies", "devDependencies"):
        assert root[kind] == MANIFEST[kind]
        for name, version in MANIFEST[kind].items():
            assert lock["packages"][f"node_modules/{name}"]["version"] == version
