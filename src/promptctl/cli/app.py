"""The Typer app: each cli module registers its commands here."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

import typer

HELP = """Git-native prompts and eval gates.

Examples:

\b
  promptctl init                      scaffold a project
  promptctl render summarize --var ticket="Printer on fire"
  promptctl lint --format github
  promptctl eval                      run every suite and gate against its baseline
  promptctl eval --changed-since origin/main --baseline-ref origin/main
  promptctl promote summarize --to production

\b
Exit codes: 0 ok, 1 gate failed, 2 usage error, 3 could not complete, 130 interrupted.
"""


_COMMAND_MODULES = (
    "project",
    "prompts",
    "run",
    "lint",
    "eval",
    "drift",
    "merge",
    "baseline",
    "history",
    "labels",
    "rollout",
    "policy",
    "cache",
    "batch",
    "interop",
    "report",
)


def click_exceptions() -> ModuleType:
    """Typer >= 0.26 vendors Click; the exception classes live in its private copy."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover - older Typer with click installed
        return importlib.import_module("click.exceptions")


def _version_callback(value: bool) -> None:
    if value:
        from promptctl._version import __version__

        typer.echo(f"promptctl {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Git-native prompts and eval gates."""


# command name -> the cli module that registers it; a run builds only the command it needs
# (Typer introspects every registered function at start: all 17 cost ~60 ms, one ~5 ms).
COMMANDS = {
    "init": "project",
    "list": "prompts",
    "render": "prompts",
    "graph": "prompts",
    "run": "run",
    "lint": "lint",
    "eval": "eval",
    "drift": "drift",
    "merge": "merge",
    "baseline": "baseline",
    "log": "history",
    "diff": "history",
    "promote": "labels",
    "rollback": "labels",
    "export": "labels",
    "rollout": "rollout",
    "policy": "policy",
    "cache": "cache",
    "batch": "batch",
    "import": "interop",
    "schema": "interop",
    "report": "report",
    "show": "report",
    "view": "report",
}


def make_app(modules: Iterable[str] = _COMMAND_MODULES) -> typer.Typer:
    """The Typer app with the commands of `modules` registered."""
    app = typer.Typer(
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in modules:
        try:
            module = importlib.import_module(f"promptctl.cli.{name}")
        except ModuleNotFoundError as e:  # a command group not built yet
            if e.name != f"promptctl.cli.{name}":
                raise
            continue
        module.register(app)
    _plain_usage(app)
    return app


def _plain_usage(app: typer.Typer) -> None:
    """Usage lines show `NAME[@REF]`, not Typer's `{NAME[@REF]}` for a required argument
    (issue 20: braces read as literal syntax); Click's own `[OPTIONS]` style is kept."""
    from typer.core import TyperCommand

    class Command(TyperCommand):
        def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
            pieces = super().collect_usage_pieces(ctx)
            return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _plain_usage(group.typer_instance)


def app_for(argv: list[str]) -> typer.Typer:
    """Only the named command's module when argv names one; every command otherwise (help,
    typos: Click then lists and suggests them all)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    module = COMMANDS.get(first or "")
    return make_app((module,) if module else _COMMAND_MODULES)


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the full app, for tools such as the reference generator
        return make_app()
    raise AttributeError(name)
