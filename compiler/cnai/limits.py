"""The numeric ranges the engines hold, which the front end checks values against.

- Integers are int64 everywhere a pipeline's value can go: Argo parameters are text read by
  Go's strconv, Kubeflow's IR carries int64 fields, Kubernetes quantities are int64.
- Counts that Kubernetes and Argo keep in ``int32`` fields: retry limits (``IntOrString``),
  replicas, ``parallelism`` of a Kubeflow ``ParallelFor`` (``int32 parallelism_limit``), GPU
  counts, ports and scale bounds.
- A Kubernetes quantity "may not represent a number greater than 2^63-1 in magnitude"
  (k8s.io/apimachinery/pkg/api/resource/quantity.go).
- Durations are capped at ``INT32_MAX`` seconds (68 years): Argo's template
  ``activeDeadlineSeconds`` is an ``IntOrString``, and Go's ``time.Duration`` (retry backoff)
  holds at most about 292 years.
"""

from __future__ import annotations

import json
from typing import Any

from cnai.diagnostics import Diagnostic, DiagnosticBag
from cnai.source import Span

# A .cnai file is read whole and parsed into a tree of about 100 bytes of memory per byte of
# structured text: 16 MiB (some 60,000 steps) stays within a CI runner's memory.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
QUANTITY_MAX = 2**63 - 1
DURATION_MAX_SECONDS = INT32_MAX
# Argo stores each object in etcd, which refuses requests over about 1 MiB; cnai packs the
# objects it emits to stay below the warning level (backends/argo_package.py, check_size).
ARGO_OBJECT_BYTES = 1024 * 1024
ARGO_WARN_BYTES = 700 * 1000


def object_size(document: Any) -> int:
    """Bytes of an object as the API server stores it (compact JSON). json.dumps escapes
    every character past ASCII, so the text's length is its size in bytes (no encoded copy);
    documents are trees, so json.dumps' check for reference cycles is skipped."""
    return len(json.dumps(document, separators=(",", ":"), check_circular=False))


def shown(text: str, width: int = 24) -> str:
    """A literal as a message quotes it: long ones cut, with their length."""
    return text if len(text) <= width else f"{text[:width - 4]}... ({len(text)} characters)"


def too_large(path: str, span: Span) -> Diagnostic:
    bag = DiagnosticBag()
    bag.error("E0010", f"{path} is larger than {MAX_SOURCE_BYTES:,} bytes, the most cnai "
              "reads", span, "file too large",
              help=["split the pipeline: `import` templates from other files"])
    return bag.sorted()[0]
