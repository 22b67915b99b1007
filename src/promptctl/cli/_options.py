"""Options shared by several commands; each means the same everywhere."""

from __future__ import annotations

from typing import Annotated, Any

import typer

Vars = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        help="A variable, NAME=VALUE (text for string inputs, else a YAML scalar). Repeatable.",
    ),
]
VarsFile = Annotated[
    str | None, typer.Option("--vars-file", help="A YAML or JSON file of variables.")
]
Format = Annotated[str, typer.Option("--format", help="Output format: text or json.")]
TrustedRef = Annotated[
    str | None,
    typer.Option(
        "--trusted-config-ref",
        envvar="PROMPTCTL_TRUSTED_CONFIG_REF",
        metavar="REF",
        help="Take providers, base URLs, key variables, prices and the judge model from "
        "promptctl.yaml at REF (e.g. origin/main), not the working tree: for CI jobs that hold "
        "API keys and run on pull requests.",
    ),
]

Batch = Annotated[
    bool,
    typer.Option(
        "--batch", help="Send the calls through the providers' batch APIs (half price, <24 h)."
    ),
]
BatchRetry = Annotated[
    str,
    typer.Option("--batch-retry", help="Where errored or expired batch lines go: live or batch."),
]


def parse_vars(items: list[str] | None, vars_file: str | None = None) -> dict[str, Any]:
    """--vars-file first, then each --var on top of it."""
    from pathlib import Path

    from promptctl.errors import UsageError
    from promptctl.project import yamlio

    values: dict[str, Any] = {}
    if vars_file:
        data = yamlio.load_file(Path(vars_file), vars_file)
        if data is not None and not isinstance(data, dict):
            raise UsageError(
                "a vars file must hold a mapping of NAME: value", where=getattr(data, "loc", None)
            )
        values.update(yamlio.plain(data or {}))
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var {item!r} is not NAME=VALUE", hint="write --var ticket='...'")
        values[key.strip()] = yamlio.cli_value(raw)
    return values


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    from promptctl.errors import UsageError

    if fmt not in allowed:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(allowed)}")
    return fmt
