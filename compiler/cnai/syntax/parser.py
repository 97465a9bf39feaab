"""parse(source) -> ast.Module. lark's errors are translated here, once, into diagnostics.

The parse is syntax/descent.py's, for text it takes whole; anything else (a syntax error, a
diagnostic, very deep nesting) is parsed again by lark's LALR tables in syntax/lalr.py. When
the tables reject the text, lark's own parser parses it again to raise its UnexpectedInput
(what was found, what was expected, in which state), which is translated here; errors are
rare, so only they pay for importing lark.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cnai.diagnostics import CompileError, Diagnostic, DiagnosticBag, Label
from cnai.limits import MAX_SOURCE_BYTES, too_large
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.descent import descend
from cnai.syntax.grammar import KEYWORDS, grammar_text
from cnai.syntax.lalr import run
from cnai.syntax.tables import lark_parser, tables
from cnai.syntax.to_ast import AstBuilder

if TYPE_CHECKING:
    from lark import Lark, Token
    from lark.exceptions import UnexpectedInput

# A number with a name glued on (`10Gi`, `500m`, `30s`) just before the token where the parse
# failed: the name was read as the start of another field.
_GLUED = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)([A-Za-z_]\w*)[ \t\r\n]*\Z")

_FRIENDLY = {
    "NAME": "a name", "STRING": "a string", "INT": "an integer", "FLOAT": "a number",
    "COMP_OP": "a comparison", "$END": "end of file",
}


def parse(source: SourceFile) -> ast.Module:
    """Parse one file. Raises CompileError with the syntax diagnostics; they stop compilation."""
    if len(source.text) > MAX_SOURCE_BYTES:
        raise CompileError([too_large(source.path, source.span(0, 0))])
    builder = AstBuilder()
    builder.reset(source)
    parse_tables = tables()
    # The descent parser takes well-formed text; anything else, the LALR path decides.
    module = descend(parse_tables, builder)
    if module is not None:
        return module
    builder.reset(source)
    module = run(parse_tables, source.text, builder)
    if module is None:
        raise CompileError([_syntax_error(source)])
    if builder.diagnostics.has_errors:
        raise CompileError(builder.diagnostics.sorted())
    assert isinstance(module, ast.Module)
    return module


def _syntax_error(source: SourceFile) -> Diagnostic:
    """The diagnostic for text the tables rejected, from lark's description of the error."""
    from lark.exceptions import UnexpectedInput

    parser = lark_parser(grammar_text())
    try:
        parser.parse(source.text)
    except UnexpectedInput as error:
        return _translate(error, source, parser)
    raise AssertionError("lark accepted a text the LALR tables rejected")


def _describe(terminal: str, parser: Lark) -> str:
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


def _found(token: Token, parser: Lark) -> str:
    described = _describe(token.type, parser)
    if described.startswith("`"):
        return described
    noun = described.split(" ", 1)[-1]  # "a name" -> "name"
    return f"{noun} `{token}`"


def _expected(names: set[str], parser: Lark) -> str:
    """What could come next, punctuation first (a closing `}` is the likeliest fix), then
    keywords, then kinds of token; at most eight."""
    def order(text: str) -> tuple[int, str]:
        if not text.startswith("`"):
            return 2, text
        return (1 if text.strip("`").isalpha() else 0), text

    described = sorted({_describe(n, parser) for n in names}, key=order)
    if len(described) > 8:
        described = [*described[:8], "..."]
    return ", ".join(described)


def _open_block(source: SourceFile, end: int) -> Span | None:
    """The innermost `{` still open at ``end`` (strings and comments skipped)."""
    stack: list[int] = []
    text = source.text
    i = 0
    while i < end:
        char = text[i]
        if char == "#":
            newline = text.find("\n", i)
            i = end if newline == -1 else newline
        elif char == '"':
            i += 1
            while i < end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif char == "{":
            stack.append(i)
        elif char == "}" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    return source.span(stack[-1], stack[-1] + 1)


def _header(source: SourceFile, brace: Span) -> str:
    line = source.line_text(brace.line)[: brace.col - 1].strip()
    return line if line else "block"


