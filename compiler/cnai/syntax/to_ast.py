"""Build the AST while the parser runs: one callback per grammar rule, spans from the tokens.

The callbacks run inside the LALR driver (lalr.py), so no parse tree is built. lark's
``propagate_positions`` tripled the parse time, so spans come from the tokens instead: the
parser keeps every token (``keep_all_tokens``) and a node spans its first to its last child.
The parser calls these bottom-up without recursion; each node records its nesting depth, and
anything deeper than MAX_DEPTH is refused before any recursive walk sees it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from cnai.diagnostics import CompileError, DiagnosticBag
from cnai.limits import INT64_MAX
from cnai.limits import shown as _shown
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.lalr import Token

# Real pipelines are under 20 levels deep; 3,000-deep input must give a diagnostic.
MAX_DEPTH = 100

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "$": "$"}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_INTERPOLATION = re.compile(rf"\$\{{\s*({_NAME}(?:\s*\.\s*{_NAME})*)\s*\}}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


N = TypeVar("N", bound=ast.Node)
# A `${...}` reference as offsets from its string's opening quote: ((name, start, end), ...),
# then the reference's own start and end.
_RefShape = tuple[tuple[tuple[str, int, int], ...], int, int]


class _Part(NamedTuple):
    """An intermediate result (a clause), with the offsets it covers."""

    kind: str
    value: Any
    start: int
    end: int


def _bounds(item: Any) -> tuple[int, int] | None:
    if item.__class__ is Token or item.__class__ is _Part:
        return item.start, item.end
    span = getattr(item, "span", None)
    if isinstance(span, Span):
        return span.start, span.end
    return None


class AstBuilder:
    """The parser calls a method per rule with the rule's children (tokens and built nodes)."""

    def __init__(self) -> None:
        self.reset(SourceFile("", ""))

    def reset(self, source: SourceFile) -> None:
        self.source = source
        self.diagnostics = DiagnosticBag()
        # A plain string literal's parts, by its text with the quotes: a large pipeline
        # repeats the same strings ("python", "--lr", an image) on every step. (syntax/descent.py
        # reads it too: a text with `{{` has had its diagnostic the first time, and a
        # diagnostic sends the parse to the LALR path.)
        self.plain_strings: dict[str, tuple[str | ast.Ref, ...]] = {}
        # A string with `${...}` read before without a diagnostic, by its text: its pieces,
        # each reference as its names' and its own offsets from the opening quote. Every
        # step of a large pipeline spells "${lr}"; its nodes are made anew (their spans
        # differ), but the text is not scanned again.
        self.interpolated: dict[str, tuple[str | _RefShape, ...]] = {}

    # ---- helpers ------------------------------------------------------------------------

    def _span(self, children: Sequence[Any]) -> Span:
        """From the first child's start to the last child's end (placeholders skipped)."""
        if children:  # the common shapes first: `keyword ... }`, `name = value`
            head, tail = children[0], children[-1]
            start = head.start if head.__class__ is Token else (
                head.span.start if isinstance(head, ast.Node) else None)
            end = tail.end if tail.__class__ is Token else (
                tail.span.end if isinstance(tail, ast.Node) else None)
            if start is not None and end is not None:
                return Span(self.source, start, max(start, end))
        first = last = None
        for child in children:
            first = _bounds(child)
            if first is not None:
                break
        if first is None:
            return self.source.span(0, 0)
        for child in reversed(children):
            last = _bounds(child)
            if last is not None:
                break
        assert last is not None
        return Span(self.source, first[0], max(first[0], last[1]))

    def _node(self, node: N, children: Sequence[Any]) -> N:
        # getattr as ast.depth does, inline: this runs for every node that holds others.
        depth = 1 + max([getattr(c, "_depth", 0) for c in children if isinstance(c, ast.Node)],
                        default=0)
        if depth > MAX_DEPTH:
            bag = DiagnosticBag()
            start = (_bounds(node) or (0, 0))[0]
            bag.error("E0008", f"nesting too deep (more than {MAX_DEPTH} levels)",
                      self.source.span(start, start + 1), "nested too deeply here",
                      help=["split the expression, list or block into smaller named parts"])
            raise CompileError(bag.sorted())
        node._depth = depth
        return node

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(token.value, Span(self.source, token.start, token.end))

    @staticmethod
    def _names(children: Sequence[Any]) -> list[Token]:
        return [c for c in children if isinstance(c, Token) and c.type == "NAME"]

    @staticmethod
    def _parts(children: Sequence[Any], kind: str) -> list[_Part]:
        return [c for c in children if isinstance(c, _Part) and c.kind == kind]

    def _part(self, kind: str, value: Any, children: Sequence[Any]) -> _Part:
        span = self._span(children)
        part = _Part(kind, value, span.start, span.end)
        return part

    @staticmethod
    def _items(children: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(c for c in children if c is not None and not isinstance(c, (Token, _Part)))

    # ---- module -------------------------------------------------------------------------

    def start(self, children: list[Any]) -> ast.Module:
        items = self._items(children)
        return ast.Module(
            file=self.source.path,
            imports=tuple(i for i in items if isinstance(i, ast.Import)),
            pipelines=tuple(i for i in items if isinstance(i, ast.Pipeline)),
            templates=tuple(i for i in items if isinstance(i, ast.TemplateDef)),
            span=self.source.span(0, len(self.source.text)))

    def import_decl(self, children: list[Any]) -> ast.Import:
        path = next(c for c in children if isinstance(c, Token) and c.type == "STRING")
        return self._node(ast.Import(self.string_token(path), self._span(children)), children)

    def pipeline(self, children: list[Any]) -> ast.Pipeline:
        (name,) = self._names(children)
        node = ast.Pipeline(self._ident(name), self._items(children), self._span(children))
        return self._node(node, children)

    # ---- declarations -------------------------------------------------------------------

    def param_decl(self, children: list[Any]) -> ast.ParamDecl:
        (name,) = self._names(children)
        type_expr = next(c for c in children if isinstance(c, ast.TypeExpr))
        default = self._parts(children, "default")
        node = ast.ParamDecl(self._ident(name), type_expr, default[0].value if default else None,
                             self._span(children))
        return self._node(node, children)

    def pipeline_output(self, children: list[Any]) -> ast.PipelineOutput:
        declared = self.param_decl(children)
        assert declared.default is not None  # the grammar requires it
        node = ast.PipelineOutput(declared.name, declared.type, declared.default, declared.span)
        return self._node(node, [declared.type])

    def template_param(self, children: list[Any]) -> ast.TemplateParam:
        declared = self.param_decl(children)
        return ast.TemplateParam(declared.name, declared.type, declared.default, declared.span)

    def default(self, children: list[Any]) -> _Part:
        return self._part("default", children[-1], children)

    def type_name(self, children: list[Any]) -> ast.Ident:
        return self._ident(children[0])

    def type_expr(self, children: list[Any]) -> ast.TypeExpr:
        record = self._parts(children, "record")
        fields: tuple[ast.FieldType, ...] | None = record[0].value if record else None
        name = children[0]
        if isinstance(name, _Part):  # `{...}` alone: a record, named for its braces
            name = ast.Ident("record", Span(self.source, name.start, name.end))
        arg = next((c for c in children if isinstance(c, ast.TypeExpr)), None)
        node = ast.TypeExpr(name, arg, self._span(children), fields)
        return self._node(node, [*children, *(fields or ())])  # the fields count for the depth

    def record_type(self, children: list[Any]) -> _Part:
        fields = tuple(c for c in children if isinstance(c, ast.FieldType))
        return self._part("record", fields, children)

    def field_type(self, children: list[Any]) -> ast.FieldType:
        node = ast.FieldType(self._ident(children[0]), children[-1], self._span(children))
        return self._node(node, children)

    def dataset_decl(self, children: list[Any]) -> ast.DatasetDecl:
        name = self._names(children)[0]
        node = ast.DatasetDecl(self._ident(name), self._items(children), self._span(children))
        return self._node(node, children)

    def volume_decl(self, children: list[Any]) -> ast.VolumeDecl:
        name = self._names(children)[0]
        node = ast.VolumeDecl(self._ident(name), self._items(children), self._span(children))
        return self._node(node, children)

    def _step(self, children: list[Any], kind: str) -> ast.StepDecl:
        name = self._names(children)[0]
        after = self._parts(children, "after")
        when = self._parts(children, "when")
        node = ast.StepDecl(kind, self._ident(name), after[0].value if after else (),
                            when[0].value if when else None, self._items(children),
                            self._span(children))
        return self._node(node, children)

    def step_decl(self, children: list[Any]) -> ast.StepDecl:
        return self._step(children, "step")

    def service_decl(self, children: list[Any]) -> ast.StepDecl:
        return self._step(children, "service")

    def after_clause(self, children: list[Any]) -> _Part:
        items = tuple(c for c in children if isinstance(c, ast.After))
        return self._part("after", items, children)

    def after_item(self, children: list[Any]) -> ast.After:
        names = self._names(children)
        return ast.After(self._ident(names[0]), self._ident(names[1]) if len(names) > 1 else None,
                         self._span(children))

    def when_clause(self, children: list[Any]) -> _Part:
        return self._part("when", children[-1], children)

    def template_def(self, children: list[Any]) -> ast.TemplateDef:
        name = self._names(children)[0]
        params = tuple(c for c in children if isinstance(c, ast.TemplateParam))
        items = tuple(i for i in self._items(children) if not isinstance(i, ast.TemplateParam))
        node = ast.TemplateDef(self._ident(name), params, items, self._span(children),
                               file=self.source.path)
        return self._node(node, children)

    def for_block(self, children: list[Any]) -> ast.ForBlock:
        var = self._names(children)[0]
        iterable = children[3]
        parallel = self._parts(children, "parallel")
        items = tuple(i for i in self._items(children) if i is not iterable)
        node = ast.ForBlock(self._ident(var), iterable, parallel[0].value if parallel else None,
                            items, self._span(children))
        return self._node(node, children)

    def parallel_clause(self, children: list[Any]) -> _Part:
        count = children[-1]
        literal = ast.IntLit(self._integer(count), self._span([count]))
        return self._part("parallel", literal, children)

    def if_block(self, children: list[Any]) -> ast.IfBlock:
        condition = children[1]
        orelse = self._parts(children, "else")
        items = tuple(i for i in self._items(children) if i is not condition)
        node = ast.IfBlock(condition, items, orelse[0].value if orelse else None,
                           self._span(children))
        # An `else if` is the next link of one chain, not a block nested in this one: the
        # chain is as deep as its deepest branch (semantics walks a chain in a loop).
        node = self._node(node, children)
        if orelse and isinstance(orelse[0].value, ast.IfBlock):
            link: ast.Node = node  # the slot is Node's (mypy looks for it on IfBlock)
            link._depth = max(node._depth, ast.depth(orelse[0].value))
        return node

    def else_clause(self, children: list[Any]) -> _Part:
        branch = children[-1]
        value = branch.value if isinstance(branch, _Part) else branch
        part = self._part("else", value, children)
        return part

    def else_body(self, children: list[Any]) -> _Part:
        return self._part("else_body", self._items(children), children)

    def finally_block(self, children: list[Any]) -> ast.FinallyBlock:
        return self._node(ast.FinallyBlock(self._items(children), self._span(children)), children)

    # ---- body items ---------------------------------------------------------------------

    def field_name(self, children: list[Any]) -> ast.Ident:
        token = children[0]
        if token.type != "STRING":
            return self._ident(token)
        # A quoted key is the user's own (a label, an annotation): plain text, no `${...}`.
        text = self.string_token(token)
        if not text.is_plain:
            self.diagnostics.error("E0201", "a quoted key cannot interpolate `${...}`",
                                   text.span, "interpolation in a key",
                                   help=["write the key as plain text"])
        return ast.Ident(text.text if text.is_plain else token.value[1:-1], text.span,
                         quoted=True)

    def assignment(self, children: list[Any]) -> ast.Assignment:
        key, _, value = children
        return self._node(ast.Assignment(key, value, self._span(children)), children)

    def block(self, children: list[Any]) -> ast.Block:
        name = children[0]
        node = ast.Block(name, self._items(children[1:]), self._span(children))
        return self._node(node, children)

    def mount_decl(self, children: list[Any]) -> ast.MountDecl:
        name = self._names(children)[0]
        return ast.MountDecl(self._ident(name), self._span(children))

    def output_decl(self, children: list[Any]) -> ast.OutputDecl:
        name = self._names(children)[0]
        type_expr = next(c for c in children if isinstance(c, ast.TypeExpr))
        path = self._parts(children, "path")
        stream = self._parts(children, "stream")
        return ast.OutputDecl(self._ident(name), type_expr, path[0].value if path else None,
                              self._span(children), stream[0].value if stream else None)

    def output_path(self, children: list[Any]) -> _Part:
        return self._part("path", self.string_token(children[-1]), children)

    def output_stream(self, children: list[Any]) -> _Part:
        return self._part("stream", self._ident(self._names(children)[0]), children)

    def use_decl(self, children: list[Any]) -> ast.UseDecl:
        name = self._names(children)[0]
        args = tuple(c for c in children if isinstance(c, ast.Argument))
        return self._node(ast.UseDecl(self._ident(name), args, self._span(children)), children)

    def argument(self, children: list[Any]) -> ast.Argument:
        name, _, value = children
        return self._node(ast.Argument(self._ident(name), value, self._span(children)), children)

    def distributed_decl(self, children: list[Any]) -> ast.DistributedDecl:
        name = self._names(children)[0]
        node = ast.DistributedDecl(self._ident(name), self._items(children), self._span(children))
        return self._node(node, children)

    # ---- expressions --------------------------------------------------------------------

    def _bool_op(self, children: list[Any], op: str) -> ast.BoolOp:
        left, right = children[0], children[-1]
        return self._node(ast.BoolOp(op, ast.bool_operands(op, left, right),
                                     self._span(children)), children)

    def or_op(self, children: list[Any]) -> ast.BoolOp:
        return self._bool_op(children, "or")

    def and_op(self, children: list[Any]) -> ast.BoolOp:
        return self._bool_op(children, "and")

    def not_op(self, children: list[Any]) -> ast.Not:
        return self._node(ast.Not(children[-1], self._span(children)), children)

    def compare(self, children: list[Any]) -> ast.Compare:
        left, op, right = children
        node = ast.Compare(op.value, left, right, self._span([op]), self._span(children))
        return self._node(node, children)

    def paren(self, children: list[Any]) -> Any:
        return children[1]  # grouping adds no node, so no depth

    def string_lit(self, children: list[Any]) -> ast.StringLit:
        return self.string_token(children[0])

    def int_lit(self, children: list[Any]) -> ast.IntLit:
        return ast.IntLit(self._integer(children[0]), self._span(children))

    def _integer(self, token: Token) -> int:
        """An integer literal's value; past int64 (what Argo, Kubeflow and Kubernetes hold)
        it is an error, checked before ``int()``, which refuses over 4,300 digits."""
        text = token.value
        if len(text.lstrip("0")) <= len(str(INT64_MAX)) and int(text) <= INT64_MAX:
            return int(text)
        self.diagnostics.error("E0208", f"{_shown(text)} is too large for an integer",
                               self._span([token]), "out of range",
                               help=[f"integers are 64-bit: up to {INT64_MAX}"])
        return 0

    def float_lit(self, children: list[Any]) -> ast.FloatLit:
        value = float(children[0].value)
        if math.isinf(value):
            self.diagnostics.error("E0208", f"{_shown(children[0].value)} is too large for a "
                                   "number", self._span(children), "out of range",
                                   help=["numbers are 64-bit floats: up to about 1.8e308"])
            value = 0.0
        return ast.FloatLit(value, self._span(children))

    def true_lit(self, children: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(True, self._span(children))

    def false_lit(self, children: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(False, self._span(children))

    def ref(self, children: list[Any]) -> ast.Ref:
        parts = tuple(self._ident(t) for t in children if isinstance(t, Token) and t.type != "DOT")
        return ast.Ref(parts, self._span(children))

    def call(self, children: list[Any]) -> ast.Call:
        args = tuple(self._items(children[1:]))
        node = ast.Call(self._ident(children[0]), args, self._span(children))
        return self._node(node, children)

    def list_lit(self, children: list[Any]) -> ast.ListLit:
        return self._node(ast.ListLit(self._items(children), self._span(children)), children)

    def record_lit(self, children: list[Any]) -> ast.RecordLit:
        return self._node(ast.RecordLit(self._items(children), self._span(children)), children)

    def field_value(self, children: list[Any]) -> ast.FieldValue:
        node = ast.FieldValue(self._ident(children[0]), children[-1], self._span(children))
        return self._node(node, children)

    # ---- string literals ----------------------------------------------------------------

    def string_token(self, token: Token) -> ast.StringLit:
        """Decode escapes and split out ``${ref}`` interpolations, with exact spans."""
        raw = token.value
        start = token.start
        span = Span(self.source, start, token.end)
        braces = raw.find("{{")
        if braces != -1:
            self.diagnostics.error(
                "E0208", "`{{` in a string: Argo and Kubeflow read it as the start of a "
                "placeholder", self.source.span(start + braces, start + braces + 2),
                "placeholder syntax", help=["write `{ {`, or build the text inside the "
                                            "container"])
        plain = self.plain_strings.get(raw)
        if plain is not None:
            return ast.StringLit(plain, span)
        if "\\" not in raw and "${" not in raw:  # the common case, fast
            plain = self.plain_strings[raw] = (raw[1:-1],)
            return ast.StringLit(plain, span)
        shape = self.interpolated.get(raw)
        if shape is not None:
            return self.interpolation(shape, start, token.end)
        reported = len(self.diagnostics.items)
        base = start + 1  # offset of the first character inside the quotes
        body = raw[1:-1]
        parts: list[str | ast.Ref] = []
        text: list[str] = []
        i = 0
        while i < len(body):
            char = body[i]
            if char == "\\":
                escaped = body[i + 1] if i + 1 < len(body) else ""
                if escaped in _ESCAPES:
                    text.append(_ESCAPES[escaped])
                else:
                    self.diagnostics.error(
                        "E0006", f"invalid escape sequence `\\{escaped}` in string",
                        self.source.span(base + i, base + i + 2), "unknown escape",
                        help=['the escapes are \\" \\\\ \\n \\t and \\$ (a literal `$`)'])
                i += 2
                continue
            if body.startswith("${", i):
                match = _INTERPOLATION.match(body, i)
                if match is None:
                    close = body.find("}", i)
                    end = len(body) if close == -1 else close + 1
                    self.diagnostics.error(
                        "E0007", "invalid interpolation: `${` must hold a name like `${epochs}` "
                        "or `${train.loss}`", self.source.span(base + i, base + end),
                        "not a reference", help=["write `\\$` for a literal dollar sign"])
                    i = end
                    continue
                if text:
                    parts.append("".join(text))
                    text = []
                parts.append(self._interpolated_ref(match, base))
                i = match.end()
                continue
            text.append(char)
            i += 1
        if text or not parts:
            parts.append("".join(text))
        if len(self.diagnostics.items) == reported and braces == -1:
            self.interpolated[raw] = tuple(
                piece if isinstance(piece, str) else (
                    tuple((i.name, i.span.start - start, i.span.end - start)
                          for i in piece.parts), piece.span.start - start, piece.span.end - start)
                for piece in parts)
        return ast.StringLit(tuple(parts), span)

    def interpolation(self, shape: tuple[str | _RefShape, ...], start: int,
                      end: int) -> ast.StringLit:
        """The string at ``start``..``end`` whose text ``interpolated`` holds as ``shape``."""
        source = self.source
        parts: list[str | ast.Ref] = []
        for piece in shape:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            names, ref_start, ref_end = piece
            if len(names) == 1:  # `${lr}`: most are one name
                # One name spans the whole reference (_INTERPOLATION's group 1), so one span
                # serves both, as in the descent's references.
                ((name, first, last),) = names
                span = Span(source, start + first, start + last)
                parts.append(ast.Ref((ast.Ident(name, span),), span))
                continue
            idents: list[ast.Ident] = []
            for name, first, last in names:
                idents.append(ast.Ident(name, Span(source, start + first, start + last)))
            parts.append(ast.Ref(tuple(idents), Span(source, start + ref_start,
                                                     start + ref_end)))
        return ast.StringLit(tuple(parts), Span(source, start, end))

    def _interpolated_ref(self, match: re.Match[str], base: int) -> ast.Ref:
        idents = tuple(ast.Ident(name.group(), self.source.span(base + name.start(),
                                                                base + name.end()))
                       for name in _IDENT.finditer(match.string, match.start(1), match.end(1)))
        return ast.Ref(idents, self.source.span(base + match.start(1), base + match.end(1)))
