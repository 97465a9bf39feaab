"""dedupe_templates: steps with the same container spec share one Argo template / KFP
component, with what differs between them passed as arguments.

Two steps have the same *shape* when everything but their names and the literal words of
their command/args is the same (image, resources, env, outputs, retries, the kinds of their
inputs). Within a shape, a command word that is the same in every step stays in the template;
one that differs becomes an argument, with the step's word as a literal value. Inputs that
are other steps' outputs are renamed by position so the templates match (params keep their
names). The program itself (the first word) is part of the shape: steps running different
programs keep their own templates. Safe: each step still
runs exactly the same command with the same values; only where the text lives changes.
    step a { image = "t" command = ["run", "--seed", "1"] }
    step b { image = "t" command = ["run", "--seed", "2"] }
      -> one template running ["run", "--seed", "{{inputs.parameters.arg1}}"]
"""

from __future__ import annotations

import json
from typing import Any

from cnai.context import CompileContext
from cnai.semantics import ir

DEDUPED_KINDS = ("container", "preload")
_COMPARED = ("kind", "image", "resources", "retry", "timeout_seconds", "cache", "mounts",
             "runtime", "distributed", "scheduling", "disruption_budget", "serving")


def _renames(step: ir.Step) -> dict[str, str]:
    """Input names in a shared template: params and loop variables keep theirs (user code
    reads them by name through cnai_runtime), other steps' outputs are numbered."""
    renames = {}
    for number, item in enumerate(step.inputs, start=1):
        keep = isinstance(item.source, (ir.ParamRef, ir.LoopVarRef, ir.PipelineStatus))
        renames[item.name] = item.name if keep else f"input{number}"
    return renames


def _shape(step: ir.Step) -> str:
    """The step without names and with every literal command/args word as a hole."""
    renames = _renames(step)

    def text(value: ir.Text, hole: bool) -> Any:
        if hole and value.is_literal:
            return "<literal>"
        if value.is_literal:
            return value.literal
        return [part if isinstance(part, str) else
                {"kind": part.kind, "name": renames.get(part.name, part.name)}
                for part in value.parts]

    # Everything but names, placement in the graph, and the text (handled below). The small
    # models' reprs are exact and cheaper than dumping the step.
    document: dict[str, Any] = {name: repr(getattr(step, name)) for name in _COMPARED}
    if step.scheduling is not None:  # where it was written does not change the pod
        document["scheduling"] = repr(step.scheduling.model_copy(update={"span": None}))
    document["outputs"] = [(o.name, str(o.type), o.path) for o in step.outputs]
    # The program (the first word) stays part of the shape: steps that run different
    # programs do not share a template, which would mislabel them in the UI.
    document["command"] = [text(t, i > 0) for i, t in enumerate(step.command)]
    document["args"] = [text(t, bool(step.command) or i > 0) for i, t in enumerate(step.args)]
    document["env"] = [(e.name, text(e.value, False) if e.value else None,
                        e.secret.model_dump() if e.secret else None) for e in step.env]
    document["inputs"] = [(renames[i.name], str(i.type)) for i in step.inputs]
    return json.dumps(document, sort_keys=True)


def _rename(step: ir.Step, renames: dict[str, str]) -> list[ir.Text]:
    def part(value: str | ir.Placeholder) -> str | ir.Placeholder:
        if isinstance(value, ir.InputValue):
            return ir.InputValue.model_construct(name=renames[value.name])
        return value

    return [t if t.is_literal else ir.Text.of(*map(part, t.parts))
            for t in step.command + step.args]


def dedupe_templates(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    shapes: dict[str, list[ir.Step]] = {}
    for step in graph.steps:
        if step.kind in DEDUPED_KINDS:
            shapes.setdefault(_shape(step), []).append(step)
    replaced: dict[str, ir.Step] = {}
    shared = 0
    for members in shapes.values():
        if len(members) < 2:
            continue
        shared += 1
        template = members[0].k8s_name
        words = [m.command + m.args for m in members]
        lifted = [i for i, texts in enumerate(zip(*words, strict=True))
                  if texts[0].is_literal and any(t.literal != texts[0].literal for t in texts)]
        for member in members:
            replaced[member.name] = _share(member, template, lifted)
    if not replaced:
        return graph
    plural = "template" if shared == 1 else "templates"
    ctx.explain.append(f"dedupe_templates: {len(replaced)} steps share {shared} {plural}")
    return graph.model_copy(update={"steps": [replaced.get(s.name, s) for s in graph.steps]})


def _share(step: ir.Step, template: str, lifted: list[int]) -> ir.Step:
    renames = _renames(step)
    inputs = [item.model_copy(update={"name": renames[item.name]}) for item in step.inputs]
    texts = _rename(step, renames)
    for position in lifted:
        name = f"arg{position + 1}"
        value = texts[position].literal
        inputs.append(ir.Input(name=name, source=ir.Literal_(value=value, type=_STRING),
                               type=_STRING))
        texts[position] = ir.Text.of(ir.InputValue.model_construct(name=name))
    env = []
    for var in step.env:
        if var.value is not None:
            var = var.model_copy(update={"value": ir.Text.of(*(
                ir.InputValue.model_construct(name=renames[p.name])
                if isinstance(p, ir.InputValue) else p for p in var.value.parts))})
        env.append(var)
    count = len(step.command)
    return step.model_copy(update={"template": template, "inputs": inputs, "env": env,
                                   "command": texts[:count], "args": texts[count:]})


_STRING = ir.Type(name="string")
