"""Refresh every pin: tests/constraints.txt and the runtime images' requirements.txt.

    python tests/lock.py

Run it with Python 3.11 on Linux (the version the images and CI use), from the checkout,
with access to the package index. It

1. resolves each image's ``requirements.in`` (``runtime_images/tools/lock.py``);
2. resolves cnai with its ``test`` extra, seeded with what those images pinned for the
   packages the tests share with them (s3fs and fsspec, with aiobotocore and botocore below
   them; kubernetes; scikit-learn). Left alone, pip backtracks through hundreds of boto3
   releases to meet aiobotocore's pin of botocore; seeded, it resolves in seconds. Every
   package of that environment is written, pinned, to ``tests/constraints.txt``;
3. resolves each image again with ``tests/constraints.txt`` as constraints, so that a
   package the images share with the tests has one version in both.

Both resolutions are pip's own (``pip install --dry-run --ignore-installed --report``); only
names and versions are written, never an index URL or a path of this machine.
``tests/test_constraints.py`` fails when ``pyproject.toml``'s extras, the constraints file and
the images' pins disagree.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tests" / "constraints.txt"
HEADER = """\
# Every package of cnai's test environment (`pip install -e '.[test]'`), pinned.
# Made by `python tests/lock.py` (Python 3.11, Linux); do not edit by hand.
# The README's test command and .ci/run install with it: pip install ... -c tests/constraints.txt
"""


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements or constraints file, by canonical name."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{path}: not an exact pin: {line!r}")
            pins[requirement_name(name)] = version.strip()
    return pins


def extra_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {requirement_name(r) for extra in extras.values() for r in extra} - {"cnai"}


def _image_lock() -> Any:
    spec = importlib.util.spec_from_file_location(
        "image_lock", ROOT / "runtime_images" / "tools" / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_closure(installs: list[dict[str, Any]], roots: set[str]) -> dict[str, str]:
    """The pins, in one image's resolution, of ``roots`` and everything below them."""
    by_name = {canonical(item["metadata"]["name"]): item["metadata"] for item in installs}
    pins: dict[str, str] = {}
    todo = [name for name in roots if name in by_name]
    while todo:
        name = todo.pop()
        if name in pins:
            continue
        pins[name] = by_name[name]["version"]
        # What an extra brings (fsspec's gcs: gcsfs) is not followed; other markers are not
        # evaluated, but a name that pip did not install is skipped.
        needs = [r for r in by_name[name].get("requires_dist") or [] if "extra" not in r]
        todo += [d for d in map(requirement_name, needs) if d in by_name]
    return pins


def resolve_with_hints(images: Any, requirements: list[str],
                       hints: dict[str, str]) -> list[dict[str, Any]]:
    """Resolve with ``hints`` as constraints, dropping each hint pip reports in a conflict
    (kfp pins requests exactly, for one, below the version the images chose)."""
    while True:
        with tempfile.TemporaryDirectory() as tmp:
            given = Path(tmp) / "hints.txt"
            given.write_text("".join(f"{n}=={v}\n" for n, v in sorted(hints.items())))
            try:
                installs: list[dict[str, Any]] = images.resolve(requirements, given)
                return installs
            except images.ResolutionError as error:
                conflicting = {requirement_name(name) for name in re.findall(
                    r"The user requested \(constraint\) ([A-Za-z0-9._-]+)==", error.output)}
                if not conflicting & hints.keys():
                    raise
                for name in conflicting:
                    hints.pop(name, None)


def main() -> int:
    images = _image_lock()
    shared = extra_names()
    seed: dict[str, set[str]] = {}
    for image in images.IMAGES:
        _, installs = images.lock(image)
        for name, version in shared_closure(installs, shared).items():
            seed.setdefault(name, set()).add(version)
    hints = {name: versions.pop() for name, versions in seed.items() if len(versions) == 1}
    installs = resolve_with_hints(images, ["-e", f"{ROOT}[test]"], hints)
    pins = sorted((canonical(item["metadata"]["name"]), item["metadata"]["version"])
                  for item in installs)
    CONSTRAINTS.write_text(HEADER + "".join(f"{n}=={v}\n" for n, v in pins if n != "cnai"),
                           encoding="utf-8")
    print(f"locked {CONSTRAINTS.relative_to(ROOT)}")
    for image in images.IMAGES:
        target, _ = images.lock(image, CONSTRAINTS)
        print(f"locked {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
