"""A one-pass recursive-descent parser: the same tokens, the same AST as the LALR path.

The LALR driver (lalr.py) spends most of a large parse on its tables: a state lookup per
token, a reduction per rule with its child list built and filtered, and to_ast.py's
callbacks working out which child is which. Over the same tokens (scanned a chunk at a
time, ``_tokens``), this parser reads each rule's shape directly and builds each node once,
with the span, nesting depth and values AstBuilder would give it (AstBuilder still decodes
strings, floats and integers of _SHORT_INT digits or more).

It accepts only well-formed input: on the first token it does not expect, on a character no
token starts with, on anything nested deeper than the LALR path would take without
recursion, and when AstBuilder has recorded any diagnostic, ``descend`` returns None and
parser.py runs the LALR path, which is the reference (its diagnostics are the only ones).
tests/test_descent.py holds the two parsers to the same tree, and the same refusals.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from functools import cache
from itertools import accumulate, chain, islice, repeat

from cnai.limits import INT64_MAX
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.lalr import Token
from cnai.syntax.tables import Tables
from cnai.syntax.to_ast import MAX_DEPTH, AstBuilder

# The terminals whose text varies (lexer._ORDER), and comments, by a token's first character;
# a keyword or punctuation is looked up whole first (its kind is its text), so `=` is not
# COMP_OP. A number is an INT unless its text says FLOAT; it may start with any digit the
# regex's `\d` takes, not only an ASCII one, so a first character not listed is a number's.
_FIRST = {
    **dict.fromkeys(string.ascii_letters + "_", "NAME"), '"': "STRING",
    **dict.fromkeys(string.digits + "-", "INT"), **dict.fromkeys("=!<>", "COMP_OP"),
    "#": "COMMENT"}
# Lines of text split at a time: the tokens of one chunk are held at once, not the file's.
_CHUNK = 1 << 15
# Tokens one match of the split takes at most (see _tokens).
_PER_MATCH = 8
_STRIDE = 1 + 2 * _PER_MATCH  # a match's pieces: what is before it, blanks and a token each
_FIELD_NAMES = frozenset(("NAME", "STRING", "resources", "retry", "scheduling", "quota"))
# The keywords a body's key may be, read as a NAME key is (field_name).
_KEYWORD_KEYS = _FIELD_NAMES - {"NAME", "STRING"}
# Recursion (blocks, expressions, types) deeper than this goes to the LALR path, which takes
# any depth without recursing and refuses over MAX_DEPTH with E0008.
_NESTING = MAX_DEPTH
_END = "$END"

_new_token = tuple.__new__


class _Unexpected(Exception):
    """Anything the descent does not take: the LALR path parses the text instead."""


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def descend(tables: Tables, builder: AstBuilder) -> ast.Module | None:
    """The module for ``builder.source``, or None where the LALR path must decide."""
    try:
        module = _Descent(tables, builder).module()
    except (_Unexpected, RecursionError):
        return None
    if builder.diagnostics.items:
        return None
    return module


def descend_step(tables: Tables, builder: AstBuilder, start: int, end: int,
                 nesting: int) -> ast.StepDecl | None:
    """The step or service declared by exactly ``builder.source.text[start:end]``, parsed as
    if ``nesting`` blocks enclosed it, or None where a whole parse must decide (what
    syntax/incremental.py reuses a tree with)."""
    try:
        descent = _Descent(tables, builder, start, end)
        descent.nesting = nesting
        kind = descent.kind
        if kind != "step" and kind != "service":
            return None
        step = descent.step_decl(kind)
    except (_Unexpected, RecursionError):
        return None
    if descent.kind != _END or builder.diagnostics.items:
        return None
    return step


# An integer of fewer digits is within int64 (what AstBuilder._integer checks), so int()
# reads it without the check.
_SHORT_INT = len(str(INT64_MAX))


def _depth(node: ast.Node) -> int:
    return getattr(node, "_depth", 0)


def _tokens(tables: Tables, text: str, start: int, stop: int
            ) -> Iterator[Iterator[tuple[str, str, int, int]]]:
    """The tokens of ``text[start:stop]`` as (kind, text, start, end), some lines at a time,
    then the end of the text for ever.

    Python does little per token: the tokens of a chunk are found, and their kinds, texts
    and offsets listed, by C loops (re.split, map, accumulate; a text's kind is worked out
    once), and the parser takes each with one tuple unpacking. A chunk ends after a
    newline, which no token spans.
    Each match takes the blanks before its token too (no token starts with a blank, so the
    tokens are the same): a search that starts at a blank then succeeds there, where the
    token's pattern alone is tried and fails at every blank, alternative by alternative.
    A match takes up to _PER_MATCH tokens: a match costs the engine more than a token in it
    does (CPython 3.11 starts a search, and allocates and frees the engine's stack, for
    each). The first token is required and the others each may be empty (`|`, which costs
    the engine less than `?`), so a match is found wherever a token is, as one token a
    match would be (a required count of tokens, missing at a chunk's end, made the search
    try every later position, each as far as a token reaches: quadratic in a long string);
    a group of a token not taken is None, and once one is not taken, no later one is.
    Raises _Unexpected for a character no token starts with (split leaves it between two
    matches, where nothing may be but the blanks after the last token)."""
    token = f"({tables.blanks}){tables.tokens}"
    split = _compiled(token + f"(?:{token}|)" * (_PER_MATCH - 1)).split
    blanks = _compiled(tables.blanks).fullmatch
    # Each distinct text's kind, found once: a keyword's or punctuation's is its text.
    kinds_of: dict[str, str] = {text: text for text in (*tables.keywords, *tables.punctuation)}
    names: dict[str, str] = {}  # one string per distinct name (and text), as the LALR path
    position = start
    while position < stop:
        cut = text.find("\n", position + _CHUNK, stop)
        cut = stop if cut == -1 else cut + 1
        chunk = text[position:cut]
        # between, blanks, token, blanks, token, ..., between, blanks, token, ..., the rest
        pieces = split(chunk)
        # Nothing may be between two matches, and only blanks after the last: the offsets
        # are then counted over blanks and tokens alone (fewer int objects to make, which
        # were most of accumulate's time).
        if "".join(pieces[:-1:_STRIDE]) or blanks(pieces[-1]) is None:
            raise _Unexpected
        del pieces[::_STRIDE]
        # A match takes fewer tokens only where none follows, which is at the chunk's end
        # (anything else there is between two matches): only the last has None groups.
        while pieces and pieces[-1] is None:
            del pieces[-2:]
        values = pieces[1::2]
        known = len(names)
        values = list(map(names.setdefault, values, values))
        for value in islice(names, known, None):  # the texts met first in this chunk
            if value not in kinds_of:
                kind = _FIRST.get(value[0], "INT")
                if kind == "INT" and not value.lstrip("-").isdecimal():
                    kind = "FLOAT"
                kinds_of[value] = kind
        kinds = list(map(kinds_of.__getitem__, values))
        offsets = list(accumulate(map(len, pieces), initial=position))
        tokens = zip(kinds, values, offsets[1::2], offsets[2::2], strict=True)
        if "#" in chunk and "COMMENT" in kinds:  # (a `#` in a string makes no comment)
            yield (token for token in tokens if token[0] != "COMMENT")
        else:
            yield tokens
        position = cut
    yield repeat((_END, "", stop, stop))


class _Descent:
    def __init__(self, tables: Tables, builder: AstBuilder, start: int = 0,
                 end: int = -1) -> None:
        """Tokens of ``builder.source.text[start:end]`` (``end`` -1: to the end of the text)."""
        self.builder = builder
        self.source: SourceFile = builder.source
        self.text: str = self.source.text
        self.length = len(self.text) if end == -1 else end  # where the tokens end
        self.next_token: Callable[[], tuple[str, str, int, int]] = chain.from_iterable(
            _tokens(tables, self.text, start, self.length)).__next__
        self.plain = builder.plain_strings
        self.interpolated = builder.interpolated
        self.nesting = 0
        # The current token: its kind (a terminal's name, or a keyword's or punctuation's
        # text), its text and its offsets.
        self.kind = _END
        self.value = ""
        self.start = 0
        self.end = 0
        self.advance()

    # ---- tokens -------------------------------------------------------------------------

    def advance(self) -> None:
        # Inline (this one line) where most tokens are taken: a call costs more than it does.
        self.kind, self.value, self.start, self.end = self.next_token()

    def expect(self, kind: str) -> int:
        """Take a token of ``kind``; its end offset."""
        if self.kind != kind:
            raise _Unexpected
        end = self.end
        self.kind, self.value, self.start, self.end = self.next_token()
        return end

    def token(self) -> Token:
        return _new_token(Token, (self.kind, self.value, self.start, self.end))

    def name(self) -> ast.Ident:
        if self.kind != "NAME":
            raise _Unexpected
        ident = ast.Ident(self.value, Span(self.source, self.start, self.end))
        self.kind, self.value, self.start, self.end = self.next_token()
        return ident

    def string(self) -> ast.StringLit:
        if self.kind != "STRING":
            raise _Unexpected
        # A string seen before, as string_token finds it.
        parts = self.plain.get(self.value)
        if parts is not None:
            literal = ast.StringLit(parts, Span(self.source, self.start, self.end))
        else:
            shape = self.interpolated.get(self.value)
            if shape is not None:
                literal = self.builder.interpolation(shape, self.start, self.end)
            else:
                literal = self.builder.string_token(self.token())
        self.kind, self.value, self.start, self.end = self.next_token()
        return literal

    def deeper(self) -> None:
        self.nesting += 1
        if self.nesting > _NESTING:
            raise _Unexpected

    @staticmethod
    def nest(node: ast.Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Unexpected  # E0008, which the LALR path reports
        node._depth = depth

    # ---- module -------------------------------------------------------------------------

    def module(self) -> ast.Module:
        imports: list[ast.Import] = []
        pipelines: list[ast.Pipeline] = []
        templates: list[ast.TemplateDef] = []
        while self.kind != _END:
            kind = self.kind
            if kind == "pipeline":
                pipelines.append(self.pipeline())
            elif kind == "template":
                templates.append(self.template_def())
            elif kind == "import":
                start = self.start
                self.advance()
                path = self.string()
                node = ast.Import(path, Span(self.source, start, path.span.end))
                self.nest(node, 1)
                imports.append(node)
            else:
                raise _Unexpected
        return ast.Module(file=self.source.path, imports=tuple(imports),
                          pipelines=tuple(pipelines), templates=tuple(templates),
                          span=self.source.span(0, self.length))

    def pipeline(self) -> ast.Pipeline:
        start = self.start
        self.advance()
        name = self.name()
        self.expect("{")
        items, depth = self.pipeline_items()
        node = ast.Pipeline(name, items, Span(self.source, start, self.expect("}")))
        self.nest(node, depth + 1)
        return node

    def pipeline_items(self) -> tuple[tuple[ast.PipelineItem, ...], int]:
        """The items up to a `}` (not taken), and the deepest item's depth."""
        self.deeper()
        items: list[ast.PipelineItem] = []
        deepest = 0
        while True:
            kind = self.kind
            item: ast.PipelineItem
            if kind == "step" or kind == "service":
                item = self.step_decl(kind)
            elif kind in _FIELD_NAMES:
                item = self.field_item()
            elif kind == "param":
                item = self.param_decl()
            elif kind == "output":
                item = self.pipeline_output()
            elif kind == "dataset" or kind == "volume":
                item = self.named_block(kind)
            elif kind == "template":
                item = self.template_def()
            elif kind == "for":
                item = self.for_block()
            elif kind == "if":
                item = self.if_block()
            elif kind == "finally":
                start = self.start
                self.advance()
                self.expect("{")
                inner, depth = self.pipeline_items()
                item = ast.FinallyBlock(inner, Span(self.source, start, self.expect("}")))
                self.nest(item, depth + 1)
            elif kind == "}":
                break
            else:
                raise _Unexpected
            items.append(item)
            depth = item._depth
            if depth > deepest:
                deepest = depth
        self.nesting -= 1
        return tuple(items), deepest

    def body_items(self) -> tuple[tuple[ast.BodyItem, ...], int]:
        """A block's body up to a `}` (not taken), and the deepest item's depth."""
        self.deeper()
        items: list[ast.BodyItem] = []
        deepest = 0
        source = self.source
        plain = self.plain
        next_token = self.next_token
        while True:
            kind = self.kind
            item: ast.BodyItem
            if kind == "NAME" or kind in _KEYWORD_KEYS:
                # `name = value` or `name { ... }`, most of a body: a literal value (a string,
                # an integer) or a list is read here, without the calls field_item, expr and
                # atom make for it.
                start = self.start
                key = ast.Ident(self.value, Span(source, start, self.end))
                self.kind, self.value, self.start, self.end = next_token()
                if self.kind != "=":
                    item = self.block(key, start)
                    depth = item._depth
                    items.append(item)
                    if depth > deepest:
                        deepest = depth
                    continue
                self.kind, self.value, self.start, self.end = next_token()
                kind = self.kind
                value = self.value
                literal: ast.Expr | None = None
                end = self.end
                if kind == "STRING":
                    parts = plain.get(value)  # a string seen before
                    if parts is not None:
                        literal = ast.StringLit(parts, Span(source, self.start, end))
                        self.kind, self.value, self.start, self.end = next_token()
                    else:
                        literal = self.string()
                elif kind == "INT" and len(value) < _SHORT_INT:  # as atom() reads it
                    literal = ast.IntLit(int(value), Span(source, self.start, end))
                    self.kind, self.value, self.start, self.end = next_token()
                expr: ast.Expr
                if literal is None:
                    if kind == "[":
                        expr = self.list_lit()
                        kind = self.kind
                        if kind == "COMP_OP" or kind == "and" or kind == "or":
                            expr = self.operators(expr)
                    else:
                        expr = self.expr()
                else:
                    kind = self.kind
                    if kind == "COMP_OP" or kind == "and" or kind == "or":
                        expr = self.operators(literal)
                    else:
                        expr = literal
                if expr is literal:
                    item = ast.Assignment(key, expr, Span(source, start, end))
                    node: ast.Node = item  # mypy finds `_depth` in no dataclass's own slots
                    node._depth = depth = 1
                else:
                    item = self.assignment(key, start, expr)
                    depth = item._depth
            elif kind == "}":
                break
            elif kind == "output":
                item = self.output_decl()
                depth = 0
            elif kind == "STRING":  # a quoted key
                item = self.field_item()
                depth = item._depth
            elif kind == "use":
                item = self.use_decl()
                depth = item._depth
            elif kind == "mount":
                start = self.start
                self.advance()
                dataset = self.name()
                item = ast.MountDecl(dataset, Span(self.source, start, dataset.span.end))
                depth = 0
            elif kind == "distributed":
                start = self.start
                self.advance()
                framework = self.name()
                self.expect("{")
                inner, depth = self.body_items()
                item = ast.DistributedDecl(framework, inner,
                                           Span(self.source, start, self.expect("}")))
                depth += 1
                self.nest(item, depth)
            else:
                raise _Unexpected
            items.append(item)
            if depth > deepest:
                deepest = depth
        self.nesting -= 1
        return tuple(items), deepest

    # ---- declarations -------------------------------------------------------------------

    def field_item(self) -> ast.Assignment | ast.Block:
        """`name = value` or `name { ... }`."""
        start = self.start
        key = self.field_name()
        if self.kind == "=":
            self.kind, self.value, self.start, self.end = self.next_token()
            return self.assignment(key, start, self.expr())
        return self.block(key, start)

    def assignment(self, key: ast.Ident, start: int, value: ast.Expr) -> ast.Assignment:
        """The assignment of ``value`` to ``key``, whose text began at ``start``."""
        assignment = ast.Assignment(key, value, Span(self.source, start, value.span.end))
        self.nest(assignment, 1 + _depth(value))
        return assignment

    def block(self, key: ast.Ident, start: int) -> ast.Block:
        """`{ ... }` after ``key``, whose text began at ``start``."""
        if self.kind != "{":
            raise _Unexpected
        self.kind, self.value, self.start, self.end = self.next_token()
        items, depth = self.body_items()
        end = self.end  # body_items stops only at a `}`
        self.kind, self.value, self.start, self.end = self.next_token()
        block = ast.Block(key, items, Span(self.source, start, end))
        self.nest(block, depth + 1)
        return block

    def field_name(self) -> ast.Ident:
        kind = self.kind
        if kind == "STRING":  # a quoted key: plain text (AstBuilder.field_name)
            text = self.builder.string_token(self.token())
            if not text.is_plain:
                raise _Unexpected
            self.advance()
            return ast.Ident(text.text, text.span, quoted=True)
        if kind not in _FIELD_NAMES:
            raise _Unexpected
        ident = ast.Ident(self.value, Span(self.source, self.start, self.end))
        self.advance()
        return ident

    def type_expr(self) -> ast.TypeExpr:
        kind = self.kind
        if kind == "{":  # a record alone, named for its braces (as to_ast.py)
            self.deeper()
            start = self.start
            fields, deepest, end = self.record_type()
            span = Span(self.source, start, end)
            node = ast.TypeExpr(ast.Ident("record", span), None, span, fields)
            self.nest(node, 1 + deepest)
            self.nesting -= 1
            return node
        if (kind != "NAME" and kind != "dataset") or self.nesting >= _NESTING:  # as deeper()
            raise _Unexpected
        start, end = self.start, self.end
        name = ast.Ident(self.value, Span(self.source, start, end))
        self.kind, self.value, self.start, self.end = self.next_token()
        kind = self.kind
        if kind != "[" and kind != "{":  # a name alone, most types: nothing nested
            alone = ast.TypeExpr(name, None, name.span, None)
            nested: ast.Node = alone  # mypy finds `_depth` in no dataclass's own slots
            nested._depth = 1
            return alone
        self.nesting += 1
        arg: ast.TypeExpr | None = None
        record: tuple[ast.FieldType, ...] | None = None
        name_end, deepest = end, 0
        if self.kind == "[":
            self.advance()
            arg = self.type_expr()
            end, deepest = self.expect("]"), arg._depth
        if self.kind == "{":
            record, record_depth, end = self.record_type()
            deepest = max(deepest, record_depth)
        span = name.span if end == name_end else Span(self.source, start, end)
        node = ast.TypeExpr(name, arg, span, record)
        self.nest(node, 1 + deepest)
        self.nesting -= 1
        return node

    def record_type(self) -> tuple[tuple[ast.FieldType, ...], int, int]:
        """`"{" [NAME ":" type_expr ("," ...)* ","?] "}"`: the fields, the deepest field's
        depth, and the offset of the closing brace's end."""
        self.expect("{")
        fields: list[ast.FieldType] = []
        deepest = 0
        while self.kind != "}":
            name = self.name()
            self.expect(":")
            field_type = self.type_expr()
            field = ast.FieldType(name, field_type, Span(self.source, name.span.start,
                                                         field_type.span.end))
            self.nest(field, 1 + field_type._depth)
            deepest = max(deepest, field._depth)
            fields.append(field)
            if self.kind != ",":
                break
            self.advance()
        return tuple(fields), deepest, self.expect("}")

    def param_decl(self) -> ast.ParamDecl:
        start = self.start
        self.advance()
        name, type_expr, default, end = self.param_rest()
        node = ast.ParamDecl(name, type_expr, default, Span(self.source, start, end))
        self.nest(node, 1 + type_expr._depth)
        return node

    def pipeline_output(self) -> ast.PipelineOutput:
        start = self.start
        self.advance()
        name, type_expr, value, end = self.param_rest()
        if value is None:
            raise _Unexpected  # the LALR path reports the missing `= VALUE`
        node = ast.PipelineOutput(name, type_expr, value, Span(self.source, start, end))
        self.nest(node, 1 + type_expr._depth)
        return node

    def param_rest(self) -> tuple[ast.Ident, ast.TypeExpr, ast.Expr | None, int]:
        """`NAME ":" type_expr default?`, and the offset where it ends."""
        name = self.name()
        self.expect(":")
        type_expr = self.type_expr()
        if 1 + type_expr._depth > MAX_DEPTH:
            raise _Unexpected
        if self.kind == "=":
            self.advance()
            default = self.expr()
            return name, type_expr, default, default.span.end
        return name, type_expr, None, type_expr.span.end

    def named_block(self, kind: str) -> ast.DatasetDecl | ast.VolumeDecl:
        """`dataset NAME { ... }` or `volume NAME { ... }`."""
        start = self.start
        self.advance()
        name = self.name()
        self.expect("{")
        items, depth = self.body_items()
        span = Span(self.source, start, self.expect("}"))
        node: ast.DatasetDecl | ast.VolumeDecl
        if kind == "dataset":
            node = ast.DatasetDecl(name, items, span)
        else:
            node = ast.VolumeDecl(name, items, span)
        self.nest(node, depth + 1)
        return node

    def step_decl(self, kind: str) -> ast.StepDecl:
        start = self.start
        next_token = self.next_token
        name_kind, value, name_start, name_end = next_token()  # the name, taken at once
        if name_kind != "NAME":
            raise _Unexpected
        name = ast.Ident(value, Span(self.source, name_start, name_end))
        self.kind, self.value, self.start, self.end = next_token()
        after: tuple[ast.After, ...] = ()
        if self.kind == "after":
            self.advance()
            waits = [self.after_item()]
            while self.kind == ",":
                self.advance()
                waits.append(self.after_item())
            after = tuple(waits)
        when: ast.Expr | None = None
        if self.kind == "when":
            self.advance()
            when = self.expr()
        if self.kind != "{":
            raise _Unexpected
        self.kind, self.value, self.start, self.end = next_token()
        items, depth = self.body_items()
        end = self.end  # body_items stops only at a `}`
        self.kind, self.value, self.start, self.end = next_token()
        node = ast.StepDecl(kind, name, after, when, items, Span(self.source, start, end))
        self.nest(node, depth + 1)
        return node

    def after_item(self) -> ast.After:
        step = self.name()
        if self.kind == ".":
            self.advance()
            status = self.name()
            return ast.After(step, status, Span(self.source, step.span.start, status.span.end))
        return ast.After(step, None, Span(self.source, step.span.start, step.span.end))

    def template_def(self) -> ast.TemplateDef:
        start = self.start
        self.advance()
        name = self.name()
        self.expect("(")
        params: list[ast.TemplateParam] = []
        while self.kind != ")":
            param_start = self.start
            param_name, type_expr, default, end = self.param_rest()
            params.append(ast.TemplateParam(param_name, type_expr, default,
                                            Span(self.source, param_start, end)))
            if self.kind != ",":
                break
            self.advance()
        self.expect(")")
        self.expect("{")
        items, depth = self.body_items()
        node = ast.TemplateDef(name, tuple(params), items,
                               Span(self.source, start, self.expect("}")),
                               file=self.source.path)
        self.nest(node, depth + 1)
        return node

    def for_block(self) -> ast.ForBlock:
        start = self.start
        self.advance()
        var = self.name()
        self.expect("in")
        iterable = self.expr()
        parallel: ast.IntLit | None = None
        if self.kind == "parallel":
            self.advance()
            if self.kind != "INT":
                raise _Unexpected
            count = self.token()
            parallel = ast.IntLit(self.builder._integer(count),
                                  Span(self.source, count.start, count.end))
            self.advance()
        self.expect("{")
        items, depth = self.pipeline_items()
        node = ast.ForBlock(var, iterable, parallel, items,
                            Span(self.source, start, self.expect("}")))
        self.nest(node, 1 + max(depth, _depth(iterable)))
        return node

    def if_block(self) -> ast.IfBlock:
        self.deeper()  # an `else if` chain recurses here
        start = self.start
        self.advance()
        condition = self.expr()
        self.expect("{")
        items, depth = self.pipeline_items()
        end = self.expect("}")
        orelse: ast.IfBlock | tuple[ast.PipelineItem, ...] | None = None
        if self.kind == "else":
            self.advance()
            if self.kind == "if":
                chained = self.if_block()
                end = chained.span.end
                orelse = chained
            else:
                self.expect("{")
                orelse = self.pipeline_items()[0]  # not counted in the depth, as to_ast.py
                end = self.expect("}")
        node = ast.IfBlock(condition, items, orelse, Span(self.source, start, end))
        own = 1 + max(depth, _depth(condition))
        self.nest(node, own)
        if isinstance(orelse, ast.IfBlock):  # a chain is as deep as its deepest link
            self.nest(node, max(own, orelse._depth))
        self.nesting -= 1
        return node

    def output_decl(self) -> ast.OutputDecl:
        start = self.start
        next_token = self.next_token
        kind, value, name_start, name_end = next_token()  # the name and the `:` taken at once
        if kind != "NAME" or next_token()[0] != ":":
            raise _Unexpected
        name = ast.Ident(value, Span(self.source, name_start, name_end))
        self.kind, self.value, self.start, self.end = next_token()
        type_expr = self.type_expr()
        if self.kind == "at":
            self.advance()
            if self.kind == "NAME":  # `at stdout`
                stream = self.name()
                return ast.OutputDecl(name, type_expr, None, Span(self.source, start,
                                                                  stream.span.end), stream)
            path = self.string()
            return ast.OutputDecl(name, type_expr, path, Span(self.source, start,
                                                              path.span.end))
        return ast.OutputDecl(name, type_expr, None, Span(self.source, start,
                                                          type_expr.span.end))

    def use_decl(self) -> ast.UseDecl:
        start = self.start
        self.advance()
        template = self.name()
        self.expect("(")
        args: list[ast.Argument] = []
        deepest = 0
        while self.kind != ")":
            name = self.name()
            self.expect("=")
            value = self.expr()
            argument = ast.Argument(name, value, Span(self.source, name.span.start,
                                                      value.span.end))
            depth = 1 + _depth(value)
            self.nest(argument, depth)
            deepest = max(deepest, depth)
            args.append(argument)
            if self.kind != ",":
                break
            self.advance()
        node = ast.UseDecl(template, tuple(args), Span(self.source, start, self.expect(")")))
        self.nest(node, deepest + 1)
        return node

    # ---- expressions --------------------------------------------------------------------

    def expr(self) -> ast.Expr:
        """`or` binds loosest, then `and`, `not`, a comparison (not chained). Most values are
        one atom: it is read first, and the operators' levels only entered if one follows."""
        if self.kind == "not":
            return self.bool_ops(self.not_test())
        left = self.atom()
        kind = self.kind
        if kind == "COMP_OP" or kind == "and" or kind == "or":
            return self.operators(left)
        return left

    def operators(self, left: ast.Expr) -> ast.Expr:
        """The rest of an expression that began with the atom ``left``."""
        if self.kind == "COMP_OP":
            left = self.compare(left)
        return self.bool_ops(left)

    def bool_ops(self, left: ast.Expr) -> ast.Expr:
        """The `and`s and `or`s after an expression's first operand ``left``."""
        while self.kind == "and":
            self.advance()
            left = self.bool_op("and", left, self.not_test())
        while self.kind == "or":
            self.advance()
            left = self.bool_op("or", left, self.and_test())
        return left

    def and_test(self) -> ast.Expr:
        left = self.not_test()
        while self.kind == "and":
            self.advance()
            left = self.bool_op("and", left, self.not_test())
        return left

    def bool_op(self, op: str, left: ast.Expr, right: ast.Expr) -> ast.BoolOp:
        span = Span(self.source, left.span.start, right.span.end)
        node = ast.BoolOp(op, ast.bool_operands(op, left, right), span)
        self.nest(node, 1 + max(_depth(left), _depth(right)))
        return node

    def not_test(self) -> ast.Expr:
        if self.kind != "not":
            return self.comparison()
        self.deeper()
        start = self.start
        self.advance()
        operand = self.not_test()
        node = ast.Not(operand, Span(self.source, start, operand.span.end))
        self.nest(node, 1 + _depth(operand))
        self.nesting -= 1
        return node

    def comparison(self) -> ast.Expr:
        left = self.atom()
        if self.kind != "COMP_OP":
            return left
        return self.compare(left)

    def compare(self, left: ast.Expr) -> ast.Compare:
        op, op_span = self.value, Span(self.source, self.start, self.end)
        self.advance()
        right = self.atom()
        node = ast.Compare(op, left, right, op_span, Span(self.source, left.span.start,
                                                          right.span.end))
        self.nest(node, 1 + max(_depth(left), _depth(right)))
        return node

    def atom(self) -> ast.Expr:
        kind = self.kind
        if kind == "NAME":
            head = ast.Ident(self.value, Span(self.source, self.start, self.end))
            self.kind, self.value, self.start, self.end = self.next_token()
            kind = self.kind
            if kind == "(":
                return self.call(head)
            if kind == ".":
                return self.ref(head)
            return ast.Ref((head,), head.span)  # one span serves both, as in ref()
        if kind == "STRING":
            return self.string()
        if kind == "INT":
            value = self.value
            integer = int(value) if len(value) < _SHORT_INT else self.builder._integer(self.token())
            literal = ast.IntLit(integer, Span(self.source, self.start, self.end))
            self.kind, self.value, self.start, self.end = self.next_token()
            return literal
        if kind == "true" or kind == "false":
            boolean = ast.BoolLit(kind == "true", Span(self.source, self.start, self.end))
            self.advance()
            return boolean
        if kind == "[":
            return self.list_lit()
        if kind == "{":
            return self.record_lit()
        if kind == "(":  # grouping adds no node
            self.advance()
            self.deeper()
            inner = self.expr()
            self.nesting -= 1
            self.expect(")")
            return inner
        if kind == "pipeline":
            head = ast.Ident(self.value, Span(self.source, self.start, self.end))
            self.advance()
            return self.ref(head)
        if kind == "FLOAT":
            number = self.builder.float_lit([self.token()])
            self.advance()
            return number
        raise _Unexpected

    def list_lit(self) -> ast.ListLit:
        start = self.start
        self.kind, self.value, self.start, self.end = self.next_token()
        self.deeper()
        items, depth = self.exprs("]")
        self.nesting -= 1
        node = ast.ListLit(items, Span(self.source, start, self.expect("]")))
        self.nest(node, depth + 1)
        return node

    def record_lit(self) -> ast.RecordLit:
        start = self.start
        self.advance()
        self.deeper()
        fields: list[ast.FieldValue] = []
        deepest = 0
        while self.kind != "}":
            name = self.name()
            self.expect(":")
            value = self.expr()
            field = ast.FieldValue(name, value, Span(self.source, name.span.start,
                                                     value.span.end))
            self.nest(field, 1 + _depth(value))
            deepest = max(deepest, field._depth)
            fields.append(field)
            if self.kind != ",":
                break
            self.advance()
        self.nesting -= 1
        node = ast.RecordLit(tuple(fields), Span(self.source, start, self.expect("}")))
        self.nest(node, 1 + deepest)
        return node

    def ref(self, head: ast.Ident) -> ast.Ref:
        if self.kind != ".":
            return ast.Ref((head,), head.span)  # one span serves both (moved once: incremental.py)
        source = self.source
        next_token = self.next_token
        parts = [head]
        end = 0
        while self.kind == ".":
            kind, name, start, end = next_token()  # the name after the dot, taken at once
            if kind != "NAME":
                raise _Unexpected
            parts.append(ast.Ident(name, Span(source, start, end)))
            self.kind, self.value, self.start, self.end = next_token()
        return ast.Ref(tuple(parts), Span(source, head.span.start, end))

    def call(self, func: ast.Ident) -> ast.Call:
        self.advance()  # the `(`
        self.deeper()
        args, depth = self.exprs(")")
        self.nesting -= 1
        node = ast.Call(func, args, Span(self.source, func.span.start, self.expect(")")))
        self.nest(node, depth + 1)
        return node

    def exprs(self, close: str) -> tuple[tuple[ast.Expr, ...], int]:
        """`[expr ("," expr)* ","?]` up to ``close`` (not taken), and the deepest's depth."""
        items: list[ast.Expr] = []
        deepest = 0
        source = self.source
        plain = self.plain
        interpolated = self.interpolated
        next_token = self.next_token
        # A command's words, strings and references, are read here (as atom() would),
        # without the calls expr and atom make for each; being leaves, they are as deep as
        # nothing else. While they are, the current token is held in these locals, not in
        # the parser's fields: it is put there before any other rule reads it.
        kind, value, start, end = self.kind, self.value, self.start, self.end
        while kind != close:
            leaf: ast.Expr | None = None
            head: ast.Ident | None = None
            if kind == "STRING":
                parts = plain.get(value)  # a string seen before
                if parts is not None:
                    leaf = ast.StringLit(parts, Span(source, start, end))
                    kind, value, start, end = next_token()
                else:
                    shape = interpolated.get(value)  # as string() finds it
                    if shape is not None:
                        leaf = self.builder.interpolation(shape, start, end)
                        kind, value, start, end = next_token()
                    else:  # a string not seen before
                        self.kind, self.value, self.start, self.end = kind, value, start, end
                        leaf = self.string()
                        kind, value, start, end = self.kind, self.value, self.start, self.end
            elif kind == "NAME":
                head = ast.Ident(value, Span(source, start, end))
                ref_start = start
                kind, value, start, end = next_token()
                if kind == ".":  # a dotted name, as ref() reads it
                    parts_read = [head]
                    ref_end = 0
                    while kind == ".":
                        kind, value, start, ref_end = next_token()
                        if kind != "NAME":
                            raise _Unexpected
                        parts_read.append(ast.Ident(value, Span(source, start, ref_end)))
                        kind, value, start, end = next_token()
                    leaf = ast.Ref(tuple(parts_read), Span(source, ref_start, ref_end))
                elif kind != "(":
                    leaf = ast.Ref((head,), head.span)  # one span serves both, as in ref()
            if leaf is not None and kind == ",":  # a leaf and a comma: most of a list
                items.append(leaf)
                kind, value, start, end = next_token()
                continue
            self.kind, self.value, self.start, self.end = kind, value, start, end
            item: ast.Expr
            if leaf is not None:
                if kind != "COMP_OP" and kind != "and" and kind != "or":
                    items.append(leaf)
                    break
                item = self.operators(leaf)
            elif head is not None:  # a call, which nests
                item = self.operators(self.call(head))
            else:
                item = self.expr()
            depth = getattr(item, "_depth", 0)
            if depth > deepest:
                deepest = depth
            items.append(item)
            kind, value, start, end = self.kind, self.value, self.start, self.end
            if kind != ",":
                break
            kind, value, start, end = next_token()
        self.kind, self.value, self.start, self.end = kind, value, start, end
        return tuple(items), deepest
