"""`cnai fmt`: one canonical layout of a .cnai text that keeps every comment (docs/fmt.md).

The layout changes white space, line breaks and trailing commas only, never a token's text:
the parser's syntax tree says where each declaration and field (an *item*) starts and ends,
the scanner (authoring/fmt_tokens.py) gives every token and comment, and the tokens are
written out again:

- two spaces of indent per block; one item per line; a blank line between items kept where
  the text had one or more (none after `{` or before `}`);
- a block written on one line (`resources { gpu = 8  cpu = 32 }`) stays on one line, its
  items two spaces apart, when it fits in 100 columns; otherwise one item per line; an empty
  block is `{}`;
- in a run of consecutive one-line assignments (no blank line or own-line comment between),
  the `=` signs line up;
- a list, call, parenthesis or record (`{lr: 0.1, batch: 32}`, `{lr: float}`) written on one
  line stays on one line (without a trailing comma); one written over several lines gets one
  element per line with a comma after each;
- one space around `=`, comparisons, `and`/`or`, after `,` and `:`; none inside brackets,
  around `.` or before `(`/`[` that follow a name (`secret("a")`, `list[int]`);
- a comment stays where it was: on its own line at the indent of what follows it, or at the
  end of a line, two spaces after the code. A comment inside a declaration's header or a
  value ends its line; what follows continues four spaces deeper.

``format_source`` parses the text first: text that does not parse raises FormatError with
the parser's diagnostics. The result is scanned again and its tokens compared with the
input's tokens and comments (trailing commas aside), so a formatting bug cannot lose a
comment or change a pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from typing import Any

from cnai.authoring.fmt_tokens import COMMENT, Token, drop_trailing_comma, matching, scan, words
from cnai.diagnostics import CompileError, Diagnostic
from cnai.source import SourceFile, Span
from cnai.syntax import ast, parse

WIDTH = 100
STEP = 2  # the indent of a block's items
CONTINUATION = 4  # the indent of what follows a comment inside a header or a value
_NO_SPACE_AFTER = frozenset(("(", "[", ".", "{"))  # "{" of a record (a block's is not inline)
_NO_SPACE_BEFORE = frozenset((")", "]", ",", ".", ":"))


class FormatError(Exception):
    """The text does not parse; ``diagnostics`` are the parser's."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} syntax error(s)")
        self.diagnostics = diagnostics


def format_source(text: str, path: str = "<input>") -> str:
    """The canonical layout of ``text``; FormatError when it does not parse."""
    module = _parse(text, path)
    tokens = scan(text)
    layout = _Layout(text, tokens, _item_spans(module), matching(tokens))
    result = layout.render()
    if result != text and words(result) != _words(tokens):
        raise AssertionError(f"cnai fmt changed the tokens of {path}; this is a bug")
    return result


def _words(tokens: list[Token]) -> list[str]:
    """``words`` of the text ``tokens`` came from."""
    kept: list[str] = []
    for token in tokens:
        if token.text in (")", "]", "}"):
            drop_trailing_comma(kept)
        kept.append(token.text)
    return kept


def _parse(text: str, path: str) -> ast.Module:
    try:
        return parse(SourceFile(path, text))
    except CompileError as error:
        raise FormatError(error.diagnostics) from None


