"""`eval --settle`: the fresh calls gate/settle.py asks for, made with the suite's own scorers.

Each draw is one fresh call of the baseline's prompt version or the current one for one case
(no cache, no replay: a repeat index past the run's own), scored like the run. The gate's
settling procedure decides which cases and how many; this module only makes the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError
from promptctl.evals import datasets, results, runs
from promptctl.evals.cases import run_case
from promptctl.gate import settle as settle_mod
from promptctl.gate import verdict as gate_mod
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt

# Settling calls use repeat indices from here on: never a recorded or cached request.
_FRESH_REPEAT = 10_000


def settle_eval(project: Project, evaluated: Any, plans: Sequence[Any], budget: int | None) -> Any:
    """Settle the inconclusive scorers of an `EvalResult` (already decided as one family).

    `plans` are the runner's plans of its suites, in order; `budget` caps the fresh calls
    (default: as many as the eval's own samples, so at most twice the calls in all). Each
    sample is one case run as the eval runs it (evals.cases.run_case).
    """
    gated = [i for i, s in enumerate(evaluated.suites) if s.gate is not None]
    if not gated:
        return evaluated
    by_name = {p.suite.name: p for p in plans}
    suites = [evaluated.suites[i] for i in gated]
    suite_plans = [by_name[s.suite.name] for s in suites]
    pairs = [
        (results.load_run(s.run_dir), p.baseline) for s, p in zip(suites, suite_plans, strict=True)
    ]
    base_prompts = [_baseline_prompt(project, p) for p in suite_plans]
    started = list(settle_mod.start([s.gate for s in suites]))
    for k, bp in enumerate(base_prompts):
        if bp is None and suite_plans[k].baseline is not None:
            note = (
                f"--settle: not settled: the baseline's prompt version "
                f"{suite_plans[k].baseline.prompt_version} is in no commit of this repository"
            )
            started[k] = replace(started[k], notes=(*started[k].notes, note))
    if budget is None:
        budget = sum(p.total_pairs for p in suite_plans)
    cases = [{c.id: c for c in datasets.iter_cases(project, p.suite)} for p in suite_plans]

    def sample(draws: Sequence[settle_mod.Draw]) -> list[dict[str, tuple[float, bool]]]:
        import asyncio  # only when settling: start-up stays fast

        return asyncio.run(_draw_all(project, draws, suite_plans, base_prompts, cases))

    decided, _ = settle_mod.settle(
        pairs,
        started,
        sample,
        budget,
        settleable=[bp is not None for bp in base_prompts],
    )
    out = list(evaluated.suites)
    for i, g in zip(gated, decided, strict=True):
        s = out[i]
        # The gate's JSON carries settle_calls (gate/verdict.as_dict): the run records it.
        summary = replace(s.summary, gate=gate_mod.as_dict(g))
        runs.rewrite_summary(Path(s.run_dir), summary)
        out[i] = replace(s, gate=g, summary=summary)
    return replace(evaluated, suites=tuple(out))


def _baseline_prompt(project: Project, plan: Any) -> Prompt | None:
    """The prompt the baseline was recorded with, by its version, or None when no commit has
    it (then that suite cannot be settled: one-sided re-sampling would bias the test)."""
    if plan.baseline is None:
        return None
    version = plan.baseline.prompt_version
    if version == plan.prompt.version:
        return plan.prompt
    try:
        return loader.resolve(f"{plan.prompt.name}@{version}", project)
    except UsageError:
        return None


async def _draw_all(
    project: Project,
    draws: Sequence[settle_mod.Draw],
    plans: Sequence[Any],
    base_prompts: Sequence[Prompt | None],
    cases: Sequence[dict[str, Any]],
) -> list[dict[str, tuple[float, bool]]]:
    import asyncio

    from promptctl import scorers as registry
    from promptctl.engine import Engine

    out: list[dict[str, tuple[float, bool]]] = [{} for _ in draws]
    async with Engine(project, use_cache=False) as engine:
        built: dict[tuple[int, str], list[tuple[str, Any]]] = {}

        def scorers_for(suite: int, prompt: Prompt) -> list[tuple[str, Any]]:
            key = (suite, prompt.version)
            if key not in built:
                ctx = registry.ScorerContext(
                    engine=engine,
                    prompt=prompt,
                    judge_model=project.config.defaults.judge_model,
                    partials_dir=prompt.partials_dir,
                    project=project,
                )
                built[key] = [(s.id, registry.build(s, ctx)) for s in plans[suite].suite.scorers]
            return built[key]

        gate = asyncio.Semaphore(engine.concurrency)

        async def one(k: int, d: settle_mod.Draw) -> None:
            plan = plans[d.suite]
            prompt = base_prompts[d.suite] if d.side == "base" else plan.prompt
            assert prompt is not None
            async with gate:
                line = await run_case(
                    engine,
                    prompt,
                    scorers_for(d.suite, prompt),
                    plan.suite.name,
                    cases[d.suite][d.case_id],
                    _FRESH_REPEAT + d.index,
                )
            if line.error:
                return  # a failed call adds no sample; the test uses what arrived
            out[k] = {sid: (s.score, s.passed) for sid, s in line.scores.items() if not s.error}

        await asyncio.gather(*(one(k, d) for k, d in enumerate(draws)))
    return out
