"""``${NAME}`` tokens in manifests, replaced after parsing (so a value can hold any text).

Kubeflow Pipelines fills placeholders in a container's arguments only, and a value pasted
into a JSON or YAML manifest could change its structure. So the compiler writes tokens into
the manifests and passes the values as separate arguments:

* ``--set NAME=VALUE``: ``${NAME}`` becomes VALUE (the first ``=`` separates them);
* ``--run-id ID``: ``${CNAI_RUN_ID}`` becomes ID and ``${CNAI_RUN_SHORT}`` its first eight
  letters and digits, lower-cased (a DNS-label-safe suffix, as Argo's first 8 characters
  of the workflow uid);
* ``${CNAI_NAMESPACE}`` always becomes the namespace the objects are created in.

Only the names given are replaced: any other ``${...}`` text is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cnai_runtime.exitcodes import USAGE, StepError

RUN_ID = "CNAI_RUN_ID"
RUN_SHORT = "CNAI_RUN_SHORT"
NAMESPACE = "CNAI_NAMESPACE"
SHORT_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKEN = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def add_token_options(parser: Any, set_help: str) -> None:
    """``--set NAME=VALUE`` (repeatable) and ``--run-id``, which :func:`token_values` takes."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help=set_help)
    parser.add_argument(
        "--run-id",
        help="defines ${CNAI_RUN_ID} and ${CNAI_RUN_SHORT} (its first 8 letters and digits)",
    )


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` arguments as a mapping; a malformed one is a usage error."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name):
            raise StepError(f"--set takes NAME=VALUE with NAME like CNAI_INPUT_X, got {item!r}",
                            USAGE)
        values[name] = value
    return values


def short(run_id: str) -> str:
    """The first eight letters and digits of ``run_id``, lower-cased."""
    kept = "".join(c for c in run_id.lower() if c.isascii() and c.isalnum())[:SHORT_LENGTH]
    if not kept:
        raise StepError(f"--run-id {run_id!r} holds no letters or digits", USAGE)
    return kept


def token_values(sets: Sequence[str], run_id: str | None, namespace: str) -> dict[str, str]:
    """Every token and its value, as ``{"${NAME}": value}``."""
    values = parse_sets(sets)
    if run_id is not None:
        values[RUN_ID] = run_id
        values[RUN_SHORT] = short(run_id)
    values[NAMESPACE] = namespace
    return {f"${{{name}}}": value for name, value in values.items()}


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """Replace tokens in every string of a manifest (keys and values), in one pass: a value
    that holds a token's text is not read again."""
    if isinstance(value, str):
        return _TOKEN.sub(lambda m: replacements.get(m.group(0), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(item, replacements) for item in value]
    if isinstance(value, dict):
        return {substitute(k, replacements): substitute(v, replacements) for k, v in value.items()}
    return value
