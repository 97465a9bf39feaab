"""Diagnostics: the code registry, the record, and its text and JSON renderings."""

from cnai.diagnostics.codes import CODES
from cnai.diagnostics.diagnostic import CompileError, Diagnostic, DiagnosticBag, Label, Severity

__all__ = ["CODES", "CompileError", "Diagnostic", "DiagnosticBag", "Label", "Severity"]
