"""Mutation fuzzing (#15 item 9): every .cnai file of examples/, tests/fixtures/ and the docs,
mutated (characters and bytes inserted, deleted and swapped, tokens duplicated, two files
spliced, numbers made huge, names made long, unicode put in), through the real `cnai check`
and `cnai compile --target argo|kfp`. Whatever the input, no run crashes (exit 70, a
traceback, "internal error"), check and compile agree on whether it has errors, and what
compiles is valid output (fuzz_support). Budget and the longer run: docs/testing.md.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import (
    ROOT,
    assert_output_valid,
    check_and_compile_agree,
    fuzz_settings,
    seed_texts,
)

SEEDS = seed_texts()
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
                   r"|\"(?:[^\"\\\n]|\\.)*\"|\S")
NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
# Pieces a mutation may put in: the language's own tokens, and characters that stress the
# lexer, the escapes, YAML and the engines' placeholder syntax.
PIECES = ["{", "}", "(", ")", "[", "]", ",", ".", "=", "==", "<", ">=", "\"", "\\", "\\$", "$",
          "${", "{{", "}}", "#", "\n", "\t", " ", "step", "for", "in", "if", "else", "when",
          "after", "use", "template", "finally", "pipeline", "param", "output", "mount",
          "parallel", "and", "or", "not", "true", "false", "secret(\"s\", \"k\")",
          "outputs", "pipeline.status", "é", "日本", "\U0001d518", "\u200b", "\u2028",
          "\u0085", "\ufeff", "\x00", "\x7f", "\r", "%CNAI_PIPELINE_STATUS%",
          "{\"IfPresent\":", "$(HOME)", "$$", "'", ":", "list[int]", "1e999", "-0"]
HUGE = ["9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "9007199254740993", "1" * 400, "1e308", "1.8e308", "1e-400", "4.9e-324", "0", "-1",
        "65536", "2147483648"]


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A copy of tests/fixtures/imports beside the mutants' directory, so the mutants of
    files that import (`../imports/lib/common.cnai`) still find them."""
    with tempfile.TemporaryDirectory(prefix="cnai-fuzz-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "tests" / "fixtures" / "imports", root / "imports")
        (root / "valid").mkdir()
        yield root / "valid"


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from(TEXT_MUTATIONS))(draw, text)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 0:  # bytes that are not UTF-8 (E0001)
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


def _insert(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    piece = draw(st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=8)))
    return text[:at] + piece + text[at:]


def _delete(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + text[at + draw(st.integers(1, 40)):]


def _swap(draw: st.DrawFn, text: str) -> str:
    if len(text) < 2:
        return text
    i, j = sorted(draw(st.lists(st.integers(0, len(text) - 1), min_size=2, max_size=2)))
    chars = list(text)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _duplicate_token(draw: st.DrawFn, text: str) -> str:
    tokens = list(TOKEN.finditer(text))
    if not tokens:
        return text
    token = draw(st.sampled_from(tokens))
    at = draw(st.sampled_from(tokens))
    where = draw(st.sampled_from([at.start(), at.end()]))
    return text[:where] + " " + token.group() + " " + text[where:]


def _splice(draw: st.DrawFn, text: str) -> str:
    other = draw(st.sampled_from(SEEDS))
    cut, cut_other = draw(st.integers(0, len(text))), draw(st.integers(0, len(other)))
    return text[:cut] + other[cut_other:]


def _huge_number(draw: st.DrawFn, text: str) -> str:
    numbers = list(NUMBER.finditer(text))
    number = draw(st.sampled_from(numbers)) if numbers else None
    value = draw(st.sampled_from(HUGE))
    if number is None:
        return _insert(draw, text)
    return text[:number.start()] + value + text[number.end():]


def _long_name(draw: st.DrawFn, text: str) -> str:
    """A name made long (or unicode) everywhere it occurs, so the program often stays valid."""
    names = sorted(set(NAME.findall(text)))
    if not names:
        return text
    name = draw(st.sampled_from(names))
    new = draw(st.sampled_from(["n" * 63, "n" * 64, "N_" * 100, "a" * 1100, "_", "__", "_1",
                                "x_1", "ünï", name.upper(), name + "_"]))
    return re.sub(rf"\b{re.escape(name)}\b", new, text)


TEXT_MUTATIONS = [_insert, _delete, _swap, _duplicate_token, _splice, _huge_number, _long_name]


@fuzz_settings("mutations")
@given(data=mutants())
def test_mutants_never_crash_and_check_agrees_with_compile(workdir: Path, data: bytes) -> None:
    path = workdir / "mutant.cnai"
    path.write_bytes(data)
    runs = check_and_compile_agree(path)
    for target in ("argo", "kfp"):
        if runs[target].status == 0:
            assert_output_valid(target, runs[target].stdout)


def test_the_seeds_are_found() -> None:
    assert len(SEEDS) > 80
    assert sum("pipeline" in seed for seed in SEEDS) > 60
