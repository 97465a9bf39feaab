"""The tokenizer lark's LALR parser reads from: one compiled regular expression.

lark's own lexers try each terminal per position and track lines for every token; at 2,000
steps that was a third of the parse. This lexer is built from the same grammar's terminals
(the grammar stays the only definition of the language): each string terminal is a keyword
or punctuation, each regexp terminal a pattern, tried longest-literal-first in one
alternation, and names that spell a keyword become that keyword. Positions are offsets;
the parser needs nothing else and diagnostics compute lines from offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, Token

# Regexp terminals, tried in this order after the punctuation: FLOAT before INT, and NAME
# last (keywords are names the lexer retypes).
_ORDER = ("WS", "COMMENT", "STRING", "FLOAT", "INT", "COMP_OP", "NAME")


def _acceptable(parser_state: Any) -> set[str]:
    """The terminals the parser could take next, for the "expected ..." of a diagnostic."""
    try:
        found = parser_state.parse_conf.parse_table.states[parser_state.position]
    except AttributeError:
        return set()
    return {name for name in found if name.isupper() or name == "$END"}  # terminals only


class FastLexer(Lexer):
    __future_interface__ = 2  # lex(lexer_state, parser_state), as lark's own lexers

    def __init__(self, conf: Any) -> None:
        terminals = {t.name: t for t in conf.terminals}
        self.ignore = frozenset(conf.ignore)
        self.keywords: dict[str, str] = {}
        punctuation: list[tuple[str, str]] = []
        for terminal in conf.terminals:
            if terminal.pattern.type != "str":
                continue
            value = terminal.pattern.value
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                self.keywords[value] = terminal.name
            else:
                punctuation.append((terminal.name, value))
        missing = [t.name for t in conf.terminals if t.pattern.type == "re" and
                   t.name not in _ORDER]
        if missing:
            raise ValueError(f"the fast lexer does not know the terminals {missing}")
        # Comparisons before punctuation, so "==" is not read as "=" twice.
        parts = [f"(?P<{name}>{terminals[name].pattern.to_regexp()})" for name in _ORDER[:-1]]
        parts += [f"(?P<{name}>{re.escape(value)})" for name, value in
                  sorted(punctuation, key=lambda p: (-len(p[1]), p[1]))]
        parts.append(f"(?P<NAME>{terminals['NAME'].pattern.to_regexp()})")
        self.pattern = re.compile("|".join(parts))

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        text: str = lexer_state.text.text
        match = self.pattern.match
        keywords, ignore = self.keywords, self.ignore
        position, end = 0, len(text)
        while position < end:
            found = match(text, position)
            if found is None:
                raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                    text, position, None, None, allowed=_acceptable(parser_state),
                    state=parser_state)
            kind = found.lastgroup
            assert kind is not None
            start, position = position, found.end()
            if kind in ignore:
                continue
            value = found.group()
            if kind == "NAME":
                kind = keywords.get(value, "NAME")
            yield Token(kind, value, start, None, None, None, None, position)
