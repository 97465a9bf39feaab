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
from collections.abc import Callable, Iterable
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
    "env", "inputs",  # read with the inputs' names in the shared template (_read_inputs)
    "outputs",  # by name, type and path (their spans differ)
    "scheduling",  # without the span of the block that set it
    "security",  # as scheduling
)
_COMPARED = tuple(name for name in ir.Step.model_fields
                  if name not in _NOT_COMPARED and name not in _READ_APART)
# Most steps leave most settings unset: the compared fields that are None or an empty list
# when unset are first compared together with their unset values (two tuple comparisons in
# C, equal exactly when every one of them is unset, with no call for each).
_UNSET_NONE = tuple(name for name in _COMPARED if ir.Step.model_fields[name].default is None)
_UNSET_LIST = tuple(name for name in _COMPARED
                    if ir.Step.model_fields[name].default_factory is list)
_OTHERS = tuple(name for name in _COMPARED if name not in _UNSET_NONE + _UNSET_LIST)
_HOLE = object()  # in a shape: a literal word, which may differ between the steps sharing it
_UNSET = object()  # in a shape: every field of one of the groups above unset


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, object]], tuple[object, ...]]:
    """The values of ``names`` in a step's ``__dict__`` (cheaper than attrgetter), as a tuple
    however many there are."""
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return operator.itemgetter(*names)


_unset_none, _unset_list, _others = map(_getter, (_UNSET_NONE, _UNSET_LIST, _OTHERS))
_NONES = tuple(None for _ in _UNSET_NONE)
_EMPTY_LISTS: tuple[list[object], ...] = tuple([] for _ in _UNSET_LIST)


class _Member(NamedTuple):
    """A step that may share a template, read once: its shape and what sharing changes."""

    step: ir.Step
    renames: dict[str, str]  # input name -> its name in the shared template
    words: list[str | None]  # each command/args word's literal text, None if it reads a value
    renamed: list[int]  # the words that read an input whose name changes


def _renames(step: ir.Step) -> dict[str, str]:
    """Input names in a shared template: params and loop variables keep theirs (user code
    reads them by name through cnai_runtime), other steps' outputs are numbered."""
    return _read_inputs(step, _Seen())[0]


def _read_inputs(step: ir.Step, seen: _Seen) -> tuple[dict[str, str], tuple[object, ...]]:
    """_renames, and the inputs as the step's shape holds them (each one's name in the
    template and its type's name), in one loop over them."""
    renames: dict[str, str] = {}
    read = []
    type_names = seen.type_names
    for number, item in enumerate(step.inputs, start=1):
        name, source, type_ = item.name, item.source, item.type
        # An output, what most inputs read, is told by type() without reading its kind.
        if type(source) is ir.OutputRef or source.kind not in _KEEPS_NAME:
            # No kept name is spelled like a numbered one (below), and numbered names differ.
            renamed = renames[name] = (
                _NUMBERED[number] if number < len(_NUMBERED) else f"input{number}")
        elif name[:1] in "iI":  # perhaps spelled like a numbered name (ignoring case)
            renames = _renames_apart(step)
            return renames, tuple([(renames[i.name], type_names.get(id(i.type))
                                    or seen.type_name(i.type)) for i in step.inputs])
        else:
            renamed = renames[name] = name
        read.append((renamed, type_names.get(id(type_)) or seen.type_name(type_)))
    return renames, tuple(read)


# The numbered names of most steps' inputs, made once rather than for every input read.
_NUMBERED = tuple(f"input{number}" for number in range(64))


def _renames_apart(step: ir.Step) -> dict[str, str]:
    """_renames of a step where a kept name may be spelled like a numbered one: a numbered
    name takes the next free spelling (``input1_2``)."""
    inputs = step.inputs
    kept = {item.name for item in inputs if item.source.kind in _KEEPS_NAME}
    taken = {name.upper() for name in kept}
    renames = {}
    for number, item in enumerate(inputs, start=1):
        name = item.name
        renames[name] = name if name in kept else _unused(f"input{number}", taken)
    return renames


