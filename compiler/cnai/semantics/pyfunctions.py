"""`import "steps.py"`: each top-level function of a Python file becomes a template.

The file is read with Python's ``ast`` module, never imported or run. A function's typed
parameters are the template's parameters (scalars, ``list[...]``, a TypedDict class of the
file as a record, ``Input[T]`` for an artifact); ``Output[T]`` parameters and the return annotation
are its outputs (a single return value is the output ``output``; a NamedTuple one output per
field, as Kubeflow's lightweight components name them). The template's body runs the function
with cnai's runner, ``python3 -m cnai_runtime.function`` (runtime_images/sdk), which reads
each value from its command line (docs/language.md, "Function steps"):

    python3 -m cnai_runtime.function FUNCTION [KIND:TYPE NAME VALUE]... SOURCE_FILE

KIND is ``in`` (a parameter: its text, or an input artifact's path), ``out`` (an ``Output[T]``
parameter: the path to write) or ``ret`` (a return value: the path its text goes to). The
backends add how the source reaches the container (semantics/ir.py, ``Function``).

A function that cannot be a template (an annotation cnai has no type for, ``*args``) is
reported only when a step uses it: a file may hold helpers that no step calls.
"""

from __future__ import annotations

import ast as py
import os
import re
from dataclasses import dataclass, field

from cnai.diagnostics import Diagnostic, Label
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.grammar import KEYWORDS

RUNNER = ("python3", "-m", "cnai_runtime.function")
DEFAULT_IMAGE = "python:3.12"
SINGLE_OUTPUT = "Output"  # a function returning one value: its output, named as KFP names it
SCALARS = {"str": "string", "int": "int", "float": "float", "bool": "bool"}
ARTIFACTS = {"Artifact": "artifact", "Dataset": "dataset", "Model": "model",
             "Metrics": "metrics", "ClassificationMetrics": "classification_metrics"}


@dataclass
class PyModule:
    """The templates a Python file gives, and the functions it has that cannot be used."""

    templates: list[ast.TemplateDef] = field(default_factory=list)
    broken: dict[str, list[Diagnostic]] = field(default_factory=dict)


