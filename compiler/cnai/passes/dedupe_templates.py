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

import operator

from pydantic import BaseModel

from cnai.context import CompileContext
from cnai.semantics import ir

DEDUPED_KINDS = ("container", "preload")
_COMPARED = ("kind", "image", "resources", "retry", "timeout_seconds", "cache", "mounts",
             "runtime", "distributed", "disruption_budget", "serving")
_compared = operator.attrgetter(*_COMPARED)
_HOLE = object()  # in a shape: a literal word, which may differ between the steps sharing it


def _renames(step: ir.Step) -> dict[str, str]:
    """Input names in a shared template: params and loop variables keep theirs (user code
    reads them by name through cnai_runtime), other steps' outputs are numbered."""
    renames = {}
    for number, item in enumerate(step.inputs, start=1):
        keep = isinstance(item.source, (ir.ParamRef, ir.LoopVarRef, ir.PipelineStatus))
        renames[item.name] = item.name if keep else f"input{number}"
    return renames


def _exact(value: object) -> object:
    """A hashable stand-in for ``value``, equal for two values exactly when their reprs are:
    a model as its class and field values (its ``__dict__`` is always in field order, as its
    repr is), a list item by item, anything else (str, int, bool, None) as its repr. The
    models' own reprs cost ten times as much, and this runs on every field of every step."""
    if isinstance(value, BaseModel):
        return (type(value), *map(_exact, value.__dict__.values()))
    if isinstance(value, list):
        return ("list", *map(_exact, value))
    return repr(value)


def _shape(step: ir.Step, renames: dict[str, str]) -> tuple[object, ...]:
    """The step without names and with every literal command/args word as a hole: steps of
    one shape share a template. A tuple, compared field by field."""

    def text(value: ir.Text, hole: bool) -> object:
        if value.is_literal:
            return _HOLE if hole else value.literal
        return tuple([part if isinstance(part, str) else
                      (part.kind, renames.get(part.name, part.name)) for part in value.parts])

    # Everything but names, placement in the graph, and the text (handled below).
    compared = tuple(map(_exact, _compared(step)))
    # Where the scheduling was written does not change the pod.
    scheduling = (None if step.scheduling is None
                  else _exact(step.scheduling.model_copy(update={"span": None})))
    # The program (the first word) stays part of the shape: steps that run different
    # programs do not share a template, which would mislabel them in the UI. A literal word
    # is a hole at the same positions in every step of one shape (they depend only on the
    # number of command words), so a hole is never compared with a word.
    return (compared, scheduling,
            tuple([(o.name, str(o.type), o.path) for o in step.outputs]),
            tuple([text(t, i > 0) for i, t in enumerate(step.command)]),
            tuple([text(t, bool(step.command) or i > 0) for i, t in enumerate(step.args)]),
            tuple([(e.name, text(e.value, False) if e.value else None,
                    (e.secret.name, e.secret.key) if e.secret else None) for e in step.env]),
            tuple([(renames[i.name], str(i.type)) for i in step.inputs]))


def _renamed(text: ir.Text, renames: dict[str, str]) -> ir.Text:
    """``text`` reading the renamed inputs: itself if no name changes (most words are literal
    or read params, which keep their names), else a new text."""
    for part in text.parts:
        if isinstance(part, ir.InputValue) and renames[part.name] != part.name:
            break
    else:
        return text
    return ir.Text.of(*(ir.InputValue.named(renames[part.name])
                        if isinstance(part, ir.InputValue) else part for part in text.parts))


def dedupe_templates(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    shapes: dict[tuple[object, ...], list[ir.Step]] = {}
    renames: dict[str, dict[str, str]] = {}
    for step in graph.steps:
        if step.kind in DEDUPED_KINDS:
            renames[step.name] = _renames(step)
            shapes.setdefault(_shape(step, renames[step.name]), []).append(step)
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
            replaced[member.name] = _share(member, template, lifted, renames[member.name])
    if not replaced:
        return graph
    plural = "template" if shared == 1 else "templates"
    ctx.explain.append(f"dedupe_templates: {len(replaced)} steps share {shared} {plural}")
    return graph.model_copy(update={"steps": [replaced.get(s.name, s) for s in graph.steps]})


def _share(step: ir.Step, template: str, lifted: list[int], renames: dict[str, str]
           ) -> ir.Step:
    """The step running the shared template. What the renaming leaves unchanged (params'
    inputs, literal words) is kept as it is, as a shallow copy would."""
    inputs = [item if renames[item.name] == item.name else
              ir.Input.of(renames[item.name], item.source, item.type, item.span)
              for item in step.inputs]
    texts = [_renamed(text, renames) for text in step.command + step.args]
    for position in lifted:
        name = f"arg{position + 1}"
        value = texts[position].literal
        inputs.append(ir.Input(name=name, source=ir.Literal_(value=value, type=_STRING),
                               type=_STRING))
        texts[position] = ir.Text.of(ir.InputValue.named(name))
    env = []
    for var in step.env:
        if var.value is not None:
            renamed = _renamed(var.value, renames)
            if renamed is not var.value:
                var = var.model_copy(update={"value": renamed})
        env.append(var)
    count = len(step.command)
    return step.model_copy(update={"template": template, "inputs": inputs, "env": env,
                                   "command": texts[:count], "args": texts[count:]})


_STRING = ir.Type(name="string")