def ast_shape(node: object) -> object:
    """A syntax tree as nested tuples without its spans: equal for equal pipelines."""
    if isinstance(node, tuple):
        return tuple(ast_shape(item) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        values = [ast_shape(getattr(node, f.name)) for f in fields(node)
                  if not isinstance(getattr(node, f.name), Span)]
        return (type(node).__name__, *values)
    return node


def _item_spans(module: ast.Module) -> dict[int, int]:
    """Start -> end offset of every item: the file's declarations and each block's items."""
    spans: dict[int, int] = {}
    for item in (*module.imports, *module.pipelines, *module.templates):
        spans[item.span.start] = item.span.end
        for child in _children(item):
            spans[child.span.start] = child.span.end
    return spans


def _children(node: object) -> Iterator[ast.Node]:
    """Every item inside ``node``'s blocks, at any depth (an `else if` is not an item)."""
    pending = [node]
    while pending:
        current = pending.pop()
        items: tuple[Any, ...] = getattr(current, "items", ())
        orelse = getattr(current, "orelse", None)
        if isinstance(orelse, ast.IfBlock):
            pending.append(orelse)
        elif isinstance(orelse, tuple):
            items = (*items, *orelse)
        for item in items:
            yield item
            pending.append(item)


class _Layout:
    """Writes the tokens out line by line; ``lines[-1]`` is the line being written."""

    def __init__(self, text: str, tokens: list[Token], items: dict[int, int],
                 pairs: dict[int, int]) -> None:
        self.text = text
        self.tokens = tokens
        self.items = items
        self.pairs = pairs  # index of each bracket's closing one
        self.lines: list[str] = []
        self.broken = False  # a comment ended the line: the next token starts another

    def render(self) -> str:
        self._rows(self._items(0, len(self.tokens)), 0, align=True)
        return "".join(line.rstrip() + "\n" for line in self.lines)

    # ---- sequences of items, one per line --------------------------------------------------

    def _items(self, low: int, high: int) -> list[tuple[int, int]]:
        """The items and comments of tokens[low:high] (a block's inside, or the file)."""
        entries: list[tuple[int, int]] = []
        tokens, index = self.tokens, low
        while index < high:
            token = tokens[index]
            if token.kind == COMMENT:
                entries.append((index, index + 1))
                index += 1
                continue
            end = self.items.get(token.start)
            if end is None:
                raise AssertionError(f"no item starts at offset {token.start}")
            last = index
            while last < high and tokens[last].end <= end:
                last += 1
            while tokens[last - 1].kind == COMMENT:  # comments after the item are between
                last -= 1
            entries.append((index, last))
            index = last
        return entries

    def _elements(self, low: int, high: int) -> list[tuple[int, int]]:
        """The elements (each with its comma) and comments of a bracket's inside."""
        entries: list[tuple[int, int]] = []
        tokens, index = self.tokens, low
        while index < high:
            if tokens[index].kind == COMMENT:
                entries.append((index, index + 1))
                index += 1
                continue
            start = index
            while index < high and tokens[index].kind != "COMMA":
                index = self.pairs.get(index, index) + 1
            if index < high:
                index += 1  # the comma
            last = index
            while tokens[last - 1].kind == COMMENT:
                last -= 1
            entries.append((start, last))
            index = last
        return entries

    def _rows(self, entries: list[tuple[int, int]], indent: int, align: bool = False,
              comma: bool = False) -> None:
        """Each entry on lines of its own at ``indent``; a comment that followed code on its
        line stays at the end of that line. ``align`` lines up `=` in runs of one-line
        assignments; ``comma`` ends the last entry with a comma."""
        tokens = self.tokens
        keys = _Runs()  # (line, key) of consecutive one-line assignments
        notes = _Runs()  # (line, comment) of consecutive one-line entries with a comment
        single = -1  # the line of the entry just written, if it took one line
        last_item = next((e for e in reversed(entries) if tokens[e[0]].kind != COMMENT), None)
        for number, (low, high) in enumerate(entries):
            token = tokens[low]
            if token.kind == COMMENT and not token.own_line:
                self._comment(token, indent)
                if single == len(self.lines) - 1:
                    notes.add(single, token.text)
                else:
                    notes.close()
                single = -1
                continue
            if single >= 0:  # the entry before had no comment at its end
                notes.close()
            blank = number > 0 and self._blank_before(low)
            if blank or token.kind == COMMENT:
                keys.close()
                notes.close()
            if blank:
                self.lines.append("")
            if token.kind == COMMENT:
                self._comment(token, indent)
                single = -1
                continue
            self._newline(indent)
            first = len(self.lines) - 1
            self._inline(low, high, indent, None)
            if comma and (low, high) == last_item and tokens[high - 1].kind != "COMMA":
                self._put(",", False)
            single = first if len(self.lines) - 1 == first else -1
            if single < 0:
                notes.close()
            if align and single >= 0 and tokens[low + 1].kind == "EQUAL":
                keys.add(first, token.text)
            else:
                keys.close()
        keys.close()
        notes.close()
        keys.align(self.lines, _align_key)  # first: padding a key moves the comment after it
        notes.align(self.lines, _align_comment)
        self.broken = False

    def _blank_before(self, index: int) -> bool:
        previous = self.tokens[index - 1] if index > 0 else None
        return previous is not None and self.text.count(
            "\n", previous.end, self.tokens[index].start) > 1

    # ---- tokens on a line ------------------------------------------------------------------

    def _inline(self, low: int, high: int, indent: int, previous: Token | None) -> None:
        """tokens[low:high] from the end of the current line; blocks and brackets inside
        are laid out by their own rules."""
        tokens, index = self.tokens, low
        while index < high:
            token = tokens[index]
            if token.kind == COMMENT:
                self._comment(token, indent + CONTINUATION)
                index += 1
                continue
            if self.broken:
                self._newline(indent + CONTINUATION)
            if token.text in ("{", "[", "(") and token.kind != "STRING":
                close = self.pairs[index]
                line = self.lines[-1]
                here = len(line) - len(line.lstrip(" "))  # a continuation line's, if any
                if token.text == "{" and not self._opens_record(index, close):
                    self._block(index, close, here)
                else:
                    self._bracket(index, close, here, previous)
                previous, index = tokens[close], close + 1
                continue
            self._put(token.text, _spaced(previous, token))
            previous = token
            index += 1

    def _opens_record(self, open_: int, close: int) -> bool:
        """A record's braces (`{lr: float}`, `{lr: 0.1}`), which hold fields as a list holds
        items: what follows the `{` (comments aside) is not an item of a block."""
        first = next((i for i in range(open_ + 1, close) if self.tokens[i].kind != COMMENT),
                     close)
        return first < close and self.tokens[first].start not in self.items

    def _block(self, open_: int, close: int, indent: int) -> None:
        tokens = self.tokens
        if close == open_ + 1:
            self._put("{}", True)
            return
        if tokens[open_].line == tokens[close].line:
            one_line = self._one_line(open_, close)
            if one_line is not None and len(self.lines[-1]) + 1 + len(one_line) <= WIDTH:
                self._put(one_line, True)
                return
        self._put("{", True)
        self._rows(self._items(open_ + 1, close), indent + STEP, align=True)
        self._newline(indent)
        self._put("}", False)

    def _one_line(self, open_: int, close: int) -> str | None:
        """`{ a = 1  b = 2 }` for a block written on one line, or None if it needs more."""
        sub = _Layout(self.text, self.tokens, self.items, self.pairs)
        parts = []
        for low, high in sub._items(open_ + 1, close):
            sub.lines = [""]
            sub._inline(low, high, 0, None)
            if len(sub.lines) > 1:
                return None
            parts.append(sub.lines[0])
        return "{ " + "  ".join(parts) + " }"

    def _bracket(self, open_: int, close: int, indent: int, previous: Token | None) -> None:
        tokens = self.tokens
        opener = tokens[open_]
        self._put(opener.text, _spaced(previous, opener))
        # A list, an argument list or template parameters take commas; `(a or b)` and the
        # `[int]` of `list[int]` do not.
        after_name = previous is not None and previous.kind in ("NAME", "DATASET")
        commas = after_name if opener.text == "(" else opener.text == "{" or not after_name
        if opener.line == tokens[close].line or close == open_ + 1:
            end = close - 1 if commas and tokens[close - 1].kind == "COMMA" else close
            self._inline(open_ + 1, end, indent, opener)
            self._put(tokens[close].text, False)
            return
        self._rows(self._elements(open_ + 1, close), indent + STEP, comma=commas)
        self._newline(indent)
        self._put(tokens[close].text, False)

    # ---- writing ---------------------------------------------------------------------------

    def _newline(self, indent: int) -> None:
        self.lines.append(" " * indent)
        self.broken = False

    def _put(self, text: str, space: bool) -> None:
        line = self.lines[-1]
        if space and line.strip():
            line += " "
        self.lines[-1] = line + text

    def _comment(self, token: Token, indent: int) -> None:
        if token.own_line or not self.lines:
            self._newline(indent)
        line = self.lines[-1]
        self.lines[-1] = (line + "  " if line.strip() else line) + token.text
        self.broken = True


def _spaced(previous: Token | None, token: Token) -> bool:
    if previous is None:
        return True
    if previous.text in _NO_SPACE_AFTER and previous.kind != "STRING":
        return False
    if token.kind == "STRING":
        return True
    if token.text in _NO_SPACE_BEFORE:
        return False
    return not (token.text in ("(", "[") and previous.kind in ("NAME", "DATASET"))


class _Runs:
    """Lines to line up: runs of (line index, text), aligned once the block is written."""

    def __init__(self) -> None:
        self.run: list[tuple[int, str]] = []
        self.runs: list[list[tuple[int, str]]] = []

    def add(self, index: int, text: str) -> None:
        self.run.append((index, text))

    def close(self) -> None:
        if len(self.run) > 1:
            self.runs.append(self.run)
        self.run = []

    def align(self, lines: list[str],
              aligner: Callable[[list[str], list[tuple[int, str]]], None]) -> None:
        for run in self.runs:
            aligner(lines, run)


def _align_key(lines: list[str], run: list[tuple[int, str]]) -> None:
    """Pad the keys of one-line assignments so their `=` line up."""
    width = max(len(key) for _, key in run)
    for index, key in run:
        line = lines[index]
        cut = len(line) - len(line.lstrip(" ")) + len(key)
        lines[index] = line[:cut] + " " * (width - len(key)) + line[cut:]


def _align_comment(lines: list[str], run: list[tuple[int, str]]) -> None:
    """Start the comments at the ends of consecutive lines in one column, two spaces after
    the longest line's code."""
    codes = [lines[index][: -len(comment)].rstrip() for index, comment in run]
    column = max(len(code) for code in codes) + 2
    for (index, comment), code in zip(run, codes, strict=True):
        lines[index] = code.ljust(column) + comment
