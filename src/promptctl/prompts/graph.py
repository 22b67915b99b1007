"""The dependency graph: prompts, the partials they load, the prompts they use, the suites that
evaluate them (`promptctl graph`, `eval --changed-since`, promote's dependants; issue 14 §4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from promptctl.errors import UsageError
from promptctl.project.config import Project
from promptctl.prompts import loader


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    alias: str
    ref: str  # as written in `uses:`
    prompt: str  # the upstream's name
    pinned: str | None  # the @REF of the use (a label, version or revision), None: same source


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptNode:
    name: str
    version: str | None  # None: the prompt does not load (`error` says why)
    partials: tuple[str, ...] = ()
    uses: tuple[Edge, ...] = ()
    suites: tuple[str, ...] = ()
    error: str | None = None


def build(project: Project) -> dict[str, PromptNode]:
    """Every prompt of the working tree with its edges, by name."""
    from promptctl.history import snapshot

    found = snapshot.suites_at(snapshot.snapshot(project, None), project, with_cases=False)
    suites: dict[str, list[str]] = {}
    for name, at in sorted(found.items()):
        if at.suite is not None and at.prompt:
            suites.setdefault(at.prompt, []).append(name)
    out: dict[str, PromptNode] = {}
    for name, path in loader.prompt_files(project).items():
        own = tuple(suites.get(name, ()))
        try:
            prompt = loader.load_prompt_file(project, path)
        except UsageError as e:
            out[name] = PromptNode(name=name, version=None, suites=own, error=e.message)
            continue
        edges = []
        for use in prompt.uses:
            upstream, pinned = loader.split_ref(use.ref)
            edges.append(Edge(alias=use.alias, ref=use.ref, prompt=upstream, pinned=pinned))
        out[name] = PromptNode(
            name=name,
            version=prompt.version,
            partials=tuple(sorted(prompt.partials)),
            uses=tuple(edges),
            suites=own,
        )
    return out


def downstream(graph: dict[str, PromptNode], names: Iterable[str]) -> list[str]:
    """The prompts that use any of `names`, directly or through others (not `names` itself)."""
    users: dict[str, set[str]] = {}
    for node in graph.values():
        for edge in node.uses:
            users.setdefault(edge.prompt, set()).add(node.name)
    seen: set[str] = set()
    todo = list(names)
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in seen:
                seen.add(user)
                todo.append(user)
    return sorted(seen - set(names))


def pinned_dependants(graph: dict[str, PromptNode], name: str, label: str) -> list[str]:
    """Prompts whose `uses:` pins `name@label`, and the prompts downstream of those: what a move
    of that label changes."""
    direct = sorted(
        node.name
        for node in graph.values()
        if any(e.prompt == name and e.pinned == label for e in node.uses)
    )
    return sorted({*direct, *downstream(graph, direct)})


def subgraph(graph: dict[str, PromptNode], name: str) -> dict[str, PromptNode]:
    """`name`, everything it uses (transitively) and everything downstream of it."""
    if name not in graph:
        return {}
    keep = {name, *downstream(graph, [name])}
    todo = [name]
    while todo:
        node = graph.get(todo.pop())
        for edge in node.uses if node else ():
            if edge.prompt not in keep:
                keep.add(edge.prompt)
                todo.append(edge.prompt)
    return {k: v for k, v in graph.items() if k in keep}
