"""The gate: a run against its baseline, per scorer, case by case -> GateResult (SPEC §The gate).

Per scorer, only cases present in both with the same case hash and scorer hash are paired; the
case is the unit (repeats are averaged within it). regressed = drop > max_drop and p < alpha;
inconclusive = drop > max_drop without significance; floors (min_pass_rate over every current
case, critical cases, max_cost_usd) fail whatever the statistics say. See docs/gate.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from promptctl.gate import floors, stats
from promptctl.model import Gate, RunData, ScorerOutcome, Verdict

if TYPE_CHECKING:
    from promptctl.gate.baseline import Baseline

_SEVERITY = {
    Verdict.PASSED: 0,
    Verdict.NEW: 0,
    Verdict.INCONCLUSIVE: 1,
    Verdict.REGRESSED: 2,
    Verdict.FAILED: 3,
}
_EPS = 1e-9
_ADVISORY = "advisory scorer "


@dataclass(frozen=True, slots=True)
class Flip:
    case_id: str
    base: float  # pass fraction (or mean score) in the baseline
    current: float
    base_repeats: int = 1
    current_repeats: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerGate:
    """One scorer's verdict with every number the reports print."""

    scorer_id: str
    verdict: Verdict
    status: str  # compared | new scorer | scorer changed | nothing comparable | no baseline
    cases: int  # current cases of this scorer
    pass_rate: float  # over every current case (what min_pass_rate applies to)
    pass_rate_ci: tuple[float, float]
    mean_score: float
    errors: int
    comparison: stats.PairedComparison | None = None  # on the paired cases
    worse: tuple[Flip, ...] = ()  # pass -> fail (pass fraction fell), largest fall first
    better: tuple[Flip, ...] = ()  # fail -> pass
    new_cases: int = 0  # no baseline for this case id
    changed_cases: int = 0  # same id, different case hash: not compared
    failures: tuple[str, ...] = ()  # floors and critical cases, in words
    settle: stats.SettleHint | None = None  # for an inconclusive drop
    repeats: int = 1  # the most repeats of a paired case in this run
    metric: str = "pass_rate"  # what `comparison` compares: pass_rate | mean_score
    # The comparison's p after the family's multiplicity correction (Holm over every compared
    # scorer the exit code depends on): the verdict compares this one with alpha.
    p_adjusted: float | None = None
    # mean_score: (score, paired cases at it in the baseline, now), highest score first.
    distribution: tuple[tuple[float, int, int], ...] = ()
    noise: stats.NoiseSplit | None = None  # within- vs between-case spread (settle hints)
    # eval --settle: the p-value at each look (the run, then each round of fresh samples); the
    # scorer's p is then the sequential one, stats.sequential_p (gate/settle.py).
    looks: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    suite: str
    verdict: Verdict
    exit_code: int
    gate: Gate  # the gate applied (the stricter of run and baseline with --baseline-ref)
    scorers: tuple[ScorerGate, ...]
    prompt_version: str
    baseline_path: str | None = None
    baseline_commit: str | None = None
    baseline_version: str | None = None
    comparable: bool = False  # at least one scorer had paired cases
    cost_usd: float | None = None
    failures: tuple[str, ...] = ()  # suite-level: cost
    notes: tuple[str, ...] = ()  # warnings the report must show
    missing_cases: int = 0  # in the baseline, not in this run (filtered or removed)
    new_scorers: tuple[str, ...] = ()
    changed_scorers: tuple[str, ...] = ()
    removed_scorers: tuple[str, ...] = ()
    family: str = "eval"  # eval | suite: which tests the p-values were corrected over
    family_tests: int = 0  # compared scorers in that family (the Holm correction's m)
    family_suites: int = 0  # suites they come from
    settle_calls: int = 0  # eval --settle: fresh calls the whole eval made to settle


