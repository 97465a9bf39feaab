"""Find grammar/cnai.lark in a checkout (repo/grammar) or in an installed wheel (cnai/grammar)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

# The language's keywords (docs/language.md): none may name anything. Most are tokens of their
# own, so the parser meets them where a name should be; the rest reach the checker as names.
KEYWORDS = frozenset((
    "pipeline", "param", "dataset", "volume", "step", "service", "template", "use", "import",
    "after", "when", "if", "else", "for", "in", "parallel", "finally", "output", "mount",
    "resources", "retry", "distributed", "scheduling", "quota", "and", "or", "not", "true",
    "false"))

_PACKAGE = Path(__file__).resolve().parent.parent
_CANDIDATES = (
    _PACKAGE / "grammar" / "cnai.lark",  # wheel: force-included next to the package code
    _PACKAGE.parent.parent / "grammar" / "cnai.lark",  # checkout: compiler/cnai -> repo root
)


@cache
def grammar_path() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in _CANDIDATES)
    raise FileNotFoundError(f"cnai.lark not found (searched {searched}); the install is broken")


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")
