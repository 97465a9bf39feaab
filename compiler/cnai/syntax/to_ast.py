"""Turn lark's parse tree into the AST, with full spans; decode string literals.

Runs after ``parse()`` (lark's meta is not available to a transformer passed to ``Lark``).
The tree depth is bounded by the parser before this runs, so recursion here is safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Token, Tree

from cnai.diagnostics import DiagnosticBag
from cnai.source import SourceFile, Span
from cnai.syntax import ast

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "$": "$"}
_INTERPOLATION = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AstBuilder:
    """One instance per file; syntax errors in literals go to ``diagnostics``."""

    def __init__(self, source: SourceFile, diagnostics: DiagnosticBag) -> None:
        self.source = source
        self.diagnostics = diagnostics
        self._rules: dict[str, Callable[[Tree[Token]], Any]] = {
            name[len("rule_"):]: getattr(self, name) for name in dir(self)
            if name.startswith("rule_")
        }

    # ---- helpers ------------------------------------------------------------------------

    def span(self, node: Tree[Token] | Token) -> Span:
        if isinstance(node, Token):
            start = node.start_pos or 0
            return self.source.span(start, node.end_pos or start)
        return self.source.span(node.meta.start_pos, node.meta.end_pos)

    def ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self.span(token))

    def build(self, node: Tree[Token] | Token) -> Any:
        if isinstance(node, Token):
            return self.token(node)
        return self._rules[node.data](node)

    def token(self, token: Token) -> Any:
        if token.type == "NAME":
            return self.ident(token)
        raise AssertionError(f"unexpected token {token.type}")

    def children(self, tree: Tree[Token]) -> list[Any]:
        return [self.build(child) for child in tree.children if child is not None]

    def _trees(self, tree: Tree[Token], name: str) -> list[Tree[Token]]:
        return [c for c in tree.children if isinstance(c, Tree) and c.data == name]

    def _opt(self, tree: Tree[Token], name: str) -> Any:
        found = self._trees(tree, name)
        return self.build(found[0]) if found else None

    def _names(self, tree: Tree[Token]) -> list[ast.Ident]:
        return [self.ident(c) for c in tree.children if isinstance(c, Token) and c.type == "NAME"]

    def _items(self, tree: Tree[Token], skip: tuple[str, ...] = ()) -> tuple[Any, ...]:
        return tuple(self.build(c) for c in tree.children
                     if isinstance(c, Tree) and c.data not in skip)

    # ---- module -------------------------------------------------------------------------

    def rule_start(self, tree: Tree[Token]) -> ast.Module:
        items = self.children(tree)
        return ast.Module(
            file=self.source.path,
            imports=tuple(i for i in items if isinstance(i, ast.Import)),
            pipelines=tuple(i for i in items if isinstance(i, ast.Pipeline)),
            templates=tuple(i for i in items if isinstance(i, ast.TemplateDef)),
            span=self.source.span(0, len(self.source.text)),
        )

    def rule_import_decl(self, tree: Tree[Token]) -> ast.Import:
        (path,) = tree.children
        assert isinstance(path, Token)
        return ast.Import(self.string(path), self.span(tree))

    def rule_pipeline(self, tree: Tree[Token]) -> ast.Pipeline:
        name, *items = tree.children
        assert isinstance(name, Token)
        return ast.Pipeline(self.ident(name), tuple(self.build(i) for i in items), self.span(tree))

    # ---- declarations -------------------------------------------------------------------

    def rule_param_decl(self, tree: Tree[Token]) -> ast.ParamDecl:
        (name,) = self._names(tree)
        return ast.ParamDecl(name, self._opt(tree, "type_expr"), self._opt(tree, "default"),
                             self.span(tree))

    def rule_template_param(self, tree: Tree[Token]) -> ast.TemplateParam:
        (name,) = self._names(tree)
        return ast.TemplateParam(name, self._opt(tree, "type_expr"), self._opt(tree, "default"),
                                 self.span(tree))

    def rule_default(self, tree: Tree[Token]) -> ast.Expr:
        (value,) = self.children(tree)
        return value  # type: ignore[no-any-return]

    def rule_type_expr(self, tree: Tree[Token]) -> ast.TypeExpr:
        (name,) = self._names(tree)
        return ast.TypeExpr(name, self._opt(tree, "type_expr"), self.span(tree))

    def rule_dataset_decl(self, tree: Tree[Token]) -> ast.DatasetDecl:
        (name,) = self._names(tree)
        return ast.DatasetDecl(name, self._items(tree), self.span(tree))

    def _step(self, tree: Tree[Token], kind: str) -> ast.StepDecl:
        (name,) = self._names(tree)
        after = self._trees(tree, "after_clause")
        when = self._opt(tree, "when_clause")
        return ast.StepDecl(
            kind, name, tuple(self._names(after[0])) if after else (), when,
            self._items(tree, skip=("after_clause", "when_clause")), self.span(tree))

    def rule_step_decl(self, tree: Tree[Token]) -> ast.StepDecl:
        return self._step(tree, "step")

    def rule_service_decl(self, tree: Tree[Token]) -> ast.StepDecl:
        return self._step(tree, "service")

    def rule_when_clause(self, tree: Tree[Token]) -> ast.Expr:
        (expr,) = self.children(tree)
        return expr  # type: ignore[no-any-return]

    def rule_template_def(self, tree: Tree[Token]) -> ast.TemplateDef:
        (name,) = self._names(tree)
        params = tuple(self.build(p) for p in self._trees(tree, "template_param"))
        return ast.TemplateDef(name, params, self._items(tree, skip=("template_param",)),
                               self.span(tree), file=self.source.path)

    def rule_for_block(self, tree: Tree[Token]) -> ast.ForBlock:
        var, iterable, *rest = tree.children
        assert isinstance(var, Token) and iterable is not None
        parallel = None
        items = []
        for child in rest:
            if isinstance(child, Tree) and child.data == "parallel_clause":
                (count,) = child.children
                assert isinstance(count, Token)
                parallel = ast.IntLit(int(count), self.span(count))
            elif child is not None:
                items.append(self.build(child))
        return ast.ForBlock(self.ident(var), self.build(iterable), parallel, tuple(items),
                            self.span(tree))

    def rule_if_block(self, tree: Tree[Token]) -> ast.IfBlock:
        condition, *rest = tree.children
        assert condition is not None
        items = []
        orelse: ast.IfBlock | tuple[Any, ...] | None = None
        for child in rest:
            if isinstance(child, Tree) and child.data == "else_clause":
                (branch,) = child.children
                assert isinstance(branch, Tree)
                orelse = (self.build(branch) if branch.data == "if_block"
                          else self._items(branch))
            elif child is not None:
                items.append(self.build(child))
        return ast.IfBlock(self.build(condition), tuple(items), orelse, self.span(tree))

    def rule_finally_block(self, tree: Tree[Token]) -> ast.FinallyBlock:
        return ast.FinallyBlock(self._items(tree), self.span(tree))

    # ---- body items ---------------------------------------------------------------------

    def rule_assignment(self, tree: Tree[Token]) -> ast.Assignment:
        key, value = tree.children
        assert isinstance(key, Tree) and value is not None
        return ast.Assignment(self._field_name(key), self.build(value), self.span(tree))

    def _field_name(self, tree: Tree[Token]) -> ast.Ident:
        (name,) = tree.children
        assert isinstance(name, Token)
        return ast.Ident(str(name), self.span(name))

    def rule_block(self, tree: Tree[Token]) -> ast.Block:
        name, *items = tree.children
        assert isinstance(name, Tree)
        return ast.Block(self._field_name(name),
                         tuple(self.build(i) for i in items if i is not None), self.span(tree))

    def rule_mount_decl(self, tree: Tree[Token]) -> ast.MountDecl:
        (name,) = self._names(tree)
        return ast.MountDecl(name, self.span(tree))

    def rule_output_decl(self, tree: Tree[Token]) -> ast.OutputDecl:
        (name,) = self._names(tree)
        path_tree = self._trees(tree, "output_path")
        path = None
        if path_tree:
            (token,) = path_tree[0].children
            assert isinstance(token, Token)
            path = self.string(token)
        return ast.OutputDecl(name, self._opt(tree, "type_expr"), path, self.span(tree))

    def rule_use_decl(self, tree: Tree[Token]) -> ast.UseDecl:
        (name,) = self._names(tree)
        args = tuple(self.build(a) for a in self._trees(tree, "argument"))
        return ast.UseDecl(name, args, self.span(tree))

    def rule_argument(self, tree: Tree[Token]) -> ast.Argument:
        name, value = tree.children
        assert isinstance(name, Token) and value is not None
        return ast.Argument(self.ident(name), self.build(value), self.span(tree))

    def rule_distributed_decl(self, tree: Tree[Token]) -> ast.DistributedDecl:
        (framework,) = self._names(tree)
        return ast.DistributedDecl(framework, self._items(tree), self.span(tree))

    # ---- expressions --------------------------------------------------------------------

    def _flatten(self, tree: Tree[Token], op: str) -> ast.BoolOp:
        operands: list[ast.Expr] = []
        for child in tree.children:
            assert child is not None
            value = self.build(child)
            if isinstance(value, ast.BoolOp) and value.op == op:  # and/or are associative
                operands.extend(value.operands)
            else:
                operands.append(value)
        return ast.BoolOp(op, tuple(operands), self.span(tree))

    def rule_or_op(self, tree: Tree[Token]) -> ast.BoolOp:
        return self._flatten(tree, "or")

    def rule_and_op(self, tree: Tree[Token]) -> ast.BoolOp:
        return self._flatten(tree, "and")

    def rule_not_op(self, tree: Tree[Token]) -> ast.Not:
        (operand,) = self.children(tree)
        return ast.Not(operand, self.span(tree))

    def rule_compare(self, tree: Tree[Token]) -> ast.Compare:
        left, op, right = tree.children
        assert isinstance(op, Token) and left is not None and right is not None
        return ast.Compare(str(op), self.build(left), self.build(right), self.span(op),
                           self.span(tree))

    def rule_string(self, tree: Tree[Token]) -> ast.StringLit:
        (token,) = tree.children
        assert isinstance(token, Token)
        return self.string(token)

    def rule_int(self, tree: Tree[Token]) -> ast.IntLit:
        return ast.IntLit(int(str(tree.children[0])), self.span(tree))

    def rule_float(self, tree: Tree[Token]) -> ast.FloatLit:
        return ast.FloatLit(float(str(tree.children[0])), self.span(tree))

    def rule_true(self, tree: Tree[Token]) -> ast.BoolLit:
        return ast.BoolLit(True, self.span(tree))

    def rule_false(self, tree: Tree[Token]) -> ast.BoolLit:
        return ast.BoolLit(False, self.span(tree))

    def rule_ref(self, tree: Tree[Token]) -> ast.Ref:
        parts = tuple(self.ident(t) for t in tree.children if isinstance(t, Token))
        return ast.Ref(parts, self.span(tree))

    def rule_call(self, tree: Tree[Token]) -> ast.Call:
        func, *args = tree.children
        assert isinstance(func, Token)
        return ast.Call(self.ident(func), tuple(self.build(a) for a in args if a is not None),
                        self.span(tree))

    def rule_list(self, tree: Tree[Token]) -> ast.ListLit:
        return ast.ListLit(tuple(self.children(tree)), self.span(tree))

    # ---- string literals ----------------------------------------------------------------

    def string(self, token: Token) -> ast.StringLit:
        """Decode escapes and split out ``${ref}`` interpolations, with exact spans."""
        raw = str(token)
        base = (token.start_pos or 0) + 1  # offset of the first character inside the quotes
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
        return ast.StringLit(tuple(parts), self.span(token))

    def _interpolated_ref(self, match: re.Match[str], base: int) -> ast.Ref:
        idents = []
        for name in _IDENT.finditer(match.string, match.start(1), match.end(1)):
            idents.append(ast.Ident(name.group(),
                                    self.source.span(base + name.start(), base + name.end())))
        return ast.Ref(tuple(idents), self.source.span(base + match.start(1), base + match.end(1)))


def to_ast(tree: Tree[Token], source: SourceFile, diagnostics: DiagnosticBag) -> ast.Module:
    return AstBuilder(source, diagnostics).rule_start(tree)  # type: ignore[no-any-return]