# The sources whose inputs keep their names in a shared template (params, loop variables and
# the pipeline's status), by kind: isinstance is slower on a model's class when it fails
# (pydantic's metaclass is an ABC's), and most inputs are other steps' outputs.
_KEEPS_NAME = ("param", "loop_var", "pipeline_status")


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
        return (cls, *_exact_items(value.__dict__.values(), _exact))
    if isinstance(value, list):
        return (list, *_exact_items(value, _exact))
    return (cls, repr(value))


def _exact_items(values: Iterable[object], exact: Callable[[object], object]) -> list[object]:
    """_exact of each of ``values``, with ``exact`` called only for values other than the
    commonest: None, a str or an int (themselves), a bool, an empty list or dict (a field's
    default, made anew for every step). Most of a model's fields are among them."""
    return [value if value is None or (cls := value.__class__) is str or cls is int
            else (bool, value) if cls is bool
            else _EMPTY_LIST if cls is list and not value
            else _EMPTY_DICT if cls is dict and not value
            else exact(value) for value in values]


_EMPTY_LIST: object = (list,)  # _exact([])
_EMPTY_DICT: object = (dict, "{}")  # _exact({})


# A text of one placeholder is read as its kind, its name, whether it reads an input, and its
# key in a shape when that name is kept.
_TextRead = str | tuple[str, str, bool, tuple[object, ...]]
_PIECES: _TextRead = ("", "", False, ())  # a text of several pieces that read values