class Unsupported(Exception):
    def __init__(self, message: str, node: py.AST, label: str, hint: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.label = label
        self.hint = hint


def read_module(source: SourceFile, syntax_errors: list[Diagnostic]) -> PyModule:
    """The templates of ``source``; a Python syntax error is added to ``syntax_errors``."""
    module = PyModule()
    try:
        tree = py.parse(source.text, filename=source.path)
    except SyntaxError as error:
        # (SyntaxError's offset counts characters, from 1.)
        start = source.offset(error.lineno or 1, max((error.offset or 1) - 1, 0))
        name = os.path.basename(source.path)
        syntax_errors.append(Diagnostic("E0115", f"{name} is not valid Python: {error.msg}",
                                        Label(source.span(start, start + 1), "here")))
        return module
    reader = _Reader(source, _classes(tree, "NamedTuple"), _classes(tree, "TypedDict"))
    for node in tree.body:
        # A function named as a keyword cannot be written in `use`: not a template.
        if (not isinstance(node, py.FunctionDef) or node.name.startswith("_")
                or node.name in KEYWORDS):
            continue
        try:
            module.templates.append(reader.template(node))
        except Unsupported as problem:
            span = reader.span(problem.node)
            module.broken[node.name] = [Diagnostic(
                "E0116", f"function `{node.name}` cannot be a step: {problem}",
                Label(span, problem.label), (),
                (problem.hint,) if problem.hint else ())]
    return module


def _classes(tree: py.Module, base_name: str) -> dict[str, py.ClassDef]:
    """The file's ``class Outputs(NamedTuple)`` (or TypedDict) classes, by name."""
    found: dict[str, py.ClassDef] = {}
    for node in tree.body:
        if isinstance(node, py.ClassDef) and any(
                _dotted(base).split(".")[-1] == base_name for base in node.bases):
            found[node.name] = node
    return found


def _dotted(node: py.expr) -> str:
    if isinstance(node, py.Name):
        return node.id
    if isinstance(node, py.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _offset(source: SourceFile, line: int, column: int) -> int:
    """The character offset of a position as Python's ast gives it: a 1-based line and a
    column in UTF-8 bytes."""
    prefix = source.line_text(line).encode("utf-8")[:column].decode("utf-8", "ignore")
    return source.offset(line, len(prefix))


class _Reader:
    def __init__(self, source: SourceFile, named_tuples: dict[str, py.ClassDef],
                 typed_dicts: dict[str, py.ClassDef]) -> None:
        self.source = source
        self.named_tuples = named_tuples
        self.typed_dicts = typed_dicts
        # The name its file is written under in the container (function_contract.py).
        self.module = re.sub(r"\W", "_", os.path.splitext(os.path.basename(source.path))[0],
                             flags=re.ASCII)

    def span(self, node: py.AST) -> Span:
        line, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        end_line = getattr(node, "end_lineno", None) or line
        end_column = getattr(node, "end_col_offset", None) or column
        return self.source.span(_offset(self.source, line, column),
                                _offset(self.source, end_line, end_column))

    def name_span(self, node: py.FunctionDef) -> Span:
        """The function's name in ``def NAME(``."""
        start = _offset(self.source, node.lineno, node.col_offset)
        found = self.source.text.find(node.name, start)
        return self.source.span(found, found + len(node.name))

    def template(self, node: py.FunctionDef) -> ast.TemplateDef:
        arguments = node.args
        if arguments.vararg or arguments.kwarg or arguments.posonlyargs:
            # The runner passes every value by name.
            extra = arguments.vararg or arguments.kwarg or arguments.posonlyargs[0]
            assert extra is not None
            raise Unsupported("a step's function takes named parameters only", extra,
                              "not a named parameter")
        params: list[ast.TemplateParam] = []
        outputs: list[ast.OutputDecl] = []
        words: list[ast.Expr] = []
        where = self.name_span(node)
        named = [*arguments.args, *arguments.kwonlyargs]
        defaults = _defaults(arguments)
        for argument in named:
            if argument.arg in KEYWORDS:
                raise Unsupported(f"parameter `{argument.arg}` is a .cnai keyword", argument,
                                  "a keyword in .cnai", "rename it (`data` for `dataset`)")
            if argument.annotation is None:
                raise Unsupported(f"parameter `{argument.arg}` has no type annotation",
                                  argument, "no annotation",
                                  f"annotate it: `{argument.arg}: float`, `Input[Dataset]`...")
            kind, type_expr, type_text = self.annotation(argument.annotation)
            ident = ast.Ident(argument.arg, self.span(argument))
            if kind == "out":
                outputs.append(ast.OutputDecl(ident, type_expr, None, ident.span))
                value: ast.Expr = ast.Ref((ast.Ident("outputs", where), ident), where)
            else:
                default = defaults.get(argument.arg)
                params.append(ast.TemplateParam(
                    ident, type_expr, None if default is None else self.literal(default),
                    self.span(argument)))
                value = ast.Ref((ast.Ident(argument.arg, where),), where)
            words += [self.word(f"{kind}:{type_text}", where),
                      self.word(argument.arg, where), value]
        returns = self.returns(node)
        for name, type_expr, type_text in returns:
            ident = ast.Ident(name, type_expr.span)
            outputs.append(ast.OutputDecl(ident, type_expr, None, ident.span))
            words += [self.word(f"ret:{type_text}", where),
                      self.word(name, where),
                      ast.Ref((ast.Ident("outputs", where), ast.Ident(name, where)), where)]
        command = ast.ListLit((*(self.word(w, where) for w in RUNNER),
                               self.word(node.name, where), *words), where)
        items: list[ast.BodyItem] = [
            ast.Assignment(ast.Ident("image", where), self.word(DEFAULT_IMAGE, where), where),
            ast.Assignment(ast.Ident("command", where), command, where), *outputs]
        return ast.TemplateDef(ast.Ident(node.name, where), tuple(params), tuple(items),
                               self.span(node), self.source.path,
                               ast.FunctionSource(node.name, self.module, self.source.text,
                                                  tuple(r[0] for r in returns), where))

    @staticmethod
    def word(text: str, where: Span) -> ast.StringLit:
        return ast.StringLit((text,), where)

    def annotation(self, node: py.expr) -> tuple[str, ast.TypeExpr, str]:
        """(kind, type, the runner's type text) of a parameter's annotation: kind ``in``, or
        ``out`` for an ``Output[T]``."""
        if isinstance(node, py.Subscript) and _dotted(node.value).split(".")[-1] in (
                "Input", "Output"):
            wrapper = _dotted(node.value).split(".")[-1]
            artifact = ARTIFACTS.get(_dotted(node.slice).split(".")[-1])
            if artifact is None:
                raise Unsupported(f"`{wrapper}[...]` takes an artifact type", node.slice,
                                  "not an artifact type",
                                  "one of: " + ", ".join(ARTIFACTS))
            span = self.span(node)
            return ("out" if wrapper == "Output" else "in",
                    ast.TypeExpr(ast.Ident(artifact, span), None, span), artifact)
        type_expr, text = self.value_type(node)
        return "in", type_expr, text

    def value_type(self, node: py.expr) -> tuple[ast.TypeExpr, str]:
        """A parameter's or return value's type, and the runner's text for it: a scalar, a
        record (a TypedDict class of the file), or a list of those."""
        span = self.span(node)
        text = _dotted(node)
        if text in SCALARS:
            return ast.TypeExpr(ast.Ident(SCALARS[text], span), None, span), SCALARS[text]
        if text in self.typed_dicts:
            return self.record(self.typed_dicts[text], span), "record"
        if isinstance(node, py.Subscript) and _dotted(node.value) in ("list", "List",
                                                                       "typing.List"):
            item, item_text = self.value_type(node.slice)
            return (ast.TypeExpr(ast.Ident("list", span), item, span), f"list[{item_text}]")
        raise Unsupported(f"cnai has no type for `{py.unparse(node)}`", node,
                          "unsupported annotation",
                          "use str, int, float, bool, a TypedDict of the file (a record), "
                          "list[...] of those, Input[T] or Output[T] with T one of "
                          + ", ".join(ARTIFACTS))

    def record(self, definition: py.ClassDef, span: Span) -> ast.TypeExpr:
        """A TypedDict class as the record type ``{field: type, ...}``."""
        fields = []
        for item in definition.body:
            if isinstance(item, py.AnnAssign) and isinstance(item.target, py.Name):
                field_type, _ = self.value_type(item.annotation)
                fields.append(ast.FieldType(ast.Ident(item.target.id, self.span(item.target)),
                                            field_type, self.span(item)))
        return ast.TypeExpr(ast.Ident("record", span), None, span, tuple(fields))

    def returns(self, node: py.FunctionDef) -> list[tuple[str, ast.TypeExpr, str]]:
        """Each output the return annotation gives: (name, type, the runner's type text)."""
        annotation = node.returns
        if annotation is None or (isinstance(annotation, py.Constant)
                                  and annotation.value is None):
            return []
        fields = self.tuple_fields(annotation)
        if fields is None:
            return [(SINGLE_OUTPUT, *self.value_type(annotation))]
        return [(field_name, *self.value_type(value)) for field_name, value in fields]

    def tuple_fields(self, node: py.expr) -> list[tuple[str, py.expr]] | None:
        """The fields of a NamedTuple annotation: a class of the file, or
        ``NamedTuple("Outputs", [("accuracy", float), ...])`` as Kubeflow writes it."""
        if isinstance(node, py.Name) and node.id in self.named_tuples:
            return [(item.target.id, item.annotation)
                    for item in self.named_tuples[node.id].body
                    if isinstance(item, py.AnnAssign) and isinstance(item.target, py.Name)]
        if isinstance(node, py.Call) and _dotted(node.func).endswith("NamedTuple"):
            pairs = node.args[1] if len(node.args) > 1 else None
            fields: list[tuple[str, py.expr]] = []
            if isinstance(pairs, (py.List, py.Tuple)):
                for pair in pairs.elts:
                    if (isinstance(pair, py.Tuple) and len(pair.elts) == 2
                            and isinstance(pair.elts[0], py.Constant)
                            and isinstance(pair.elts[0].value, str)):
                        fields.append((pair.elts[0].value, pair.elts[1]))
            fields += [(k.arg, k.value) for k in node.keywords if k.arg is not None]
            return fields
        return None

    def literal(self, node: py.expr) -> ast.Expr:
        """A parameter's default as a .cnai literal."""
        span = self.span(node)
        if isinstance(node, py.Constant):
            value = node.value
            if isinstance(value, bool):
                return ast.BoolLit(value, span)
            if isinstance(value, int):
                return ast.IntLit(value, span)
            if isinstance(value, float):
                return ast.FloatLit(value, span)
            if isinstance(value, str) and "{{" not in value and "${" not in value:
                return ast.StringLit((value,), span)
        if isinstance(node, py.UnaryOp) and isinstance(node.op, py.USub):
            inner = self.literal(node.operand)
            if isinstance(inner, ast.IntLit):
                return ast.IntLit(-inner.value, span)
            if isinstance(inner, ast.FloatLit):
                return ast.FloatLit(-inner.value, span)
        if isinstance(node, py.List):
            return ast.ListLit(tuple(self.literal(item) for item in node.elts), span)
        raise Unsupported(f"the default `{py.unparse(node)}` is not a literal cnai reads",
                          node, "unsupported default",
                          "a number, a bool, a string or a list of those")


def _defaults(arguments: py.arguments) -> dict[str, py.expr]:
    positional = [*arguments.posonlyargs, *arguments.args]
    found = {a.arg: d for a, d in zip(positional[len(positional) - len(arguments.defaults):],
                                      arguments.defaults, strict=True)}
    found.update({a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                           strict=True) if d is not None})
    return found
