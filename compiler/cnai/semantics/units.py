"""Kubernetes quantities, durations and DNS-1123 names."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Container

# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource), without a sign: requests
# and limits are never negative.
_QUANTITY = re.compile(
    r"^(?:\d+(?:\.\d*)?|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
DNS_LABEL_MAX = 63


@functools.lru_cache(maxsize=256)
def is_quantity(text: str) -> bool:
    """Cached: a pipeline writes the same few quantities in every step's resources."""
    return bool(_QUANTITY.match(text))


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18}


_LONGEST_FIRST = sorted(_SUFFIX, key=len, reverse=True)


def quantity_value(text: str) -> float:
    """The number a valid quantity stands for: "500m" -> 0.5, "2Gi" -> 2147483648."""
    for suffix in _LONGEST_FIRST:
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _SUFFIX[suffix]
    return float(text)


def parse_duration(text: str) -> int | None:
    """Seconds in "30s", "2h", "1h30m", "1d"; None if malformed or under a second."""
    if not text:
        return None
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        # Past 30 digits a duration is far beyond any range (and int() refuses 4,300).
        digits = match.group(1) if len(match.group(1)) <= 30 else "1" + "0" * 30
        total += int(digits) * _UNIT_SECONDS[match.group(2)]
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


def k8s_name(name: str, limit: int = DNS_LABEL_MAX) -> str:
    """The DNS-1123 label for a user's name, stably: ``train_small`` -> ``train-small``.

    Lower-case, ``_`` -> ``-``, leading/trailing ``-`` dropped, ``x-`` before a leading
    digit; names over ``limit`` characters keep a prefix and gain a hash of the full name, so
    distinct names stay distinct.
    """
    label = name.lower().replace("_", "-").strip("-") or "x"
    if label[0].isdigit():  # Argo refuses task names that start with a digit (validate.go)
        label = f"x-{label}"
    if len(label) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        label = f"{label[:limit - 9].rstrip('-')}-{digest}"
    return label


def free_name(base: str, *taken: Container[str]) -> str:
    """``base``, else ``base_2``, ``base_3``, ...: the first whose upper case none of ``taken``
    (sets of names in upper case) holds. Input names must differ ignoring case: the runtime
    contract reads input NAME from ``CNAI_INPUT_<NAME in upper case>``."""
    name, counter = base, 2
    while any(name.upper() in names for names in taken):
        name, counter = f"{base}_{counter}", counter + 1
    return name


# The API server cuts a generateName to 63 - 5 characters before it appends 5 random ones
# (apiserver/pkg/storage/names/generate.go, SimpleNameGenerator).
GENERATE_NAME_MAX = DNS_LABEL_MAX - 5


def generate_name(name: str) -> str:
    """A ``metadata.generateName`` for ``name``: its label cut (with a hash, as k8s_name
    does) so that the ``-`` before the server's random suffix survives."""
    return k8s_name(name, GENERATE_NAME_MAX - 1) + "-"


class Names:
    """Unique, deterministic names within one namespace (loop ids, Argo templates, one DAG's
    tasks, KFP tasks and groups): ``wanted``, else ``wanted-2``, ``wanted-3``, and so on."""

    def __init__(self, *reserved: str) -> None:
        self.taken = set(reserved)
        # wanted -> the suffix to try next: names are never given back, so those tried for
        # an earlier `wanted` stay taken (1,500 loops over `x` tried a million names).
        self.next: dict[str, int] = {}

    def take(self, wanted: str) -> str:
        counter = self.next.get(wanted, 1)  # 1: `wanted` itself
        name = wanted if counter == 1 else f"{wanted}-{counter}"
        while name in self.taken:
            counter += 1
            name = f"{wanted}-{counter}"
        self.taken.add(name)
        self.next[wanted] = counter + 1
        return name
