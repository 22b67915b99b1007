"""`eval --settle`: re-sample the cases of inconclusive scorers, fresh, until decided (issue 17 §4).

The run is look 1. Each later look draws fresh samples of the discordant and borderline cases of
every scorer still inconclusive, from the baseline's prompt and the current one alike (one-sided
re-sampling would break the symmetry the paired test rests on), adds them to those cases' tallies
and tests again. Every scorer's p is the sequential one over its looks (stats.sequential_p:
Bonferroni alpha spending, valid whenever sampling stops), and the family's Holm correction runs
on those, so the eval's false-alarm rate stays at alpha. Sampling stops when nothing is
inconclusive, the looks run out, or the budget of calls is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from promptctl.gate import stats
from promptctl.gate.verdict import GateResult, decide, outcomes_by_scorer
from promptctl.model import RunData, Verdict

if TYPE_CHECKING:
    from promptctl.gate.baseline import Baseline

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Draw:
    """One fresh sample to take: suite (index into the eval), case, side, sample number."""

    suite: int
    case_id: str
    side: str  # "base" (the baseline's prompt) | "current"
    index: int  # 0, 1, ... per case and side: fresh repeat indices, so no cache answers it


# scorer id -> (score, passed) of one fresh sample; the caller makes the calls (the core
# never touches the network: the runner supplies real calls, a simulation Bernoulli draws).
Sampler = Callable[[Sequence[Draw]], Sequence[dict[str, tuple[float, bool]]]]


@dataclass(slots=True)
class _Tally:
    base_sum: float
    base_n: int
    cur_sum: float
    cur_n: int

    @property
    def diff(self) -> float:
        return self.cur_sum / self.cur_n - self.base_sum / self.base_n

    def borderline(self) -> bool:
        # Discordant, or not the same in every repeat, or run once on both sides, where one
        # sample cannot tell a stable case from a flaky one. Measured (docs/gate.md): with one
        # repeat, re-sampling every such case finds 15-point drops far more often (0.90 vs
        # 0.74 at a 1x budget) than the discordant ones alone, as a multiplicative drop moves
        # the easy, concordant cases most.
        b, c = self.base_sum / self.base_n, self.cur_sum / self.cur_n
        if self.base_n == 1 and self.cur_n == 1:
            return True
        return abs(c - b) > _EPS or _EPS < b < 1 - _EPS or _EPS < c < 1 - _EPS


def start(results: Sequence[GateResult]) -> tuple[GateResult, ...]:
    """Look 1 under --settle: every compared scorer's p becomes sequential (the run's p spends
    only its share of alpha), decided as one family. Fixed before any re-sampling."""
    return decide(
        [
            replace(
                r,
                scorers=tuple(
                    replace(s, looks=(s.comparison.p_value,))
                    if s.comparison is not None and s.comparison.n > 0
                    else s
                    for s in r.scorers
                ),
            )
            for r in results
        ]
    )


def settle(
    runs: Sequence[tuple[RunData, Baseline | None]],
    results: Sequence[GateResult],
    sample: Sampler,
    budget: int,
    *,
    settleable: Sequence[bool] | None = None,
    seed: int = 0,
) -> tuple[tuple[GateResult, ...], int]:
    """Settle `results` (from `start`) by fresh samples; returns the results and calls made.

    `settleable[i]` False leaves suite i as it is (e.g. its baseline prompt is unavailable);
    so does a look in which `sample` returned nothing for any of suite i's draws.
    """
    tallies = [_tallies(run, base, r) for (run, base), r in zip(runs, results, strict=True)]
    drawn: dict[tuple[int, str, str], int] = {}
    calls = 0
    current = tuple(results)
    for look in range(2, stats.SETTLE_LOOKS + 1):
        targets = {
            (i, s.scorer_id)
            for i, r in enumerate(current)
            if settleable is None or settleable[i]
            for s in r.scorers
            if s.verdict is Verdict.INCONCLUSIVE and s.looks and len(s.looks) == look - 1
        }
        allot = (budget - calls) // (stats.SETTLE_LOOKS - look + 1)
        if not targets or allot < 2:
            break
        cases: dict[tuple[int, str], float] = {}
        for i, sid in targets:
            for case_id, t in tallies[i][sid].items():
                if t.borderline():
                    key = (i, case_id)
                    cases[key] = max(cases.get(key, 0.0), abs(t.diff))
        if not cases:
            break
        # Largest disagreement first; a sample of a case costs two calls (base and current).
        # Every selected case gets the same number of samples, the first ones one more, until
        # the round's share of the budget is spent.
        order = sorted(cases, key=lambda k: (-cases[k], k))[: allot // 2]
        pairs_left = allot // 2
        per_case, extra = divmod(pairs_left, len(order))
        draws = []
        for rank, (i, case_id) in enumerate(order):
            take = per_case + (rank < extra)
            for side in ("base", "current"):
                start_at = drawn.get((i, case_id, side), 0)
                draws.extend(Draw(i, case_id, side, start_at + k) for k in range(take))
                drawn[(i, case_id, side)] = start_at + take
        # A suite none of whose draws came back (e.g. its budget stopped them) had no look:
        # testing its unchanged tallies again would count a look that saw nothing new.
        sampled: set[int] = set()
        for d, values in zip(draws, sample(draws), strict=True):
            if values:
                sampled.add(d.suite)
            for sid, (score, passed) in values.items():
                t = tallies[d.suite].get(sid, {}).get(d.case_id)
                if t is None:
                    continue
                value = score if current[d.suite].gate.metric_of(sid) == "mean_score" else passed
                if d.side == "base":
                    t.base_sum += float(value)
                    t.base_n += 1
                else:
                    t.cur_sum += float(value)
                    t.cur_n += 1
        calls += len(draws)
        looked = {(i, sid) for i, sid in targets if i in sampled}
        current = decide(
            [_look(r, tallies[i], looked, i, calls, seed) for i, r in enumerate(current)]
        )
    return current, calls


def _look(
    r: GateResult,
    tally: dict[str, dict[str, _Tally]],
    targets: set[tuple[int, str]],
    i: int,
    calls: int,
    seed: int,
) -> GateResult:
    scorers = []
    for s in r.scorers:
        if (i, s.scorer_id) not in targets:
            scorers.append(s)
            continue
        ts = [tally[s.scorer_id][k] for k in sorted(tally[s.scorer_id])]
        base = [t.base_sum / t.base_n for t in ts]
        cur = [t.cur_sum / t.cur_n for t in ts]
        if s.metric == "mean_score":
            comp = stats.compare_scores(base, cur, alpha=r.gate.alpha, seed=seed)
        else:
            comp = stats.compare(base, cur, alpha=r.gate.alpha, seed=seed)
        scorers.append(replace(s, comparison=comp, looks=(*s.looks, comp.p_value)))
    return replace(r, scorers=tuple(scorers), settle_calls=calls)


def _tallies(
    run: RunData, baseline: Baseline | None, result: GateResult
) -> dict[str, dict[str, _Tally]]:
    """Per compared scorer, its paired cases' sums and counts (the pairing the gate used)."""
    out: dict[str, dict[str, _Tally]] = {}
    if baseline is None:
        return out
    compared = {s.scorer_id: s.metric for s in result.scorers if s.comparison is not None}
    base_by = outcomes_by_scorer(baseline.outcomes)
    for o in run.outcomes:
        metric = compared.get(o.scorer_id)
        b = base_by.get(o.scorer_id, {}).get(o.case_id)
        if metric is None or b is None or b.case_hash != o.case_hash:
            continue
        if metric == "mean_score":
            bv, cv = b.mean_score, o.mean_score
        else:
            bv, cv = b.pass_fraction, o.pass_fraction
        out.setdefault(o.scorer_id, {})[o.case_id] = _Tally(
            bv * b.repeats, b.repeats, cv * o.repeats, o.repeats
        )
    return out
