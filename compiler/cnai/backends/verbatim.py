"""Verbatim: a string the serializer writes as it is. Its own module, interpreted even in the
compiled build (pyproject's mypyc `exclude`): mypyc cannot compile a subclass of `str`."""

from __future__ import annotations


class Verbatim(str):
    """A value written as it is, unquoted. Only for Argo expression templates in a resource
    manifest, ``{{=toJson(...)}}``, which Argo replaces with a JSON string before the YAML is
    read (argo_resources.py); one line, never a key."""

    __slots__ = ()
