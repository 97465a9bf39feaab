"""The tokenizer: one compiled regular expression built from the grammar's terminals.

lark's own lexers try each terminal per position and track lines for every token; at 2,000
steps that was a third of the parse. This scanner is built from the same grammar's terminals
(the grammar stays the only definition of the language): each string terminal is a keyword
or punctuation, each regexp terminal a pattern, tried longest-literal-first in one
alternation, and names that spell a keyword become that keyword. Positions are offsets;
the parser needs nothing else and diagnostics compute lines from offsets.

``scanner_spec`` is what the fast parser (syntax/lalr.py) scans with; ``FastLexer`` feeds the
same tokens to lark's own parser, which runs only to build the tables and to describe a
syntax error. This module imports lark, so the fast path never imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, Token

# Regexp terminals, tried in this order, the punctuation between COMP_OP and the rest: NAME
# first, as the commonest token (a third of them; keywords are names the lexer retypes, and
# no other terminal starts with a letter or `_`, so the order changes only the speed: Python's
# regex engine tries the branches in turn), FLOAT before INT, COMP_OP before the punctuation
# so "==" is not read as "=" twice. The ignored ones (white space, comments) are skipped before
# each token by the same match.
_ORDER = ("NAME", "STRING", "FLOAT", "INT", "COMP_OP")
_IGNORED = ("WS", "COMMENT")


def scanner_spec(terminals: Iterable[Any], ignore: Iterable[str]) -> tuple[str, dict[str, str]]:
    """(the pattern, keyword -> terminal) from lark's TerminalDefs and ignored terminals.

    One match of the pattern skips white space and comments, then takes one token: its
    terminal is the match's ``lastgroup``. A match whose ``lastgroup`` is None found no
    token: the end of the text, or a character no terminal starts with."""
    by_name = {t.name: t for t in terminals}
    if sorted(ignore) != sorted(_IGNORED):
        raise ValueError(f"the fast lexer skips {_IGNORED}, the grammar ignores {list(ignore)}")
    keywords: dict[str, str] = {}
    punctuation: list[tuple[str, str]] = []
    for terminal in by_name.values():
        if terminal.pattern.type != "str":
            continue
        value = terminal.pattern.value
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            keywords[value] = terminal.name
        else:
            punctuation.append((terminal.name, value))
    missing = [t.name for t in by_name.values() if t.pattern.type == "re" and
               t.name not in _ORDER + _IGNORED]
    if missing:
        raise ValueError(f"the fast lexer does not know the terminals {missing}")
    skip = "|".join(by_name[name].pattern.to_regexp() for name in _IGNORED)
    parts = [f"(?P<{name}>{by_name[name].pattern.to_regexp()})" for name in _ORDER]
    parts += [f"(?P<{name}>{re.escape(value)})" for name, value in
              sorted(punctuation, key=lambda p: (-len(p[1]), p[1]))]
    return f"(?:{skip})*(?:{'|'.join(parts)})?", keywords


class FastLexer(Lexer):
    """``scanner_spec``'s pattern as a lark Lexer, for lark's own parser."""

    __future_interface__ = 2  # lex(lexer_state, parser_state), as lark's own lexers

    def __init__(self, conf: Any) -> None:
        pattern, self.keywords = scanner_spec(conf.terminals, conf.ignore)
        self.pattern = re.compile(pattern)

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text  # lark 1.3 passes a TextSlice of the text, 1.2 the text
        text = getattr(text, "text", text)
        match, keywords = self.pattern.match, self.keywords
        position, end = 0, len(text)
        while position < end:
            found = match(text, position)
            assert found is not None  # everything in the pattern is optional
            kind = found.lastgroup
            if kind is None:
                if found.end() == end:
                    return  # white space or a comment to the end
                position = found.end()
                # What was expected is lark's to say: parse_from_state attaches the parser
                # it stopped in, and parser.py asks it what it accepts.
                raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                    text, position, None, None, state=parser_state)
            start, position = found.span(kind)
            value = text[start:position]
            if kind == "NAME":
                kind = keywords.get(value, "NAME")
            yield Token(kind, value, start, None, None, None, None, position)
