"""The compiled build: pyproject's mypyc hook (README, "A compiled build").

CI builds that wheel and runs tests/ again with it first on the path and CNAI_EXPECT_COMPILED
set (.ci/run); there the compiled modules must be the ones imported, or the second run would
test the pure-Python code twice."""

from __future__ import annotations

import importlib
import os
import tomllib
from pathlib import Path

import cnai
from testpaths import ROOT

HOOK = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
    "targets"]["wheel"]["hooks"]["mypyc"]
SOURCES = ROOT / "compiler"


def _module(path: Path) -> str:
    parts = path.relative_to(SOURCES).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _excluded(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == pattern or relative.startswith(pattern + "/")
               for pattern in HOOK["exclude"])


COMPILED = sorted(_module(p) for p in (SOURCES / "cnai").rglob("*.py") if not _excluded(p))


def test_the_hook_is_off_by_default_and_excludes_only_what_exists() -> None:
    assert HOOK["enable-by-default"] is False  # `pip install .` needs no C compiler
    for pattern in HOOK["exclude"]:
        assert (ROOT / pattern).exists(), f"{pattern} is excluded from the build but is gone"
    # The hot path is compiled: the parser's loop, the checker, the backends, the CLI.
    assert {"cnai.cli", "cnai.syntax.lalr", "cnai.syntax.to_ast", "cnai.semantics.checker",
            "cnai.backends.kfp", "cnai.backends.argo"} <= set(COMPILED)


def test_the_build_under_test_is_the_one_expected() -> None:
    # `pip install -e .` (README) is pure Python; CI's second run is the compiled wheel.
    compiled = bool(os.environ.get("CNAI_EXPECT_COMPILED"))
    expected = "compiled" if compiled else "pure Python"
    assert expected == cnai.BUILD
    interpreted = [name for name in COMPILED
                   if (importlib.import_module(name).__file__ or "").endswith(".py")]
    assert interpreted == ([] if compiled else COMPILED)
    assert Path(cnai.__file__ or "").resolve().is_relative_to(SOURCES) is not compiled


def test_the_readme_builds_the_wheel_as_ci_does() -> None:
    command = "HATCH_BUILD_HOOKS_ENABLE=1 .venv/bin/python -m build --outdir"
    assert command in (ROOT / "README.md").read_text()
    assert command in (ROOT / ".ci" / "run").read_text()


def test_the_wheel_ships_cnai_runtime_uncompiled() -> None:
    # A function step's runner (cnai_runtime.function) must be importable wherever cnai is
    # installed (docs/runtime-images.md): the wheel holds the package, as Python source.
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["wheel"]
    runtime = "runtime_images/sdk/cnai_runtime"
    assert runtime in wheel["packages"]
    assert (ROOT / runtime / "function.py").is_file()
    assert runtime in HOOK["exclude"]
