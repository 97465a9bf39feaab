"""`volume`s and `shm` in `cnai run --local` (docs/run-local.md).

An empty directory is a fresh folder of the step's run folder, made for each attempt (a retry on
the cluster is a new pod); a claim is ``<pvc-root>/CLAIM[/SUB_PATH]`` when ``--pvc-root`` is
given, as a data set's ``pvc://`` source is. A ConfigMap or a Secret exists only in a cluster:
a step that mounts one is refused before it runs. Paths in the step's text are rewritten to
the local folders, as data sets' are; with ``--docker`` each folder is mounted at its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cnai.semantics import ir


def local_dirs(step: ir.Step, step_dir: Path, pvc_root: Path | None
               ) -> dict[str, tuple[Path, bool]] | str:
    """Each mounted volume's folder and whether it is read-only, by its path in the
    container; or why the step cannot run here."""
    found: dict[str, tuple[Path, bool]] = {}
    for volume in step.volumes:
        if volume.empty_dir:
            local = step_dir / "volumes" / volume.k8s_name
            if local.exists():
                shutil.rmtree(local)
            local.mkdir(parents=True)
        elif volume.claim is not None and pvc_root is not None:
            local = pvc_root / volume.claim / (volume.sub_path or "")
            if not local.is_dir():
                return (f"volume `{volume.name}`: {local} (claim `{volume.claim}` under "
                        "--pvc-root) is not a directory")
        else:
            what = (f"claim `{volume.claim}` (give --pvc-root DIR, a folder per claim)"
                    if volume.claim is not None else
                    f"ConfigMap `{volume.config_map}`" if volume.config_map is not None
                    else f"Secret `{volume.secret}`")
            return f"volume `{volume.name}` mounts {what}, which exists only in a cluster"
        found[volume.path] = (local, volume.read_only)
    return found
