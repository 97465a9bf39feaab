"""The syntax tree. Every node carries the span of the text it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.source import Span


@dataclass(frozen=True)
class Ident:
    name: str
    span: Span


# ---- expressions -------------------------------------------------------------------------

@dataclass(frozen=True)
class StringLit:
    """A string literal; ``parts`` alternate literal text and ``${...}`` references."""

    parts: tuple[str | Ref, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def text(self) -> str:
        """The literal text (only meaningful when ``is_plain``)."""
        return "".join(p for p in self.parts if isinstance(p, str))


@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True)
class FloatLit:
    value: float
    span: Span


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(frozen=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Ref:
    """A dotted name: ``epochs``, ``train.model``, ``outputs.loss``, ``imagenet.path``."""

    parts: tuple[Ident, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(p.name for p in self.parts)


@dataclass(frozen=True)
class Call:
    func: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    op_span: Span
    span: Span


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` with all operands flattened: ``a and b and c`` has three."""

    op: str
    operands: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span


Expr = StringLit | IntLit | FloatLit | BoolLit | ListLit | Ref | Call | Compare | BoolOp | Not


# ---- declarations ------------------------------------------------------------------------

@dataclass(frozen=True)
class TypeExpr:
    name: Ident
    arg: TypeExpr | None
    span: Span


@dataclass(frozen=True)
class Assignment:
    key: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Block:
    """``NAME { ... }``: resources, retry, env, scale, canary, circuit_breaker, scheduling..."""

    name: Ident
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(frozen=True)
class MountDecl:
    dataset: Ident
    span: Span


@dataclass(frozen=True)
class OutputDecl:
    name: Ident
    type: TypeExpr
    path: StringLit | None
    span: Span


@dataclass(frozen=True)
class Argument:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class UseDecl:
    template: Ident
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True)
class DistributedDecl:
    framework: Ident
    items: tuple[BodyItem, ...]
    span: Span


BodyItem = Assignment | Block | MountDecl | OutputDecl | UseDecl | DistributedDecl


@dataclass(frozen=True)
class ParamDecl:
    name: Ident
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class DatasetDecl:
    name: Ident
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(frozen=True)
class StepDecl:
    """A ``step`` or a ``service`` (``kind``): a header with ``after``/``when`` and a body."""

    kind: str
    name: Ident
    after: tuple[Ident, ...]
    when: Expr | None
    items: tuple[BodyItem, ...]
    span: Span


@dataclass(frozen=True)
class TemplateParam:
    name: Ident
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class TemplateDef:
    name: Ident
    params: tuple[TemplateParam, ...]
    items: tuple[BodyItem, ...]
    span: Span
    file: str = ""


@dataclass(frozen=True)
class ForBlock:
    var: Ident
    iterable: Expr
    parallel: IntLit | None
    items: tuple[PipelineItem, ...]
    span: Span


@dataclass(frozen=True)
class IfBlock:
    """``if`` with an optional ``else``: another IfBlock (``else if``) or a tuple of items."""

    condition: Expr
    items: tuple[PipelineItem, ...]
    orelse: IfBlock | tuple[PipelineItem, ...] | None
    span: Span


@dataclass(frozen=True)
class FinallyBlock:
    items: tuple[PipelineItem, ...]
    span: Span


PipelineItem = (Assignment | Block | ParamDecl | DatasetDecl | StepDecl | TemplateDef | ForBlock
                | IfBlock | FinallyBlock)


@dataclass(frozen=True)
class Pipeline:
    name: Ident
    items: tuple[PipelineItem, ...]
    span: Span


@dataclass(frozen=True)
class Import:
    path: StringLit
    span: Span


@dataclass(frozen=True)
class Module:
    file: str
    imports: tuple[Import, ...] = ()
    pipelines: tuple[Pipeline, ...] = ()
    templates: tuple[TemplateDef, ...] = ()
    span: Span | None = field(default=None)
