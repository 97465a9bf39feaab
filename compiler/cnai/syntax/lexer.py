"""The tokenizer: one compiled regular expression built from the grammar's terminals.

lark's own lexers try each terminal per position and track lines for every token; at 2,000
steps that was a third of the parse. This scanner is built from the same grammar's terminals
(the grammar stays the only definition of the language): each string terminal is a keyword
or punctuation, each regexp terminal a pattern, tried longest-literal-first in one
alternation, and names that spell a keyword become that keyword. Positions are offsets;
the parser needs nothing else and diagnostics compute lines from offsets.

``scanner_spec`` is what the fast parser (syntax/lalr.py) scans with, and ``token_spec`` the
same tokens as syntax/descent.py splits the text; ``FastLexer`` feeds the same tokens to
lark's own parser, which runs only to build the tables and to describe a syntax error. This
module imports lark, so the fast path never imports it.
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
    ignored, regexps, keywords, punctuation = _terminals(terminals, ignore)
    skip = "|".join(ignored)
    parts = [f"(?P<{name}>{regexp})" for name, regexp in regexps]
    parts += [f"(?P<{name}>{re.escape(value)})" for name, value in punctuation]
    return f"(?:{skip})*(?:{'|'.join(parts)})?", keywords


def token_spec(terminals: Iterable[Any], ignore: Iterable[str]) -> tuple[str, str, list[str]]:
    """(the tokens' pattern, the blanks' pattern, the punctuation) for syntax/descent.py.

    The descent splits the text with the tokens' pattern, which is one group: every token
    of ``scanner_spec``, and a comment, each read at a position where ``scanner_spec``
    reads it. What lies between two matches must be blanks (the white space terminal), or
    a character no token starts with is there. With no group per terminal, the descent
    tells a token's kind from its text (a keyword or punctuation is known whole, the other
    terminals by their first character). The engine tries the branches in turn, so the
    commonest go first: NAME, then the punctuation of one character that no other
    terminal's text starts with (one character class), then the rest in ``scanner_spec``'s
    order, comments last."""
    (ws, comment), regexps, _, punctuation = _terminals(terminals, ignore)
    texts = [value for _, value in punctuation]
    compiled = [re.compile(regexp) for name, regexp in regexps if name != "NAME"]
    probes = [chr(c) for c in range(32, 127)]
    early = [value for value in texts if len(value) == 1 and not any(
        other != value and other.startswith(value) for other in texts) and not any(
        regexp.match(value) or regexp.match(value + probe)
        for regexp in compiled for probe in probes)]
    late = [value for value in texts if value not in early]  # still longest first
    parts = [_uncaptured(regexps[0][1])]  # NAME (_ORDER's first)
    if early:
        parts.append(f"[{''.join(re.escape(value) for value in early)}]")
    parts += [_uncaptured(regexp) for name, regexp in regexps[1:]]
    parts += [re.escape(value) for value in late]
    parts.append(_uncaptured(comment))
    # A run of one class where the white space is one (lark's common WS), else the same
    # terminal repeated, possessively (blanks that end in another character fail at once).
    single = re.fullmatch(r"\(\?:(\[[^\]\\]*\])\)\+", ws)
    blanks = f"{single.group(1)}*" if single is not None else f"(?:{ws})*+"
    return f"({'|'.join(parts)})", blanks, texts


def _uncaptured(regexp: str) -> str:
    """``regexp`` with its groups made non-capturing: re.split returns every group's text."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(regexp):
        char = regexp[i]
        if char == "\\":
            out.append(regexp[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            opening = re.match(r"\[\^?\]?", regexp[i:])  # `]` first in a class is itself
            assert opening is not None
            out.append(opening.group())
            i += len(opening.group())
            continue
        elif char == "(" and regexp[i + 1:i + 2] != "?":
            out.append("(?:")
            i += 1
            continue
        out.append(char)
        i += 1
    result = "".join(out)
    if re.compile(result).groups:
        raise ValueError(f"the fast lexer cannot read the groups of /{regexp}/")
    return result


def _terminals(terminals: Iterable[Any], ignore: Iterable[str]
               ) -> tuple[list[str], list[tuple[str, str]], dict[str, str],
                          list[tuple[str, str]]]:
    """The patterns of the skipped terminals (in ``_IGNORED``'s order), the regexp terminals
    in ``_ORDER`` (name, pattern), the keywords (text -> terminal) and the punctuation
    (terminal, text), longest first."""
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
    ignored = [by_name[name].pattern.to_regexp() for name in _IGNORED]
    regexps = [(name, by_name[name].pattern.to_regexp()) for name in _ORDER]
    return ignored, regexps, keywords, sorted(punctuation, key=lambda p: (-len(p[1]), p[1]))


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
