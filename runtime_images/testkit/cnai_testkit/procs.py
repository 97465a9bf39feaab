"""Run an image entrypoint as a real subprocess, the way its container would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

RUNTIME_IMAGES = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = [
    RUNTIME_IMAGES / name
    for name in ("sdk", "preload", "launcher", "deploy", "train", "evaluate", "testkit")
]

# Never let a client under test look for credentials outside the test: no instance
# metadata endpoints, no user config files, no ambient cloud or cluster identity.
_SCRUB_PREFIXES = ("AWS_", "GOOGLE_", "GCE_", "CLOUDSDK_", "KUBE", "CNAI_")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(str(p) for p in PACKAGE_DIRS),
            "PYTHONUNBUFFERED": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_GCE_CHECK": "true",
            "KUBECONFIG": os.devnull,
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(key, None)
    if extra:
        env.update(extra)
    return env


def run_module(
    module: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def start_module(
    module: str, args: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
