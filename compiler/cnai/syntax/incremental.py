"""Parse an edited text by reusing the tree of the text before the edit: the language server's
way to keep a keystroke's diagnostics fast on a large file (authoring/lsp_analysis.py).

An edit inside one step (the usual keystroke) parses that step's new text alone, and the rest
of the previous tree is kept: its spans are moved in place (those after the step by the
change in length, those enclosing it grow with it) and pointed at the new text. The result is
the tree a whole parse of the new text gives (tests/test_incremental.py compares them over
random edits of every example and fixture); anything else (an edit outside a step or across
two, a step that no longer parses alone, one nested deeper than before) returns None, and the
caller parses the whole text.

Moving spans in place is what makes the reuse cheap, and why it consumes the previous tree:
once ``reparse`` has returned a tree, the previous one's spans describe the new text, so the
caller must not use the previous tree again (the server drops it).

Why parsing one step alone is the same as parsing it in place: the scanner (syntax/tables.py)
reads a token from where the previous one ended, and no token runs past a line or spans a `}`.
The text before the step is unchanged and ended a token where the step's keyword begins; the
step's own text ends with its `}`, after which the unchanged rest of the text is read as
before.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import cast

from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.descent import descend_step
from cnai.syntax.tables import tables
from cnai.syntax.to_ast import AstBuilder


def reparse(previous: ast.Module, spans: list[Span] | None, old: SourceFile,
            new: SourceFile) -> tuple[ast.Module, list[Span]] | None:
    """``new``'s tree made from ``previous`` (``old``'s tree, which this consumes), with every
    span in it (deduplicated: the list to give the next call), or None to parse ``new`` whole.
    ``spans``: every span of ``previous`` if the caller has them (the list an earlier call
    returned), else None (they are collected)."""
    before, after = old.text, new.text
    start, old_end = _changed(before, after)
    path = _step_at(previous, start, old_end)
    if path is None:
        return None
    step = path[-1]
    assert isinstance(step, ast.StepDecl)
    step_start, step_end = step.span.start, step.span.end
    delta = len(after) - len(before)
    builder = AstBuilder()
    builder.reset(new)
    parse_tables = tables()
    nesting = sum(1 for node in path if not isinstance(node, ast.Module | ast.StepDecl))
    fresh = descend_step(parse_tables, builder, step_start, step_end + delta, nesting)
    if fresh is None or ast.depth(fresh) != ast.depth(step):
        return None  # a depth of its own would change its enclosing blocks' depths
    if spans is None:
        spans = all_spans(previous)
    dropped = {id(span) for span in all_spans(step)}
    kept: list[Span] = []
    grown: list[Span] = []
    moved: list[Span] = []
    for span in spans:
        if id(span) in dropped:
            continue
        if span.start >= step_end:
            moved.append(span)
        elif span.start + span.length > step_start:
            if span.start > step_start or span.start + span.length < step_end:
                return None  # a span across the step's edge: not a tree's (checked first)
            grown.append(span)
        kept.append(span)
    for span in moved:
        span.start += delta
    for span in grown:
        span.length += delta
    for span in kept:
        span.source = new
    kept.extend(all_spans(fresh))
    return _replaced(path, fresh), kept


def _changed(before: str, after: str) -> tuple[int, int]:
    """The edit as a range of ``before``: from the first character that differs to just past
    the last one (the common prefix and suffix, which may not overlap)."""
    limit = min(len(before), len(after))
    low, high = 0, limit  # the common prefix's length is in [low, high]
    while low < high:  # slices compare in C: a binary search over them is fast
        middle = (low + high + 1) // 2
        if before[low:middle] == after[low:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, limit - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if before[len(before) - middle:len(before) - low] == \
                after[len(after) - middle:len(after) - low]:
            low = middle
        else:
            high = middle - 1
    return prefix, len(before) - low


def _step_at(module: ast.Module, start: int, end: int) -> list[ast.Node] | None:
    """The chain of nodes from ``module`` down to the step whose text holds ``[start, end)``
    strictly inside (its keyword's first character and its closing `}` untouched), or None."""
    path: list[ast.Node] = [module]
    items: tuple[ast.Node, ...] = module.pipelines
    while True:
        for item in items:
            span = item.span
            if span.start < start and end < span.start + span.length:
                break
        else:
            return None
        path.append(item)
        if isinstance(item, ast.StepDecl):
            return path
        if isinstance(item, ast.IfBlock):
            # The `if` body, or an `else` (a tuple of items, or an IfBlock as `else if`)
            orelse = item.orelse
            items = item.items + (orelse if isinstance(orelse, tuple) else
                                  (orelse,) if orelse is not None else ())
        elif isinstance(item, ast.Pipeline | ast.ForBlock | ast.FinallyBlock):
            items = item.items
        else:
            return None  # a template's body, a block of fields: not a step's


def _replaced(path: list[ast.Node], step: ast.StepDecl) -> ast.Module:
    """The module of ``path`` with its last node (a step) replaced by ``step``: each node on
    the way is copied with the new child (its depth kept, which the step's leaves as it is)."""
    child: ast.Node = step
    for parent, old_child in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
        copy = _with_child(parent, old_child, child)
        if hasattr(parent, "_depth"):
            copy._depth = parent._depth
        child = copy
    assert isinstance(child, ast.Module)
    return child


def _with_child(parent: ast.Node, old: ast.Node, new: ast.Node) -> ast.Node:
    if isinstance(parent, ast.Module):
        pipeline = cast(ast.Pipeline, new)
        return replace(parent, pipelines=tuple(
            pipeline if item is old else item for item in parent.pipelines))
    item_new = cast(ast.PipelineItem, new)

    def swap(items: tuple[ast.PipelineItem, ...]) -> tuple[ast.PipelineItem, ...]:
        return tuple(item_new if item is old else item for item in items)

    if isinstance(parent, ast.IfBlock):
        orelse = parent.orelse
        if orelse is old:
            return replace(parent, orelse=cast(ast.IfBlock, new))
        if isinstance(orelse, tuple) and any(item is old for item in orelse):
            return replace(parent, orelse=swap(orelse))
        return replace(parent, items=swap(parent.items))
    assert isinstance(parent, ast.Pipeline | ast.ForBlock | ast.FinallyBlock)
    return replace(parent, items=swap(parent.items))


# Per node class, the fields that may hold a span or a node: not those typed as plain values
# (a field's type is its annotation's text, or the class itself where a compiled build keeps
# it so).
_FIELDS: dict[type, tuple[str, ...]] = {}
_PLAIN: tuple[object, ...] = ("str", "int", "float", "bool", str, int, float, bool)
_WALKED = (ast.Node, ast.FunctionSource)


def _node_fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls) if f.type not in _PLAIN)
    return names


def all_spans(root: ast.Node) -> list[Span]:
    """Every span under ``root`` (its own included), each once: nodes may share one."""
    found: list[Span] = []
    seen: set[int] = set()
    stack: list[object] = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        if not isinstance(node, _WALKED):
            continue  # a piece of a string literal's text (StringLit.parts)
        for name in _node_fields(type(node)):
            value = getattr(node, name)
            if type(value) is Span:
                key = id(value)
                if key not in seen:
                    seen.add(key)
                    found.append(value)
            elif type(value) is tuple:
                extend(value)
            elif isinstance(value, _WALKED):
                push(value)
    return found
