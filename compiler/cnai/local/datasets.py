"""Data sets on this machine: the preload step fills ``<run>/datasets/<name>``.

- a local path (``/data/x`` or ``file:///data/x``) is copied: a directory's contents are
  mirrored, a single file lands as ``<name>/<file>`` (what cnai_preload does);
- ``pvc://CLAIM/PATH`` is read from ``<pvc-root>/CLAIM/PATH`` (``--pvc-root``), then copied;
- ``s3://``, ``gs://`` and ``http(s)://`` are fetched by cnai_preload, the code of the
  cluster's preload image (runtime_images/preload), run as ``python -m cnai_preload``.
Steps see the data set at the copy: occurrences of the data set's ``path`` in their command,
args and env are rewritten to it (``NAME.path`` is plain text in the IR).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import cnai

REMOTE = ("s3://", "gs://", "http://", "https://")
PRELOAD_MODULE = "cnai_preload"


class PreloadError(Exception):
    pass


def is_remote(source: str) -> bool:
    return source.startswith(REMOTE)


def local_source(source: str, pvc_root: Path | None) -> Path:
    """The local file or directory a non-remote source names."""
    if source.startswith("pvc://"):
        if pvc_root is None:
            raise PreloadError(f"the source {source} is a PersistentVolumeClaim: give "
                               "--pvc-root DIR, a directory with one folder per claim")
        return claim_path(source, pvc_root)
    if source.startswith("file://"):
        return Path(source[len("file://"):])
    return Path(source)


def claim_path(source: str, pvc_root: Path) -> Path:
    """``<pvc-root>/CLAIM/PATH`` for ``pvc://CLAIM/PATH``, refused when it leads out of the
    claim's folder: through ``..``, or a symbolic link, at any level. On the cluster the
    volume is the claim; nothing outside it can be read through it."""
    claim, _, rest = source[len("pvc://"):].partition("/")
    if claim in ("", ".", ".."):
        raise PreloadError(f"the source {source} does not name a claim (pvc://CLAIM/PATH)")
    root = (pvc_root / claim).resolve()
    target = (root / rest).resolve()
    if not target.is_relative_to(root):
        raise PreloadError(f"the source {source} leads to {target}, outside the claim's folder "
                           f"{root} (--pvc-root): refused")
    if target.is_dir():
        for folder, dirs, files in os.walk(target):
            for name in (*dirs, *files):
                entry = Path(folder, name)
                if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                    raise PreloadError(f"the source {source} holds a symbolic link "
                                       f"{entry} to {entry.resolve()}, outside the claim's "
                                       f"folder {root} (--pvc-root): refused")
    return target


def copy_source(source: Path, dest: Path) -> str:
    """Copy into ``dest``; a line for the log."""
    if not source.exists():
        raise PreloadError(f"the source {source} does not exist")
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=True)
        count = sum(len(files) for _, _, files in os.walk(dest))
        return f"copied {source}/ into {dest}/ ({count} files)"
    shutil.copy2(source, dest / source.name)
    return f"copied {source} to {dest / source.name}"


def preload_paths() -> list[Path]:
    """Where cnai_preload and cnai_runtime are found in a checkout of cnai, if this is one."""
    root = Path(cnai.__file__).resolve().parents[2] / "runtime_images"
    found = [root / "preload", root / "sdk"]
    return [p for p in found if p.is_dir()]


def preload_importable() -> bool:
    """Whether cnai_preload is installed in this interpreter (as in the preload image)."""
    return importlib.util.find_spec(PRELOAD_MODULE) is not None


def remote_command(source: str, dest: Path) -> tuple[list[str], dict[str, str]]:
    """``python -m cnai_preload`` and the PYTHONPATH it needs; PreloadError without it."""
    # The checkout's copy goes on the child's PYTHONPATH even when this process can import
    # it: what this process imports says nothing about the child's path.
    paths = preload_paths()
    if not any((p / PRELOAD_MODULE).is_dir() for p in paths) and not preload_importable():
        raise PreloadError(
                f"fetching {source} needs cnai_preload (runtime_images/preload in a checkout "
                "of cnai), which is not importable here; copy the data to this machine and "
                "use its path as the source")
    env = dict(os.environ)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    argv = [sys.executable, "-m", PRELOAD_MODULE, "--source", source, "--dest", str(dest)]
    return argv, env


class PathMap:
    """Rewrites container paths to run-folder paths in literal text: ``/cache/x/train`` ->
    ``<run>/datasets/x/train``. A path matches whole: ``/cache/x2`` is left alone."""

    def __init__(self, mapping: dict[str, Path]) -> None:
        self.mapping = {path.rstrip("/") or "/": str(local) for path, local in mapping.items()}
        ordered = sorted(self.mapping, key=len, reverse=True)
        self.pattern = re.compile(
            r"(?<![\w.\-/])(" + "|".join(map(re.escape, ordered)) + r")(?![\w.\-])"
        ) if ordered else None

    def rewrite(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.mapping[m.group(1)], text)

    def with_paths(self, extra: dict[str, Path]) -> PathMap:
        merged = {path: Path(local) for path, local in self.mapping.items()}
        merged.update(extra)
        return PathMap(merged)
