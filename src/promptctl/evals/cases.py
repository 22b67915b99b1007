"""One case of a run: render, call (or replay), score; a chain's upstream steps first.

The runner schedules cases and keeps their results; this module is what happens to each one,
shared with `promptctl run` (a chain's steps) and `--settle` (more repeats of a few cases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from promptctl.errors import MissingKeyError, PromptctlError, ProviderError, UsageError
from promptctl.evals import runs
from promptctl.model import Case, Reply, Score
from promptctl.project.config import Project
from promptctl.prompts import rendering
from promptctl.prompts.prompt import Prompt


def ends_run(e: BaseException) -> bool:
    """Errors that end the run (auth, budget, offline, missing key), unlike one case's failure."""
    return isinstance(e, PromptctlError) and e.ends_run


async def run_case(
    engine: Any,
    prompt: Prompt,
    scorers: list[tuple[str, Any]],
    suite: str,
    case: Case,
    repeat: int,
    replay: Mapping[str, Any] | None = None,
    canary: tuple[str, str] | None = None,  # (variable, the run's token)
) -> runs.ResultLine:
    # plan() already checked every selected case's variables; render_messages would check
    # them again (a JSON Schema validation per variable, ~0.15 ms a case).
    values = rendering.apply_defaults(prompt, case.vars)
    if canary is not None:
        values[canary[0]] = canary[1]
    line = runs.ResultLine(
        suite=suite, case_id=case.id, case_hash=case.hash, repeat=repeat, critical=case.critical
    )
    if prompt.uses:  # a chain: the upstream steps run first, each one cached and replayed
        steps: list[dict[str, Any]] = []
        try:
            replies = await chain(engine, prompt, case.vars, repeat, replay, steps, ())
        except StepFailed as e:
            return replace(line, steps=tuple(steps), error=str(e))
        line = replace(line, steps=tuple(steps))
        values["uses"] = rendering.uses_context(prompt, case.vars, replies)
    messages = [
        {
            "role": m.role,
            "content": rendering.render_text(
                m.content,
                values,
                source=m.source,
                partials_dir=prompt.partials_dir,
                partials=prompt.partials,  # the prompt's own revision, not the working tree
            ),
        }
        for m in prompt.messages
    ]
    request = engine.build_request(prompt, messages, repeat=repeat)
    # set on the line with the outcome: each replace() of a line costs ~6 us a case
    key = request.key
    recorded = replay.get(key) if replay else None
    try:
        if recorded is not None:
            # Same key = same provider, model, params, messages, format and repeat index.
            from promptctl.evals.replay import reply_from

            line = replace(line, replayed=True)
            reply: Reply = reply_from(recorded, request)
        else:
            reply = await engine.complete(request)
    except ProviderError as e:
        if ends_run(e):
            raise
        # One case's call failed after retries: recorded, the run goes on, --resume retries it.
        return replace(line, request_key=key, error=e.message)
    scores: dict[str, runs.ScoreLine] = {}
    from promptctl.evals.replay import capturing

    with capturing() as judged:
        await score_all(scorers, reply, case, repeat, scores)
    return replace(
        line,
        request_key=key,
        judge_outputs=tuple(judged),
        output=reply.text,
        scores=scores,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        latency_s=round(reply.latency_s, 6),
        cost_usd=reply.cost_usd,
        cached=reply.cached,
        # what the provider says it ran (drift)
        served_model=reply.model if reply.model and not reply.cached else None,
    )


class StepFailed(Exception):
    """An upstream step of a chain failed: the downstream case gets this error, the run goes on."""


def stub_replies(prompt: Prompt) -> dict[str, str]:
    return {u.alias: "" for u in prompt.uses}


async def chain(
    engine: Any,
    prompt: Prompt,
    variables: Mapping[str, Any],
    repeat: int,
    replay: Mapping[str, Any] | None,
    steps: list[dict[str, Any]],
    path: tuple[str, ...],
) -> dict[str, str]:
    """Call each upstream whose reply the prompt reads (`uses.<alias>.output`), its own upstreams
    first; every step is recorded in `steps` (output, tokens, cost) and, like any call, answered
    from the baseline's recorded outputs or the cache when the request is identical."""
    wanted = rendering.uses_fields(prompt)
    replies: dict[str, str] = {}
    for use in prompt.uses:
        if "output" not in wanted.get(use.alias, ()):
            continue
        upstream = prompt.upstreams[use.alias]
        step = ".".join((*path, use.alias))
        name = f"{upstream.name}@{upstream.version}"
        try:
            own = await chain(
                engine, upstream, variables, repeat, replay, steps, (*path, use.alias)
            )
            messages = rendering.render_messages(upstream, variables, replies=own)
        except UsageError as e:
            raise StepFailed(f"upstream step {step} ({name}): {e.message}") from None
        request = engine.build_request(upstream, messages, repeat=repeat)
        recorded = replay.get(request.key) if replay else None
        try:
            if recorded is not None:
                from promptctl.evals.replay import reply_from

                reply = reply_from(recorded, request)
            else:
                reply = await engine.complete(request)
        except ProviderError as e:
            if ends_run(e):
                raise
            raise StepFailed(f"upstream step {step} ({name}) failed: {e.message}") from None
        steps.append(
            {
                "step": step,
                "prompt": upstream.name,
                "version": upstream.version,
                "key": request.key,
                "output": reply.text,
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cost_usd": reply.cost_usd,
                "cached": reply.cached,
                "replayed": recorded is not None,
            }
        )
        replies[use.alias] = reply.text
    return replies


def run_chain(
    project: Project, prompt: Prompt, variables: Mapping[str, Any], *, use_cache: bool = True
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The upstream steps of one chain call (`promptctl run`): alias -> reply, and each step.

    Raises:
        UsageError: an upstream step failed (its message names the step).
    """
    import asyncio

    from promptctl.engine import Engine

    async def go() -> tuple[dict[str, str], list[dict[str, Any]]]:
        steps: list[dict[str, Any]] = []
        async with Engine(project, use_cache=use_cache, concurrency=1) as engine:
            try:
                replies = await chain(engine, prompt, variables, 0, None, steps, ())
            except StepFailed as e:
                raise UsageError(str(e)) from None
        return replies, steps

    return asyncio.run(go())


async def score_all(
    scorers: list[tuple[str, Any]],
    reply: Reply,
    case: Case,
    repeat: int,
    scores: dict[str, runs.ScoreLine],
) -> None:
    for sid, scorer in scorers:
        try:
            s: Score = await scorer.score(reply, case, repeat=repeat)
            value = min(1.0, max(0.0, float(s.value)))
            scores[sid] = runs.ScoreLine(
                score=value, passed=bool(s.passed), reason=s.reason, error=s.error
            )
        except Exception as e:
            # A scorer's own bad input (a `value` template naming an unknown variable) is that
            # scorer's error; the engine's stops (budget, auth, offline, missing key) end the run.
            if isinstance(e, MissingKeyError) or (ends_run(e) and not isinstance(e, UsageError)):
                raise
            message = e.message if isinstance(e, PromptctlError) else str(e)
            scores[sid] = runs.ScoreLine(error=message or type(e).__name__)