class _Seen:
    """What the steps of one pipeline share, read once per pass: the checker gives many steps
    the same node (ir.SharedNodes, the pipeline's settings), and every input of a type the
    same Type. Keyed by the object's id, with the object held so that its id is not reused
    while the pass runs."""

    def __init__(self) -> None:
        self.exact: dict[int, tuple[object, object]] = {}  # id -> (object, _exact(object))
        self.spanless: dict[int, tuple[object, object]] = {}  # id -> (block, _spanless(block))
        self.type_names: dict[int, str] = {}  # id -> str(type), the type in held
        self.texts: dict[int, _TextRead] = {}  # id -> what _read needs of it, the text in held
        self.fields_sets: dict[int, set[str]] = {}  # id -> the set with _SHARING, the set held
        self.held: list[object] = []

    def fields_set_sharing(self, fields_set: set[str]) -> set[str]:
        """The fields set of a step _share makes from a step with ``fields_set``: made once
        for all the steps with that set (most steps share one, ir.SharedFieldsSet)."""
        found = self.fields_sets.get(id(fields_set))
        if found is None:
            self.held.append(fields_set)
            found = self.fields_sets[id(fields_set)] = (
                fields_set if fields_set >= _SHARING else ir.shared_fields_set(
                    fields_set | _SHARING))
        return found

    def settings(self, step: ir.Step) -> tuple[object, ...]:
        """The compared fields of ``step``: each as _exact gives it, or a group all unset as
        _UNSET."""
        values = step.__dict__
        nones, lists = _unset_none(values), _unset_list(values)
        return (self.exact_each(_others(values)),
                _UNSET if nones == _NONES else self.exact_each(nones),
                _UNSET if lists == _EMPTY_LISTS else self.exact_each(lists))

    def exact_each(self, values: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(_exact_items(values, self.exact_of))

    def exact_of(self, value: object) -> object:
        found = self.exact.get(id(value))
        if found is None:
            found = self.exact[id(value)] = (value, _exact(value))
        return found[1]

    def spanless_of(self, block: ir.Scheduling | ir.Security) -> object:
        """The block as compared: where the scheduling (or the security context) was written
        does not change the pod."""
        found = self.spanless.get(id(block))
        if found is None:
            found = self.spanless[id(block)] = (
                block, _exact(block.model_copy(update={"span": None})))
        return found[1]

    def text(self, text: ir.Text) -> _TextRead:
        """A command/args text as _read reads it: a literal word as its text, one placeholder
        as its kind, name and whether it reads an input, several pieces that read values as
        _PIECES (read anew for each step)."""
        parts = text.parts
        read: _TextRead
        # One placeholder first: most texts read here for the first time are an input read
        # by a few steps (the words are read once for every step holding them).
        if len(parts) == 1 and not isinstance(parts[0], str):
            kind, name = parts[0].kind, parts[0].name
            read = (kind, name, kind == "input", ((kind, name),))  # an InputValue's kind
        elif text.is_literal:
            read = text.literal
        else:
            read = _PIECES
        self.held.append(text)
        self.texts[id(text)] = read
        return read

    def type_name(self, type_: ir.Type) -> str:
        self.held.append(type_)
        name = self.type_names[id(type_)] = str(type_)
        return name


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


def _read(step: ir.Step, seen: _Seen) -> tuple[tuple[object, ...], _Member]:
    """The step's shape: the step without names and with every literal command/args word as
    a hole (steps of one shape share a template), compared as a tuple; and the step as a
    member of its shape."""
    renames, inputs = _read_inputs(step, seen)
    words: list[str | None] = []
    renamed: list[int] = []
    text_keys: list[object] = []
    read_text = seen.texts.get
    for position, text in enumerate(step.command + step.args):
        read = read_text(id(text))
        if read is None:
            read = seen.text(text)
        if isinstance(read, str):
            words.append(read)
            # The program (the first word) stays part of the shape: steps that run
            # different programs do not share a template, which would mislabel them in the
            # UI. Every other literal word is a hole.
            text_keys.append(_HOLE if position else read)
            continue
        words.append(None)
        if read is not _PIECES:  # one placeholder: what most such texts are
            kind, name, reads_input, unrenamed_key = read
            if reads_input and renames[name] != name:
                renamed.append(position)
                text_keys.append(((kind, renames[name]),))
            else:
                text_keys.append(unrenamed_key)
            continue
        # _text_key and _reads_renamed in one pass over the pieces.
        key: list[object] = []
        reads_renamed = False
        for part in text.parts:
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
    env = [(e.name, None if e.value is None else
            e.value.literal if e.value.is_literal else _text_key(e.value, renames),
            (e.secret.name, e.secret.key) if e.secret else None,
            (e.config_map.name, e.config_map.key) if e.config_map else None, e.field)
           for e in step.env] if step.env else []
    # The calls below only for what the pass has not seen yet.
    scheduling, security = step.scheduling, step.security
    names = seen.type_names
    shape = (seen.settings(step),
             None if scheduling is None else seen.spanless_of(scheduling),
             None if security is None else seen.spanless_of(security),
             tuple([(o.name, names.get(id(o.type)) or seen.type_name(o.type), o.path, o.stdout)
                    for o in step.outputs]),
             len(step.command), tuple(text_keys), tuple(env), inputs)
    return shape, _Member(step, renames, words, renamed)


def _renamed(text: ir.Text, renames: dict[str, str], nodes: ir.SharedNodes) -> ir.Text:
    """``text`` reading the inputs by their names in the template. Most such texts are one
    placeholder, equal in every step of a template: they are shared."""
    parts = text.parts
    if len(parts) == 1 and isinstance(parts[0], ir.InputValue):  # the usual: the input alone
        return nodes.text(nodes.input_value(renames[parts[0].name]))
    parts = [nodes.input_value(renames[part.name]) if isinstance(part, ir.InputValue) else part
             for part in parts]
    return nodes.text(parts[0]) if len(parts) == 1 else ir.Text.of(*parts)


def dedupe_templates(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    shapes: dict[tuple[object, ...], list[tuple[int, _Member]]] = {}
    lifting: set[int] = set()  # the shapes (by id) whose members' words differ
    steps = list(graph.steps)
    seen = _Seen()
    nodes = ir.SharedNodes()
    # Each shape's command and args in its template, made once (_texts), by the shape's list
    # of members (its id: held in `shapes` while the pass runs).
    made_texts: dict[int, tuple[list[ir.Text], list[ir.Text]]] = {}
    for position, step in enumerate(graph.steps):
        if step.kind not in DEDUPED_KINDS:
            continue
        shape, member = _read(step, seen)
        members = shapes.setdefault(shape, [])
        members.append((position, member))
        if len(members) == 1 or id(members) in lifting:
            continue
        # A step whose words are its shape's first step's (most) is shared as soon as it is
        # read, while it is at hand in memory: its template lifts no word. A shape whose
        # words differ is shared once all its steps are known (below).
        first_position, first = members[0]
        if member.words != first.words:
            lifting.add(id(members))
            continue
        template = first.step.k8s_name
        texts = made_texts.get(id(members))
        if texts is None:
            texts = made_texts[id(members)] = _texts(first, {}, nodes)
            steps[first_position] = _share(first, template, {}, nodes, texts, seen)
        steps[position] = _share(member, template, {}, nodes, texts, seen)
    shared = replaced = 0
    for members in shapes.values():
        if len(members) > 1:
            shared += 1
            replaced += len(members)
        if id(members) in lifting:
            template, lifted = _template([member for _, member in members])
            texts = _texts(members[0][1], lifted, nodes)
            for position, member in members:
                steps[position] = _share(member, template, lifted, nodes, texts, seen)
    if not shared:
        return graph
    plural = "template" if shared == 1 else "templates"
    ctx.explain.append(f"dedupe_templates: {replaced} steps share {shared} {plural}")
    return graph.model_copy(update={"steps": steps})


def _template(members: list[_Member]) -> tuple[str, dict[int, str]]:
    """The name of the template ``members`` share (their first's) and its arguments: the
    literal words that differ between the members, each with its name, by position."""
    first = members[0]
    # (A word that reads a value is None in every member: their shapes are the same.)
    lifted = [i for i, column in enumerate(zip(*(m.words for m in members), strict=True))
              if len(set(column)) > 1]
    taken = {name.upper() for name in first.renames.values()}
    return first.step.k8s_name, {word: _unused(f"arg{word + 1}", taken) for word in lifted}


def _texts(member: _Member, lifted: dict[int, str], nodes: ir.SharedNodes
           ) -> tuple[list[ir.Text], list[ir.Text]]:
    """The command and args of ``member``'s step in its shared template: the same texts for
    every member of its shape, whose shape holds each word that is not lifted and each
    placeholder with its input's name in the template. So they are made once per shape and
    the lists shared by its steps (no stage changes a list an IR node holds)."""
    step, renames = member.step, member.renames
    texts = step.command + step.args
    for position in member.renamed:
        texts[position] = _renamed(texts[position], renames, nodes)
    for position, name in lifted.items():
        texts[position] = nodes.text(nodes.input_value(name))
    count = len(step.command)
    return texts[:count], texts[count:]


def _share(member: _Member, template: str, lifted: dict[int, str], nodes: ir.SharedNodes,
           texts: tuple[list[ir.Text], list[ir.Text]], seen: _Seen) -> ir.Step:
    """The step running the shared template, with ``texts`` as its command and args (made by
    _texts for its shape's first step). What the renaming leaves unchanged (params' inputs,
    env) is kept as it is, as a shallow copy would; ``seen`` shares the new fields sets."""
    step, renames = member.step, member.renames
    inputs = []
    # renames holds the inputs' names in their order (each input once): no name read again.
    for item, (name, renamed) in zip(step.inputs, renames.items(), strict=True):
        inputs.append(item if renamed == name else ir.renamed_input(item, renamed))
    for position, name in lifted.items():
        value = member.words[position]
        assert value is not None  # only literal words differ
        inputs.append(ir.Input.of(name, ir.Literal_.of(value, _STRING), _STRING))
    env = step.env
    if env and any(var.value is not None and _reads_renamed(var.value, renames) for var in env):
        env = [var if var.value is None or not _reads_renamed(var.value, renames) else
               ir.updated(var, value=_renamed(var.value, renames, nodes)) for var in env]
    command, args = texts
    fields_set = seen.fields_set_sharing(step.__pydantic_fields_set__)
    return ir.copied(step, {"template": template, "inputs": inputs, "env": env,
                            "command": command, "args": args}, fields_set)


_SHARING = frozenset(("template", "inputs", "env", "command", "args"))  # what _share sets


_STRING = ir.Type(name="string")
