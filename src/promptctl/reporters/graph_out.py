"""`promptctl graph` as text, JSON or Graphviz dot."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from promptctl.prompts.graph import PromptNode
from promptctl.redaction import printable


def as_json(graph: dict[str, PromptNode]) -> list[dict[str, Any]]:
    return [asdict(node) for node in graph.values()]


def text(graph: dict[str, PromptNode]) -> str:
    """One block per prompt: its version, then what it uses, includes and is evaluated by."""
    users: dict[str, list[str]] = {}
    for node in graph.values():
        for edge in node.uses:
            users.setdefault(edge.prompt, []).append(node.name)
    out = []
    for node in graph.values():
        out.append(f"{node.name}@{node.version or '(does not load)'}\n")
        if node.error:
            out.append(f"  error: {node.error}\n")
        for edge in node.uses:
            out.append(f"  uses {edge.alias}: {edge.ref}\n")
        for partial in node.partials:
            out.append(f"  includes partial {partial}\n")
        for suite in node.suites:
            out.append(f"  evaluated by suite {suite}\n")
        for user in sorted(users.get(node.name, ())):
            out.append(f"  used by {user}\n")
    return printable("".join(out)) if out else "no prompts\n"


def _q(value: str) -> str:
    return json.dumps(value)  # a dot ID in double quotes: JSON's escaping is dot's


def dot(graph: dict[str, PromptNode]) -> str:
    """Prompts are boxes, partials notes, suites ellipses; an edge points at what is needed."""
    lines = ["digraph promptctl {", "  rankdir=LR;"]
    partials: set[str] = set()
    suites: set[str] = set()
    for node in graph.values():
        label = f"{node.name}\n{node.version or '?'}"
        lines.append(f"  {_q('prompt:' + node.name)} [shape=box, label={_q(label)}];")
        for edge in node.uses:
            lines.append(
                f"  {_q('prompt:' + node.name)} -> {_q('prompt:' + edge.prompt)} "
                f"[label={_q('uses ' + edge.alias + (' @' + edge.pinned if edge.pinned else ''))}];"
            )
        for partial in node.partials:
            partials.add(partial)
            lines.append(f"  {_q('prompt:' + node.name)} -> {_q('partial:' + partial)};")
        for suite in node.suites:
            suites.add(suite)
            lines.append(f"  {_q('suite:' + suite)} -> {_q('prompt:' + node.name)};")
    lines += [f"  {_q('partial:' + p)} [shape=note, label={_q(p)}];" for p in sorted(partials)]
    lines += [f"  {_q('suite:' + s)} [shape=ellipse, label={_q(s)}];" for s in sorted(suites)]
    lines.append("}")
    return "\n".join(lines) + "\n"
