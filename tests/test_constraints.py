"""tests/constraints.txt pins the whole test environment, in step with pyproject.toml's
requirements and with the runtime images' pins (tests/lock.py makes it)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from lock import CONSTRAINTS, canonical, read_pins
from testpaths import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PINS = read_pins(CONSTRAINTS)


def _declared() -> list[tuple[str, Requirement]]:
    project = PROJECT["project"]
    found = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, requirements in project["optional-dependencies"].items():
        found += [(f"[{extra}]", Requirement(r)) for r in requirements]
    return [(where, r) for where, r in found if canonical(r.name) != "cnai"]


def test_every_line_is_a_plain_pin() -> None:
    # No index URL, option, path or marker: the file works on any machine with any index.
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*==[A-Za-z0-9.+!]+", line), line


@pytest.mark.parametrize(("where", "requirement"), _declared(), ids=lambda x: str(x))
def test_every_declared_requirement_is_pinned_within_its_range(
    where: str, requirement: Requirement
) -> None:
    name = canonical(requirement.name)
    assert name in PINS, f"{where} {requirement} is not in tests/constraints.txt"
    assert requirement.specifier.contains(PINS[name], prereleases=True), (
        f"tests/constraints.txt pins {name}=={PINS[name]}, outside {where} {requirement}")


def _closure() -> set[str]:
    """Every distribution that cnai[test] brings in, read from what is installed."""
    found: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [("cnai", frozenset({"test"}))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            wanted = not requirement.marker or any(
                requirement.marker.evaluate({**default_environment(), "extra": extra})
                for extra in extras | {""})
            if wanted:
                todo.append((canonical(requirement.name), frozenset(requirement.extras)))
    return found - {"cnai"}


def test_the_constraints_are_exactly_the_test_environment() -> None:
    closure = _closure()
    assert sorted(closure - PINS.keys()) == [], "needed by cnai[test], not pinned"
    assert sorted(PINS.keys() - closure) == [], "pinned, but nothing in cnai[test] needs it"


def test_the_environment_under_test_was_installed_with_them() -> None:
    installed = {name: metadata.version(name) for name in _closure()}
    assert {n: v for n, v in installed.items() if PINS.get(n) != v} == {}, (
        "install with: pip install -e '.[test]' -c tests/constraints.txt")


@pytest.mark.parametrize("image", sorted(p.parent.name for p in
                                         (ROOT / "runtime_images").glob("*/requirements.txt")))
def test_the_images_pin_what_the_tests_pin(image: str) -> None:
    pins = read_pins(ROOT / "runtime_images" / image / "requirements.txt")
    differ = {n: (v, PINS[n]) for n, v in pins.items() if n in PINS and PINS[n] != v}
    assert differ == {}, "image pin, test pin; refresh both with: python tests/lock.py"


def test_the_compiled_builds_mypy_is_the_one_tests_run() -> None:
    hook = PROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    for text in hook["dependencies"]:
        requirement = Requirement(text)
        name = canonical(requirement.name)
        if name in PINS:
            assert requirement.specifier.contains(PINS[name]), (text, PINS[name])


def test_readme_and_ci_install_with_the_constraints() -> None:
    command = "pip install -e '.[test]' -c tests/constraints.txt"
    assert command in (ROOT / "README.md").read_text()
    assert command in (ROOT / ".ci" / "run").read_text()
