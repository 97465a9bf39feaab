"""Kubernetes quantities, durations and DNS-1123 names."""

from __future__ import annotations

import hashlib
import re

# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource), without a sign: requests
# and limits are never negative.
_QUANTITY = re.compile(
    r"^(?:\d+(?:\.\d*)?|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
DNS_LABEL_MAX = 63


def is_quantity(text: str) -> bool:
    return bool(_QUANTITY.match(text))


def parse_duration(text: str) -> int | None:
    """Seconds in "30s", "2h", "1h30m", "1d"; None if malformed or under a second."""
    if not text:
        return None
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or total < 1 or total != int(total):
        return None
    return int(total)


def format_duration(seconds: int) -> str:
    """Go's duration syntax, which Argo parses: 90 -> "1m30s", 7200 -> "2h"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v)
    return text or "0s"


def k8s_name(name: str) -> str:
    """The DNS-1123 label for a user's name, stably: ``train_small`` -> ``train-small``.

    Lower-case, ``_`` -> ``-``, leading/trailing ``-`` dropped; names over 63 characters keep
    a prefix and gain a hash of the full name, so distinct names stay distinct.
    """
    label = name.lower().replace("_", "-").strip("-") or "x"
    if len(label) > DNS_LABEL_MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        label = f"{label[:DNS_LABEL_MAX - 9].rstrip('-')}-{digest}"
    return label
