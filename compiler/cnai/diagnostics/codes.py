"""The registry of diagnostic codes.

E00xx syntax, E01xx names, E02xx types and values, E03xx graph, E04xx target; W0xxx warnings.
A code, once published, keeps its meaning: tests and users' CI scripts match on it.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # Syntax: these stop compilation.
    "E0001": "file is not UTF-8 text",
    "E0002": "unexpected character",
    "E0003": "unexpected token",
    "E0004": "unexpected end of file",
    "E0005": "unterminated string",
    "E0006": "invalid escape sequence",
    "E0007": "invalid interpolation",
    "E0008": "nesting too deep",
    "E0009": "no pipeline in file",
    "E0010": "file too large",
    # Names.
    "E0101": "duplicate name",
    "E0102": "unknown step",
    "E0103": "unknown name",
    "E0104": "unknown output",
    "E0105": "unknown field",
    "E0106": "missing required field",
    "E0107": "names clash after Kubernetes name mapping",
    "E0108": "unknown data set",
    "E0109": "more than one pipeline",
    "E0110": "duplicate field",
    "E0111": "import failed",
    "E0112": "unknown template",
    "E0113": "unknown argument",
    "E0114": "inputs clash in the runtime contract",
    "E0115": "invalid Python file",
    "E0116": "function cannot be a step",
    # Types and values.
    "E0201": "type mismatch",
    "E0202": "unknown type",
    "E0203": "incompatible comparison",
    "E0204": "artifact in a gate",
    "E0205": "gate is not boolean",
    "E0206": "invalid quantity",
    "E0207": "invalid duration",
    "E0208": "invalid value",
    "E0209": "over the quota",
    "E0210": "packages without a function",
    # Graph.
    "E0301": "dependency cycle",
    "E0302": "step refers to its own output",
    # Targets.
    "E0401": "not supported",
    "E0402": "workflow too large",
    # Warnings.
    "W0101": "suspicious quantity",
    "W0102": "unused param",
    "W0103": "unread output",
    "W0104": "data set or volume never mounted",
    "W0105": "credential in the pipeline's text",
    "W0201": "cache key does not cover artifact inputs",
    "W0209": "job larger than the quota",
    "W0301": "step can never run",
    "W0302": "gate always false",
    "W0401": "over a target's limits (retired: no longer reported)",
    "W0402": "workflow close to the size limit",
    "W0403": "scheduling not applied to every pod",
    "W0404": "Kubeflow run Workflow over or near the size limit",
    "W0405": "setting has no effect on this target",
}
