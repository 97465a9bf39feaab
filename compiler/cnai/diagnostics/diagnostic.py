"""The diagnostic record and the bag that collects them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from cnai.diagnostics.codes import CODES
from cnai.source import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Label:
    """A span with a short text, shown under the carets."""

    span: Span
    text: str = ""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    primary: Label
    secondary: tuple[Label, ...] = ()
    help: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    @property
    def span(self) -> Span:
        return self.primary.span

    def sort_key(self) -> tuple[str, int, int, str]:
        return (*self.span.sort_key(), self.code)


@dataclass
class DiagnosticBag:
    """Collects diagnostics; semantic errors are all gathered, then sorted."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def error(
        self,
        code: str,
        message: str,
        span: Span,
        label: str = "",
        *,
        help: Iterable[str] = (),
        notes: Iterable[str] = (),
        secondary: Iterable[Label] = (),
    ) -> None:
        self.add(Diagnostic(code, message, Label(span, label), tuple(secondary), tuple(help),
                            tuple(notes)))

    def warn(self, code: str, message: str, span: Span, label: str = "", *,
             help: Iterable[str] = (), notes: Iterable[str] = (),
             secondary: Iterable[Label] = ()) -> None:
        """A warning is the same record as an error; its code (W...) decides the severity."""
        self.error(code, message, span, label, help=help, notes=notes, secondary=secondary)

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        unique = dict.fromkeys(self.items)
        return sorted(unique, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class CompileError(Exception):
    """Raised at a stage boundary when the input has errors; carries every diagnostic so far."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} diagnostic(s)")
        self.diagnostics = diagnostics
