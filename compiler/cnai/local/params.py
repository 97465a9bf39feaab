"""Values as text and back for `cnai run`: ``-p name=value`` overrides and defaults.

The text of a value is what the backends pass (runtime_images/README.md, "Value encoding"):
ints in decimal, floats as Python's shortest ``repr``, ``true``/``false``, lists as JSON.
Reading is :func:`cnai.params.parse_param`, shared with `cnai submit`.
"""

from __future__ import annotations

import difflib

from cnai.contract import param_text
from cnai.params import JSON, article, parse_param
from cnai.semantics import ir
from cnai.usage import UsageError


def value_text(value: JSON) -> str:
    """The text a step receives for a value (the same as the Argo backend's)."""
    return param_text(value)


def resolve_params(pipeline: ir.Pipeline, given: dict[str, str]) -> dict[str, JSON]:
    """Every param's value: its default, or the ``-p`` text read as the param's type."""
    declared = {p.name: p for p in pipeline.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        what = f"unknown param `{unknown[0]}`"
        if not declared:
            raise UsageError(f"{what}: the pipeline declares no params")
        listing = ", ".join(f"{p.name}: {p.type}" for p in pipeline.params)
        close = difflib.get_close_matches(unknown[0], list(declared), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise UsageError(f"{what}; the pipeline's params are {listing}{hint}")
    values: dict[str, JSON] = {}
    missing = []
    for param in pipeline.params:
        if param.name in given:
            try:
                values[param.name] = parse_param(given[param.name], param.type)
            except ValueError as error:
                example = " (a JSON list, e.g. '[1, 2]')" if param.type.name == "list" else ""
                raise UsageError(f"-p {param.name}: {error}, expected {article(param.type)}"
                                 f"{example}") from None
        elif param.default is not None:
            values[param.name] = param.default
        else:
            missing.append(param.name)
    if missing:
        flags = " ".join(f"-p {name}=VALUE" for name in missing)
        raise UsageError(f"no value for {', '.join(f'`{n}`' for n in missing)}; pass {flags}")
    return values
