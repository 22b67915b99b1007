"""`eval --settle`: the fresh calls gate/settle.py asks for, made with the suite's own scorers.

Each draw is one fresh call of the baseline's prompt version or the current one for one case
(no cache, no replay: a repeat index past the run's own), scored like the run. The gate's
settling procedure decides which cases and how many; this module only makes the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptctl.errors import BudgetError, PromptctlError, UsageError
from promptctl.evals import datasets, results, runs
from promptctl.evals.cases import run_case
from promptctl.gate import settle as settle_mod
from promptctl.gate import verdict as gate_mod
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt

# Settling calls use repeat indices from here on: never a recorded or cached request.
_FRESH_REPEAT = 10_000


@dataclass(slots=True)
class _Spend:
    """What settling one suite may spend and has spent (over every look)."""

    cap: float | None  # USD left of the run's budget (--max-cost, gate.max_cost_usd); None: none
    calls: int = 0
    cost: float | None = 0.0  # None once a call had no known price (never a silent 0)
    stopped: str | None = None  # why the budget stopped this suite's settling

    def left(self) -> float | None:
        if self.cap is None:
            return None
        return max(0.0, self.cap - (self.cost or 0.0))


def default_budget(suites: Sequence[Any], plans: Sequence[Any]) -> int:
    """As many fresh calls as the gated suites' runs made (`calls`: the model's and judges'
    network calls, not the replies the cache or the baseline supplied). An eval that made no
    call at all (everything replayed or cached) gets one call per pair instead, so it can
    still settle."""
    made = sum(s.summary.calls for s in suites)
    return made if made > 0 else sum(p.total_pairs for p in plans)


def settle_eval(
    project: Project,
    evaluated: Any,
    plans: Sequence[Any],
    budget: int | None,
    max_cost_usd: float | None = None,
) -> Any:
    """Settle the inconclusive scorers of an `EvalResult` (already decided as one family).

    `plans` are the runner's plans of its suites, in order; `budget` caps the fresh calls
    (default: `default_budget`, so at most about twice the calls in all). Each sample is one
    case run as the eval runs it (evals.cases.run_case). `max_cost_usd` is `--max-cost`: each
    suite's settling spends at most what its run's budget (the tighter of it and the gate's
    max_cost_usd) has left; the calls and their cost go into the run's summary.
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
        budget = default_budget(suites, suite_plans)
    spends = [_Spend(_cost_cap(s, max_cost_usd)) for s in suites]
    cases = [{c.id: c for c in datasets.iter_cases(project, p.suite)} for p in suite_plans]

    def sample(draws: Sequence[settle_mod.Draw]) -> list[dict[str, tuple[float, bool]]]:
        import asyncio  # only when settling: start-up stays fast

        return asyncio.run(_draw_all(project, draws, suite_plans, base_prompts, cases, spends))

    decided, _ = settle_mod.settle(
        pairs,
        started,
        sample,
        budget,
        settleable=[bp is not None for bp in base_prompts],
    )
    # The calls actually made (a draw may also call judges, or fail): what the report shows.
    total_calls = sum(sp.calls for sp in spends)
    finished = []
    for s, g, sp in zip(suites, decided, spends, strict=True):
        notes = g.notes
        if sp.stopped:
            notes = (*notes, sp.stopped)
        cost = _plus(s.summary.cost_usd, sp.cost)
        g = replace(gate_mod.with_cost(g, cost), notes=notes, settle_calls=total_calls)
        finished.append(g)
    # Again as one family: a cost floor the settling calls crossed changes the verdict.
    decided = gate_mod.decide(finished)
    out = list(evaluated.suites)
    for i, g, sp in zip(gated, decided, spends, strict=True):
        s = out[i]
        summary = replace(
            s.summary,
            gate=gate_mod.as_dict(g),
            calls=s.summary.calls + sp.calls,
            cost_usd=_plus(s.summary.cost_usd, sp.cost),
            settle_calls=sp.calls,
            settle_cost_usd=sp.cost,
        )
        runs.rewrite_summary(Path(s.run_dir), summary)
        out[i] = replace(s, gate=g, summary=summary)
    return replace(evaluated, suites=tuple(out))


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a + b, 8)


