"""Pytest setup for runtime_images/: import paths and shared servers.

Each image keeps its package at ``runtime_images/<image>/cnai_<image>/`` (the layout the
Dockerfiles copy), so the package directories are put on ``sys.path`` here; test files
have unique basenames (``test_<image>_*.py``) and no ``__init__.py``, which works with
pytest's default and ``importlib`` import modes alike.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _name in ("sdk", "preload", "launcher", "deploy", "train", "evaluate", "testkit"):
    _path = str(HERE / _name)
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    from cnai_testkit.s3server import S3Server

    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def file_server() -> Iterator[object]:
    from cnai_testkit.fileserver import FileServer

    server = FileServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube_api() -> Iterator[object]:
    from cnai_testkit.kubeapi import KubeAPI

    api = KubeAPI().start()
    try:
        yield api
    finally:
        api.stop()
