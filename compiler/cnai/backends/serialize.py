"""The one place documents become text: YAML with keys sorted (``name`` first), block scalars
for multi-line strings, and a private Dumper (PyYAML's global state is never touched)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc]
    """SafeDumper (libyaml's when present) with our mapping order and string style."""


def _key(item: tuple[Any, Any]) -> tuple[int, str]:
    key = str(item[0])
    return (0 if key == "name" else 1, key)


def _mapping(dumper: Any, data: dict[Any, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", sorted(data.items(), key=_key),
                                    flow_style=False)


def _string(dumper: Any, data: str) -> yaml.Node:
    style = "|" if "\n" in data and not data.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(dict, _mapping)
_Dumper.add_representer(str, _string)


def to_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """Documents as one multi-document YAML stream; byte-identical for equal input."""
    return yaml.dump_all(list(documents), Dumper=_Dumper, default_flow_style=False,
                         allow_unicode=True, width=1_000_000, explicit_start=False,
                         sort_keys=False)
