"""The names of one parsed .cnai file, for the language server: where each step, param, data
set, volume, template, output, loop variable and import is declared, and every place the file
names it (``after``, ``mount``, ``use``, references in values and inside ``${...}``).

Built once per parse from the syntax tree (syntax/ast.py: every node has its span); names are
resolved the way the checker does (semantics/resolver.py, semantics/templates.py): a
template's body sees its params first, a loop's body its variable, then the pipeline's names.
A name the checker would reject is left out: the diagnostics say what is wrong with it.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from cnai.source import Span
from cnai.syntax import ast

# Declarations named in the pipeline's one namespace (the checker's Scope).
GLOBAL_KINDS = ("param", "dataset", "volume", "step", "service")


@dataclass(frozen=True, eq=False)
class Symbol:
    """A declared name. ``owner``: the step or template an output or template param is of."""

    kind: str  # one of GLOBAL_KINDS, "template", "output", "template param", "loop variable",
    # "import"
    name: str
    span: Span  # the name where it is declared (an import: its path string)
    node: ast.Node
    owner: str = ""
    path: str = ""  # an import: the file it resolves to


@dataclass(frozen=True)
class Occurrence:
    span: Span
    symbol: Symbol
    declaration: bool = False


@dataclass
class SymbolIndex:
    """Every occurrence of a declared name in one file, sorted by where it starts."""

    path: str
    symbols: list[Symbol] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)
    uses: dict[str, list[str]] = field(default_factory=dict)  # step -> templates it uses
    _starts: list[int] = field(default_factory=list)

    def finish(self) -> None:
        here = [o for o in self.occurrences if o.span.file == self.path]
        here.sort(key=lambda o: (o.span.start, -o.span.end))
        self.occurrences = here
        self._starts = [o.span.start for o in here]

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence covering ``offset`` (its end counts: the cursor just after a name)."""
        index = bisect.bisect_right(self._starts, offset) - 1
        while index >= 0:
            found = self.occurrences[index]
            if found.span.start <= offset <= found.span.end:
                return found
            if offset - found.span.start > 1000:  # names are short; stop looking back
                return None
            index -= 1
        return None

    def references(self, symbol: Symbol) -> list[Occurrence]:
        """Where ``symbol`` is named: in this file, and its declaration if it is in another
        (an imported template's). An import's are the file's uses of the templates the
        imported file declares."""
        found = [o for o in self.occurrences if o.symbol is symbol
                 or (symbol.kind == "import" and o.symbol.kind == "template"
                     and o.symbol.span.file == symbol.path and not o.declaration)]
        if symbol.span.file != self.path:
            found.insert(0, Occurrence(symbol.span, symbol, declaration=True))
        return found

    def named(self, kinds: Iterable[str]) -> list[Symbol]:
        wanted = set(kinds)
        return [s for s in self.symbols if s.kind in wanted]

    def global_symbol(self, name: str) -> Symbol | None:
        for symbol in self.symbols:
            if symbol.name == name and symbol.kind in GLOBAL_KINDS:
                return symbol
        return None

    def outputs_of(self, owner: str) -> list[Symbol]:
        """A step's outputs, its own and those of the templates it uses."""
        owners = {owner, *self.uses.get(owner, ())}
        return [s for s in self.symbols if s.kind == "output" and s.owner in owners]


# Parses an imported file (path -> its syntax tree, or None when it cannot be read or parsed).
ModuleLoader = Callable[[str], "ast.Module | None"]


