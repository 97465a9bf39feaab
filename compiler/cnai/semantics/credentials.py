"""Credentials written into a pipeline (W0105), and the names a ``secret()`` may take.

Whatever a .cnai file says ends up in the Workflow or the pipeline spec, which everyone who
can list Workflows, read the Kubeflow UI or the pipeline's repository can read. A key in a
string literal is therefore a leak, and the warning says where to put it instead.
"""

from __future__ import annotations

import re

from cnai.diagnostics import DiagnosticBag
from cnai.limits import shown
from cnai.source import SourceFile, Span

# Shapes with few false positives: fixed prefixes and lengths that providers document. Each is
# (what it is, the literal prefixes it starts with, the pattern from there): the text is
# searched for the prefixes with str.find, and a pattern is tried only where one is, so the
# scan of a large file costs a few passes of str.find, not a regex at every position. A
# family of prefixes is searched for by the start they share (`gh`, `xox`): each pass over
# the text costs about as much whatever it looks for, and the pattern tells the family's
# members apart.
_SHAPES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (kind, prefixes, re.compile(pattern)) for kind, prefixes, pattern in (
        ("an AWS access key id", ("AKIA", "ASIA"), r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z_])"),
        ("a GitHub token", ("gh", "github_pat_"),
         r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("a Slack token", ("xox",), r"xox[abprs]-[A-Za-z0-9-]{10,}"),
        ("a Google API key", ("AIza",), r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
        ("an OpenAI API key", ("sk-",), r"sk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
        ("a Hugging Face token", ("hf_",), r"hf_[A-Za-z]{34}(?![0-9A-Za-z_])"),
        ("a private key", ("-----BEGIN ",), r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ))
# user:password@ in a URL, looked for around each `@`; a `${...}` password is a reference.
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"$]+:[^/\s@\"$]+@$")
_URL_KIND = "a password in a URL"
_URL_MAX = 512
# Environment variables whose literal value is a credential by its name.
SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|api_?key|access_?key|credential)")
SECRET_HELP = ('anyone who can read the Workflow or the pipeline sees it: put it in a '
               'Kubernetes Secret and read it with `env { NAME = secret("SECRET", "KEY") }`')
# Kubernetes: a Secret's name is a DNS-1123 subdomain, a key matches IsConfigMapKey.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
NAME_MAX = 253


def scan(source: SourceFile, diagnostics: DiagnosticBag) -> None:
    """Warn for each credential-shaped text inside a string literal of ``source``."""
    text = source.text
    strings = _Strings(text)
    for start, end, kind in sorted(_found(text)):
        if strings.inside(start):  # not a comment: it reaches the cluster
            diagnostics.warn("W0105", f"this looks like {kind} (`{text[start:start + 6]}...`) "
                             "written into the pipeline", source.span(start, end),
                             "a credential in the text", help=[SECRET_HELP])


def _found(text: str) -> set[tuple[int, int, str]]:
    found = set()
    for kind, prefixes, pattern in _SHAPES:
        for prefix in prefixes:
            position = text.find(prefix)
            while position != -1:
                before = text[position - 1] if position else " "
                match = pattern.match(text, position)
                if match and not (before.isalnum() or before == "_"):
                    found.add((position, match.end(), kind))
                position = text.find(prefix, position + 1)
    position = text.find("@")
    while position != -1:
        # The scheme's `://` just before: a URL's user and password hold no `/`, and a
        # credential is short, so the look back is bounded (a long line costs no more).
        window = max(position - _URL_MAX, 0)
        window = text.rfind("\n", window, position) + 1 or window
        colons = text.rfind("://", window, position)
        if colons != -1:
            start = colons
            while start > window and (text[start - 1].isalnum() or text[start - 1] in "+.-"):
                start -= 1
            if _URL_PASSWORD.match(text, start, position + 1):
                found.add((start, position + 1, _URL_KIND))
        position = text.find("@", position + 1)
    return found


class _Strings:
    """Whether positions, asked in increasing order, lie inside a string literal (strings
    end on their line; `#` outside one starts a comment). Reads each character once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0  # characters before this are read
        self.quoted = False
        self.comment = False

    def inside(self, position: int) -> bool:
        text, i = self.text, self.at
        while i < position:
            char = text[i]
            if char == "\n":
                self.quoted = self.comment = False
            elif self.comment:
                pass
            elif self.quoted and char == "\\":
                i += 1
            elif char == '"':
                self.quoted = not self.quoted
            elif char == "#" and not self.quoted:
                self.comment = True
            i += 1
        self.at = max(i, position)
        return self.quoted and not self.comment


def secret_name_problem(name: str) -> str | None:
    if len(name) > NAME_MAX or not _SUBDOMAIN.match(name):
        return ("a Secret's name is lowercase letters, digits, `-` and `.`, starting and "
                f"ending with a letter or digit, at most {NAME_MAX} characters")
    return None


def secret_key_problem(key: str) -> str | None:
    if len(key) > NAME_MAX or not _KEY.match(key):
        return ("a Secret's key is letters, digits, `-`, `_` and `.`, at most "
                f"{NAME_MAX} characters")
    return None


def valid_secret_part(what: str, value: str, span: Span, diagnostics: DiagnosticBag) -> bool:
    """Whether ``value`` can be a Secret's ``what`` ("name" or "key"); E0208 if not."""
    problem = secret_name_problem(value) if what == "name" else secret_key_problem(value)
    if problem:
        diagnostics.error("E0208", f"invalid Secret {what} \"{shown(value)}\"", span,
                          "not valid in Kubernetes", help=[problem])
    return problem is None


def warn_literal_env(name: str, span: Span, diagnostics: DiagnosticBag) -> None:
    diagnostics.warn("W0105", f"environment variable `{name}` holds a literal credential",
                     span, "a credential in the text", help=[SECRET_HELP])
