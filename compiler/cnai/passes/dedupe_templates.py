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
from typing import NamedTuple

from pydantic import BaseModel

from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.semantics.units import free_name

DEDUPED_KINDS = ("container", "preload")
# What tells two steps' shapes apart: every ir.Step field but those that may differ between
# steps sharing a template, so a new setting's field (semantics/settings.py) is compared
# without being listed here. Fields compared in their own way are in _READ_APART.
_NOT_COMPARED = (
    "name", "k8s_name", "span",  # each step keeps its names; the template takes its first's
    "depends", "when", "group",  # where the step sits in the graph, not what its pod runs
    "template",  # what this pass sets
    "fills",  # a preload's data set, which its `mounts` (compared) name already
)
_READ_APART = (
    "command", "args",  # literal words are holes, lifted as arguments (_read)
    "env", "inputs",  # read with the inputs' names in the shared template (_renames)
    "outputs",  # by name, type and path (their spans differ)
    "scheduling",  # without the span of the block that set it
    "security",  # as scheduling
)
_COMPARED = tuple(name for name in ir.Step.model_fields
                  if name not in _NOT_COMPARED and name not in _READ_APART)
_compared = operator.attrgetter(*_COMPARED)
_HOLE = object()  # in a shape: a literal word, which may differ between the steps sharing it


class _Member(NamedTuple):
    """A step that may share a template, read once: its shape and what sharing changes."""

    step: ir.Step
    renames: dict[str, str]  # input name -> its name in the shared template
    words: list[str | None]  # each command/args word's literal text, None if it reads a value
    renamed: list[int]  # the words that read an input whose name changes


def _renames(step: ir.Step) -> dict[str, str]:
    """Input names in a shared template: params and loop variables keep theirs (user code
    reads them by name through cnai_runtime), other steps' outputs are numbered."""
    kept = {item.name for item in step.inputs if _keeps_name(item)}
    taken = {name.upper() for name in kept}
    renames = {}
    for number, item in enumerate(step.inputs, start=1):
        renames[item.name] = (item.name if item.name in kept else
                              _unused(f"input{number}", taken))
    return renames


def _keeps_name(item: ir.Input) -> bool:
    return isinstance(item.source, (ir.ParamRef, ir.LoopVarRef, ir.PipelineStatus))


def _unused(name: str, taken: set[str]) -> str:
    """``name`` or the next free ``name_N`` ignoring case (units.free_name), then taken."""
    upper = name.upper()
    if upper in taken:  # rare: free_name's loop only then
        name = free_name(name, taken)
        upper = name.upper()
    taken.add(upper)
    return name


def _exact(value: object) -> object:
    """A hashable stand-in for ``value``, equal for two values exactly when they are the same
    setting: a str, an int or None as itself; a bool or a float with its class (``True == 1
    == 1.0`` in Python, not as settings); a model as its class and field values (its
    ``__dict__`` is always in field order); a list item by item. The models' reprs cost ten
    times as much, and this runs on every field of every step."""
    cls = value.__class__
    if value is None or cls is str or cls is int:  # most fields: tested first
        return value
    if cls is bool or cls is float:
        return (cls, value)
    if isinstance(value, BaseModel):
        return (cls, *map(_exact, value.__dict__.values()))
    if isinstance(value, list):
        return (list, *map(_exact, value))
    return (cls, repr(value))


def _word(text: ir.Text) -> str | None:
    """The text of a literal word; None if it reads a value."""
    return text.literal if text.is_literal else None


def _text_key(text: ir.Text, renames: dict[str, str]) -> tuple[object, ...]:
    """A word that reads values: its pieces, with the inputs' names in the template (an
    output's path keeps its name, even one spelled like an input)."""
    return tuple([part if isinstance(part, str) else
                  (part.kind, renames[part.name] if isinstance(part, ir.InputValue)
                   else part.name) for part in text.parts])


def _reads_renamed(text: ir.Text, renames: dict[str, str]) -> bool:
    return any(isinstance(part, ir.InputValue) and renames[part.name] != part.name
               for part in text.parts)


