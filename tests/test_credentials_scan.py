"""credentials.scan finds each documented token shape inside string literals (W0105), every
member of a family searched for by its shared start (`gh`, `xox`) included."""

from __future__ import annotations

import pytest

from cnai.diagnostics import DiagnosticBag
from cnai.semantics import credentials
from cnai.source import SourceFile

TOKENS = [
    ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
    ("ASIAIOSFODNN7EXAMPLE", "an AWS access key id"),
    *[(f"gh{c}_" + "a1" * 18, "a GitHub token") for c in "pousr"],
    ("github_pat_" + "A_" * 11, "a GitHub token"),
    *[(f"xox{c}-0123456789", "a Slack token") for c in "abprs"],
    ("AIza" + "x" * 35, "a Google API key"),
    ("sk-" + "a" * 32, "an OpenAI API key"),
    ("hf_" + "a" * 34, "a Hugging Face token"),
    ("-----BEGIN RSA PRIVATE KEY-----", "a private key"),
]


def _warnings(text: str) -> list[str]:
    bag = DiagnosticBag()
    credentials.scan(SourceFile("t.cnai", text), bag)
    return [d.message for d in bag]


@pytest.mark.parametrize("token,kind", TOKENS)
def test_each_token_shape_is_found_in_a_string(token: str, kind: str) -> None:
    text = f'pipeline p {{\n  param a: string = "x {token}"  # {token}\n}}\n'
    assert _warnings(text) == [f"this looks like {kind} (`{token[:6]}...`) written into the "
                               "pipeline"]
    assert _warnings(f"# {token}\n") == []  # a comment never reaches the cluster


@pytest.mark.parametrize("text", ["ghx_" + "a" * 36, "gh_" + "a" * 36, "xoxz-0123456789",
                                  "xox-0123456789", "github_" + "a" * 30, "agh" + "p_" + "a" * 36,
                                  "ghp_" + "a" * 35, "xoxb-012345678"])
def test_near_misses_are_not_tokens(text: str) -> None:
    assert _warnings(f'pipeline p {{ param a: string = "{text}" }}\n') == []