def _cost_cap(s: Any, max_cost_usd: float | None) -> float | None:
    """What the run's budget has left for settling: the tightest of --max-cost, the suite's
    gate.max_cost_usd and the gate applied (stricter with --baseline-ref), less the run's spend.
    None: no budget at all."""
    caps = [
        c
        for c in (max_cost_usd, s.suite.gate.max_cost_usd, s.gate.gate.max_cost_usd)
        if c is not None
    ]
    if not caps:
        return None
    return max(0.0, min(caps) - (s.summary.cost_usd or 0.0))


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
    spends: Sequence[_Spend],
) -> list[dict[str, tuple[float, bool]]]:
    """The draws' scores, suite by suite, each suite on an engine capped at what its run's
    budget has left (--max-cost is per run, as in the eval itself)."""
    out: list[dict[str, tuple[float, bool]]] = [{} for _ in draws]
    by_suite: dict[int, list[int]] = {}
    for k, d in enumerate(draws):
        by_suite.setdefault(d.suite, []).append(k)
    for suite, ks in by_suite.items():
        spend = spends[suite]
        if spend.stopped:
            continue
        got = await _draw_suite(project, [draws[k] for k in ks], plans, base_prompts, cases, spend)
        if spend.stopped:
            # Only some of this look's samples arrived, and which ones depends on the order
            # the calls were made (the baseline's side of a case before the current one): using
            # them would re-sample one side more than the other. The scorers stay as they were.
            continue
        for k, values in zip(ks, got, strict=True):
            out[k] = values
    return out


async def _draw_suite(
    project: Project,
    draws: Sequence[settle_mod.Draw],
    plans: Sequence[Any],
    base_prompts: Sequence[Prompt | None],
    cases: Sequence[dict[str, Any]],
    spend: _Spend,
) -> list[dict[str, tuple[float, bool]]]:
    import asyncio

    from promptctl import scorers as registry
    from promptctl.engine import Engine
    from promptctl.evals.cases import ends_run

    out: list[dict[str, tuple[float, bool]]] = [{} for _ in draws]
    async with Engine(project, use_cache=False, max_cost_usd=spend.left()) as engine:
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
        stops: list[PromptctlError] = []

        async def one(k: int, d: settle_mod.Draw) -> None:
            plan = plans[d.suite]
            prompt = base_prompts[d.suite] if d.side == "base" else plan.prompt
            assert prompt is not None
            async with gate:
                if stops:
                    return  # the budget is spent: start nothing more
                try:
                    line = await run_case(
                        engine,
                        prompt,
                        scorers_for(d.suite, prompt),
                        plan.suite.name,
                        cases[d.suite][d.case_id],
                        _FRESH_REPEAT + d.index,
                    )
                except PromptctlError as e:
                    # The budget (or a spent quota) ends settling, not the eval: its verdict,
                    # already decided, stands.
                    if not ends_run(e) or isinstance(e, UsageError):
                        raise
                    stops.append(e)
                    return
            if line.error:
                return  # a failed call adds no sample; the test uses what arrived
            out[k] = {sid: (s.score, s.passed) for sid, s in line.scores.items() if not s.error}

        await asyncio.gather(*(one(k, d) for k, d in enumerate(draws)))
        stats = engine.stats
    spend.calls += stats.calls
    spend.cost = (
        None if spend.cost is None or stats.cost_usd is None else spend.cost + stats.cost_usd
    )
    if stops:
        first = next((e for e in stops if isinstance(e, BudgetError)), stops[0])
        left = "" if spend.cap is None else f" (${spend.cap:.4f} of the run's budget was left)"
        spend.stopped = (
            f"--settle stopped{left}: {first.message}; this suite's scorers stay as the eval "
            f"decided them: its {stats.calls} settling call(s) of this look are not used, as "
            "one side of a case re-sampled more than the other would bias the test"
        )
    return out