def _translate(error: UnexpectedInput, source: SourceFile, parser: Lark) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    bag = DiagnosticBag()
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream or 0
        char = source.text[pos]
        span = source.span(pos, pos + 1)
        if char == '"':
            line_end = source.text.find("\n", pos)
            end = len(source.text) if line_end == -1 else line_end
            bag.error("E0005", "unterminated string", source.span(pos, end),
                      "this string is not closed on its line",
                      help=['close it with `"`; write `\\n` for a line break inside a string'])
        else:
            shown = char if char.isprintable() else f"\\u{ord(char):04x}"
            # As for E0004: what the parser accepts after its pending reductions, not the
            # LALR state's raw expected set (lark attaches the parser it stopped in).
            stopped = getattr(error, "interactive_parser", None)
            allowed = stopped.accepts() if stopped is not None else set()
            bag.error("E0002", f"unexpected character `{shown}`", span,
                      f"expected {_expected(allowed, parser)}", help=[_CHARACTER_HINTS.get(
                          char, f"`{shown}` has no meaning here; inside a string it is text")])
        return bag.items[0]
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        token = error.token
        start = token.start_pos or 0
        span = source.span(start, token.end_pos or start + 1)
        accepted = set(error.accepts or error.expected)
        if token.value in KEYWORDS and "NAME" in accepted and accepted <= _DECLARING:
            bag.error("E0208", f"`{token.value}` is a keyword", span, "a keyword, not a name",
                      help=[f"keywords cannot name anything; choose another name, such as "
                            f"`{token.value}_`"])
            return bag.items[0]
        glued = _glued_unit(source, start, accepted)
        bag.error("E0003", f"unexpected {_found(token, parser)}", span,
                  f"expected {_expected(accepted, parser)}",
                  help=glued[1] if glued else _hints(token, accepted),
                  secondary=glued[0] if glued else ())
        return bag.items[0]
    assert isinstance(error, (UnexpectedToken, UnexpectedEOF))
    end = len(source.text)
    span = source.span(end, end)
    # lark's `accepts` runs the pending reductions first: the raw `expected` of the state
    # also lists what only other contexts of the same LALR state take (`)` after a value).
    expected = _expected(set(getattr(error, "accepts", None) or getattr(error, "expected", ())
                             or ()), parser)
    brace = _open_block(source, end)
    secondary = []
    message = "unexpected end of file"
    if brace is not None:
        secondary.append(Label(brace, f"`{_header(source, brace)} {{` is not closed"))
        message += f": `{_header(source, brace)}` is still open"
    bag.error("E0004", message, span, f"expected {expected}", secondary=secondary,
              help=["add the missing `}`"] if brace is not None else [
                  "the file ends in the middle of a declaration: finish it, e.g. "
                  "`pipeline NAME { ... }`"])
    return bag.items[0]


def _glued_unit(source: SourceFile, start: int, accepted: set[str]
                ) -> tuple[list[Label], list[str]] | None:
    """`size = 10Gi`: the number ends the field and `Gi` starts another, which fails at the
    next token. The label goes on `10Gi` and the help says to quote it."""
    if not accepted & {"EQUAL", "LBRACE"}:
        return None
    found = _GLUED.search(source.text, 0, start)
    if found is None:
        return None
    text = found.group(1) + found.group(2)
    label = Label(source.span(found.start(), found.end(2)),
                  f"read as the number {found.group(1)}, then a field named `{found.group(2)}`")
    return [label], [f'quantities and durations are strings: write "{text}"']


# Where the parser takes these and nothing else, a name is being declared (`param NAME`,
# `template t(NAME`): a keyword there is a name that cannot be, E0208 as for the checker.
_DECLARING = frozenset({"NAME", "RPAR"})
_CHARACTER_HINTS = {
    "'": 'strings are written in double quotes: "text"',
    "`": 'strings are written in double quotes: "text"',
    ";": "items end at the end of a line or a space; no `;` is needed",
}


def _hints(token: Token, expected: set[str]) -> list[str]:
    if token.type == "COMMA" and "NAME" in expected:
        return ["fields are separated by spaces or new lines, not commas"]
    if token.type in ("STRING", "INT", "FLOAT", "LSQB") and "EQUAL" in expected:
        return ["a field is written `name = value`"]
    if token.type == "COLON" and "EQUAL" in expected:
        return ["a field is written `name = value`; `:` is for types (`param x: int`)"]
    if token.type == "COMP_OP":
        return ["comparisons do not chain: write `a < b and b < c`"]
    if "COMMA" in expected and token.type in ("STRING", "INT", "FLOAT", "NAME", "LSQB"):
        return ["list items and arguments are separated by commas: `[\"a\", \"b\"]`"]
    if token.value == "else":
        return ["`else` follows the `}` that closes an `if` block: `if c { ... } else { ... }`"]
    if token.value == "}":
        return ["this `}` closes nothing open here: remove it, or look above for a missing `{`"]
    return ["the label lists what may come here; is something missing just before it?"]
