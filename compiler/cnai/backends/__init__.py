"""Backends: ``emit(graph, ctx) -> list[dict]`` per target; serialize.py turns them into text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnai.backends import argo, kfp
from cnai.context import CompileContext
from cnai.semantics import ir

Backend = Callable[[ir.Pipeline, CompileContext], list[dict[str, Any]]]

BACKENDS: dict[str, Backend] = {"argo": argo.emit, "kfp": kfp.emit}
