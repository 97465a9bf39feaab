"""``-p name=value``: parse, check against the pipeline's params, and convert to each target.

Values are checked against the param's declared type here, before anything is sent, so a typo
is a usage error naming the param instead of a step that fails an hour into the run. Argo
receives every value as text (formatted as the compiler formats defaults); KFP receives typed
JSON values in ``runtime_config.parameters``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnai.params import JSON, parse_param
from cnai.semantics import ir
from cnai.usage import UsageError


@dataclass(frozen=True)
class Param:
    name: str
    type: ir.Type
    has_default: bool


def params_of(pipeline: ir.Pipeline) -> list[Param]:
    """The pipeline's params, as -p checks them."""
    return [Param(p.name, p.type, p.default is not None) for p in pipeline.params]


@dataclass(frozen=True)
class GpuParam:
    """A step whose GPU count is param ``param``'s, under a quota of ``quota`` GPUs."""

    step: str
    param: str
    quota: float


def gpu_params_of(pipeline: ir.Pipeline) -> tuple[GpuParam, ...]:
    if pipeline.quota is None or pipeline.quota.gpu is None:
        return ()
    return tuple(GpuParam(s.name, s.resources.gpu_param.name, float(pipeline.quota.gpu))
                 for s in pipeline.steps if s.resources.gpu_param is not None)


def check_gpu_quota(values: dict[str, JSON], checks: Sequence[GpuParam]) -> None:
    """The compile-time quota check (E0209) again, with the GPU counts this run passes: a
    pod asking for more than the quota would never start."""
    for check in checks:
        count = values.get(check.param)
        if isinstance(count, int) and count > check.quota:
            raise UsageError(
                f"E0209: -p {check.param}={count}: step `{check.step}` would ask for "
                f"{count} GPUs, more than the pipeline's quota of {check.quota:g}; nothing "
                "was sent")


def resolve(given: dict[str, str], params: Sequence[Param]) -> dict[str, JSON]:
    """Typed values for the given names; unknown names and params left without a value are
    usage errors that list what the pipeline declares."""
    known = {p.name: p for p in params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UsageError(_unknown_message(unknown, params))
    values = {name: convert(text, known[name].type, name) for name, text in given.items()}
    missing = [p.name for p in params if not p.has_default and p.name not in values]
    if missing:
        flags = " ".join(f"-p {name}=VALUE" for name in missing)
        raise UsageError(f"param{'s' if len(missing) > 1 else ''} {_names(missing)} "
                         f"{'have' if len(missing) > 1 else 'has'} no default; pass {flags}")
    return values


# What the engine reads in a value it has already pasted in, with no escape (docs/argo.md,
# "Text that Kubernetes or Argo would read"). Argo substitutes the values of a template's
# inputs with the workflow's variables before they reach the container
# (workflow/common/util.go, SubstituteParams; unknown tags stay as they are); KFP's launcher
# fills its placeholders in every argument after the driver has pasted the values in
# (backend/src/v2/component/launcher_v2.go).
TEMPLATED = {"argo": ("{{", "Argo reads `{{...}}` in a value as one of its variables "
                      "(`{{workflow.name}}` becomes the workflow's name)"),
             "kfp": ("{{$", "KFP's launcher fills in `{{$...}}` placeholders in a value")}


def templated(values: dict[str, JSON], target: str) -> list[str]:
    """A warning for each param whose value the target would read as its own text."""
    marker, why = TEMPLATED[target]
    return [f"warning: -p {name}: the value holds `{marker}`, and {why}; no escape exists: "
            "see docs/argo.md" for name, value in values.items()
            if marker in (value if isinstance(value, str) else json.dumps(value))]


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _unknown_message(unknown: list[str], params: Sequence[Param]) -> str:
    declared = [p.name for p in params]
    what = f"unknown param{'s' if len(unknown) > 1 else ''} {_names(unknown)}"
    if not declared:
        return f"{what}: the pipeline declares no params"
    message = f"{what}; the pipeline's params are " + ", ".join(
        f"{p.name}: {p.type}" for p in params)
    close = difflib.get_close_matches(unknown[0], declared, n=1)
    return message + (f" (did you mean `{close[0]}`?)" if close else "")


def convert(text: str, type_: ir.Type, name: str) -> JSON:
    """The command-line text of one value as a JSON value of ``type_``, read as every cnai
    command reads -p values (:func:`cnai.params.parse_param`)."""
    if type_.name == "list":
        try:
            listed = json.loads(text)
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            raise UsageError(f"-p {name}: expected a JSON list for {type_}, e.g. "
                             f"{name}='[1, 2]', got {text!r}")
    try:
        return parse_param(text, type_)
    except ValueError as error:
        if type_.name in ("list", "record"):  # an element or a field: the message names it
            raise UsageError(f"-p {name}: {error}") from None
    examples = {"int": "an integer", "float": "a number", "bool": "true or false"}
    raise UsageError(f"-p {name}: expected {examples.get(type_.name, str(type_))} for "
                     f"{type_}, got {text!r}")


def apply_to_argo(document: dict[str, Any], values: dict[str, JSON]) -> None:
    """Set ``spec.arguments.parameters`` values (a CronWorkflow's are in its workflowSpec)."""
    from cnai.contract import param_text

    if not values:
        return
    spec = document["spec"].get("workflowSpec", document["spec"])
    parameters = spec.setdefault("arguments", {}).setdefault("parameters", [])
    entries = {p["name"]: p for p in parameters}
    for name, value in values.items():
        if name not in entries:
            entries[name] = {"name": name}
            parameters.append(entries[name])
        entries[name]["value"] = param_text(value)
