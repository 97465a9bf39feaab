"""The LALR(1) tables of grammar/cnai.lark, as lark builds them, kept as plain data.

lark analyses the grammar (LALR(1), ``strict=True``) and shapes the tree (``_rule`` inlined,
``?rule`` collapsed, ``[x]`` a None placeholder when absent, every token kept). Those
decisions are read off lark's own objects once, into ``Tables``: the scanner pattern, one
action map per state and, per rule, how its children are filtered and which AstBuilder
method receives them. syntax/lalr.py runs the tables; lark's own parser runs only to describe
a syntax error.

The objects read here (the parse table, the rules' options, the terminals) are lark's own
internals, not its API: they are the same in lark 1.2 and 1.3 (tests/test_lalr.py holds the
result to lark's parser), and pyproject.toml admits only those versions.

The tables are cached as JSON under the user's cache directory, with the grammar they were
built from, so a warm CLI start reads a small file instead of importing lark and re-analysing
(lark's own ``cache=True`` does the same with a pickle in the shared temp directory). The file
is plain JSON in the user's own cache directory: loading it runs no code, and a damaged or
outdated file is rebuilt.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cnai.syntax.grammar import grammar_text

FORMAT = 7  # bump when the shape of the cached data or the scanner's pattern changes

# One rule, as the driver reduces it: how many values it pops, the nonterminal it produces,
# the AstBuilder method (None for an inlined `_rule`, whose children join its parent's, and
# for a `?rule` that always has one child, which stands for it), the
# children it keeps ((index, inline, Nones before), or None for "all, as they are"), the
# Nones appended after them, and whether a single child stands for the rule (`?rule`).
Rule = tuple[int, str, str | None, tuple[tuple[int, bool, int], ...] | None, int, bool]


@dataclass(frozen=True)
class Tables:
    pattern: str  # the scanner (lexer.scanner_spec): a named group per terminal
    keywords: dict[str, str]  # a NAME spelled like a keyword -> that keyword's terminal
    states: list[dict[str, int]]  # symbol -> next state (shift/goto), or ~rule (reduce)
    rules: list[Rule]
    start: int
    end: int
    tokens: str  # the descent's tokens (lexer.token_spec): one group, the token's text
    blanks: str  # what may lie between two of them
    punctuation: list[str]  # the string terminals that are not keywords


def _cache_dir() -> Path:
    configured = os.environ.get("CNAI_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnai"


@cache
def tables() -> Tables:
    """The tables for the installed grammar: from the cache, or built with lark and cached."""
    return load(_cache_dir())


def load(directory: Path) -> Tables:
    """The tables from ``directory``'s cache file, built (and the file written) if it is
    missing, unreadable or for another grammar."""
    text = grammar_text()
    # The file name only spreads grammars over files; the grammar text stored in the file
    # is what must match. (zlib is imported already; hashlib would add its OpenSSL start.)
    path = directory / f"tables-{FORMAT}-{zlib.crc32(text.encode()):08x}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") == FORMAT and data.get("grammar") == text:
            return _from_data(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    data = build(text)
    data.update(format=FORMAT, grammar=text)
    _save(path, data)
    return _from_data(data)


def _save(path: Path, data: dict[str, Any]) -> None:
    """Write the cache atomically; a cache that cannot be written is simply not kept."""
    from cnai.outfiles import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(data, separators=(",", ":")))
    except OSError:
        pass


def _from_data(data: dict[str, Any]) -> Tables:
    rules: list[Rule] = [
        (size, origin, handler, None if keep is None else tuple(
            (index, inline, nones) for index, inline, nones in keep), append, collapse)
        for size, origin, handler, keep, append, collapse in data["rules"]]
    return Tables(data["pattern"], data["keywords"], data["states"], rules, data["start"],
                  data["end"], data["tokens"], data["blanks"], data["punctuation"])


@cache
def lark_parser(text: str, analyse: bool = False) -> Any:
    """lark's parser for the grammar ``text``, configured as the tables assume. It builds
    parse trees, and runs only to describe a syntax error: lark keeps its analysis in its
    own cache (``cache=True``), unless ``analyse`` asks for a fresh one, whose grammar
    objects ``build`` reads."""
    from lark import Lark

    from cnai.syntax.lexer import FastLexer

    return Lark(text, parser="lalr", lexer=FastLexer, strict=True, keep_all_tokens=True,
                maybe_placeholders=True, cache=not analyse)


def build(text: str) -> dict[str, Any]:
    """Read the tables off lark's analysis of ``text`` (the grammar) as JSON-ready data."""
    from cnai.syntax.lexer import scanner_spec, token_spec
    from cnai.syntax.to_ast import AstBuilder

    parser = lark_parser(text, analyse=True)
    table = parser.parser.parser.parser.parse_table
    index = {rule: number for number, rule in enumerate(parser.rules)}
    states: list[dict[str, int]] = [{} for _ in table.states]
    for state, actions in table.states.items():
        for symbol, (action, argument) in actions.items():
            states[state][symbol] = argument if action.name == "Shift" else ~index[argument]
    pattern, keywords = scanner_spec(parser.terminals, parser.ignore_tokens)
    tokens, blanks, punctuation = token_spec(parser.terminals, parser.ignore_tokens)
    single = _single_valued(parser.rules)
    rules = [_rule(r, AstBuilder, single) for r in parser.rules]
    return {"pattern": pattern, "keywords": keywords, "states": states, "rules": rules,
            "start": table.start_states["start"], "end": table.end_states["start"],
            "tokens": tokens, "blanks": blanks, "punctuation": punctuation}