class _Builder:
    def __init__(self, module: ast.Module, load: ModuleLoader) -> None:
        self.module = module
        self.load = load
        self.index = SymbolIndex(module.file)
        self.globals: dict[str, Symbol] = {}
        self.templates: dict[str, Symbol] = {}
        self.outputs: dict[tuple[str, str], Symbol] = {}
        self.template_params: dict[tuple[str, str], Symbol] = {}

    # ---- declarations -------------------------------------------------------------------

    def declare(self, kind: str, name: ast.Ident, node: ast.Node, owner: str = "",
                path: str = "") -> Symbol:
        symbol = Symbol(kind, name.name, name.span, node, owner, path)
        self.index.symbols.append(symbol)
        self.index.occurrences.append(Occurrence(name.span, symbol, declaration=True))
        return symbol

    def declare_imports(self, module: ast.Module, seen: set[str]) -> None:
        for statement in module.imports:
            if not statement.path.is_plain:
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(module.file),
                                                 statement.path.text))
            if module is self.module:
                name = ast.Ident(statement.path.text, statement.path.span)
                self.declare("import", name, statement, path=path)
            if path in seen:
                continue
            seen.add(path)
            imported = self.load(path)
            if imported is None:
                continue
            self.declare_imports(imported, seen)
            for template in imported.templates:
                self.declare_template(template)

    def declare_template(self, template: ast.TemplateDef) -> None:
        name = template.name.name
        self.templates[name] = self.declare("template", template.name, template)
        for param in template.params:
            self.template_params[name, param.name.name] = self.declare(
                "template param", param.name, param, owner=name)
        self.declare_outputs(template.items, name)

    def declare_outputs(self, items: Iterable[ast.BodyItem], owner: str) -> None:
        for item in items:
            if isinstance(item, ast.OutputDecl):
                self.outputs[owner, item.name.name] = self.declare("output", item.name, item,
                                                                   owner=owner)

    def declare_pipeline_items(self, items: Iterable[ast.PipelineItem]) -> None:
        for item in items:
            if isinstance(item, ast.ParamDecl):
                self.globals[item.name.name] = self.declare("param", item.name, item)
            elif isinstance(item, ast.DatasetDecl):
                self.globals[item.name.name] = self.declare("dataset", item.name, item)
            elif isinstance(item, ast.VolumeDecl):
                self.globals[item.name.name] = self.declare("volume", item.name, item)
            elif isinstance(item, ast.StepDecl):
                self.globals[item.name.name] = self.declare(item.kind, item.name, item)
                self.declare_outputs(item.items, item.name.name)
                self.index.uses[item.name.name] = [
                    use.template.name for use in item.items if isinstance(use, ast.UseDecl)]
            elif isinstance(item, ast.TemplateDef):
                self.declare_template(item)
            else:
                self.declare_pipeline_items(_nested(item))

    # ---- uses ---------------------------------------------------------------------------

    def use(self, span: Span, symbol: Symbol | None) -> None:
        if symbol is not None:
            self.index.occurrences.append(Occurrence(span, symbol))

    def walk_items(self, items: Iterable[ast.PipelineItem | ast.BodyItem | ast.TemplateParam],
                   scope: _Scope) -> None:
        for item in items:
            self.walk_item(item, scope)

    def walk_item(self, item: ast.PipelineItem | ast.BodyItem | ast.TemplateParam,
                  scope: _Scope) -> None:
        if isinstance(item, ast.Assignment):
            self.walk_expr(item.value, scope)
        elif isinstance(item, ast.ParamDecl | ast.TemplateParam):
            if item.default is not None:
                self.walk_expr(item.default, scope)
        elif isinstance(item, ast.StepDecl):
            for after in item.after:
                self.use(after.step.span, self.globals.get(after.step.name))
            inner = scope.inside(item.name.name)
            if item.when is not None:
                self.walk_expr(item.when, inner)
            self.walk_items(item.items, inner)
        elif isinstance(item, ast.MountDecl):
            self.use(item.dataset.span, self.globals.get(item.dataset.name))
        elif isinstance(item, ast.UseDecl):
            self.walk_use(item, scope)
        elif isinstance(item, ast.TemplateDef):
            params = {p.name.name: self.template_params[item.name.name, p.name.name]
                      for p in item.params if (item.name.name, p.name.name)
                      in self.template_params}
            inner = _Scope(item.name.name, params, scope.loop_vars)
            self.walk_items(item.params, inner)
            self.walk_items(item.items, inner)
        elif isinstance(item, ast.ForBlock):
            self.walk_expr(item.iterable, scope)
            variable = self.declare("loop variable", item.var, item)
            self.walk_items(item.items, scope.with_loop_var(variable))
        elif isinstance(item, ast.IfBlock):
            self.walk_expr(item.condition, scope)
            self.walk_items(_nested(item), scope)
        elif isinstance(item, ast.Block | ast.DatasetDecl | ast.VolumeDecl
                        | ast.DistributedDecl | ast.FinallyBlock):
            self.walk_items(item.items, scope)
        elif isinstance(item, ast.OutputDecl) and item.path is not None:
            self.walk_expr(item.path, scope)
        elif isinstance(item, ast.PipelineOutput):
            self.walk_expr(item.value, scope)

    def walk_use(self, item: ast.UseDecl, scope: _Scope) -> None:
        template = self.templates.get(item.template.name)
        self.use(item.template.span, template)
        for argument in item.args:
            if template is not None:
                self.use(argument.name.span,
                         self.template_params.get((template.name, argument.name.name)))
            self.walk_expr(argument.value, scope)

    def walk_expr(self, expr: ast.Expr, scope: _Scope) -> None:
        for ref in _refs(expr):
            self.resolve(ref, scope)

    def resolve(self, ref: ast.Ref, scope: _Scope) -> None:
        head, rest = ref.parts[0], ref.parts[1:]
        if head.name == "outputs" and rest and scope.owner:
            self.use(rest[0].span, self.output(scope.owner, rest[0].name))
            return
        symbol = (scope.template_params.get(head.name) or scope.loop_vars.get(head.name)
                  or self.globals.get(head.name))
        self.use(head.span, symbol)
        if symbol is not None and symbol.kind in ("step", "service") and rest:
            self.use(rest[0].span, self.output(symbol.name, rest[0].name))

    def output(self, owner: str, name: str) -> Symbol | None:
        """``owner``'s output ``name``: its own, or one of a template it uses."""
        for candidate in (owner, *self.index.uses.get(owner, ())):
            found = self.outputs.get((candidate, name))
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class _Scope:
    """What a name inside a step or template may mean besides the pipeline's names."""

    owner: str = ""  # the step or template whose `outputs.NAME` these are
    template_params: dict[str, Symbol] = field(default_factory=dict)
    loop_vars: dict[str, Symbol] = field(default_factory=dict)

    def inside(self, owner: str) -> _Scope:
        return _Scope(owner, self.template_params, self.loop_vars)

    def with_loop_var(self, variable: Symbol) -> _Scope:
        return _Scope(self.owner, self.template_params,
                      {**self.loop_vars, variable.name: variable})


