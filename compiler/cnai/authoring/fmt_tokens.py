"""The tokens of a .cnai text with its comments, for the formatter (authoring/fmt.py).

The compiler's scanner (syntax/lexer.py, ``scanner_spec``) skips white space and comments
before each token. The formatter needs the comments too: it runs the same scanner, and what
one match skipped before its token is white space and comments only (a string is a token, so
a `#` inside one is never there), in which every `#` starts a comment to the end of its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnai.syntax.tables import tables

COMMENT = "COMMENT"
OPENERS = {"{": "}", "[": "]", "(": ")"}


@dataclass(slots=True)
class Token:
    kind: str  # the grammar's terminal (NAME, STRING, LBRACE, a keyword's...), or COMMENT
    text: str  # as written (a comment without its trailing white space)
    start: int
    end: int
    line: int  # 0-based line of ``start`` in the text
    own_line: bool = False  # a comment with nothing before it on its line


def scan(text: str) -> list[Token]:
    """Every token and comment of ``text``, in order. The text must have parsed: a character
    no terminal starts with stops the scan (the parser reported it already)."""
    parse_tables = tables()
    match, keywords = re.compile(parse_tables.pattern).match, parse_tables.keywords
    tokens: list[Token] = []
    position, end, line = 0, len(text), 0
    while position < end:
        found = match(text, position)
        assert found is not None  # everything in the pattern is optional
        kind = found.lastgroup
        skipped_end = found.start(kind) if kind is not None else found.end()
        if text.find("#", position, skipped_end) != -1:
            line = _comments(text, position, skipped_end, line, tokens)
        elif skipped_end > position:
            line += text.count("\n", position, skipped_end)
        if kind is None:
            break
        start, position = found.span(kind)
        value = text[start:position]
        if kind == "NAME":
            kind = keywords.get(value, "NAME")
        tokens.append(Token(kind, value, start, position, line))
        line += value.count("\n")  # never: a string holds no raw new line
    return tokens


def words(text: str) -> list[str]:
    """The texts of ``scan(text)``, but a comma that ends a list or arguments: what a
    layout must keep. A lighter scan, for checking the formatter's result."""
    parse_tables = tables()
    match = re.compile(parse_tables.pattern).match
    found_words: list[str] = []
    append = found_words.append
    position, end = 0, len(text)
    while position < end:
        found = match(text, position)
        assert found is not None
        kind = found.lastgroup
        skipped_end = found.start(kind) if kind is not None else found.end()
        hash_at = text.find("#", position, skipped_end)
        while hash_at != -1:
            newline = text.find("\n", hash_at, skipped_end)
            comment_end = skipped_end if newline == -1 else newline
            append(text[hash_at:comment_end].rstrip())
            hash_at = text.find("#", comment_end, skipped_end)
        if kind is None:
            break
        start, position = found.span(kind)
        value = text[start:position]
        if value in (")", "]", "}"):  # "}": a record's (a block has no commas)
            drop_trailing_comma(found_words)
        append(value)
    return found_words


def drop_trailing_comma(found_words: list[str]) -> None:
    """Remove the comma that ends a list or arguments (comments may follow it)."""
    index = len(found_words) - 1
    while index >= 0 and found_words[index].startswith("#"):
        index -= 1
    if index >= 0 and found_words[index] == ",":
        del found_words[index]


def _comments(text: str, start: int, end: int, line: int, tokens: list[Token]) -> int:
    """Append the comments of ``text[start:end]`` (white space and comments only); the line
    at ``end``."""
    position = start
    while True:
        hash_at = text.find("#", position, end)
        if hash_at == -1:
            return line + text.count("\n", position, end)
        line += text.count("\n", position, hash_at)
        line_start = text.rfind("\n", 0, hash_at) + 1
        newline = text.find("\n", hash_at, end)
        comment_end = end if newline == -1 else newline
        own = not text[line_start:hash_at].strip()
        tokens.append(Token(COMMENT, text[hash_at:comment_end].rstrip(), hash_at, comment_end,
                            line, own))
        position = comment_end


def matching(tokens: list[Token]) -> dict[int, int]:
    """Index of each opening bracket's closing one (the text parsed, so they balance)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.text in OPENERS and token.kind != COMMENT and token.kind != "STRING":
            stack.append(index)
        elif token.text in (")", "]", "}") and token.kind not in (COMMENT, "STRING"):
            pairs[stack.pop()] = index
    return pairs
