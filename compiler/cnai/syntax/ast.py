"""The syntax tree. Every node carries the span of the text it came from.

Nodes are never changed once the parser has made them (template expansion copies them with
``dataclasses.replace``), but for two things, each on a tree its owner hands over: a compile
hands its tree to the checker, which empties each step's body once the step is checked
(``release`` in semantics/checker.py), and the language server hands the tree of a text to
the parse of the next text, which moves its spans in place (syntax/incremental.py). They
are not frozen dataclasses: a
frozen dataclass sets each field through ``object.__setattr__``, and a parse makes one node
per name, literal and assignment (84,000 at 2,000 steps), which frozen made 25 ms slower.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.source import Span


class Node:
    """The base of every node. ``_depth`` is how deeply the node nests, recorded by the
    parser (syntax/to_ast.py) on nodes that hold others; a leaf has none (``depth`` reads 0).

    Every node has slots, no ``__dict__``: a 10,000-step parse makes 400,000 nodes, and a
    slotted node takes half the memory, which is most of the compiler's peak."""

    __slots__ = ("_depth",)
    span: Span  # each node's own field (they are dataclasses); declared here for the type
    _depth: int


def depth(node: Node) -> int:
    """How deeply ``node`` nests: 0 for a leaf, and for a node made outside the parser."""
    return getattr(node, "_depth", 0)


@dataclass(slots=True)
class Ident(Node):
    name: str
    span: Span
    quoted: bool = False  # a block's key written as a string: "cloud.google.com/gke-nodepool"


# ---- expressions -------------------------------------------------------------------------

@dataclass(slots=True)
class StringLit(Node):
    """A string literal; ``parts`` alternate literal text and ``${...}`` references."""

    parts: tuple[str | Ref, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        # A plain loop, not all(): the checker asks it of every string (as ir.Text does).
        for part in self.parts:  # noqa: SIM110
            if not isinstance(part, str):
                return False
        return True

    @property
    def text(self) -> str:
        """The literal text (only meaningful when ``is_plain``)."""
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], str):  # the usual string: one piece
            return parts[0]
        return "".join(p for p in parts if isinstance(p, str))


@dataclass(slots=True)
class IntLit(Node):
    value: int
    span: Span


@dataclass(slots=True)
class FloatLit(Node):
    value: float
    span: Span


@dataclass(slots=True)
class BoolLit(Node):
    value: bool
    span: Span


@dataclass(slots=True)
class ListLit(Node):
    items: tuple[Expr, ...]
    span: Span


@dataclass(slots=True)
class FieldValue(Node):
    """``NAME: value``, one field of a record literal."""

    name: Ident
    value: Expr
    span: Span


@dataclass(slots=True)
class RecordLit(Node):
    """``{lr: 0.1, batch: 32}``: a record's fields in the order written."""

    fields: tuple[FieldValue, ...]
    span: Span