def _single_valued(lark_rules: list[Any]) -> set[str]:
    """The inlined rules that always stand for exactly one value (`_body_item: assignment |
    block | ...`): one symbol in every alternative, a token, a rule that makes a node, or
    another such rule. Where lark makes a one-child list for the parent to splice in,
    ``_rule`` passes the child itself up: the same tree, with no list made per item."""
    alternatives: dict[str, list[Any]] = {}
    for rule in lark_rules:
        alternatives.setdefault(rule.origin.name, []).append(rule)
    single: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, alts in alternatives.items():
            if name in single or not name.startswith("_"):
                continue
            if all(len(r.expansion) == 1 and not r.options.empty_indices and (
                    r.expansion[0].is_term or not r.expansion[0].name.startswith("_")
                    or r.expansion[0].name in single) for r in alts):
                single.add(name)
                changed = True
    return single


def _rule(rule: Any, builder: type, single: set[str]) -> list[Any]:
    """One rule, shaped as lark's ParseTreeBuilder shapes it (lark/parse_tree_builder.py:
    ChildFilterLALR, ExpandSingleChild, maybe_create_child_filter) with keep_all_tokens and
    maybe_placeholders on and no ambiguity; a ``single`` inlined rule is a unit rule whose
    child stands for it, and is kept as a child (not spliced) where it appears."""
    expansion, options = rule.expansion, rule.options
    name = rule.origin.name
    if name in single:
        return [1, name, None, None, 0, True]
    empty = options.empty_indices
    if empty:  # how many Nones go before each child, and after the last
        counts = [len(run) for run in "".join(str(int(b)) for b in empty).split("0")]
    else:
        counts = [0] * (len(expansion) + 1)
    keep = [(i, not symbol.is_term and symbol.name.startswith("_") and symbol.name not in single,
             counts[i]) for i, symbol in enumerate(expansion)]
    append = counts[len(expansion)]
    filtered = bool(empty) or any(inline for _, inline, _ in keep)
    collapse = bool(options.expand1 and not rule.alias)
    inline = name.startswith("_")
    handler = None if inline else str(rule.alias or name)
    if inline and collapse:
        raise ValueError(f"rule {name} is both inlined and collapsed; the driver cannot shape it")
    if handler is not None and not hasattr(builder, handler):
        if not (collapse and len(keep) == 1 and not filtered):  # `?x: y` always collapses
            raise ValueError(f"AstBuilder has no method for rule {handler}")
        handler = None
    return [len(expansion), name, handler, keep if filtered else None, append, collapse]
