"""Render diagnostics as text (rustc-like, plain ASCII, colour only on a TTY) or as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cnai.diagnostics.diagnostic import Diagnostic, Label, Severity
from cnai.source import SourceFile, Span

MAX_SHOWN = 50
_TAB = "    "

_COLOURS = {"error": "\033[1;31m", "warning": "\033[1;33m", "gutter": "\033[1;34m",
            "bold": "\033[1m", "reset": "\033[0m"}


class _Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, kind: str, text: str) -> str:
        if not self.colour:
            return text
        return f"{_COLOURS[kind]}{text}{_COLOURS['reset']}"


_WIDTH = 100


def _display(line: str, col: int, origin: int = 1) -> tuple[str, int]:
    """Expand tabs and blank out control characters; map a 1-based column to the display.

    ``origin`` is the first column shown: long lines are cut to a window around the span.
    """
    line = line[origin - 1:]
    col -= origin - 1
    shown: list[str] = []
    display_col = 1
    for index, char in enumerate(line, start=1):
        if index == col:
            display_col = len("".join(shown)) + 1
        if char == "\t":
            shown.append(_TAB)
        elif not char.isprintable():
            shown.append("?")
        else:
            shown.append(char)
    text = "".join(shown)
    if col > len(line):
        display_col = len(text) + (col - len(line))
    return text, display_col


def _snippet(label: Label, source: SourceFile | None, marker: str, gutter: int,
             style: _Style, severity: str) -> list[str]:
    span = label.span
    pad = " " * gutter
    if source is None:
        return [f"{pad} = {label.text}"] if label.text else []
    raw = source.line_text(span.line)
    origin = max(1, span.col - _WIDTH // 2) if len(raw) > _WIDTH else 1
    prefix = "..." if origin > 1 else ""
    text, start = _display(raw[: origin - 1 + _WIDTH], span.col, origin)
    text, start = prefix + text, start + len(prefix)
    if span.end_line == span.line:
        _, end = _display(raw[: origin - 1 + _WIDTH], min(span.end_col, origin + _WIDTH), origin)
        end += len(prefix)
    else:
        end = len(text) + 1
    width = max(1, end - start)
    carets = style(severity, marker * width)
    under = " " * (start - 1) + carets + (f" {style(severity, label.text)}" if label.text else "")
    number = str(span.line).rjust(gutter)
    bar = style("gutter", "|")
    return [f"{pad} {bar}", f"{style('gutter', number)} {bar} {text}".rstrip(),
            f"{pad} {bar} {under}"]


def render_one(diagnostic: Diagnostic, sources: Mapping[str, SourceFile],
               colour: bool = False) -> str:
    style = _Style(colour)
    severity = diagnostic.severity.value
    span = diagnostic.span
    lines = [style(severity, f"{severity}[{diagnostic.code}]") + style("bold",
                                                                        f": {diagnostic.message}")]
    labels = [diagnostic.primary, *diagnostic.secondary]
    gutter = max(len(str(label.span.line)) for label in labels)
    pad = " " * gutter
    lines.append(f"{pad}{style('gutter', '-->')} {_location(span)}")
    lines += _snippet(diagnostic.primary, sources.get(span.file), "^", gutter, style, severity)
    for label in diagnostic.secondary:
        lines.append(f"{pad}{style('gutter', ':::')} {_location(label.span)}")
        lines += _snippet(label, sources.get(label.span.file), "-", gutter, style, "gutter")
    for note in diagnostic.notes:
        lines.append(f"{pad} {style('gutter', '=')} note: {note}")
    for hint in diagnostic.help:
        lines.append(f"{pad} {style('gutter', '=')} help: {hint}")
    return "\n".join(lines)


def _location(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.col}"


def render_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile],
                colour: bool = False, limit: int = MAX_SHOWN) -> str:
    """All diagnostics (at most ``limit``, then "... and N more"), then a summary line."""
    if not diagnostics:
        return ""
    shown = [render_one(d, sources, colour) for d in diagnostics[:limit]]
    if len(diagnostics) > limit:
        shown.append(f"... and {len(diagnostics) - limit} more")
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    summary = ", ".join(part for part in (_count(errors, "error"), _count(warnings, "warning"))
                        if part)
    return "\n\n".join(shown) + f"\n\n{summary}\n"


def _count(n: int, word: str) -> str:
    return "" if n == 0 else f"{n} {word}{'s' if n != 1 else ''}"


def _span_json(span: Span) -> dict[str, Any]:
    return {"file": span.file, "line": span.line, "column": span.col,
            "end_line": span.end_line, "end_column": span.end_col}


def to_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        **_span_json(diagnostic.span),
        "label": diagnostic.primary.text,
        "related": [{**_span_json(label.span), "label": label.text}
                    for label in diagnostic.secondary],
        "notes": list(diagnostic.notes),
        "help": list(diagnostic.help),
    }


def render_json(diagnostics: Sequence[Diagnostic], explain: Sequence[str] | None = None) -> str:
    """One JSON document; ``explain`` (cnai compile --explain) joins it as a list."""
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    document: dict[str, Any] = {"diagnostics": [to_json(d) for d in diagnostics],
                                "errors": errors, "warnings": len(diagnostics) - errors}
    if explain is not None:
        document["explain"] = list(explain)
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
