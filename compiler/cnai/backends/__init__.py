"""Backends: ``emit(graph, ctx) -> list[dict]`` per target; serialize.py turns them into text.

BACKENDS maps a target to its ``emit``, importing the backend's modules only when asked: a
compile to Argo does not load the Kubeflow backend, and the reverse.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from cnai.context import CompileContext
from cnai.semantics import ir

Backend = Callable[[ir.Pipeline, CompileContext], list[dict[str, Any]]]


_MODULES = MappingProxyType({"argo": "cnai.backends.argo", "kfp": "cnai.backends.kfp"})


class _Backends(Mapping[str, Backend]):
    def __getitem__(self, target: str) -> Backend:
        emit: Backend = importlib.import_module(_MODULES[target]).emit
        return emit

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


BACKENDS: Mapping[str, Backend] = _Backends()
