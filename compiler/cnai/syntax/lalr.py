"""The LALR(1) driver: scan and parse in one loop over the tables lark built (tables.py).

lark's own parser spends most of its time per token outside the grammar's work: a lexer
generator, a Token per match built through keyword handling, a parser-state object and a
chain of callback wrappers per reduction. At 2,000 steps (104k tokens) that was 0.65 s. This
loop does the same shift/reduce steps on the same tables, with each token a small tuple and
each rule's child filtering read from a precomputed plan; it returns None on the first token
the tables reject, and the caller asks lark's parser for the error (parser.py), so syntax
errors are described exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from cnai.syntax.tables import Tables

# A rule as the loop runs it: (size, origin, handler, keep, append, collapse, unit).
Keep = tuple[tuple[int, bool, int], ...]
Plan = tuple[int, str, Callable[[list[Any]], Any] | None, Keep | None, int, bool, bool]


class Token(NamedTuple):
    """A token: its terminal, its text and its offsets in the source."""

    type: str
    value: str
    start: int
    end: int


_new_token = tuple.__new__  # Token(...) without the keyword handling of NamedTuple's __new__


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def run(tables: Tables, text: str, builder: Any) -> Any:
    """Parse ``text``, calling ``builder``'s method per rule; None if the text is not valid."""
    keywords, states, end_state = tables.keywords, tables.states, tables.end
    # Per rule: (size, origin, handler, keep, append, collapse, unit). A unit rule (`?a: b`
    # with one child) passes its child's value through, so only the state changes: every
    # expression climbs five of them (atom -> comparison -> ... -> expr). Where a climb ends
    # depends only on the state below, the state reached and the next token: ``climbs``
    # remembers it, and a climb is one lookup.
    climbs: dict[tuple[int, int, str], int] = {}
    rules: list[Plan] = [
        (size, origin, None if handler is None else getattr(builder, handler), keep, append,
         collapse, size == 1 and collapse and keep is None and not append)
        for size, origin, handler, keep, append, collapse in tables.rules]
    state = tables.start  # the top of state_stack
    state_stack: list[int] = [state]
    values: list[Any] = []
    names: dict[str, str] = {}
    push_state, push_value = state_stack.append, values.append
    length = len(text)
    for found in _compiled(tables.pattern).finditer(text):
        kind = found.lastgroup
        token: Token | None
        if kind is not None:
            start, end = found.span(kind)
            value = text[start:end]
            if kind == "NAME":
                kind = keywords.get(value, "NAME")
                if kind == "NAME":
                    # One string per distinct name: a large pipeline spells the same few
                    # names (fields, outputs, steps read again) tens of thousands of times.
                    value = names.setdefault(value, value)
            token = _new_token(Token, (kind, value, start, end))
        elif found.end() == length:  # white space and comments to the end
            kind, token = "$END", None
        else:
            return None  # a character no token starts with
        while True:
            try:  # a subscript, not .get(): a token the state has no action for is rare
                action = states[state][kind]
            except KeyError:
                return None
            if action >= 0:  # shift
                push_state(action)
                state = action
                push_value(token)
                break
            size, origin, handler, keep, append, collapse, unit = rules[~action]
            if unit:
                key = (state_stack[-2], state, kind)
                top = climbs.get(key)
                if top is None:
                    top = climbs[key] = _climb(states, rules, state_stack[-2], origin, kind)
                state_stack[-1] = state = top
                continue
            if size:
                children = values[-size:]
                del values[-size:]
                del state_stack[-size:]
            else:
                children = []
            if keep is not None:
                children = _filter(children, keep, append)
            if collapse and len(children) == 1:
                result = children[0]
            elif handler is None:  # an inlined `_rule`: its parent takes its children
                result = children
            else:
                result = handler(children)
            state = states[state_stack[-1]][origin]
            push_state(state)
            push_value(result)
            if token is None and state == end_state:
                return result
    raise AssertionError("the scanner always ends with an empty match")


def _climb(states: list[dict[str, int]], rules: list[Plan], below: int, origin: str,
           kind: str) -> int:
    """The state after reducing unit rules, the first producing ``origin``, over ``below``."""
    top = states[below][origin]
    while True:
        action = states[top].get(kind)
        if action is None or action >= 0 or not rules[~action][6]:
            return top
        top = states[below][rules[~action][1]]


def _filter(children: list[Any], keep: Keep, append: int) -> list[Any]:
    """A rule's children as lark's ChildFilterLALR shapes them: inlined rules' children
    spliced in, a None for each absent ``[x]``."""
    filtered: list[Any] = []
    for index, inline, nones in keep:
        if nones:
            filtered += [None] * nones
        if inline:
            if filtered:
                filtered += children[index]
            else:  # left recursion (`items: items item`): extend the list, do not copy it
                filtered = children[index]
        else:
            filtered.append(children[index])
    if append:
        filtered += [None] * append
    return filtered
