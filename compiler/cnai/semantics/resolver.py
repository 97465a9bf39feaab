"""Name resolution: the pipeline's symbol table and "did you mean" suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import ir
from cnai.semantics.units import k8s_name
from cnai.source import Span
from cnai.syntax import ast

SymbolKind = Literal["param", "dataset", "step", "service", "loop_var", "volume"]


@dataclass
class Symbol:
    name: str
    kind: SymbolKind
    span: Span
    type: ir.Type | None = None  # params and loop variables
    outputs: dict[str, ir.Output] = field(default_factory=dict)  # steps
    decl: ast.Node | None = None  # the AST declaration
    loops: tuple[str, ...] = ()  # steps: the loops around it, outer first
    in_finally: bool = False
    k8s_name: str = ""  # its DNS-1123 form, once Scope.declare has checked it (steps)


def close_matches(name: str, candidates: Iterable[str]) -> list[str]:
    """The candidates ``name`` may be a misspelling of, closest first (difflib's ratio, as
    mypy does)."""
    import difflib  # here: only a program with an error needs it

    return difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)


def did_you_mean(matches: list[str]) -> list[str]:
    return [f"did you mean {' or '.join(f'`{m}`' for m in matches)}?"] if matches else []


def suggest(name: str, candidates: Iterable[str]) -> list[str]:
    """``did you mean`` hints, closest first."""
    return did_you_mean(close_matches(name, candidates))


@dataclass
class Scope:
    """All pipeline-level names share one namespace, so ``x.y`` is never ambiguous."""

    diagnostics: DiagnosticBag
    symbols: dict[str, Symbol] = field(default_factory=dict)
    _k8s: dict[str, dict[str, Symbol]] = field(default_factory=dict)
    # Names whose declaration was already reported as broken (a loop over an int): uses of
    # them would only repeat that error.
    broken: set[str] = field(default_factory=set)

    def declare(self, symbol: Symbol, k8s_space: str | None = None) -> bool:
        """Add a symbol; report duplicates and names that clash once mapped to DNS-1123."""
        previous = self.symbols.get(symbol.name)
        if previous is not None:
            self.diagnostics.error(
                "E0101", f"`{symbol.name}` is declared twice", symbol.span,
                f"second {symbol.kind} named `{symbol.name}`",
                secondary=[Label(previous.span, f"first declared here as a {previous.kind}")],
                help=["names of params, data sets, steps and services share one namespace"])
            return False
        if k8s_space is not None:
            space = self._k8s.get(k8s_space)
            if space is None:  # (not setdefault: it would make a dict for every step)
                space = self._k8s[k8s_space] = {}
            mapped = k8s_name(symbol.name)
            other = space.get(mapped)
            if other is not None:
                self.diagnostics.error(
                    "E0107", f"`{symbol.name}` and `{other.name}` both become `{mapped}` in "
                    "Kubernetes", symbol.span, f"maps to `{mapped}`",
                    secondary=[Label(other.span, f"`{other.name}` also maps to `{mapped}`")],
                    help=["Kubernetes names are lower-case with `-` for `_`; rename one of them"])
                return False
            space[mapped] = symbol
            symbol.k8s_name = mapped
        self.symbols[symbol.name] = symbol
        return True

    def get(self, name: str) -> Symbol | None:
        return self.symbols.get(name)

    def names(self, *kinds: SymbolKind) -> list[str]:
        return [s.name for s in self.symbols.values() if not kinds or s.kind in kinds]

    def unknown(self, ident: ast.Ident, what: str, code: str, *kinds: SymbolKind,
                extra: Iterable[str] = ()) -> None:
        if ident.name in self.broken:
            return
        label = (f"nothing named `{ident.name}`" if what == "name"
                 else f"no {what} named `{ident.name}`")
        self.diagnostics.error(code, f"unknown {what} `{ident.name}`", ident.span, label,
                               help=suggest(ident.name, [*self.names(*kinds), *extra]))
