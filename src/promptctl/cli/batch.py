"""batch status|cancel: the provider batches a run submitted (eval --batch)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptctl.cli._options import Format, check_format

batch_app = typer.Typer(
    name="batch",
    help="The provider batches of `eval --batch` runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

Run = Annotated[str, typer.Argument(metavar="RUN", help="A run id or directory.")]


@batch_app.command()
def status(
    run: Annotated[
        str | None, typer.Argument(metavar="[RUN]", help="A run id (default: the latest).")
    ] = None,
    fmt: Format = "text",
) -> None:
    """Each batch of the run, as recorded and as the provider reports it now.

    Example: promptctl batch status
    """
    import asyncio

    from promptctl.engine import batch as batches
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    path = _run_dir(project, run)
    found = asyncio.run(batches.status_of(path, _resolver(project)))
    if fmt == "json":
        plain.write_json(
            [
                {
                    "id": r.id,
                    "provider": r.provider,
                    "requests": len(r.custom_ids),
                    "recorded": r.status,
                    "collected": r.collected,
                    "now": now,
                }
                for r, now in found
            ]
        )
        return
    if not found:
        plain.write(f"run {path.name} submitted no batch\n")
        return
    rows = [
        (r.id, r.provider, str(len(r.custom_ids)), now, "yes" if r.collected else "no")
        for r, now in found
    ]
    plain.write(plain.table(["BATCH", "PROVIDER", "REQUESTS", "STATUS", "COLLECTED"], rows))


@batch_app.command()
def cancel(run: Run) -> None:
    """Cancel the run's batches that were not collected yet.

    Example: promptctl batch cancel 20261207T0600Z-summarize-ab12
    """
    import asyncio

    from promptctl.engine import batch as batches
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    path = _run_dir(project, run)
    done = asyncio.run(batches.cancel_all(path, _resolver(project)))
    for r, now in done:
        plain.write(f"{r.id} ({r.provider}): {now}\n")
    plain.write(f"cancelled {len(done)} batch(es) of run {path.name}\n")


def _run_dir(project: Any, run: str | None) -> Any:
    from promptctl.errors import UsageError
    from promptctl.evals import runs

    if run is not None:
        return runs.find_run(project, run)
    dirs = runs.run_dirs(project)
    for path in reversed(dirs):
        if (path / "batches.jsonl").exists():
            return path
    raise UsageError("no run has submitted a batch", hint="promptctl eval --batch")


def _resolver(project: Any) -> Any:
    from promptctl.engine.settings import api_key, resolve_provider
    from promptctl.model import Request
    from promptctl.providers import providers

    def resolve(name: str) -> Any:
        settings = resolve_provider(project, name)
        provider = providers.get(settings.type)(settings)
        sample = Request(provider=name, model="batch", messages=(), params={}, repeat=0)
        return settings, provider.build(sample, api_key(settings))

    return resolve


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
