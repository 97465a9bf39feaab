"""Locks: the pipeline's and a step's ``mutexes`` and ``semaphores``.

``mutexes = ["deploy"]`` names locks that one holder at a time may take (across every run in
the namespace, on Argo); ``semaphores = [config_map("limits", "train")]`` names counted locks
whose limit is the ConfigMap key's value. A step's are held while it runs, the pipeline's for
the whole run. Argo keys a lock as ``NAMESPACE/Mutex/NAME`` and ``NAMESPACE/ConfigMap/NAME/KEY``
and refuses an empty part (workflow/sync/lock_name.go, DecodeLockName and validate); names here
are kept to letters, digits, ``-``, ``_`` and ``.``, so that no ``{{...}}`` (which Argo would
substitute) nor ``/`` (which splits the key) reaches it.
"""

from __future__ import annotations

import re
from typing import Any

from cnai.diagnostics import DiagnosticBag, Label
from cnai.limits import shown
from cnai.semantics import ir, k8s_names
from cnai.semantics.fields import FieldReader, assigned
from cnai.source import Span
from cnai.syntax import ast

MUTEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LOCK_SETTINGS = ("mutexes", "semaphores")


class LockReader:
    """Reads ``mutexes`` and ``semaphores`` of one pipeline or step, reporting what is wrong."""

    def __init__(self, diagnostics: DiagnosticBag, fields: FieldReader) -> None:
        self.diagnostics = diagnostics
        self.fields = fields

    def read(self, found: dict[str, ast.Assignment | ast.Block]) -> dict[str, Any]:
        """The IR values of the lock settings in ``found`` (those given only)."""
        values: dict[str, Any] = {}
        if "mutexes" in found:
            values["mutexes"] = self.mutexes(assigned(found["mutexes"]))
        if "semaphores" in found:
            values["semaphores"] = self.semaphores(assigned(found["semaphores"]))
        return values

    def _items(self, expr: ast.Expr, setting: str, example: str) -> tuple[ast.Expr, ...]:
        if isinstance(expr, ast.ListLit):
            return expr.items
        self.diagnostics.error("E0201", f"`{setting}` is a list", expr.span, "expected a list",
                               help=[f"e.g. {setting} = {example}"])
        return ()

    def _once(self, seen: dict[str, Span], key: str, what: str, span: Span) -> bool:
        if key in seen:
            self.diagnostics.error("E0110", f"{what} is listed twice", span, "listed again",
                                   secondary=[Label(seen[key], "first listed here")])
            return False
        seen[key] = span
        return True

    def mutexes(self, expr: ast.Expr) -> list[str]:
        names: list[str] = []
        seen: dict[str, Span] = {}
        for item in self._items(expr, "mutexes", '["deploy"]'):
            name = self.fields.string(item)
            if name is None:
                continue
            if MUTEX_NAME.fullmatch(name) is None:
                self.diagnostics.error(
                    "E0208", f"invalid mutex name \"{shown(name)}\"", item.span,
                    "not a mutex name",
                    help=["a mutex name is letters, digits, `-`, `_` and `.`, starting with a "
                          "letter or a digit"])
            elif self._once(seen, name, f"mutex `{name}`", item.span):
                names.append(name)
        return names

    def semaphores(self, expr: ast.Expr) -> list[ir.ConfigMapRef]:
        refs: list[ir.ConfigMapRef] = []
        seen: dict[str, Span] = {}
        example = '[config_map("limits", "train")]'
        for item in self._items(expr, "semaphores", example):
            ref = self._semaphore(item)
            if ref is not None and self._once(seen, f"{ref.name}/{ref.key}",
                                              f"semaphore `{ref.name}` `{ref.key}`", item.span):
                refs.append(ref)
        return refs

    def _semaphore(self, item: ast.Expr) -> ir.ConfigMapRef | None:
        usage = ('a semaphore is `config_map("NAME", "KEY")`: the ConfigMap and the key '
                 "holding its limit")
        if not isinstance(item, ast.Call) or item.func.name != "config_map" \
                or len(item.args) != 2:
            self.diagnostics.error("E0201", "a `semaphores` item is `config_map(\"NAME\", "
                                   "\"KEY\")`", item.span, "not a ConfigMap key",
                                   help=[usage])
            return None
        name = self.fields.string(item.args[0])
        key = self.fields.string(item.args[1])
        if name is None or key is None:
            return None
        problems = (("ConfigMap name", name, item.args[0].span,
                     k8s_names.dns1123_subdomain(name)),
                    ("ConfigMap key", key, item.args[1].span, k8s_names.config_map_key(key)))
        valid = True
        for what, value, span, problem in problems:
            if problem is not None:
                valid = False
                self.diagnostics.error("E0208", f"invalid {what} \"{shown(value)}\"", span,
                                       "not valid in Kubernetes",
                                       help=[f"`{shown(value)}` {problem}"])
        return ir.ConfigMapRef(name=name, key=key) if valid else None
