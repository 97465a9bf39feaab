"""What Kubernetes accepts as a name, a label, a key: each check returns what is wrong with a
value, or None, so the checker can report it where it was written.

The rules are Kubernetes' own (k8s.io/apimachinery/pkg/util/validation/validation.go:
IsDNS1123Label, IsDNS1123Subdomain, IsQualifiedName, IsValidLabelValue, IsConfigMapKey,
IsEnvVarName; k8s.io/api/core/v1 for taint effects and toleration operators). The API server
refuses an object that breaks them, and Argo or Kubeflow report that only when the pod is made,
deep into a run.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63  # the part after a qualified name's prefix
LABEL_VALUE_MAX = 63
CONFIG_MAP_KEY_MAX = 253

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONFIG_MAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_VAR = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")
# Operators of a node selector requirement (core/v1 NodeSelectorOperator).
NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def dns1123_label(name: str) -> str | None:
    """A Service's, a container's or a volume's name: at most 63 of `a-z 0-9 -`, starting and
    ending with a letter or digit."""
    if len(name) > DNS1123_LABEL_MAX:
        return f"is longer than {DNS1123_LABEL_MAX} characters"
    if not _DNS1123_LABEL.match(name):
        return ("is not a DNS-1123 label: lower-case letters, digits and `-`, starting and "
                "ending with a letter or digit")
    return None


def dns1123_subdomain(name: str) -> str | None:
    """Most objects' names (Secret, ConfigMap, ServiceAccount, PersistentVolumeClaim,
    PriorityClass): DNS-1123 labels joined by `.`, at most 253 characters."""
    if len(name) > DNS1123_SUBDOMAIN_MAX:
        return f"is longer than {DNS1123_SUBDOMAIN_MAX} characters"
    if not _DNS1123_SUBDOMAIN.match(name):
        return ("is not a DNS-1123 subdomain: lower-case letters, digits, `-` and `.`, "
                "starting and ending with a letter or digit")
    return None


def qualified_name(key: str) -> str | None:
    """A label's, an annotation's or a node selector's key, a taint's key, an extended
    resource's name: an optional DNS-1123 subdomain prefix and `/`, then at most 63 of
    `A-Z a-z 0-9 - _ .`, starting and ending with a letter or digit."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "has an empty prefix before `/`"
        problem = dns1123_subdomain(prefix)
        if problem is not None:
            return f"has a prefix (`{prefix}`) that {problem}"
    if not name:
        return "has an empty name"
    if len(name) > QUALIFIED_NAME_MAX:
        return f"has a name part longer than {QUALIFIED_NAME_MAX} characters"
    if not _QUALIFIED.match(name):
        return ("has a name part that is not letters, digits, `-`, `_` and `.`, starting and "
                "ending with a letter or digit")
    return None


def label_value(value: str) -> str | None:
    """A label's value, a node selector's value: empty, or at most 63 of
    `A-Z a-z 0-9 - _ .`, starting and ending with a letter or digit."""
    if len(value) > LABEL_VALUE_MAX:
        return f"is longer than {LABEL_VALUE_MAX} characters"
    if value and not _QUALIFIED.match(value):
        return ("is not a label value: letters, digits, `-`, `_` and `.`, starting and "
                "ending with a letter or digit")
    return None


def config_map_key(key: str) -> str | None:
    """A key of a ConfigMap or a Secret: `A-Z a-z 0-9 - _ .`, at most 253."""
    if len(key) > CONFIG_MAP_KEY_MAX:
        return f"is longer than {CONFIG_MAP_KEY_MAX} characters"
    if not _CONFIG_MAP_KEY.match(key) or key in (".", ".."):
        return "is not a valid key: letters, digits, `-`, `_` and `.`"
    return None


def env_var_name(name: str) -> str | None:
    """An environment variable's name as the API server accepts it (IsEnvVarName)."""
    if not _ENV_VAR.match(name):
        return "is not a valid environment variable name: letters, digits, `_`, `-` and `.`, " \
               "not starting with a digit"
    return None


def one_of(value: str, choices: tuple[str, ...]) -> str | None:
    if value not in choices:
        return "is not one of " + ", ".join(f"`{choice}`" for choice in choices)
    return None
