"""`eval --dry-run`: the calls a run would make (after cache and replay) and what they would
cost, per suite, without making any."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptctl.evals import runner
from promptctl.model import Suite
from promptctl.project.config import Project
from promptctl.prompts import rendering


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRun:
    suite: str
    pairs: int
    calls: int  # candidate calls the cache cannot answer
    cached: int
    judge_calls: int  # judge calls on top (one per judge and uncached call; a retry adds one)
    estimated_cost_usd: float | None  # None: a model without a known price
    judge_estimated_cost_usd: float | None = 0.0  # the judges' calls, same estimate


def dry_run(project: Project, suites: list[Suite], options: runner.EvalOptions) -> list[DryRun]:
    """Calls the cache cannot answer and their estimated cost, per suite; makes no call."""
    import asyncio

    async def go() -> list[DryRun]:
        from promptctl import scorers as registry
        from promptctl.engine import Engine
        from promptctl.engine.budget import ESTIMATE_OUTPUT_TOKENS
        from promptctl.gate.baseline import replay_index

        def plus(total: float | None, estimate: float | None) -> float | None:
            return None if total is None or estimate is None else total + estimate

        out = []
        for suite in suites:
            p = runner.plan(project, suite, options)
            calls = cached = judge_calls = 0
            cost: float | None = 0.0
            judge_cost: float | None = 0.0
            replay = {} if options.fresh else replay_index(p.baseline)
            # A judge reads the reply: priced as a reply of the candidate's max_tokens (or the
            # budget's default guess), the longest it can be. A replayed or cached candidate
            # reply gets the same judge request as before, answered the same way: no call.
            max_tokens = p.prompt.params.get("max_tokens")
            placeholder = (
                "x" * 4 * (max_tokens if isinstance(max_tokens, int) else ESTIMATE_OUTPUT_TOKENS)
            )
            async with Engine(project, use_cache=not options.fresh) as engine:
                ctx = registry.ScorerContext(
                    engine=engine,
                    prompt=p.prompt,
                    judge_model=project.config.defaults.judge_model,
                    partials_dir=p.prompt.partials_dir,
                )
                judges = [
                    registry.scorers.get(s.type).from_spec(s, ctx)
                    for s in suite.scorers
                    if s.type == "llm-judge"
                ]
                row_judges: dict[tuple[str, str], Any] = {}  # a row's own judges (`assert:`)
                for case, repeat in runner.case_pairs(project, p, set()):
                    request = engine.build_request(
                        p.prompt,
                        rendering.render_messages(
                            p.prompt, runner.with_canary(suite, case.vars, runner.CHECK_TOKEN)
                        ),
                        repeat=repeat,
                    )
                    if request.key in replay or engine.is_cached(request):
                        cached += 1
                        continue
                    calls += 1
                    cost = plus(cost, engine.estimate_cost(request, batch=options.batch))
                    case_judges = list(judges)
                    for spec in case.asserts:
                        if spec.type == "llm-judge":
                            key = (spec.id, spec.hash)
                            if key not in row_judges:
                                row_judges[key] = registry.scorers.get(spec.type).from_spec(
                                    spec, ctx
                                )
                            case_judges.append(row_judges[key])
                    for judge in case_judges:
                        judge_calls += 1
                        judged = judge.request_for(placeholder, case, repeat=repeat)
                        judge_cost = plus(
                            judge_cost, engine.estimate_cost(judged, batch=options.batch)
                        )
            out.append(
                DryRun(
                    suite=suite.name,
                    pairs=p.total_pairs,
                    calls=calls,
                    cached=cached,
                    judge_calls=judge_calls,
                    estimated_cost_usd=cost,
                    judge_estimated_cost_usd=judge_cost,
                )
            )
        return out

    return asyncio.run(go())
