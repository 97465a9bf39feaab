"""Credentials written into a pipeline (W0105), and the names a ``secret()`` may take.

Whatever a .cnai file says ends up in the Workflow or the pipeline spec, which everyone who
can list Workflows, read the Kubeflow UI or the pipeline's repository can read. A key in a
string literal is therefore a leak, and the warning says where to put it instead.
"""

from __future__ import annotations

import re

from cnai.diagnostics import DiagnosticBag
from cnai.source import SourceFile, Span

# Shapes with few false positives: fixed prefixes and lengths that providers document.
_SHAPES: tuple[tuple[str, str], ...] = (
    ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("a Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("an OpenAI API key", r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
    ("a Hugging Face token", r"\bhf_[A-Za-z]{34}\b"),
    ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    # user:password@ in a URL; a `${...}` password is a reference, not a literal.
    ("a password in a URL", r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"$]+:[^/\s@\"$]+@"),
)
_FOUND = re.compile("|".join(f"(?P<s{i}>{pattern})" for i, (_, pattern) in enumerate(_SHAPES)))
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
    for match in _FOUND.finditer(text):
        if not _in_string(text, match.start()):
            continue  # a comment: it never reaches the cluster
        kind = _SHAPES[int((match.lastgroup or "s0")[1:])][0]
        shown = match.group()[:6]
        diagnostics.warn("W0105", f"this looks like {kind} (`{shown}...`) written into the "
                         "pipeline", source.span(match.start(), match.end()),
                         "a credential in the text", help=[SECRET_HELP])


def _in_string(text: str, position: int) -> bool:
    """Whether ``position`` lies inside a string literal (strings end on their line)."""
    start = text.rfind("\n", 0, position) + 1
    inside = False
    i = start
    while i < position:
        char = text[i]
        if inside and char == "\\":
            i += 2
            continue
        if char == '"':
            inside = not inside
        elif char == "#" and not inside:
            return False
        i += 1
    return inside


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


def warn_literal_env(name: str, span: Span, diagnostics: DiagnosticBag) -> None:
    diagnostics.warn("W0105", f"environment variable `{name}` holds a literal credential",
                     span, "a credential in the text", help=[SECRET_HELP])
