"""The Typer app: each cli module registers its commands here."""

from __future__ import annotations

import importlib
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
Exit codes: 0 ok, 1 gate failed, 2 usage/input error, 3 could not complete, 130 interrupted.
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_COMMAND_MODULES = (
    "project",
    "prompts",
    "run",
    "lint",
    "eval",
    "merge",
    "baseline",
    "history",
    "labels",
    "cache",
    "interop",
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


@app.callback()
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


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"promptctl.cli.{_name}")
    except ModuleNotFoundError as _e:  # a command group not built yet
        if _e.name != f"promptctl.cli.{_name}":
            raise
        continue
    _module.register(app)
