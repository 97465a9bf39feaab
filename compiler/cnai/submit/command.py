"""The ``cnai submit`` command: arguments, checks, and exit statuses.

Exit status: 0 submitted (with --watch: the run succeeded); 1 the file does not compile, the
server refused or could not be reached, or the watched run failed; 2 bad usage; 130
interrupted. An unexpected exception is left to the caller, which reports it as an internal
error (70).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from cnai.submit.errors import SubmitError
from cnai.submit.job import Connection, Job, note
from cnai.submit.params import check_gpu_quota, resolve, templated
from cnai.submit.retry import Backoff
from cnai.usage import UsageError, compile_options, parse_assignments

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
TOKEN_ENV = {"argo": "ARGO_TOKEN"}  # KFP has no conventional variable
BEARER = "bearer "


def run(args: argparse.Namespace) -> int:
    """Run ``cnai submit`` with parsed arguments; the exit status."""
    try:
        with warnings.catch_warnings():
            if args.insecure:
                from urllib3.exceptions import InsecureRequestWarning

                # One note below instead of a warning per request.
                warnings.simplefilter("ignore", InsecureRequestWarning)
            return _submit(args)
    except UsageError as error:
        sys.stderr.write(f"cnai submit: error: {error}\n")
        return EXIT_USAGE
    except SubmitError as error:
        sys.stderr.write(f"cnai submit: error: {error.message}\n")
        if error.hint:
            sys.stderr.write(f"  = help: {error.hint}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("cnai submit: interrupted; what was already created stays on the "
                         "server\n")
        return EXIT_INTERRUPTED


def _submit(args: argparse.Namespace) -> int:
    from cnai.submit.compiled import compile_for

    connection = _connection(args)
    given = parse_assignments(args.params)
    if args.poll_interval <= 0:
        raise UsageError("--poll-interval must be more than 0 seconds")
    compiled = compile_for(args.file, args.target, compile_options(args), args.color)
    if compiled is None:
        return EXIT_INPUT
    values = resolve(given, compiled.params)
    check_gpu_quota(values, compiled.gpu_params)
    for warning in templated(values, args.target):
        note(warning)
    if args.insecure and connection.url.startswith("https://"):
        note("TLS certificate verification is off (--insecure)")
    job = Job(compiled=compiled, connection=connection, values=values, watch=args.watch,
              poll_interval=args.poll_interval, experiment=args.experiment or "Default",
              service_account=_service_account(args.service_account))
    if args.target == "argo":
        from cnai.submit import argo_submit

        return argo_submit.submit(job)
    from cnai.submit import kfp_submit

    return kfp_submit.submit(job)


def _service_account(name: str | None) -> str | None:
    """--service-account, checked as Kubernetes checks a ServiceAccount's name."""
    from cnai.semantics.k8s_names import dns1123_subdomain

    problem = None if name is None else dns1123_subdomain(name)
    if problem is not None:
        raise UsageError(f"--service-account {name!r} {problem}")
    return name


def _connection(args: argparse.Namespace) -> Connection:
    """The server to talk to; the flags that do not fit the target are usage errors."""
    target = args.target
    flag, wrong = ("--server", "--host") if target == "argo" else ("--host", "--server")
    url = args.server if target == "argo" else args.host
    if getattr(args, wrong.lstrip("-")) is not None:
        raise UsageError(f"{wrong} is for --target {'kfp' if target == 'argo' else 'argo'}; "
                         f"use {flag} with --target {target}")
    if args.experiment is not None and target != "kfp":
        raise UsageError("--experiment is for --target kfp")
    if not url:
        raise UsageError(f"--target {target} needs {flag} URL")
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise UsageError(f"{flag} must be a URL starting with http:// or https://, "
                         f"not {url!r}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    namespace = args.namespace
    if target == "argo" and not namespace:
        namespace = os.environ.get("ARGO_NAMESPACE") or "default"
    if args.ca_cert is not None and not Path(args.ca_cert).is_file():
        raise UsageError(f"--ca-cert {args.ca_cert}: no such file")
    return Connection(url=url.rstrip("/"), namespace=namespace, token=_token(args),
                      verify_tls=not args.insecure, ca_cert=args.ca_cert,
                      backoff=Backoff.from_env(), timeout=args.timeout)


def _token(args: argparse.Namespace) -> str | None:
    """From --token, --token-file, or the target's environment variable; without "Bearer "."""
    token: Any = args.token
    source = "--token"
    if args.token_file is not None:
        source = f"--token-file {args.token_file}"
        try:
            token = Path(args.token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise UsageError(f"cannot read the token file {args.token_file}: {reason}") from None
    elif token is None and args.target in TOKEN_ENV:
        source = f"${TOKEN_ENV[args.target]}"
        token = os.environ.get(TOKEN_ENV[args.target])
        if not token:
            return None
    if token is None:
        return None
    token = token.strip()
    if token.lower().startswith(BEARER):
        token = token[len(BEARER):].strip()
    if not token or any(c.isspace() for c in token):
        raise UsageError(f"the token from {source} is empty or contains spaces")
    return str(token)