def _read(step: ir.Step) -> tuple[tuple[object, ...], _Member]:
    """The step's shape: the step without names and with every literal command/args word as
    a hole (steps of one shape share a template), compared as a tuple; and the step as a
    member of its shape."""
    renames = _renames(step)
    words: list[str | None] = []
    renamed: list[int] = []
    text_keys: list[object] = []
    for position, text in enumerate(step.command + step.args):
        parts = text.parts
        # A text of one piece (most of them) without _word's two property reads: a word,
        # or a placeholder.
        word: str | None = None
        if len(parts) != 1:
            word = _word(text)
        elif isinstance(parts[0], str):
            word = parts[0]
        words.append(word)
        if word is not None:
            # The program (the first word) stays part of the shape: steps that run
            # different programs do not share a template, which would mislabel them in the
            # UI. Every other literal word is a hole.
            text_keys.append(_HOLE if position else word)
            continue
        # _text_key and _reads_renamed in one pass over the pieces.
        key: list[object] = []
        reads_renamed = False
        for part in parts:
            if isinstance(part, str):
                key.append(part)
            elif isinstance(part, ir.InputValue):
                name = renames[part.name]
                reads_renamed = reads_renamed or name != part.name
                key.append((part.kind, name))
            else:
                key.append((part.kind, part.name))
        text_keys.append(tuple(key))
        if reads_renamed:
            renamed.append(position)
    # Where the scheduling (or the security context) was written does not change the pod.
    scheduling, security = _spanless(step.scheduling), _spanless(step.security)
    env = [(e.name, None if e.value is None else
            e.value.literal if e.value.is_literal else _text_key(e.value, renames),
            (e.secret.name, e.secret.key) if e.secret else None,
            (e.config_map.name, e.config_map.key) if e.config_map else None, e.field)
           for e in step.env]
    shape = (tuple(map(_exact, _compared(step))), scheduling, security,
             tuple([(o.name, str(o.type), o.path, o.stdout) for o in step.outputs]),
             len(step.command), tuple(text_keys), tuple(env),
             tuple([(renames[i.name], str(i.type)) for i in step.inputs]))
    return shape, _Member(step, renames, words, renamed)


def _spanless(block: ir.Scheduling | ir.Security | None) -> object:
    return None if block is None else _exact(block.model_copy(update={"span": None}))


def _renamed(text: ir.Text, renames: dict[str, str], nodes: ir.SharedNodes) -> ir.Text:
    """``text`` reading the inputs by their names in the template. Most such texts are one
    placeholder, equal in every step of a template: they are shared."""
    parts = [nodes.input_value(renames[part.name]) if isinstance(part, ir.InputValue) else part
             for part in text.parts]
    return nodes.text(parts[0]) if len(parts) == 1 else ir.Text.of(*parts)


def dedupe_templates(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    shapes: dict[tuple[object, ...], list[_Member]] = {}
    for step in graph.steps:
        if step.kind in DEDUPED_KINDS:
            shape, member = _read(step)
            shapes.setdefault(shape, []).append(member)
    replaced: dict[str, ir.Step] = {}
    nodes = ir.SharedNodes()
    shared = 0
    for members in shapes.values():
        if len(members) < 2:
            continue
        shared += 1
        template = members[0].step.k8s_name
        # The literal words that differ between the members become arguments. (A word that
        # reads a value is None in every member: their shapes are the same.)
        lifted = [i for i, column in enumerate(zip(*(m.words for m in members), strict=True))
                  if len(set(column)) > 1]
        taken = {name.upper() for name in members[0].renames.values()}
        names = {position: _unused(f"arg{position + 1}", taken) for position in lifted}
        for member in members:
            replaced[member.step.name] = _share(member, template, names, nodes)
    if not replaced:
        return graph
    plural = "template" if shared == 1 else "templates"
    ctx.explain.append(f"dedupe_templates: {len(replaced)} steps share {shared} {plural}")
    return graph.model_copy(update={"steps": [replaced.get(s.name, s) for s in graph.steps]})


def _share(member: _Member, template: str, lifted: dict[int, str], nodes: ir.SharedNodes
           ) -> ir.Step:
    """The step running the shared template. What the renaming leaves unchanged (params'
    inputs, literal words) is kept as it is, as a shallow copy would."""
    step, renames = member.step, member.renames
    inputs = [item if renames[item.name] == item.name else
              ir.updated(item, name=renames[item.name]) for item in step.inputs]
    texts = step.command + step.args
    for position in member.renamed:
        texts[position] = _renamed(texts[position], renames, nodes)
    for position, name in lifted.items():
        value = member.words[position]
        assert value is not None  # only literal words differ
        inputs.append(ir.Input.of(name, ir.Literal_.of(value, _STRING), _STRING))
        texts[position] = nodes.text(nodes.input_value(name))
    env = [var if var.value is None or not _reads_renamed(var.value, renames) else
           ir.updated(var, value=_renamed(var.value, renames, nodes)) for var in step.env]
    count = len(step.command)
    return ir.updated(step, template=template, inputs=inputs, env=env,
                      command=texts[:count], args=texts[count:])


_STRING = ir.Type(name="string")
