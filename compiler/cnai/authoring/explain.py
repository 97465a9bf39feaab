"""``cnai explain CODE``: a diagnostic's long description and example, as ``rustc --explain``.

The text is docs/diagnostics.md's section for the code (``### E0208`` up to the next heading),
the single source the docs site and the SARIF rules (authoring/sarif.py) read too. The wheel
carries that file as ``cnai/docs/diagnostics.md`` (pyproject.toml's force-include, as for the
grammar); a checkout reads it from docs/.
"""

from __future__ import annotations

import argparse
import re
import sys
from functools import cache
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2
_PACKAGE = Path(__file__).resolve().parent.parent
_CANDIDATES = (
    _PACKAGE / "docs" / "diagnostics.md",  # wheel: force-included next to the package code
    _PACKAGE.parent.parent / "docs" / "diagnostics.md",  # checkout: compiler/cnai -> root
)
_HEADING = re.compile(r"^#{1,3} ")
_CODE_HEADING = re.compile(r"^### ([EW]\d{4})[ \t]*$")


def docs_path() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in _CANDIDATES)
    raise FileNotFoundError(f"diagnostics.md not found (searched {searched}); the install is "
                            "broken")


@cache
def sections() -> dict[str, str]:
    """Each code's section of docs/diagnostics.md, without its heading, stripped. A section
    ends at the next heading of level 1 to 3 outside a fenced block (an example's
    ``# expect:`` line is not a heading)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in docs_path().read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            heading = _CODE_HEADING.match(line)
            current = found.setdefault(heading.group(1), []) if heading else None
            continue
        if current is not None:
            current.append(line)
    return {code: "\n".join(lines).strip() for code, lines in found.items()}


def summary(code: str) -> str:
    """The section's first paragraph as plain text (Markdown's ``**`` and backticks dropped,
    links reduced to their text): a SARIF rule's fullDescription."""
    paragraph = sections().get(code, "").split("\n\n", 1)[0]
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraph).replace("**", "")
    return " ".join(plain.replace("`", "").split())


def explanation(code: str) -> str:
    """What ``cnai explain CODE`` prints: the code and its short description, then the
    section."""
    from cnai.diagnostics import CODES

    return f"{code}: {CODES[code]}\n\n{sections()[code]}\n"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``explain`` to the ``cnai`` command's subcommands."""
    sub = subparsers.add_parser(
        "explain", help="explain a diagnostic code, with an example",
        description="Print the long description and an example of a diagnostic code (as in "
        "docs/diagnostics.md). With no CODE, list every code.")
    sub.add_argument("code", nargs="?", metavar="CODE", help="e.g. E0208 (any case)")
    return sub


def run(args: argparse.Namespace) -> int:
    """Run ``cnai explain``: the section of the code, or every code with its description."""
    from cnai.diagnostics import CODES
    from cnai.usage import UsageError

    if args.code is None:
        sys.stdout.write("".join(f"{code}  {text}\n" for code, text in CODES.items()))
        return EXIT_OK
    code = args.code.strip().upper()
    if code not in CODES:
        raise UsageError(f"unknown diagnostic code {args.code!r}{_did_you_mean(code)}; "
                         "`cnai explain` lists them")
    sys.stdout.write(explanation(code))
    return EXIT_OK


def _did_you_mean(code: str) -> str:
    """A registered code one slip away: two neighbouring characters swapped, then one
    character wrong, then difflib's closest."""
    import difflib

    from cnai.diagnostics import CODES

    def differences(known: str) -> list[int]:
        return [i for i, (a, b) in enumerate(zip(code, known, strict=True)) if a != b]

    same_length = [known for known in CODES if len(known) == len(code)]
    swapped = [k for k in same_length if len(d := differences(k)) == 2 and d[1] == d[0] + 1
               and code[d[0]] == k[d[1]] and code[d[1]] == k[d[0]]]
    one_off = [known for known in same_length if len(differences(known)) == 1]
    close = swapped or one_off or difflib.get_close_matches(code, list(CODES), n=1,
                                                            cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
