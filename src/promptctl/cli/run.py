"""run: one call to the model, the reply on stdout, tokens/latency/cost on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from promptctl.cli._options import Format, TrustedRef, Vars, VarsFile, check_format, parse_vars

if TYPE_CHECKING:
    from promptctl.model import Reply


def run(
    ref: Annotated[str, typer.Argument(metavar="NAME[@REF]", help="Prompt name, optionally @ref.")],
    var: Vars = None,
    vars_file: VarsFile = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Override the model, <provider>/<model id>.")
    ] = None,
    fmt: Format = "text",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the model even if a reply is cached.")
    ] = False,
    trusted_config_ref: TrustedRef = None,
) -> None:
    """Call the model once with NAME[@REF] and print the reply.

    Example: promptctl run classify --var ticket="I was charged twice"
    """
    from promptctl import engine
    from promptctl.project import config
    from promptctl.prompts import loader, rendering
    from promptctl.redaction import printable
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project(trusted_ref=trusted_config_ref)
    prompt = loader.resolve(ref, project)
    variables = parse_vars(var, vars_file)
    if prompt.uses and "uses" not in variables:  # a chain: its upstream steps first
        from promptctl.evals import cases

        replies, steps = cases.run_chain(project, prompt, variables, use_cache=not no_cache)
        for step in steps:
            plain.warn(
                f"step {step['step']} ({step['prompt']}@{step['version']}): {step['output']}"
            )
        variables = {**variables, "uses": {a: {"output": r} for a, r in replies.items()}}
    messages = rendering.render_prompt(prompt, variables)
    reply, _ = engine.run_once(project, prompt, messages, model=model, use_cache=not no_cache)
    if fmt == "json":
        plain.write_json(
            {
                "name": prompt.name,
                "version": prompt.version,
                "model": model or prompt.model,
                "text": reply.text,
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "latency_s": round(reply.latency_s, 4),
                "cost_usd": reply.cost_usd,
                "cached": reply.cached,
                "retries": reply.retries,
                "finish_reason": reply.finish_reason,
            }
        )
        return
    plain.write(printable(reply.text).rstrip("\n") + "\n")
    plain.warn(summary_line(reply))


def summary_line(reply: Reply) -> str:
    """`tokens 12 in / 3 out · 0.41 s · $0.000012`; unknown cost, retries and cache said so."""
    tokens_in = "?" if reply.input_tokens is None else str(reply.input_tokens)
    tokens_out = "?" if reply.output_tokens is None else str(reply.output_tokens)
    cost = "cost unknown" if reply.cost_usd is None else f"${reply.cost_usd:.6f}"
    parts = [f"tokens {tokens_in} in / {tokens_out} out", f"{reply.latency_s:.2f} s", cost]
    if reply.retries:
        parts.append(f"{reply.retries} retries")
    if reply.cached:
        parts.append("cached")
    return " · ".join(parts)


def register(app: typer.Typer) -> None:
    app.command()(run)
