"""Completion and hover for the language server: what may be written at the cursor, and what
a name under it declares.

Completion reads the text before the cursor (the text being typed rarely parses) for where
the cursor is: which blocks enclose it (`step train {`, `resources {`) and what the line
holds so far. Names come from the last index that parsed (lsp_index.py); fields from the
settings registry (semantics/settings.py), so a new setting is offered with no change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnai.authoring.lsp_analysis import Analysis, span_text
from cnai.authoring.lsp_index import GLOBAL_KINDS, SymbolIndex
from cnai.authoring.lsp_index import Symbol as IndexSymbol
from cnai.diagnostics.codes import CODES
from cnai.semantics.settings import BY_CONTEXT, FREE_BLOCKS
from cnai.syntax import ast

PIPELINE_KEYWORDS = ("param", "dataset", "volume", "step", "service", "template", "for", "if",
                     "finally")
STEP_KEYWORDS = ("output", "mount", "use", "distributed")
AFTER_OUTCOMES = ("failed", "done")  # docs/language.md, `after X.failed`, `after X.done`
GROUPS = ("for", "if", "else", "finally")

# A string or a comment, to blank before counting braces (a string never spans lines).
_NOISE = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*')
_HEADER = re.compile(r"(?:^|\s)(step|service|template|dataset|volume|pipeline|distributed"
                     r"|for|if|else|finally)\b\s*([A-Za-z_]\w*)?")
_BRACES = re.compile(r"[{}]")
_LAST_NAME = re.compile(r'([A-Za-z_]\w*)\s*$')
_QUOTES = re.compile(r"\\.")  # an escape, so an escaped quote is not counted
_VALUE_AFTER = re.compile(r"(?:[=,\[(<>!]|\b(?:and|or|not|when|in|if))\s*$")


@dataclass(frozen=True)
class Item:
    """A completion: the text inserted, what it is (a symbol's kind, "field", "keyword")."""

    label: str
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class Enclosing:
    """A block around the cursor: its kind (step, template, pipeline, a group, or "block")
    and name (a step's, or a block's: `resources`)."""

    kind: str
    name: str


def enclosing(text: str, offset: int) -> list[Enclosing]:
    """The blocks open at ``offset``, innermost first."""
    plain = _NOISE.sub(lambda m: " " * len(m.group()), text[:offset])
    stack: list[Enclosing] = []
    start = 0
    for brace in _BRACES.finditer(plain):
        position = brace.start()
        if brace.group() == "{":
            stack.append(_header(plain[start:position]))
        elif stack:
            stack.pop()
        start = position + 1
    return stack[::-1]


def _header(segment: str) -> Enclosing:
    lines = [line for line in segment.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    headers = list(_HEADER.finditer(line))
    if headers:
        found = headers[-1]
        kind = found.group(1)
        return Enclosing("group" if kind in GROUPS else kind, found.group(2) or "")
    name = _LAST_NAME.search(line)
    return Enclosing("block", name.group(1) if name else "")


def _owner(blocks: list[Enclosing]) -> str:
    """The step or template whose `outputs.NAME` the cursor may name."""
    for block in blocks:
        if block.kind in ("step", "service", "template"):
            return block.name
    return ""


def _fields(blocks: list[Enclosing]) -> list[Item]:
    if not blocks:
        return [Item("pipeline", "keyword"), Item("template", "keyword"),
                Item("import", "keyword")]
    inner = blocks[0]
    if inner.kind == "group":
        inner = next((b for b in blocks if b.kind != "group"), Enclosing("pipeline", ""))
    context = {"template": "step", "block": inner.name}.get(inner.kind, inner.kind)
    if context in FREE_BLOCKS:
        return []
    items = [Item(name, "field", setting.kind)
             for name, setting in BY_CONTEXT.get(context, {}).items()]
    if context == "pipeline":
        items += [Item(k, "keyword") for k in PIPELINE_KEYWORDS]
    elif context in ("step", "service"):
        items += [Item(k, "keyword") for k in STEP_KEYWORDS]
    return items


def _symbols(symbols: list[IndexSymbol]) -> list[Item]:
    seen: dict[str, Item] = {}
    for symbol in symbols:
        seen.setdefault(symbol.name, Item(symbol.name, symbol.kind, _detail(symbol)))
    return list(seen.values())


def _values(index: SymbolIndex, blocks: list[Enclosing]) -> list[Item]:
    """Names a value may start with at the cursor."""
    owner = _owner(blocks)
    items = _symbols(index.named(GLOBAL_KINDS))
    items += _symbols([s for s in index.named(("template param",)) if s.owner == owner])
    items += _symbols(index.named(("loop variable",)))
    if owner:
        items.append(Item("outputs", "keyword", f"the outputs of `{owner}`"))
    return items


def _members(index: SymbolIndex, head: str, blocks: list[Enclosing], after: bool
             ) -> list[Item]:
    """What may follow ``head.``: a step's outputs, `outputs.` its own, a data set's path."""
    if head == "outputs":
        return _symbols(index.outputs_of(_owner(blocks)))
    symbol = index.global_symbol(head)
    if symbol is None:
        return []
    if after:
        return [Item(outcome, "keyword") for outcome in AFTER_OUTCOMES]
    if symbol.kind in ("step", "service"):
        return _symbols(index.outputs_of(symbol.name))
    if symbol.kind == "dataset":
        return [Item("path", "field", "the data set's path, as text")]
    return []


def complete(text: str, offset: int, index: SymbolIndex | None) -> list[Item]:
    """What may be written at ``offset`` of ``text``; ``index``: the last one that parsed."""
    line = text[text.rfind("\n", 0, offset) + 1:offset]
    if _QUOTES.sub("", line).count('"') % 2:  # in a string (none spans lines)
        interpolation = line.rfind("${")
        if interpolation < 0 or "}" in line[interpolation:] or \
                line.rfind('"') > interpolation:
            return []  # in a string's text, not in a `${...}`
        line = line[interpolation + 2:]
    blocks = enclosing(text, offset)
    in_header = re.search(r"\bafter\s+[\w.,\s]*$", line) is not None \
        and re.search(r"\bafter\b.*\bwhen\b", line) is None
    member = re.search(r"([A-Za-z_]\w*)\.(\w*)$", line)
    if index is None:
        return _fields(blocks) if not member and _field_position(text, offset) else []
    if member:
        return _members(index, member.group(1), blocks, in_header)
    if in_header:
        return _symbols(index.named(("step", "service")))
    if re.search(r"\bmount\s+\w*$", line):
        return _symbols(index.named(("dataset", "volume")))
    if re.search(r"\buse\s+\w*$", line):
        return _symbols(index.named(("template",)))
    if _field_position(text, offset):
        return _fields(blocks)
    return _values(index, blocks)


def _field_position(text: str, offset: int) -> bool:
    """Whether the word at ``offset`` starts an item (a field, a declaration), not a value:
    nothing but a block's brace or a finished value before it (`cpu = 2  mem|`)."""
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    before = text[max(0, start - 400):start]
    before = _NOISE.sub(lambda m: '"S"' if m.group().startswith('"') else "", before)
    return _VALUE_AFTER.search(before) is None and not before.rstrip().endswith(".")


# ---- hover -------------------------------------------------------------------------------

def _detail(symbol: IndexSymbol) -> str:
    node = symbol.node
    if isinstance(node, ast.ParamDecl | ast.TemplateParam | ast.OutputDecl):
        return span_text(node.span)
    return symbol.kind


def _step_lines(step: ast.StepDecl) -> list[str]:
    lines = []
    for item in step.items:
        if isinstance(item, ast.Assignment) and item.key.name == "image":
            lines.append(f"- image: `{span_text(item.value.span)}`")
        elif isinstance(item, ast.Block) and item.name.name == "resources":
            lines.append(f"- resources: `{' '.join(span_text(item.span).split())}`")
        elif isinstance(item, ast.OutputDecl):
            lines.append(f"- output `{span_text(item.span)}`")
        elif isinstance(item, ast.UseDecl):
            lines.append(f"- uses template `{item.template.name}`")
        elif isinstance(item, ast.MountDecl):
            lines.append(f"- mounts `{item.dataset.name}`")
    return lines


def _heading(symbol: IndexSymbol) -> str:
    node = symbol.node
    if isinstance(node, ast.StepDecl):
        after = ", ".join(span_text(a.span) for a in node.after)
        return f"{node.kind} {node.name.name}" + (f" after {after}" if after else "")
    if isinstance(node, ast.TemplateDef):
        params = ", ".join(span_text(p.span) for p in node.params)
        return f"template {node.name.name}({params})"
    if isinstance(node, ast.ForBlock):
        return f"for {node.var.name} in {span_text(node.iterable.span)}"
    if isinstance(node, ast.Import):
        return span_text(node.span)
    if isinstance(node, ast.DatasetDecl | ast.VolumeDecl):
        return " ".join(span_text(node.span).split())
    return span_text(node.span)


def describe(symbol: IndexSymbol) -> str:
    """Markdown for a hover over ``symbol``."""
    text = f"```cnai\n{_heading(symbol)}\n```"
    node = symbol.node
    extra: list[str] = []
    if isinstance(node, ast.StepDecl):
        extra = _step_lines(node)
    elif isinstance(node, ast.TemplateDef):
        extra = _step_lines(ast.StepDecl("step", node.name, (), None, node.items, node.span))
        extra.append(f"- defined in `{symbol.span.file}`")
    elif symbol.kind == "output":
        extra = [f"an output of `{symbol.owner}`"]
    elif symbol.kind == "template param":
        extra = [f"a param of template `{symbol.owner}`"]
    elif symbol.kind == "import":
        extra = [f"imports `{symbol.path}`"]
    elif symbol.kind == "param":
        extra = ["a pipeline param"]
    return "\n\n".join([text, "\n".join(extra)]) if extra else text


def hover_text(analysis: Analysis, offset: int) -> str | None:
    """The hover at ``offset``: the name's declaration, then any diagnostic there."""
    parts = []
    if analysis.index is not None:
        found = analysis.index.at(offset)
        if found is not None:
            parts.append(describe(found.symbol))
    for diagnostic in analysis.diagnostics_at(offset):
        lines = [f"**{diagnostic.code}** ({CODES[diagnostic.code]}): {diagnostic.message}"]
        lines += [f"help: {h}" for h in diagnostic.help]
        lines += [f"note: {n}" for n in diagnostic.notes]
        parts.append("\n\n".join(lines))
    return "\n\n---\n\n".join(parts) if parts else None
