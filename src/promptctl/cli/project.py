"""init."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    directory: Annotated[Path, typer.Argument(help="Where to scaffold (default: here).")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    ci: Annotated[
        str, typer.Option("--ci", help="CI workflow to write: github, github-sharded or none.")
    ] = "github",
) -> None:
    """Scaffold promptctl.yaml, a prompt, a dataset, a suite and a CI workflow.

    Existing files are kept unless --force. The scaffold runs offline on the mock provider.

    Example: promptctl init my-project && cd my-project && promptctl eval
    """
    from promptctl.project import scaffold
    from promptctl.reporters import plain

    results = scaffold.scaffold(directory.resolve(), force=force, ci=ci)
    for w in results:
        try:
            shown = w.path.resolve().relative_to(directory.resolve()).as_posix()
        except ValueError:
            shown = str(w.path)
        plain.write(f"{w.action:11} {shown}\n")
    kept = [w for w in results if w.action == "kept" and w.path.name != ".gitignore"]
    if kept:
        plain.warn(f"kept {len(kept)} existing file(s); --force overwrites them")
    plain.warn("next: promptctl lint && promptctl eval && promptctl baseline update")


def register(app: typer.Typer) -> None:
    app.command()(init)