def _nested(item: ast.PipelineItem) -> tuple[ast.PipelineItem, ...]:
    """The items of a `for`, `if` (with its `else` branches) or `finally` block."""
    if isinstance(item, ast.ForBlock | ast.FinallyBlock):
        return item.items
    if isinstance(item, ast.IfBlock):
        orelse = item.orelse
        if isinstance(orelse, ast.IfBlock):
            return (*item.items, orelse)
        return (*item.items, *(orelse or ()))
    return ()


def _refs(expr: ast.Expr) -> Iterator[ast.Ref]:
    """The references in an expression, including those inside strings' ``${...}``."""
    if isinstance(expr, ast.Ref):
        yield expr
    elif isinstance(expr, ast.StringLit):
        for part in expr.parts:
            if isinstance(part, ast.Ref):
                yield part
    elif isinstance(expr, ast.ListLit):
        for item in expr.items:
            yield from _refs(item)
    elif isinstance(expr, ast.RecordLit):
        for field_value in expr.fields:
            yield from _refs(field_value.value)
    elif isinstance(expr, ast.Call):
        for argument in expr.args:
            yield from _refs(argument)
    elif isinstance(expr, ast.Compare):
        yield from _refs(expr.left)
        yield from _refs(expr.right)
    elif isinstance(expr, ast.BoolOp):
        for operand in expr.operands:
            yield from _refs(operand)
    elif isinstance(expr, ast.Not):
        yield from _refs(expr.operand)


def build_index(module: ast.Module, load: ModuleLoader) -> SymbolIndex:
    """The index of ``module``'s names; ``load`` parses the files it imports."""
    builder = _Builder(module, load)
    builder.declare_imports(module, {os.path.normpath(module.file)})
    for template in module.templates:
        builder.declare_template(template)
    for pipeline in module.pipelines[:1]:  # a second pipeline is an error (E0109)
        builder.declare_pipeline_items(pipeline.items)
    scope = _Scope()
    builder.walk_items(module.templates, scope)
    for pipeline in module.pipelines[:1]:
        builder.walk_items(pipeline.items, scope)
    builder.index.finish()
    return builder.index
