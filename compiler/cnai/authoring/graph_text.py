"""A :class:`~cnai.authoring.graph.Drawing` as Graphviz DOT or as a Mermaid flowchart.

Both are plain text made here, so neither needs Graphviz; ``dot`` only renders the DOT to SVG
or PNG (authoring/graph_command.py). The look: steps are rounded boxes, GPU steps filled
orange with a ``GPU x N`` line, preloads dashed boxes, services hexagons (DOT: components),
distributed steps 3-D boxes, data sets cylinders; gate edges bold and labelled with the
condition; loops, branches and ``finally`` are boxes around their steps.

DOT's syntax: https://graphviz.org/doc/info/lang.html (a quoted ID escapes ``"`` only; in a
label ``\\`` starts an escape such as ``\\n``, so a backslash is doubled). Mermaid's:
https://mermaid.js.org/syntax/flowchart.html (entity codes such as ``#35;`` escape characters
inside a quoted label).
"""

from __future__ import annotations

from cnai.authoring.graph import Drawing, DrawnCluster, DrawnEdge, DrawnNode

FONT = "Helvetica"
GPU_FILL = "#fde2b3"
_DOT_SHAPES = {  # (shape, style)
    "step": ("box", "rounded"),
    "preload": ("box", "rounded,dashed"),
    "service": ("component", ""),
    "distributed": ("box3d", ""),
    "dataset": ("cylinder", ""),
}
_DOT_EDGES = {
    "data": "",
    "order": "",
    "gate": ", style=bold",
    "outcome": ', style=dashed, color="#b03a2e", fontcolor="#b03a2e"',
    "fills": ", style=dashed",
    "mount": ", style=dashed, arrowhead=open",
    "finally": ", style=invis",
}
_DOT_CLUSTERS = {
    "loop": 'style="rounded"',
    "branch": 'style="rounded,dashed"',
    "finally": 'style="rounded,filled"; fillcolor="#eeeeee"',
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: tuple[str, ...] | list[str]) -> str:
    return _dot_string("\n".join(lines)).replace("\n", "\\n")


def to_dot(drawing: Drawing) -> str:
    """The drawing as a DOT digraph: top to bottom, clusters nested as the groups are."""
    title = drawing.name + (f"\n{drawing.description}" if drawing.description else "")
    out = [
        f"digraph {_dot_string(drawing.name)} {{",
        f"  graph [rankdir=TB, fontname={_dot_string(FONT)}, labelloc=t, "
        f"label={_dot_label(title.split(chr(10)))}];",
        f"  node [fontname={_dot_string(FONT)}, fontsize=11];",
        f"  edge [fontname={_dot_string(FONT)}, fontsize=10];",
    ]
    out += _dot_members(_Tree(drawing), None, "  ")
    out += [f"  {_dot_edge(edge)}" for edge in drawing.edges]
    out.append("}")
    return "\n".join(out) + "\n"


class _Tree:
    """Which nodes and clusters each cluster holds, looked up once per drawing."""

    def __init__(self, drawing: Drawing) -> None:
        self.members = drawing.members()
        self.children = drawing.children()


def _dot_members(tree: _Tree, cluster: str | None, indent: str) -> list[str]:
    lines = [indent + _dot_node(node) for node in tree.members.get(cluster, [])]
    for child in tree.children.get(cluster, []):
        lines += _dot_cluster(tree, child, indent)
    return lines


def _dot_cluster(tree: _Tree, cluster: DrawnCluster, indent: str) -> list[str]:
    inner = indent + "  "
    return [
        f"{indent}subgraph {_dot_string('cluster_' + cluster.id)} {{",
        f"{inner}label={_dot_string(cluster.label)}; {_DOT_CLUSTERS[cluster.kind]};",
        *_dot_members(tree, cluster.id, inner),
        f"{indent}}}",
    ]


def _dot_node(node: DrawnNode) -> str:
    shape, style = _DOT_SHAPES[node.kind]
    if node.gpu:
        style = ",".join(part for part in (style, "filled,bold") if part)
    attributes = f"label={_dot_label(node.lines)}, shape={shape}"
    if style:
        attributes += f", style={_dot_string(style)}"
    if node.gpu:
        attributes += f", fillcolor={_dot_string(GPU_FILL)}"
    return f"{_dot_string(node.id)} [{attributes}];"


def _dot_edge(edge: DrawnEdge) -> str:
    label = f"label={_dot_string(edge.label)}" if edge.label else ""
    attributes = (label + _DOT_EDGES[edge.kind]).lstrip(", ")
    suffix = f" [{attributes}]" if attributes else ""
    return f"{_dot_string(edge.source)} -> {_dot_string(edge.target)}{suffix};"


# ---- Mermaid --------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "step": ('("', '")'),
    "preload": ('[/"', '"/]'),
    "service": ('{{"', '"}}'),
    "distributed": ('[["', '"]]'),
    "dataset": ('[("', '")]'),
}
_MERMAID_ARROWS = {"data": "-->", "order": "-->", "gate": "==>", "outcome": "-.->",
                   "fills": "-.->", "mount": "-.->", "finally": "~~~"}
_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;",
                    "|": "#124;", "`": "#96;"}


def _mermaid_text(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in text)


def to_mermaid(drawing: Drawing) -> str:
    """The drawing as a Mermaid flowchart (for Markdown that renders Mermaid, like GitHub's).
    Node ids are ``n0``, ``n1``...: Mermaid reserves words such as ``end``."""
    ids = {node.id: f"n{index}" for index, node in enumerate(drawing.nodes)}
    out = ["---", f"title: {_mermaid_text(drawing.name)}", "---", "flowchart TB"]
    out += _mermaid_members(_Tree(drawing), None, ids, "  ")
    for edge in drawing.edges:
        arrow = _MERMAID_ARROWS[edge.kind]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    out.append(f"  classDef gpu fill:{GPU_FILL},stroke-width:2px")
    gpu = [ids[n.id] for n in drawing.nodes if n.gpu]
    if gpu:
        out.append(f"  class {','.join(gpu)} gpu")
    return "\n".join(out) + "\n"


def _mermaid_members(tree: _Tree, cluster: str | None, ids: dict[str, str],
                     indent: str) -> list[str]:
    lines = []
    for node in tree.members.get(cluster, []):
        opening, closing = _MERMAID_SHAPES[node.kind]
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        lines.append(f"{indent}{ids[node.id]}{opening}{label}{closing}")
    for child in tree.children.get(cluster, []):
        group_id = "g_" + child.id.replace("-", "_")
        lines.append(f'{indent}subgraph {group_id}["{_mermaid_text(child.label)}"]')
        lines += _mermaid_members(tree, child.id, ids, indent + "  ")
        lines.append(f"{indent}end")
    return lines
