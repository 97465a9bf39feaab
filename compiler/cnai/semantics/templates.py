"""`template NAME(params) { body }` and `use NAME(args)`: expansion into a step's items.

A step that uses a template gets the template's items with each template parameter replaced
by its argument (or default), then the step's own items on top: a field the step sets replaces
the template's, a block the step sets is merged field by field, outputs and mounts add up.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cnai.diagnostics import Diagnostic, DiagnosticBag, Label
from cnai.semantics import records
from cnai.semantics.resolver import suggest
from cnai.syntax import ast


class TemplateLibrary:
    """The templates visible to a pipeline: its own and those its file imports."""

    def __init__(self, diagnostics: DiagnosticBag) -> None:
        self.diagnostics = diagnostics
        self.templates: dict[str, ast.TemplateDef] = {}
        # An import failed (E0111): a template it would have brought is not unknown.
        self.incomplete = False
        # Pipelines of imported files, usable as steps (`use NAME(...)`: semantics/nested.py):
        # each with the module it was read from.
        self.pipelines: dict[str, tuple[ast.Pipeline, ast.Module]] = {}
        # Functions of imported Python files that cannot be templates: why, for a step that
        # uses one (semantics/pyfunctions.py).
        self.broken: dict[str, list[Diagnostic]] = {}

    def add(self, template: ast.TemplateDef) -> None:
        from cnai.syntax.grammar import KEYWORDS

        for name in (template.name, *(p.name for p in template.params)):
            if name.name in KEYWORDS:
                self.diagnostics.error("E0208", f"`{name.name}` is a keyword", name.span,
                                       "a keyword", help=["choose another name"])
                return
        previous = self.templates.get(template.name.name)
        if previous is not None:
            self.diagnostics.error(
                "E0101", f"template `{template.name.name}` is declared twice",
                template.name.span, "second declaration",
                secondary=[Label(previous.name.span, "first declared here")])
            return
        self.templates[template.name.name] = template


def substitute(node: Any, bindings: dict[str, ast.Expr]) -> Any:
    """A copy of ``node`` with references to template parameters replaced by their values."""
    if isinstance(node, ast.Ref):
        bound = bindings.get(node.parts[0].name)
        if bound is None:
            return node
        if len(node.parts) > 1:
            if isinstance(bound, ast.Ref):  # `p.path` with p bound to `imagenet`
                return dataclasses.replace(bound, parts=bound.parts + node.parts[1:])
            if isinstance(bound, ast.RecordLit) and len(node.parts) == 2:  # `cfg.lr`
                found = records.field_value(bound, node.parts[1].name)
                if found is not None:
                    return found
            return node  # reported later: a literal has no fields
        return bound
    if isinstance(node, ast.StringLit):
        parts: list[str | ast.Ref] = []
        for part in node.parts:
            value = substitute(part, bindings) if isinstance(part, ast.Ref) else part
            if isinstance(value, (ast.Ref, str)):
                parts.append(value)
            elif isinstance(value, ast.StringLit):  # its text and its own interpolations
                parts.extend(value.parts)
            elif isinstance(value, (ast.IntLit, ast.FloatLit)):
                parts.append(str(value.value) if isinstance(value, ast.IntLit)
                             else repr(value.value))
            elif isinstance(value, ast.BoolLit):
                parts.append("true" if value.value else "false")
            elif isinstance(value, ast.RecordLit) and (
                    text := records.literal_text(value, records.literal_value)) is not None:
                parts.append(text)  # `${cfg}` with a record: its JSON text
            else:
                parts.append(value)  # lists and others: reported by the checker
        return dataclasses.replace(node, parts=tuple(parts))
    if dataclasses.is_dataclass(node) and not isinstance(node, (ast.Ident, type)):
        changes = {}
        for item in dataclasses.fields(node):
            value = getattr(node, item.name)
            new = substitute(value, bindings)
            if new is not value:
                changes[item.name] = new
        return dataclasses.replace(node, **changes) if changes else node
    if isinstance(node, tuple):
        items = tuple(substitute(i, bindings) for i in node)
        return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
    return node


def _key(item: object) -> tuple[str, str] | None:
    if isinstance(item, ast.Assignment):
        return ("field", item.key.name)
    if isinstance(item, ast.Block):
        return ("field", item.name.name)
    if isinstance(item, ast.OutputDecl):
        return ("output", item.name.name)
    if isinstance(item, ast.MountDecl):
        return ("mount", item.dataset.name)
    if isinstance(item, ast.DistributedDecl):
        return ("field", "distributed")
    return None


def merge(base: tuple[Any, ...], own: tuple[Any, ...]) -> tuple[Any, ...]:
    """The step's own items over the template's: same key replaces; blocks merge."""
    merged: dict[tuple[str, str], Any] = {}
    order: list[tuple[str, str]] = []
    for item in (*base, *own):
        key = _key(item)
        if key is None:
            continue
        previous = merged.get(key)
        if isinstance(previous, ast.Block) and isinstance(item, ast.Block):
            item = dataclasses.replace(item, items=merge(previous.items, item.items))
        if key not in merged:
            order.append(key)
        merged[key] = item
    return tuple(merged[key] for key in order)


class TemplateExpander:
    def __init__(self, library: TemplateLibrary, diagnostics: DiagnosticBag) -> None:
        self.library = library
        self.diagnostics = diagnostics
        # The Python function each step that uses one runs, by step name.
        self.functions: dict[str, ast.FunctionSource] = {}

    def expand(self, decl: ast.StepDecl) -> tuple[ast.StepDecl, list[tuple[ast.TemplateParam,
                                                                           ast.Expr]]]:
        """The step with its template applied, and each (parameter, value) to type-check."""
        for item in decl.items:  # a loop, not a comprehension: every step is asked
            if isinstance(item, ast.UseDecl):
                break
        else:
            return decl, []
        uses = [i for i in decl.items if isinstance(i, ast.UseDecl)]
        if len(uses) > 1:
            self.diagnostics.error("E0110", "a step uses one template", uses[1].span,
                                   "second `use`", secondary=[Label(uses[0].span, "first")])
        use = uses[0]
        template = self.library.templates.get(use.template.name)
        if template is None:
            broken = self.library.broken.get(use.template.name)
            if broken is not None:
                for diagnostic in broken:
                    self.diagnostics.add(dataclasses.replace(diagnostic, secondary=(
                        *diagnostic.secondary, Label(use.template.span, "used here"))))
                return decl, []
            if self.library.incomplete:
                return decl, []
            # Functions of imported .py files are templates too (pyfunctions.py).
            what = "template or function" if any(
                t.function is not None for t in self.library.templates.values()) else "template"
            self.diagnostics.error(
                "E0112", f"unknown {what} `{use.template.name}`", use.template.span,
                f"no such {what}", help=suggest(use.template.name, self.library.templates))
            return decl, []
        bindings, checks = self._bind(use, template)
        if any(isinstance(i, ast.UseDecl) for i in template.items):
            nested = next(i for i in template.items if isinstance(i, ast.UseDecl))
            self.diagnostics.error("E0401", "a template cannot use another template",
                                   nested.span, "nested `use`")
        body = substitute(template.items, bindings)
        own = tuple(i for i in decl.items if not isinstance(i, ast.UseDecl))
        if template.function is not None:
            self.functions[decl.name.name] = template.function
        return dataclasses.replace(decl, items=merge(body, own)), checks

    def _bind(self, use: ast.UseDecl, template: ast.TemplateDef
              ) -> tuple[dict[str, ast.Expr], list[tuple[ast.TemplateParam, ast.Expr]]]:
        params = {p.name.name: p for p in template.params}
        given: dict[str, ast.Argument] = {}
        for arg in use.args:
            if arg.name.name not in params:
                self.diagnostics.error(
                    "E0113", f"template `{template.name.name}` has no parameter "
                    f"`{arg.name.name}`", arg.name.span, "unknown argument",
                    help=suggest(arg.name.name, params) or [
                        "its parameters: " + ", ".join(params) if params else
                        "it takes no parameters"])
            elif arg.name.name in given:
                self.diagnostics.error("E0110", f"argument `{arg.name.name}` is given twice",
                                       arg.name.span, "given again")
            else:
                given[arg.name.name] = arg
        bindings: dict[str, ast.Expr] = {}
        checks = []
        for name, param in params.items():
            if name in given:
                bindings[name] = given[name].value
                checks.append((param, given[name].value))
            elif param.default is not None:
                bindings[name] = param.default
                checks.append((param, param.default))
            else:
                self.diagnostics.error(
                    "E0106", f"`use {template.name.name}(...)` is missing the argument `{name}`",
                    use.span, f"needs `{name} = ...`",
                    secondary=[Label(param.name.span, "declared here")])
                # Stand in an empty value so the body reports nothing more about it.
                bindings[name] = ast.StringLit(("",), use.span)
        return bindings, checks
