"""The arguments of ``cnai submit``, apart from the code that runs it: the ``cnai`` command
builds every subcommand's parser at start, and this keeps that cheap."""

from __future__ import annotations

import argparse

from cnai.usage import add_color_option, add_compile_options

SUBMIT_TARGETS = ("argo", "kfp")
DEFAULT_TIMEOUT = 30.0  # seconds per request: connect, and then each read


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``submit`` to the ``cnai`` command's subcommands."""
    sub = subparsers.add_parser(
        "submit", help="compile a file and submit it to Argo Workflows or Kubeflow Pipelines",
        description="Compile FILE and submit it: an Argo Workflow (or CronWorkflow) through "
        "the Argo Server, or a KFP run (or recurring run) through the KFP API.")
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("--target", "-t", choices=SUBMIT_TARGETS, default="argo",
                     help="argo (default) or kfp")
    where = sub.add_argument_group("server")
    where.add_argument("--server", metavar="URL",
                       help="Argo Server URL, e.g. https://argo.example.com:2746 (argo)")
    where.add_argument("--host", metavar="URL",
                       help="KFP API URL, e.g. https://kfp.example.com/pipeline (kfp)")
    where.add_argument("--namespace", "-n", metavar="NS",
                       help="namespace (argo: default $ARGO_NAMESPACE, else `default`; kfp: "
                       "the client's, for multi-user installs)")
    token = where.add_mutually_exclusive_group()
    token.add_argument("--token", metavar="TOKEN",
                       help="bearer token, with or without `Bearer ` (argo: default "
                       "$ARGO_TOKEN)")
    token.add_argument("--token-file", metavar="FILE", help="read the token from FILE")
    tls = where.add_mutually_exclusive_group()
    tls.add_argument("--ca-cert", metavar="FILE",
                     help="verify the server's TLS certificate with this PEM bundle")
    tls.add_argument("--insecure", action="store_true",
                     help="do not verify the server's TLS certificate")
    where.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"per request (default: {DEFAULT_TIMEOUT:g})")
    what = sub.add_argument_group("run")
    what.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                      dest="params", help="set a pipeline param (repeatable)")
    what.add_argument("--experiment", metavar="NAME",
                      help="KFP experiment, created if missing (default: Default)")
    what.add_argument("--service-account", metavar="NAME",
                      help="run as this Kubernetes service account instead of the pipeline's "
                      "(argo: the Workflow's; steps with an account of their own keep it; "
                      "kfp: the run's)")
    what.add_argument("--watch", "-w", action="store_true",
                      help="follow the run until it ends; exit 1 unless it succeeds")
    what.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS",
                      help="seconds between polls with --watch (default: 2)")
    add_compile_options(sub.add_argument_group("compile options (as for `cnai compile`)"))
    add_color_option(sub)
    return sub
