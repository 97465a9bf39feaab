"""The value encoding shared by Argo and Kubeflow Pipelines: formats and round trips."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnai_runtime.values import ValueFormatError, format_value, parse_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.93, "0.93"),
        (1e-05, "1e-05"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (90, "90"),
        (-7, "-7"),
        (True, "true"),
        (False, "false"),
        ("resnet", "resnet"),
        ("", ""),
        ("two\nlines", "two\nlines"),
        ([0.1, 0.01, 0.001], "[0.1,0.01,0.001]"),
        (["a", 1, True, None], '["a",1,true,null]'),
        ({"lr": 0.1, "name": "é"}, '{"lr":0.1,"name":"é"}'),
        ((1, 2), "[1,2]"),
    ],
)
def test_format(value: Any, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, [1.0, math.nan], {"x": math.inf}])
def test_non_finite_floats_are_rejected(bad: Any) -> None:
    with pytest.raises(ValueFormatError, match="non-finite"):
        format_value(bad)


def test_unsupported_types_are_rejected() -> None:
    with pytest.raises(ValueFormatError, match="cannot encode object"):
        format_value(object())
    with pytest.raises(ValueFormatError, match="dict keys must be strings"):
        format_value({1: "a"})


def test_numpy_like_scalars_use_their_python_value() -> None:
    class Scalar:
        def __init__(self, value: Any) -> None:
            self.value = value

        def item(self) -> Any:
            return self.value

    assert format_value(Scalar(0.5)) == "0.5"
    assert format_value(Scalar(3)) == "3"
    assert format_value(Scalar(True)) == "true"


@pytest.mark.parametrize(
    ("text", "type_", "value"),
    [
        ("90", int, 90),
        (" 90\n", int, 90),
        ("90.0", int, 90),  # KFP may render integers through float formatting
        ("0.93", float, 0.93),
        ("1e-05", float, 1e-05),
        ("0.00001", float, 1e-05),  # KFP's strconv.FormatFloat(x, 'f', -1, 64) form
        ("true", bool, True),
        ("True", bool, True),
        ("false", bool, False),
        ("0", bool, False),
        ("t\n", bool, True),  # Go's ParseBool spellings, which Argo passes on as written
        ("F", bool, False),
        ("raw text\n", str, "raw text\n"),
        ("[1,2]", list, [1, 2]),
        ('{"a":1}', dict, {"a": 1}),
        ('["0.1","0.01"]', list[float], [0.1, 0.01]),  # numbers as strings
        ("[0.1, 2]", list[float], [0.1, 2.0]),
        ('["1", 2]', list[int], [1, 2]),
        ("[1, 2]", list[str], ["1", "2"]),
        ('{"a": "1"}', dict[str, int], {"a": 1}),
    ],
)
def test_parse(text: str, type_: Any, value: Any) -> None:
    parsed = parse_value(text, type_)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "type_"),
    [
        ("9.5", int),
        ("ninety", int),
        ("nan", float),
        ("yes", bool),
        ("{}", list),
        ("[1", list),
        ("[true]", list[int]),
        ("[1]", set),
        ("1", int | None),
    ],
)
def test_parse_errors(text: str, type_: Any) -> None:
    with pytest.raises(ValueFormatError):
        parse_value(text, type_)


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(database=None, max_examples=150, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly(value: float) -> None:
    assert parse_value(format_value(value), float) == value


@settings(database=None, max_examples=150, deadline=None)
@given(st.integers() | st.booleans() | st.text())
def test_scalars_round_trip(value: int | bool | str) -> None:
    assert parse_value(format_value(value), type(value)) == value


@settings(database=None, max_examples=100, deadline=None)
@given(st.lists(_json, max_size=5), st.dictionaries(st.text(), _json, max_size=5))
def test_json_round_trip_and_is_valid_json(items: list[Any], mapping: dict[str, Any]) -> None:
    assert parse_value(format_value(items), list) == items
    assert parse_value(format_value(mapping), dict) == mapping
    assert json.loads(format_value(items)) == items
