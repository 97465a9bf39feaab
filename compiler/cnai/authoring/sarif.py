"""``cnai check --format sarif``: diagnostics as a SARIF 2.1.0 log, for code scanning.

One run for all the files checked. Its rules are the whole diagnostic registry, in registry
order (``id``, ``shortDescription`` from diagnostics/codes.py; ``fullDescription`` and
``help`` from docs/diagnostics.md's section, what ``cnai explain`` prints); each result names
its rule by ``ruleId`` and ``ruleIndex``. What the OASIS standard (SARIF v2.1.0, Errata 01)
asks, and what cnai writes:

- columns: cnai counts characters (code points), so the run says ``columnKind:
  "unicodeCodePoints"`` (§3.14.27: utf16CodeUnits otherwise);
- a region's ``endColumn`` is one past its last character (§3.30.8), as cnai's spans' ends;
- ``artifactLocation.uri`` is the path as given, a relative reference with the
  ``%SRCROOT%`` base id (§3.4.4), or a ``file://`` URI for an absolute path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from cnai import __version__
from cnai.diagnostics import CODES, Diagnostic
from cnai.diagnostics.diagnostic import Label
from cnai.source import Span

SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
          "sarif-schema-2.1.0.json")
SOURCE_ROOT = "%SRCROOT%"


def render_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    """The SARIF log of one check, as indented JSON (the same input gives the same bytes)."""
    return json.dumps(sarif_log(diagnostics), indent=2, ensure_ascii=False) + "\n"


def sarif_log(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    codes = list(CODES)
    index = {code: number for number, code in enumerate(codes)}
    driver = {"name": "cnai", "version": __version__, "semanticVersion": __version__,
              "rules": [_rule(code) for code in codes]}
    run = {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints",
           "results": [_result(d, index[d.code]) for d in diagnostics]}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(code: str) -> dict[str, Any]:
    from cnai.authoring.explain import sections, summary

    rule: dict[str, Any] = {
        "id": code,
        "shortDescription": {"text": CODES[code]},
        "help": {"text": f"`cnai explain {code}` prints the description and an example.",
                 "markdown": sections().get(code, "")},
        "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"},
    }
    full = summary(code)
    if full:
        rule["fullDescription"] = {"text": full}
    return rule


def _result(diagnostic: Diagnostic, rule_index: int) -> dict[str, Any]:
    lines = [diagnostic.message]
    lines += [f"note: {note}" for note in diagnostic.notes]
    lines += [f"help: {help_}" for help_ in diagnostic.help]
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": diagnostic.severity.value,
        "message": {"text": "\n".join(lines)},
        "locations": [_location(diagnostic.primary)],
    }
    if diagnostic.secondary:
        result["relatedLocations"] = [
            {"id": number, **_location(label)}
            for number, label in enumerate(diagnostic.secondary)]
    return result


def _location(label: Label) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact(label.span.file),
                                "region": region(label.span)}
    location: dict[str, Any] = {"physicalLocation": physical}
    if label.text:
        location["message"] = {"text": label.text}
    return location


def artifact(path: str) -> dict[str, str]:
    """The ``artifactLocation`` of a file as cnai was given it."""
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": "file://" + quote(pure.as_posix(), safe="/:")}
    return {"uri": quote(pure.as_posix(), safe="/"), "uriBaseId": SOURCE_ROOT}


def region(span: Span) -> dict[str, int]:
    """1-based lines and columns, the end one past the last character."""
    return {"startLine": span.line, "startColumn": span.col, "endLine": span.end_line,
            "endColumn": span.end_col}