@dataclass(slots=True)
class Ref(Node):
    """A dotted name: ``epochs``, ``train.model``, ``outputs.loss``, ``imagenet.path``."""

    parts: tuple[Ident, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(p.name for p in self.parts)


@dataclass(slots=True)
class Call(Node):
    func: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(slots=True)
class Compare(Node):
    op: str
    left: Expr
    right: Expr
    op_span: Span
    span: Span


@dataclass(slots=True)
class BoolOp(Node):
    """``and`` / ``or`` with all operands flattened: ``a and b and c`` has three."""

    op: str
    operands: tuple[Expr, ...]
    span: Span


def bool_operands(op: str, left: Expr, right: Expr) -> tuple[Expr, ...]:
    """The operands of ``left op right``, flattened: ``and``/``or`` are associative, so an
    operand that is itself an ``op`` gives its own operands (both parsers build these)."""
    operands: list[Expr] = []
    for value in (left, right):
        if isinstance(value, BoolOp) and value.op == op:
            operands.extend(value.operands)
        else:
            operands.append(value)
    return tuple(operands)


@dataclass(slots=True)
class Not(Node):
    operand: Expr
    span: Span


Expr = (StringLit | IntLit | FloatLit | BoolLit | ListLit | Ref | Call | Compare | BoolOp | Not
        | RecordLit)


# ---- declarations ------------------------------------------------------------------------

@dataclass(slots=True)
class TypeExpr(Node):
    """``int``, ``list[T]``, a record ``{lr: float}`` (named ``record``, spanning the braces)
    or ``metrics {accuracy: float}``; ``fields`` is None where no braces were written."""

    name: Ident
    arg: TypeExpr | None
    span: Span
    fields: tuple[FieldType, ...] | None = None


@dataclass(slots=True)
class FieldType(Node):
    """``NAME: TYPE``, one field of a record type."""

    name: Ident
    type: TypeExpr
    span: Span


@dataclass(slots=True)
class Assignment(Node):
    key: Ident
    value: Expr
    span: Span


@dataclass(slots=True)
class Block(Node):
    """``NAME { ... }``: resources, retry, env, scale, canary, circuit_breaker, scheduling..."""

    name: Ident
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(slots=True)
class MountDecl(Node):
    dataset: Ident
    span: Span


@dataclass(slots=True)
class OutputDecl(Node):
    name: Ident
    type: TypeExpr
    path: StringLit | None
    span: Span
    stream: Ident | None = None  # `at stdout`


@dataclass(slots=True)
class Argument(Node):
    name: Ident
    value: Expr
    span: Span


@dataclass(slots=True)
class UseDecl(Node):
    template: Ident
    args: tuple[Argument, ...]
    span: Span


@dataclass(slots=True)
class DistributedDecl(Node):
    framework: Ident
    items: tuple[BodyItem, ...]
    span: Span


BodyItem = Assignment | Block | MountDecl | OutputDecl | UseDecl | DistributedDecl


@dataclass(slots=True)
class ParamDecl(Node):
    name: Ident
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(slots=True)
class DatasetDecl(Node):
    name: Ident
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(slots=True)
class VolumeDecl(Node):
    """``volume NAME { ... }``: an existing claim, ConfigMap, Secret or scratch space."""

    name: Ident
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(slots=True)
class After(Node):
    """One item of ``after``: a step, and the outcome waited for (``train.failed``), if any."""

    step: Ident
    status: Ident | None
    span: Span


@dataclass(slots=True)
class StepDecl(Node):
    """A ``step`` or a ``service`` (``kind``): a header with ``after``/``when`` and a body."""

    kind: str
    name: Ident
    after: tuple[After, ...]
    when: Expr | None
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(slots=True)
class TemplateParam(Node):
    name: Ident
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(slots=True)
class FunctionSource:
    """A template made from a Python function (semantics/pyfunctions.py): the function's name,
    the module its file is imported as, and the file's text."""

    name: str
    module: str
    text: str
    returns: tuple[str, ...] = ()  # the outputs its return annotation gives
    span: Span | None = None  # the function's name in `def NAME(`


@dataclass(slots=True)
class TemplateDef(Node):
    name: Ident
    params: tuple[TemplateParam, ...]
    items: tuple[BodyItem, ...]
    span: Span
    file: str = ""
    function: FunctionSource | None = None  # a Python function's template (`import "x.py"`)


@dataclass(slots=True)
class ForBlock(Node):
    var: Ident
    iterable: Expr
    parallel: IntLit | None
    items: tuple[PipelineItem, ...]
    span: Span


@dataclass(slots=True)
class IfBlock(Node):
    """``if`` with an optional ``else``: another IfBlock (``else if``) or a tuple of items."""

    condition: Expr
    items: tuple[PipelineItem, ...]
    orelse: IfBlock | tuple[PipelineItem, ...] | None
    span: Span


@dataclass(slots=True)
class FinallyBlock(Node):
    items: tuple[PipelineItem, ...]
    span: Span


@dataclass(slots=True)
class PipelineOutput(Node):
    """``output NAME: TYPE = EXPR`` in a pipeline: what it gives a pipeline using it as a step."""

    name: Ident
    type: TypeExpr
    value: Expr
    span: Span


PipelineItem = (Assignment | Block | ParamDecl | DatasetDecl | VolumeDecl | StepDecl | TemplateDef
                | ForBlock | IfBlock | FinallyBlock | PipelineOutput)


@dataclass(slots=True)
class Pipeline(Node):
    name: Ident
    items: tuple[PipelineItem, ...]
    span: Span


@dataclass(slots=True)
class Import(Node):
    path: StringLit
    span: Span


@dataclass(slots=True)
class Module(Node):
    file: str
    imports: tuple[Import, ...] = ()
    pipelines: tuple[Pipeline, ...] = ()
    templates: tuple[TemplateDef, ...] = ()
    span: Span = field(kw_only=True)
