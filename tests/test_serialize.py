"""The YAML emitter: every document reads back as the same data, in PyYAML and as JSON."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cnai.backends.serialize import to_yaml

TRICKY = ["", "true", "yes", "No", "off", "null", "~", "0.9", "8", "1e3", "-1", ".5", "0x1F",
          "1_000", "12:30", "2024-01-01", "a: b", "a #b", "#x", "- x", "[x]", "{x}", "*x", "&x",
          "!x", "|", ">", "'", '"', "%x", "@x", "`x`", " lead", "trail ", "tab\t", "line\nbreak",
          "end\n", "two\n\n", "\u2028", "\x85", "caf\u00e9", "{{workflow.name}}", "s3://b/k",
          "nvidia.com/gpu", "=", "?x", ",x", "x,", "y", "n", "NULL", ".inf", "-.inf", ".nan"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(TRICKY), st.text(max_size=12))
data = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


def roundtrip(document: dict[str, Any]) -> None:
    text = to_yaml([document])
    assert yaml.load(text, Loader=yaml.SafeLoader) == document, text
    assert to_yaml([document]) == text


def test_tricky_strings_stay_strings() -> None:
    roundtrip({value or "empty": value for value in TRICKY} | {"list": TRICKY})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), data, max_size=5))
def test_any_data_round_trips(document: dict[str, Any]) -> None:
    roundtrip(document)


def test_layout() -> None:
    text = to_yaml([{"kind": "K", "apiVersion": "v1", "spec": {
        "items": [{"value": 1, "name": "a"}], "script": "a\nb\n", "empty": []}}, {"k": 1}])
    assert text == ("apiVersion: v1\nkind: K\nspec:\n  empty: []\n  items:\n  - name: a\n"
                    "    value: 1\n  script: |\n    a\n    b\n---\nk: 1\n")


def test_a_key_past_1024_characters_is_written_as_an_explicit_key() -> None:
    # YAML 1.2, 7.4: an implicit key is one line of at most 1024 characters; PyYAML and Go's
    # yaml refuse a longer one. The same long key at two indentations keeps each its own.
    from cnai.backends.serialize import to_yaml

    key = "k" * 1100
    document = {"a": {key: 1, "b": [{key: {key: "v"}}]}}
    text = to_yaml([document])
    assert yaml.safe_load(text) == document
    assert f"? {key}" in text


def test_every_kind_of_value_in_a_mapping_and_in_a_list() -> None:
    # _mapping and _sequence write the common values themselves and leave the rest to _emit:
    # each kind in both places, pinned to the text the one-call-per-value writer gave.
    from cnai.backends.verbatim import Verbatim

    document = {"spec": {
        "on": True, "off": False, "n": None, "i": 3, "f": 0.5, "e": {}, "l": [],
        "script": "a\nb\n", "raw": Verbatim("{{x}}"), "name": "first",
        "items": [True, 1, None, "yes", [], {}, ["a", ["b"]], "two\nlines",
                  {"name": "n", "k": "v"}]}, "text": "multi\nline"}
    assert to_yaml([document]) == (
        "spec:\n  name: first\n  e: {}\n  f: 0.5\n  i: 3\n  items:\n  - true\n  - 1\n"
        "  - null\n  - 'yes'\n  - []\n  - {}\n  -\n    - a\n    -\n      - b\n  - |-\n"
        "    two\n    lines\n  - name: 'n'\n    k: v\n  l: []\n  'n': null\n  'off': false\n"
        "  'on': true\n  raw: {{x}}\n  script: |\n    a\n    b\ntext: |-\n  multi\n  line\n")
