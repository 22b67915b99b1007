"""import (GitHub Models .prompt.yml, promptfoo configs) and schema (JSON Schemas for editors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pathlib import Path

    from promptctl.interop import ImportPlan


def import_file(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="A .prompt.yml or promptfooconfig.yaml.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the files; write nothing.")
    ] = False,
    into: Annotated[
        str | None,
        typer.Option("--into", metavar="DIR", help="Project to import into (default: this one)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            metavar="NAME",
            help="Name the prompts, suites and datasets NAME... instead of after the config's "
            "description (two configs without one would collide).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="PROVIDER/MODEL",
            help="The model of a .prompt.yml that has no `model:` (the workflow supplies it).",
        ),
    ] = None,
) -> None:
    """Convert a GitHub Models .prompt.yml or a promptfoo config into prompts and suites.

    Whatever cannot be converted is listed with its file and line at the end; exit 2 when
    nothing could be imported.

    Example: promptctl import summarize.prompt.yml --dry-run
    """
    from pathlib import Path

    from promptctl import interop
    from promptctl.errors import UsageError
    from promptctl.project import config
    from promptctl.reporters import plain

    plan = interop.plan_import(Path(file), file, prefix=prefix, model=model)
    root = Path(into).resolve() if into else config.find_root()
    for note in plan.notes:
        plain.warn(f"note: {note}")
    if not plan.prompts:
        _report_skipped(plan)
        raise UsageError(
            f"nothing importable in {file}",
            hint="every prompt needs a provider promptctl has"
            + ("; see the items above" if plan.skipped else ""),
        )
    if dry_run:
        for planned in plan.files:
            plain.write(f"--- {planned.path} ---\n{planned.text}")
            if not planned.text.endswith("\n"):
                plain.write("\n")
        existing = interop.conflicts(plan, root)
        if existing and not force:
            plain.warn(f"warning: {len(existing)} of these files exist; importing needs --force")
    else:
        written = interop.write_plan(plan, root, force=force)
        for path in written:
            plain.write(f"wrote {_shown(path, root)}\n")
    _report_skipped(plan)
    kind = interop.FORMATS[plan.format]
    verb = "would import" if dry_run else "imported"
    counts = {k: sum(1 for f in plan.files if f.kind == k) for k in ("prompt", "suite", "dataset")}
    plain.warn(
        f"{verb} {counts['prompt']} prompt(s), {counts['suite']} suite(s), "
        f"{counts['dataset']} dataset(s) from {kind} {file}"
        + (f"; {len(plan.skipped)} item(s) NOT imported" if plan.skipped else "")
    )


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _report_skipped(plan: ImportPlan) -> None:
    from promptctl.reporters import plain

    if not plan.skipped:
        return
    plain.warn(f"warning: {len(plan.skipped)} item(s) NOT imported (nothing else was left out):")
    for item in plan.skipped:
        plain.warn(f"  {item}")


def schema(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="prompt, suite, config or labels.")],
) -> None:
    """Print the JSON Schema of a file kind (prompt, suite, config, labels) for editors.

    Example: promptctl schema prompt > prompt.schema.json
    """
    from promptctl.project import schemas as editor_schemas
    from promptctl.reporters import plain

    plain.write(editor_schemas.schema_text(kind))


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
    app.command()(schema)