def stricter(current: Gate, committed: Gate) -> Gate:
    """The stricter of two gates field by field: with --baseline-ref a change cannot loosen the
    gate it is judged by (issue 6 §5)."""

    def low(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else min(a, b)

    def high(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else max(a, b)

    metrics = dict(current.metrics)
    metrics.update(committed.metrics)  # the committed choice of metric holds for its scorers
    return Gate(
        family="eval" if "eval" in (current.family, committed.family) else current.family,
        metrics=tuple(sorted(metrics.items())),
        min_pass_rate=high(current.min_pass_rate, committed.min_pass_rate),
        max_drop=min(current.max_drop, committed.max_drop),
        alpha=max(current.alpha, committed.alpha),
        max_cost_usd=low(current.max_cost_usd, committed.max_cost_usd),
        on_inconclusive="fail"
        if "fail" in (current.on_inconclusive, committed.on_inconclusive)
        else "warn",
        # Advisory only where both agree: a change cannot make a failing scorer advisory.
        advisory=tuple(sorted(set(current.advisory) & set(committed.advisory))),
    )


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    out = Verdict.PASSED
    for v in verdicts:
        if _SEVERITY[v] > _SEVERITY[out]:
            out = v
    return out


def exit_code_for(verdict: Verdict, gate: Gate) -> int:
    if verdict in (Verdict.FAILED, Verdict.REGRESSED):
        return 1
    if verdict is Verdict.INCONCLUSIVE and gate.on_inconclusive == "fail":
        return 1
    return 0


def outcomes_by_scorer(
    outcomes: Iterable[ScorerOutcome],
) -> dict[str, dict[str, ScorerOutcome]]:
    """scorer id -> case id -> outcome: the pairing table, without a tuple per case."""
    out: dict[str, dict[str, ScorerOutcome]] = {}
    for o in outcomes:
        out.setdefault(o.scorer_id, {})[o.case_id] = o
    return out


def evaluate(
    run: RunData, baseline: Baseline | None, *, gate: Gate | None = None, seed: int = 0
) -> GateResult:
    """Gate `run` against `baseline` (None: floors only). `gate` overrides the run's gate; a
    baseline read from git (`baseline.commit`) tightens it with its own committed gate."""
    applied = gate or run.gate
    notes: list[str] = []
    if baseline is not None and baseline.commit is not None:
        tightened = stricter(applied, baseline.gate)
        if tightened != applied:
            notes.append(
                "the gate is looser than the one committed with the baseline; "
                "the stricter of the two applies"
            )
        applied = tightened
    by_scorer: dict[str, list[ScorerOutcome]] = {}
    for o in run.outcomes:
        by_scorer.setdefault(o.scorer_id, []).append(o)
    for sid in run.scorer_hashes:
        by_scorer.setdefault(sid, [])

    base_by: dict[str, dict[str, ScorerOutcome]] = {}  # scorer -> case -> baseline outcome
    new_scorers: list[str] = []
    changed_scorers: list[str] = []
    if baseline is not None:
        base_by = outcomes_by_scorer(baseline.outcomes)
        for sid in sorted(by_scorer):
            if sid not in baseline.scorer_hashes:
                new_scorers.append(sid)
            elif baseline.scorer_hashes[sid] != run.scorer_hashes.get(sid):
                changed_scorers.append(sid)

    scorer_gates = [
        _scorer_gate(
            sid,
            by_scorer[sid],
            baseline,
            base_by,
            applied,
            seed,
            "new scorer"
            if sid in new_scorers
            else "scorer changed"
            if sid in changed_scorers
            else None,
        )
        for sid in sorted(by_scorer)
    ]
    comparable = any(s.comparison is not None and s.comparison.n > 0 for s in scorer_gates)
    over = cost_failure(applied, run.cost_usd)
    failures: list[str] = [over] if over else []

    missing = 0
    removed: list[str] = []
    if baseline is None:
        notes.append(
            "no baseline: only the floors apply (min_pass_rate, critical cases, cost); "
            f"record one with `promptctl baseline update {run.suite}`"
        )
    else:
        run_cases = {o.case_id for o in run.outcomes}
        missing = len(set(baseline.case_hashes) - run_cases)
        removed = sorted(set(baseline.scorer_hashes) - set(run.scorer_hashes))
        if not comparable:
            notes.append(
                "NOTHING COMPARABLE with the baseline (every case or scorer changed): "
                "only the floors apply; review the change, then "
                f"`promptctl baseline update {run.suite}`"
            )
        for alias, now in sorted(run.uses.items()):
            then = baseline.uses.get(alias)
            if then is not None and then != now:  # a downstream regression's likely cause
                name, _, old = then.partition("@")
                notes.append(f"{name} changed: {old} -> {now.partition('@')[2]} (uses.{alias})")
        if baseline.gate_hash != applied.hash and baseline.commit is None:
            notes.append("the gate changed since the baseline was recorded")
        for sid in new_scorers:
            notes.append(f"scorer {sid!r} is new: not compared (no baseline for it)")
        for sid in changed_scorers:
            notes.append(f"scorer {sid!r} changed its configuration: not compared")
        for s in scorer_gates:
            if s.changed_cases:
                notes.append(
                    f"{s.changed_cases} case(s) changed content since the baseline "
                    f"(scorer {s.scorer_id!r}): not compared"
                )
                break
    raw = GateResult(
        suite=run.suite,
        verdict=Verdict.PASSED,
        exit_code=0,
        gate=applied,
        scorers=tuple(scorer_gates),
        prompt_version=run.prompt_version,
        baseline_path=baseline.path if baseline else None,
        baseline_commit=baseline.commit if baseline else None,
        baseline_version=baseline.prompt_version if baseline else None,
        comparable=comparable,
        cost_usd=run.cost_usd,
        failures=tuple(failures),
        notes=tuple(notes),
        missing_cases=missing,
        new_scorers=tuple(new_scorers),
        changed_scorers=tuple(changed_scorers),
        removed_scorers=tuple(removed),
    )
    # Alone, a suite is its own family; `decide` over every suite of an eval widens it.
    return decide([raw])[0]


_COST_FAILURE = "cost $"  # how the cost floor's failure starts: with_cost replaces it


def cost_failure(gate: Gate, cost_usd: float | None) -> str | None:
    """The max_cost_usd floor's failure for a run that spent `cost_usd`, or None. Shared with
    `eval --settle`, whose calls count towards the run's spend."""
    if gate.max_cost_usd is None or cost_usd is None or cost_usd <= gate.max_cost_usd + _EPS:
        return None
    return f"{_COST_FAILURE}{cost_usd:.4f} exceeds max_cost_usd ${gate.max_cost_usd:.4f}"


def with_cost(result: GateResult, cost_usd: float | None) -> GateResult:
    """`result` with the run's spend now `cost_usd` (e.g. after --settle's calls), its cost
    floor checked again; call `decide` afterwards for the verdict."""
    kept = tuple(f for f in result.failures if not f.startswith(_COST_FAILURE))
    over = cost_failure(result.gate, cost_usd)
    return replace(result, cost_usd=cost_usd, failures=(*kept, over) if over else kept)


def decide(results: Sequence[GateResult]) -> tuple[GateResult, ...]:
    """The verdicts of one decision (one `eval`, `merge`, promotion or drift check): Holm's
    correction over every compared scorer of every suite whose `gate.family` is `eval`; a suite
    with `family: suite` is corrected over its own scorers only. Floors, critical cases and cost
    are not statistical and stay absolute. Idempotent: it starts again from the raw p-values.
    (issue 17 §1; docs/gate.md "One eval, one decision")."""
    family_of = ["eval" if r.gate.family == "eval" else str(i) for i, r in enumerate(results)]
    families: dict[str, list[tuple[int, int]]] = {}
    for i, r in enumerate(results):
        members = families.setdefault(family_of[i], [])
        for j, s in enumerate(r.scorers):
            if s.comparison is not None and s.comparison.n > 0:
                members.append((i, j))
    adjusted: dict[tuple[int, int], float] = {}
    for members in families.values():
        raw = [raw_p(results[i].scorers[j]) for i, j in members]
        adjusted.update(zip(members, stats.holm(raw), strict=True))
    out = []
    for i, r in enumerate(results):
        scorers = tuple(
            _judged(s, r.gate, adjusted[(i, j)]) if (i, j) in adjusted else s
            for j, s in enumerate(r.scorers)
        )
        verdicts = []
        notes = [n for n in r.notes if not n.startswith(_ADVISORY)]
        for s in scorers:
            if s.scorer_id in r.gate.advisory and s.verdict in (
                Verdict.REGRESSED,
                Verdict.INCONCLUSIVE,
            ):
                # Advisory (e.g. refusals of benign probes): reported and warned, never failing.
                notes.append(f"{_ADVISORY}{s.scorer_id!r} {s.verdict.value}: {describe(s, r.gate)}")
                continue
            verdicts.append(s.verdict)
        if r.failures:
            verdicts.append(Verdict.FAILED)
        verdict = worst(verdicts)
        if verdict is Verdict.PASSED and not r.comparable:
            verdict = Verdict.NEW
        members = families[family_of[i]]
        tests, suites = len(members), len({k for k, _ in members})
        out.append(
            replace(
                r,
                scorers=scorers,
                verdict=verdict,
                exit_code=exit_code_for(verdict, r.gate),
                notes=tuple(notes),
                family=r.gate.family,
                family_tests=tests,
                family_suites=suites,
            )
        )
    return tuple(out)


def score_distribution(
    base: Sequence[float], current: Sequence[float]
) -> tuple[tuple[float, int, int], ...]:
    """Paired cases per mean score, baseline vs now: what a judge's scores look like, not only
    their mean (issue 17 §2). Scores are normalised to [0, 1] (a 1-5 judge: 0, .25, ... 1); with
    repeats, per-case means fall between the points, and past 11 distinct values they are
    grouped to the nearest tenth so the line stays readable."""
    values = [round(v, 2) for v in (*base, *current)]
    step = 0.1 if len(set(values)) > 11 else 0.0

    def key(v: float) -> float:
        return round(round(v / step) * step, 2) if step else round(v, 2)

    b = Counter(key(v) for v in base)
    c = Counter(key(v) for v in current)
    return tuple((k, b.get(k, 0), c.get(k, 0)) for k in sorted(set(b) | set(c), reverse=True))


def raw_p(s: ScorerGate) -> float:
    """The scorer's own p before the family's correction: sequential under --settle (over its
    looks, each weighted by its share of alpha), else its test's p. The report's P column and
    its "raw" p are this one, so they agree."""
    assert s.comparison is not None
    return stats.sequential_p(s.looks) if s.looks else s.comparison.p_value


def _judged(s: ScorerGate, gate: Gate, p_adjusted: float) -> ScorerGate:
    """A compared scorer's verdict at its corrected p; a floor failure outranks it."""
    c = s.comparison
    assert c is not None
    settle = None
    if c.drop > gate.max_drop + _EPS:
        if p_adjusted < gate.alpha:
            verdict = Verdict.REGRESSED
        else:
            verdict = Verdict.INCONCLUSIVE
            settle = stats.settle_hint(c, gate.alpha, s.noise)
    else:
        verdict = Verdict.PASSED
    return replace(
        s,
        verdict=Verdict.FAILED if s.failures else verdict,
        p_adjusted=p_adjusted,
        settle=settle,
    )


def _scorer_gate(
    sid: str,
    outcomes: list[ScorerOutcome],
    baseline: Baseline | None,
    base_by: Mapping[str, Mapping[str, ScorerOutcome]],
    gate: Gate,
    seed: int,
    incomparable: str | None,
) -> ScorerGate:
    n = len(outcomes)
    passed = sum(o.pass_fraction for o in outcomes)
    rate = passed / n if n else 0.0
    failures = [f.detail for f in floors.scorer_floors(gate, sid, outcomes)]
    common = {
        "scorer_id": sid,
        "cases": n,
        "pass_rate": rate,
        "pass_rate_ci": stats.wilson_interval(passed, n),
        "mean_score": sum(o.mean_score for o in outcomes) / n if n else 0.0,
        "errors": sum(o.errors for o in outcomes),
        "failures": tuple(failures),
    }
    floor_verdict = Verdict.FAILED if failures else None
    if baseline is None or incomparable:
        return ScorerGate(
            verdict=floor_verdict or Verdict.NEW,
            status=incomparable or "no baseline",
            new_cases=n,
            **common,
        )
    pairs: list[tuple[ScorerOutcome, ScorerOutcome]] = []
    new = changed = 0
    base_of = base_by.get(sid, {})
    for o in outcomes:
        b = base_of.get(o.case_id)
        if b is None:
            if o.case_id in baseline.case_hashes and baseline.case_hashes[o.case_id] != o.case_hash:
                changed += 1
            else:
                new += 1
        elif b.case_hash != o.case_hash:
            changed += 1
        else:
            pairs.append((b, o))
    if not pairs:
        return ScorerGate(
            verdict=floor_verdict or Verdict.NEW,
            status="nothing comparable",
            new_cases=new,
            changed_cases=changed,
            **common,
        )
    pairs.sort(key=lambda p: p[1].case_id)
    metric = gate.metric_of(sid)
    distribution: tuple[tuple[float, int, int], ...] = ()
    if metric == "mean_score":
        base = [b.mean_score for b, _ in pairs]
        cur = [o.mean_score for _, o in pairs]
        comp = stats.compare_scores(base, cur, alpha=gate.alpha, seed=seed)
        distribution = score_distribution(base, cur)
        # Per-repeat scores are not kept (only each case's mean), so the within-case part of
        # their spread is unknown: the hint then asks for cases, never guesses repeats.
        noise = stats.NoiseSplit(total=comp.sd**2, within=None, deterministic=False, repeats=1)
    else:
        base = [b.pass_fraction for b, _ in pairs]
        cur = [o.pass_fraction for _, o in pairs]
        comp = stats.compare(base, cur, alpha=gate.alpha, seed=seed)
        noise = stats.split_noise(
            base, cur, [b.repeats for b, _ in pairs], [o.repeats for _, o in pairs]
        )
    # Flips in the metric gated on: pass fractions, or mean scores for mean_score.
    flips = [
        Flip(o.case_id, x, y, b.repeats, o.repeats)
        for (b, o), x, y in zip(pairs, base, cur, strict=True)
        if x != y
    ]
    worse = sorted(
        (f for f in flips if f.current < f.base - _EPS),
        key=lambda f: (f.current - f.base, f.case_id),
    )
    better = sorted(
        (f for f in flips if f.current > f.base + _EPS),
        key=lambda f: (f.base - f.current, f.case_id),
    )
    # The verdict waits for the family's correction (`decide`); until then it is provisional.
    return ScorerGate(
        verdict=floor_verdict or Verdict.PASSED,
        status="compared",
        comparison=comp,
        worse=tuple(worse),
        better=tuple(better),
        new_cases=new,
        changed_cases=changed,
        repeats=max(o.repeats for _, o in pairs),
        metric=metric,
        distribution=distribution,
        noise=noise,
        **common,
    )


def with_recorded(result: GateResult, recorded: Mapping[str, Any]) -> GateResult:
    """`result` (a run gated again, for a report) with the decision its eval recorded in
    summary.json (`as_dict`): the verdicts, adjusted p-values and notes of that eval, whose Holm
    family spanned every suite it ran and whose gate may have been tightened by --baseline-ref.
    A report must say what the eval said, not decide again over one suite."""
    by_id = {
        str(r.get("scorer")): r for r in recorded.get("scorers") or [] if isinstance(r, Mapping)
    }

    def one(s: ScorerGate) -> ScorerGate:
        r = by_id.get(s.scorer_id)
        if r is None:
            return s
        try:
            verdict = Verdict(r.get("verdict"))
        except ValueError:
            return s
        p_adj = r.get("p_adjusted")
        looks = r.get("p_looks") or []
        return replace(
            s,
            verdict=verdict,
            status=str(r.get("status") or s.status),
            p_adjusted=float(p_adj) if isinstance(p_adj, int | float) else s.p_adjusted,
            looks=tuple(float(x) for x in looks if isinstance(x, int | float)) or s.looks,
        )

    try:
        verdict = Verdict(recorded.get("verdict"))
    except ValueError:
        return result
    family = recorded.get("family") if isinstance(recorded.get("family"), Mapping) else {}
    code = recorded.get("exit_code")
    return replace(
        result,
        verdict=verdict,
        exit_code=code if isinstance(code, int) else result.exit_code,
        scorers=tuple(one(s) for s in result.scorers),
        failures=tuple(str(f) for f in recorded.get("failures") or result.failures),
        notes=tuple(str(n) for n in recorded.get("notes") or result.notes),
        family=str(family.get("scope") or result.family),
        family_tests=int(family.get("tests") or result.family_tests),
        family_suites=int(family.get("suites") or result.family_suites),
        settle_calls=int(recorded.get("settle_calls") or result.settle_calls),
    )


def as_dict(result: GateResult) -> dict[str, Any]:
    """JSON-ready form for reporters (rates as fractions, p-values as floats)."""

    def r6(x: float | None) -> float | None:
        return None if x is None else round(x, 6)

    scorers = []
    for s in result.scorers:
        c = s.comparison
        scorers.append(
            {
                "scorer": s.scorer_id,
                "verdict": s.verdict.value,
                "status": s.status,
                "cases": s.cases,
                "pass_rate": r6(s.pass_rate),
                "pass_rate_ci": [r6(s.pass_rate_ci[0]), r6(s.pass_rate_ci[1])],
                "mean_score": r6(s.mean_score),
                "errors": s.errors,
                "paired_cases": c.n if c else 0,
                "base_rate": r6(c.base_rate) if c else None,
                "current_rate": r6(c.current_rate) if c else None,
                "delta": r6(c.delta) if c else None,
                "delta_ci": [r6(c.ci_low), r6(c.ci_high)] if c else None,
                "p_value": r6(c.p_value) if c else None,
                "p_adjusted": r6(s.p_adjusted),
                "p_looks": [r6(x) for x in s.looks],
                "p_sequential": r6(stats.sequential_p(s.looks)) if s.looks else None,
                "metric": s.metric,
                "score_distribution": [
                    {"score": v, "base": b, "current": n} for v, b, n in s.distribution
                ],
                "test": c.method if c else None,
                "min_detectable_drop": r6(c.min_detectable_drop) if c else None,
                "pass_to_fail": [
                    {"case_id": f.case_id, "base": r6(f.base), "current": r6(f.current)}
                    for f in s.worse
                ],
                "fail_to_pass": [
                    {"case_id": f.case_id, "base": r6(f.base), "current": r6(f.current)}
                    for f in s.better
                ],
                "new_cases": s.new_cases,
                "changed_cases": s.changed_cases,
                "failures": list(s.failures),
                "settle": {
                    "more_cases": s.settle.more_cases,
                    "repeats": s.settle.repeats,
                    "within_case_share": r6(s.noise.within_share) if s.noise else None,
                    "same_in_every_repeat": bool(s.noise and s.noise.deterministic),
                }
                if s.settle
                else None,
            }
        )
    g = result.gate
    return {
        "suite": result.suite,
        "verdict": result.verdict.value,
        "exit_code": result.exit_code,
        "prompt_version": result.prompt_version,
        "baseline": {
            "path": result.baseline_path,
            "commit": result.baseline_commit,
            "prompt_version": result.baseline_version,
        }
        if result.baseline_path
        else None,
        "comparable": result.comparable,
        "gate": {
            "min_pass_rate": g.min_pass_rate,
            "max_drop": g.max_drop,
            "alpha": g.alpha,
            "max_cost_usd": g.max_cost_usd,
            "on_inconclusive": g.on_inconclusive,
            "advisory": list(g.advisory),
            "family": g.family,
            "metric": dict(g.metrics),
        },
        "family": {
            "scope": result.family,
            "tests": result.family_tests,
            "suites": result.family_suites,
            "correction": "holm",
        },
        "settle_calls": result.settle_calls,
        "cost_usd": r6(result.cost_usd),
        "failures": list(result.failures),
        "notes": list(result.notes),
        "missing_cases": result.missing_cases,
        "new_scorers": list(result.new_scorers),
        "changed_scorers": list(result.changed_scorers),
        "removed_scorers": list(result.removed_scorers),
        "scorers": scorers,
    }


def family_line(result: GateResult) -> str:
    """What the P ADJ column was corrected over, and what an opt-out costs, in words."""
    if result.family_tests == 0:
        return "family: no compared scorer; only the floors decide"
    tests = f"{result.family_tests} compared scorer(s)"
    if result.family == "suite":
        return (
            f"family: this suite only (gate.family: suite), Holm over {tests}; its false alarms "
            "are not counted against the eval's alpha, so the exit code of the whole eval may "
            "cry wolf more often than alpha"
        )
    return (
        f"family: the whole eval, Holm over {tests} in {result.family_suites} suite(s); "
        f"P ADJ < alpha {result.gate.alpha:g} is significant, keeping the eval's false-alarm "
        "rate at alpha"
    )


def settle_advice(hint: stats.SettleHint) -> str:
    """What would settle an inconclusive drop, in words (issue 17 §3): repeats only when the
    within-case noise dominates; never for flips that were the same in every repeat."""
    cases = f"about {hint.more_cases} more cases would settle it"
    noise = hint.noise
    if hint.repeats is not None:
        share = noise.within_share if noise else None
        why = f" ({share:.0%} of the spread is within-case noise)" if share is not None else ""
        return f"{cases}, or repeat: {hint.repeats} on the same cases{why}"
    if noise is None:
        return cases
    if noise.within is None:
        return f"{cases} (with one repeat per case it is unknown whether repeats would help)"
    if noise.deterministic:
        return (
            f"{cases}; more repeats would not: every flip was the same in all "
            f"{noise.repeats} repeats"
        )
    share = noise.within_share or 0.0
    return f"{cases}; more repeats would not: the cases differ ({1 - share:.0%} of the spread)"


def describe(s: ScorerGate, gate: Gate) -> str:
    """One line saying why this scorer got its verdict (for every reporter)."""
    c = s.comparison
    if s.failures:
        return "; ".join(s.failures)
    if c is None:
        return {
            "new scorer": "new scorer: no baseline to compare with",
            "scorer changed": "scorer configuration changed: not compared",
            "nothing comparable": "no case comparable with the baseline",
            "no baseline": "no baseline",
        }.get(s.status, s.status)
    raw = raw_p(s)
    p = raw if s.p_adjusted is None else s.p_adjusted
    shown = (
        f"p={p:.3g}"
        if abs(p - raw) < _EPS  # a family of one, or the smallest p among untied ones
        else f"adjusted p={p:.3g} (raw {raw:.3g})"
    )
    if s.looks:
        shown += f", sequential over {len(s.looks)} look(s)"
    what = "mean score" if s.metric == "mean_score" else "pass rate"

    def amount(x: float) -> str:
        return f"{x:.3f}" if s.metric == "mean_score" else f"{x:.1%}"

    if s.verdict is Verdict.REGRESSED:
        return (
            f"{what} fell {amount(c.drop)} (> max_drop {amount(gate.max_drop)}), "
            f"significant: {shown} < alpha {gate.alpha:g}"
        )
    if s.verdict is Verdict.INCONCLUSIVE:
        tail = f"; {settle_advice(s.settle)}" if s.settle else ""
        return (
            f"{what} fell {amount(c.drop)} (> max_drop {amount(gate.max_drop)}) but "
            f"{shown} >= alpha {gate.alpha:g}: could be noise{tail}"
        )
    if c.drop > _EPS:
        return f"{what} fell {amount(c.drop)}, within max_drop {amount(gate.max_drop)}"
    if c.drop < -_EPS:
        return f"{what} rose {amount(-c.drop)}"
    return f"{what} unchanged"
