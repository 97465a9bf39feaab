"""Kubernetes' ``$(VAR)`` expansion, as the kubelet applies it to a container's ``env[].value``
(each with the variables defined before it), ``command`` and ``args`` (with all of them).

Written from the rules of kubernetes/kubernetes third_party/forked/golang/expansion/expand.go
(Expand, tryReadVariableName) and pkg/kubelet/kubelet_pods.go (makeEnvironmentVariables,
ExpandContainerCommandAndArgs): ``$$`` is one ``$``; ``$(NAME)`` is NAME's value when NAME is
defined and stays as written when it is not; ``$(`` without ``)``, and ``$`` before any other
character or at the end, stay as written.
"""

from __future__ import annotations

from typing import Any


def expand(text: str, variables: dict[str, str]) -> str:
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(":
                end = rest.find(")", 1)
                if end == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = rest[1:end]
                    out.append(variables.get(name, f"$({name})"))
                    advance = end + 1
            else:
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def run_container(container: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """What the process of ``container`` gets: its argv (command then args) and the env
    values it sets, expanded as the kubelet expands them (``valueFrom`` entries left out)."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = expand(entry["value"], env)
    argv = [expand(word, env) for word in
            [*container.get("command", []), *container.get("args", [])]]
    return argv, env
