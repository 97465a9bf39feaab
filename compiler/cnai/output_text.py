"""How the text a step writes to a parameter output is read, once for every engine.

The engines read an output file differently, so each backend renders these rules into the
gates it emits, and the local runner applies them directly:

- Argo's executor trims one trailing newline from every output (workflow/executor/executor.go),
  and nothing else. Kubeflow's launcher keeps a string output as written, and parses numbers
  and bools after Go's ``strings.TrimSpace`` with ``strconv.ParseInt`` / ``ParseFloat`` /
  ``ParseBool`` (backend/src/v2/component/launcher_v2.go, collectOutputParameters, and
  backend/src/v2/metadata/converter.go, TextToPbValue).
- So a string output is the file's text less one trailing newline (``echo done > out`` is
  ``done``): the Argo backend gets it from the executor, the KFP backend compares texts with a
  trailing newline added where missing (:func:`canonical`), the local runner trims it.
- A bool output is true for ``1 t T TRUE true True`` and false for ``0 f F FALSE false False``,
  around which Go's white space is ignored (Go's ``strconv.ParseBool``). Kubeflow fails the
  step on any other text; Argo's gate reads it as false.
- Numbers ignore surrounding white space (Go's ``strings.TrimSpace``); an int is decimal
  digits only (``3.0`` fails the step on Kubeflow and the gate on Argo, whose ``asInt`` is
  ``strconv.Atoi``).
"""

from __future__ import annotations

import re

_INTEGER = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt, base 10

# Go's unicode.IsSpace over Latin-1 and the Unicode Z categories: what strings.TrimSpace
# removes (Python's str.strip also removes U+001C..U+001F, which Go keeps).
GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
TRUE_TEXTS = ("1", "t", "T", "TRUE", "true", "True")  # strconv.ParseBool, in its order
FALSE_TEXTS = ("0", "f", "F", "FALSE", "false", "False")


def output_text(raw: str) -> str:
    """The value of a parameter output whose file holds ``raw``: one trailing newline off."""
    return raw[:-1] if raw.endswith("\n") else raw


def canonical(text: str) -> str:
    """``text`` with a trailing newline unless it has one, i.e. ``output_text(text) + "\\n"``:
    a file holding ``text`` has value ``v`` exactly when ``canonical(text) == v + "\\n"``,
    which a gate can test without removing characters (KFP's CEL has no such function)."""
    return text if text.endswith("\n") else text + "\n"


def go_trim(text: str) -> str:
    return text.strip(GO_SPACE)


def parse_bool(text: str) -> bool | None:
    """A bool output's value, or None when Go's ParseBool refuses the text."""
    trimmed = go_trim(text)
    if trimmed in TRUE_TEXTS:
        return True
    if trimmed in FALSE_TEXTS:
        return False
    return None


def parse_int(text: str) -> int | None:
    """An int output's value, or None when Go's ParseInt refuses the trimmed text."""
    trimmed = go_trim(text)
    return int(trimmed) if _INTEGER.fullmatch(trimmed) else None
