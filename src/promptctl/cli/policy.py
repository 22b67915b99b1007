"""policy check: every move of labels.yaml since a base revision, against the base's policy."""

from __future__ import annotations

from typing import Annotated

import typer

from promptctl.cli._options import Format, check_format

policy_app = typer.Typer(
    name="policy",
    help="The promotion policy of promptctl.yaml (docs/policy.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@policy_app.command()
def check(
    base: Annotated[
        str,
        typer.Option("--base", metavar="REF", help="Compare labels.yaml with this revision."),
    ] = "HEAD",
    fmt: Format = "text",
) -> None:
    """Fail (exit 1) when labels.yaml moved a label since REF in a way the policy committed at
    REF forbids, hand edits included: a required CI check on pull requests.

    Example: promptctl policy check --base origin/main
    """
    from promptctl.labels import policy
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    result = policy.check(config.load_project(), base)
    if fmt == "json":
        plain.write_json(
            {
                "base": result.base,
                "moves": [
                    {
                        "name": m.name,
                        "label": m.label,
                        "from": m.old.version if m.old else None,
                        "to": m.new.version if m.new else None,
                    }
                    for m in result.moves
                ],
                "violations": [
                    {"name": v.name, "label": v.label, "rule": v.rule, "message": v.message}
                    for v in result.violations
                ],
            }
        )
    else:
        for m in result.moves:
            old = m.old.version if m.old else "(unset)"
            new = m.new.version if m.new else "(removed)"
            rollout = " (rollout)" if m.new and m.new.rollout else ""
            plain.write(f"{m.name} {m.label}: {old} -> {new}{rollout}\n")
        for v in result.violations:
            plain.warn(f"labels.yaml: error: {v.name} {v.label}: {v.message} [{v.rule}]")
        moves = len(result.moves)
        plain.write(
            f"{moves} label move(s) since {base}, {len(result.violations)} against the policy\n"
        )
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
