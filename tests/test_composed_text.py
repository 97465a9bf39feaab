"""No Argo or Kubeflow placeholder can be composed out of user text (issue: `{{` made by
putting pieces together). The only ``{{`` in the output are the ones the backend made; every
text reaches the container exactly as written, after the engine's substitution and the
kubelet's expansion, or the compiler refuses it (E0208).

The engines, as the tests model them: Argo's templating (tests/argo_engine.py: fasttemplate
tags end at the first ``}}``, ``{{=...}}`` evaluated by expr), Kubeflow's launcher (exact
placeholder strings replaced, backend/src/v2/component/launcher_v2.go, getPlaceholders), and
the kubelet (tests/k8s_expansion.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argo_engine import fill
from cnai import compile_source
from cnai.driver import CompileFailed
from k8s_expansion import run_container

VALUE = "v}a l"  # a run-time value; values holding `{{` or `$(` are documented as read again
KFP_PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")


def source_literal(piece: str) -> str:
    return piece.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def program(pieces: list[str | None]) -> tuple[str, str]:
    """A pipeline whose step echoes one word made of ``pieces`` (None: the param ``p``), and
    the word the container must get."""
    word = "".join("${p}" if piece is None else source_literal(piece) for piece in pieces)
    expected = "".join(VALUE if piece is None else piece for piece in pieces)
    text = (f'pipeline t {{\n  param p: string = "{VALUE}"\n'
            f'  step s {{ image = "alpine:3.20"  command = ["echo", "{word}"] }}\n}}\n')
    return text, expected


def argo_word(text: str) -> str:
    workflow = compile_source(text, "t.cnai", "argo").documents[0]
    template = next(t for t in workflow["spec"]["templates"] if "container" in t)
    container: dict[str, Any] = template["container"]
    values = {f"inputs.parameters.{p['name']}": VALUE
              for p in template.get("inputs", {}).get("parameters", [])}
    filled = {**container, "command": [fill(word, values) for word in container["command"]]}
    argv, _ = run_container({**filled, "env": []})
    return argv[1]


def kfp_word(text: str) -> str:
    spec = compile_source(text, "t.cnai", "kfp").documents[0]
    (executor,) = spec["deploymentSpec"]["executors"].values()
    container = executor["container"]
    filled = {key: [KFP_PARAMETER.sub(lambda _: VALUE, word) for word in words]
              for key, words in container.items() if key in ("command", "args")}
    argv, _ = run_container(filled)
    return argv[argv.index("echo") + 1]


def our_tags(word: str) -> list[str]:
    """The tags Argo would read in ``word``: each must be one the backend made."""
    tags, position = [], 0
    while (start := word.find("{{", position)) >= 0:
        end = word.find("}}", start + 2)
        tags.append(word[start + 2:end])
        position = end + 2
    return tags


PIECES = st.lists(st.one_of(st.none(), st.text(alphabet="{}$()a\"\\' #:", min_size=1,
                                                max_size=4)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PIECES)
def test_text_reaches_the_container_exactly_or_is_refused(pieces: list[str | None]) -> None:
    text, expected = program(pieces)
    literals = "".join("\0" if piece is None else piece for piece in pieces)
    if any("{{" in run for run in literals.split("\0")):
        with pytest.raises(CompileFailed) as failed:
            compile_source(text, "t.cnai", "argo")
        assert {d.code for d in failed.value.diagnostics} == {"E0208"}
        return
    workflow = compile_source(text, "t.cnai", "argo").documents[0]
    template = next(t for t in workflow["spec"]["templates"] if "container" in t)
    for tag in our_tags(template["container"]["command"][1]):
        assert re.fullmatch(r"inputs\.parameters\.[a-z_]+|=.*", tag), tag
    assert argo_word(text) == expected
    assert kfp_word(text) == expected


@pytest.mark.parametrize(("argument", "why"), [
    ("{=sprig.trim('  hi  ')}", "an expression"),
    ("{workflow.name}", "the workflow's name"),
    ("{", "half a tag"),
])
def test_a_template_argument_cannot_complete_a_tag(argument: str, why: str) -> None:
    text = ('template show(x: string) { image = "alpine:3.20"  command = ["echo", "{${x}}"] }\n'
            f'pipeline t {{\n  step u {{ use show(x = "{argument}") }}\n}}\n')
    for target in ("argo", "kfp"):
        with pytest.raises(CompileFailed) as failed:
            compile_source(text, "t.cnai", target)
        assert [d.code for d in failed.value.diagnostics] == ["E0208"], why


def test_a_brace_before_a_value_is_one_expression_on_argo() -> None:
    text, expected = program(["{", None, "}"])
    workflow = compile_source(text, "t.cnai", "argo").documents[0]
    template = next(t for t in workflow["spec"]["templates"] if "container" in t)
    word = template["container"]["command"][1]
    assert word.startswith("{{=") and "{{{" not in word
    assert argo_word(text) == expected == "{v}a l}"
    assert kfp_word(text) == expected
