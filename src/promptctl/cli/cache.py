"""cache stats|clear: the local response cache."""

from __future__ import annotations

import typer

from promptctl.cli._options import Format, check_format

cache_app = typer.Typer(
    name="cache",
    help="The local response cache (.promptctl/cache.db).",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@cache_app.command()
def stats(fmt: Format = "text") -> None:
    """Rows, size on disk and hits of the response cache.

    Example: promptctl cache stats --format json
    """
    from promptctl.engine.cache import Cache
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    s = Cache.for_state_dir(project.state_dir).stats()
    path = project.rel(s.path)
    if fmt == "json":
        plain.write_json(
            {
                "path": path,
                "rows": s.rows,
                "size_bytes": s.size_bytes,
                "hits": s.hits,
                "by_model": s.by_model,
            }
        )
        return
    plain.write(f"cache: {path}\nrows:  {s.rows}\nsize:  {_size(s.size_bytes)}\nhits:  {s.hits}\n")
    if s.by_model:
        plain.write(plain.table(["MODEL", "ROWS"], sorted(s.by_model.items())))


@cache_app.command()
def clear() -> None:
    """Delete every cached reply.

    Example: promptctl cache clear
    """
    from promptctl.engine.cache import Cache
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    removed = Cache.for_state_dir(project.state_dir).clear()
    plain.warn(f"removed {removed} cached replies from {project.rel(project.state_dir)}/")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GiB"


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
