"""parse(source) -> ast.Module. lark's errors are translated here, once, into diagnostics."""

from __future__ import annotations

from functools import cache

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cnai.diagnostics import CompileError, Diagnostic, DiagnosticBag, Label
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.grammar import grammar_text
from cnai.syntax.lexer import FastLexer
from cnai.syntax.to_ast import AstBuilder

_FRIENDLY = {
    "NAME": "a name", "STRING": "a string", "INT": "an integer", "FLOAT": "a number",
    "COMP_OP": "a comparison", "$END": "end of file",
}


_BUILDER = AstBuilder()


@cache
def _lark() -> Lark:
    # cache=True keeps the built LALR tables in the temp dir, keyed by grammar and lark version:
    # it takes ~0.2 s off every CLI start. The AST is built by callbacks during the parse.
    return Lark(grammar_text(), parser="lalr", lexer=FastLexer, strict=True,
                keep_all_tokens=True, maybe_placeholders=True, transformer=_BUILDER, cache=True)


def parse(source: SourceFile) -> ast.Module:
    """Parse one file. Raises CompileError with the syntax diagnostics; they stop compilation."""
    parser = _lark()
    _BUILDER.reset(source)
    try:
        module = parser.parse(source.text)
    except UnexpectedInput as error:
        raise CompileError([_translate(error, source, parser)]) from None
    if _BUILDER.diagnostics.has_errors:
        raise CompileError(_BUILDER.diagnostics.sorted())
    assert isinstance(module, ast.Module)
    return module


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
    described = sorted({_describe(n, parser) for n in names})
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
            bag.error("E0002", f"unexpected character `{shown}`", span,
                      f"expected {_expected(set(error.allowed or ()), parser)}")
        return bag.items[0]
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        token = error.token
        start = token.start_pos or 0
        span = source.span(start, token.end_pos or start + 1)
        expected = _expected(set(error.accepts or error.expected), parser)
        bag.error("E0003", f"unexpected {_found(token, parser)}", span,
                  f"expected {expected}", help=_hints(token, error))
        return bag.items[0]
    assert isinstance(error, (UnexpectedToken, UnexpectedEOF))
    end = len(source.text)
    span = source.span(end, end)
    expected = _expected(set(getattr(error, "expected", ()) or ()), parser)
    brace = _open_block(source, end)
    secondary = []
    message = "unexpected end of file"
    if brace is not None:
        secondary.append(Label(brace, f"`{_header(source, brace)} {{` is not closed"))
        message += f": `{_header(source, brace)}` is still open"
    bag.error("E0004", message, span, f"expected {expected}", secondary=secondary,
              help=["add the missing `}`"] if brace is not None else [])
    return bag.items[0]


def _hints(token: Token, error: UnexpectedToken) -> list[str]:
    expected = set(error.accepts or error.expected)
    if token.type == "COMMA" and "NAME" in expected:
        return ["fields are separated by spaces or new lines, not commas"]
    if token.type in ("STRING", "INT", "FLOAT", "LSQB") and "EQUAL" in expected:
        return ["a field is written `name = value`"]
    if token.type == "COLON" and "EQUAL" in expected:
        return ["a field is written `name = value`; `:` is for types (`param x: int`)"]
    if token.type == "COMP_OP":
        return ["comparisons do not chain: write `a < b and b < c`"]
    return []
