"""list, render, run."""

from __future__ import annotations

from typing import Annotated

import typer

from promptctl.cli._options import Format, Vars, VarsFile, check_format, parse_vars


def list_prompts(fmt: Format = "text") -> None:
    """List prompts with version, model and labels.

    Example: promptctl list --format json
    """
    from promptctl.labels import store as labels
    from promptctl.project import config
    from promptctl.prompts import loader
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    prompts = loader.load_all(project)
    pointers = labels.read(project)
    rows = []
    for p in prompts:
        names = sorted(
            label for label, e in pointers.get(p.name, {}).items() if e.version == p.version
        )
        others = sorted(
            f"{label}={e.version}"
            for label, e in pointers.get(p.name, {}).items()
            if e.version != p.version
        )
        rows.append(
            {
                "name": p.name,
                "version": p.version,
                "model": p.model,
                "path": p.source.path,
                "labels": names,
                "other_labels": others,
                "description": p.description,
            }
        )
    if fmt == "json":
        plain.write_json(rows)
        return
    if not rows:
        plain.warn(
            f"no prompts under {project.rel(project.prompts_dir)}/ "
            "(hint: `promptctl init` scaffolds one)"
        )
        return
    plain.write(
        plain.table(
            ["NAME", "VERSION", "MODEL", "LABELS"],
            [
                [
                    r["name"],
                    r["version"],
                    r["model"],
                    ", ".join(r["labels"] + r["other_labels"]) or "-",
                ]
                for r in rows
            ],
        )
    )


def render(
    ref: Annotated[str, typer.Argument(metavar="NAME[@REF]", help="Prompt name, optionally @ref.")],
    var: Vars = None,
    vars_file: VarsFile = None,
    fmt: Format = "text",
) -> None:
    """Print the rendered messages of NAME[@REF].

    Example: promptctl render summarize --var ticket="The printer is on fire"
    """
    from promptctl.project import config
    from promptctl.prompts import loader, rendering
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    prompt = loader.resolve(ref, project)
    messages = rendering.render_prompt(prompt, parse_vars(var, vars_file))
    if fmt == "json":
        plain.write_json(
            {
                "name": prompt.name,
                "version": prompt.version,
                "model": prompt.model,
                "params": dict(prompt.params),
                "messages": messages,
            }
        )
        return
    for m in messages:
        plain.write(f"--- {m['role']} ---\n{m['content'].rstrip()}\n")


def graph(
    name: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="Only this prompt, its upstreams and dependants."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Output format: text, json or dot (Graphviz).")
    ] = "text",
) -> None:
    """Show prompts with the partials they include, the prompts they use and the suites that
    evaluate them.

    Example: promptctl graph drafter --format dot | dot -Tsvg > graph.svg
    """
    from promptctl.project import config
    from promptctl.prompts import graph as graphs
    from promptctl.prompts import loader
    from promptctl.reporters import graph_out, plain

    check_format(fmt, ("text", "json", "dot"))
    project = config.load_project()
    found = graphs.build(project)
    if name is not None:
        name = loader.split_ref(name)[0]
        if name not in found:
            raise loader.unknown_prompt(project, name)
        found = graphs.subgraph(found, name)
    if fmt == "json":
        plain.write_json(graph_out.as_json(found))
    else:
        plain.write(graph_out.dot(found) if fmt == "dot" else graph_out.text(found))


def register(app: typer.Typer) -> None:
    app.command("list")(list_prompts)
    app.command()(render)
    app.command()(graph)
