"""The arguments of ``cnai run``, apart from the runner so that ``cnai`` starts fast: the
runner (and the IR it reads) is imported only when a run starts."""

from __future__ import annotations

import argparse
import os

from cnai.usage import add_color_option

DEFAULT_WORKDIR = "cnai-runs"
DEFAULT_STEP_TIMEOUT = "24h"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``run`` to the ``cnai`` command's subcommands."""
    sub = subparsers.add_parser(
        "run", help="run a pipeline on this machine (--local)",
        description="Compile FILE and run it here: each step's command as a process (or a "
        "container with --docker), with the same dependencies, gates, loops, branches, "
        "retries, timeouts and finally as on Argo Workflows. See docs/run-local.md.")
    sub.add_argument("file", metavar="FILE", nargs="?",
                     help="the .cnai file to run (with --status: a run folder, optional)")
    sub.add_argument("--local", action="store_true",
                     help="run on this machine (required: the only place `cnai run` runs "
                     "today; `cnai submit` runs on a cluster)")
    sub.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     dest="params", help="set a pipeline param (repeatable)")
    sub.add_argument("--workdir", default=DEFAULT_WORKDIR, metavar="DIR",
                     help=f"where run folders are made (default: ./{DEFAULT_WORKDIR})")
    sub.add_argument("--parallel", type=int, default=os.cpu_count() or 1, metavar="N",
                     help="steps running at once (default: the number of CPUs)")
    sub.add_argument("--docker", action="store_true",
                     help="run each step in its image with `docker run` (needs a Docker "
                     "engine)")
    sub.add_argument("--pvc-root", metavar="DIR",
                     help="directory holding one folder per PersistentVolumeClaim, for "
                     "pvc://CLAIM/PATH data set sources")
    sub.add_argument("--step-timeout", default=DEFAULT_STEP_TIMEOUT, metavar="DURATION",
                     help="timeout of a step that sets no `timeout` (default: "
                     f"{DEFAULT_STEP_TIMEOUT}; `30s`, `90m`, `2h`, `1d`; `none` for no limit)")
    sub.add_argument("--status", action="store_true",
                     help="show the status of the run folder FILE, or of every run in "
                     "--workdir; a run whose runner is gone is marked Failed first")
    sub.add_argument("--no-optimize", action="store_true", help="skip optimizer passes")
    add_color_option(sub)
    return sub
