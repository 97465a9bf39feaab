"""Credentials from a mounted Secret: a data set's ``credentials = "SECRET"`` (cnai's
docs/language.md) mounts that Secret read-only at ``$CNAI_CREDENTIALS_DIR`` in the preload
step, one file per key (Kubernetes' secret volume). Before the copy starts, each key that is
an environment variable's name (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL_S3``, ...) becomes that variable, and a key named
``service-account.json`` becomes ``GOOGLE_APPLICATION_CREDENTIALS`` (its path). A variable
the pod already sets wins: a Secret never overrides what the step was given explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

DIR_ENV = "CNAI_CREDENTIALS_DIR"
GOOGLE_KEY_FILE = "service-account.json"
_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def load(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set variables from the mounted Secret; returns the names set (values never logged)."""
    env = os.environ if environ is None else environ
    directory = env.get(DIR_ENV)
    if not directory:
        return []
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{DIR_ENV}={directory} is not a directory")
    names = []
    # Kubernetes keeps the real files under ..data and links each key to them: names that
    # start with a dot are its bookkeeping, not keys.
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name == GOOGLE_KEY_FILE:
            name, value = "GOOGLE_APPLICATION_CREDENTIALS", str(path)
        elif _VARIABLE.match(path.name):
            name, value = path.name, path.read_text(encoding="utf-8").strip()
        else:
            continue
        if name not in env:
            env[name] = value
            names.append(name)
    return names
