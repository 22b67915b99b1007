"""Gate semantics: verdicts, floors, incomparable cases and scorers, monotonicity."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptctl.gate import verdict as gate_mod
from promptctl.gate.baseline import Baseline
from promptctl.model import Gate, RunData, ScorerOutcome, Verdict

SEVERITY = {
    Verdict.PASSED: 0,
    Verdict.NEW: 0,
    Verdict.INCONCLUSIVE: 1,
    Verdict.REGRESSED: 2,
    Verdict.FAILED: 3,
}


def outcomes(
    fractions: Sequence[float],
    *,
    scorer: str = "s",
    shash: str = "h1",
    critical: Sequence[int] = (),
    case_hash: str = "c",
    repeats: int = 1,
) -> tuple[ScorerOutcome, ...]:
    return tuple(
        ScorerOutcome(
            case_id=f"t-{i:03d}",
            case_hash=case_hash,
            scorer_id=scorer,
            scorer_hash=shash,
            mean_score=f,
            pass_fraction=f,
            repeats=repeats,
            critical=i in critical,
        )
        for i, f in enumerate(fractions)
    )


def run_of(
    fractions: Sequence[float], gate: Gate | None = None, *, cost: float = 0.0, **kw: object
) -> RunData:
    outs = outcomes(fractions, **kw)  # type: ignore[arg-type]
    return RunData(
        run_id="r",
        path="/tmp/r",
        suite="demo",
        prompt="p",
        prompt_version="b" * 12,
        model="mock/echo",
        params={},
        gate=gate or Gate(),
        scorer_hashes={o.scorer_id: o.scorer_hash for o in outs} or {"s": "h1"},
        outcomes=outs,
        cost_usd=cost,
    )


def baseline_of(
    fractions: Sequence[float], *, commit: str | None = None, gate: Gate | None = None, **kw: object
) -> Baseline:
    outs = outcomes(fractions, **kw)  # type: ignore[arg-type]
    g = gate or Gate()
    return Baseline(
        suite="demo",
        prompt="p",
        prompt_version="a" * 12,
        model="mock/echo",
        params={},
        gate=g,
        gate_hash=g.hash,
        scorer_hashes={o.scorer_id: o.scorer_hash for o in outs},
        outcomes=outs,
        path="evals/baselines/demo.json",
        commit=commit,
        case_hashes={o.case_id: o.case_hash for o in outs},
    )


def test_clear_drop_on_100_cases_is_regressed_with_numbers() -> None:
    base = [1.0] * 90 + [0.0] * 10
    cur = [1.0] * 70 + [0.0] * 30
    result = gate_mod.evaluate(run_of(cur), baseline_of(base))
    (s,) = result.scorers
    assert result.verdict is Verdict.REGRESSED
    assert result.exit_code == 1
    assert s.comparison is not None
    assert s.comparison.base_rate == pytest.approx(0.9)
    assert s.comparison.current_rate == pytest.approx(0.7)
    assert s.comparison.p_value < 1e-5
    assert [f.case_id for f in s.worse] == [f"t-{i:03d}" for i in range(70, 90)]
    assert "fell 20.0%" in gate_mod.describe(s, result.gate)


def test_unchanged_results_pass() -> None:
    base = [1.0] * 8 + [0.0] * 2
    result = gate_mod.evaluate(run_of(base), baseline_of(base))
    assert (result.verdict, result.exit_code) == (Verdict.PASSED, 0)
    assert result.scorers[0].comparison.p_value == 1.0  # type: ignore[union-attr]


@pytest.mark.parametrize("n", [5, 10, 20])
def test_one_flipped_case_on_a_small_suite_is_never_a_regression(n: int) -> None:
    base = [1.0] * n
    cur = [0.0] + [1.0] * (n - 1)
    result = gate_mod.evaluate(run_of(cur), baseline_of(base))
    assert result.exit_code == 0
    if n == 20:  # one case of 20 is exactly max_drop (5 points): tolerated outright
        assert result.verdict is Verdict.PASSED
        return
    assert result.verdict is Verdict.INCONCLUSIVE  # the drop exceeds 5 points, p = 0.5
    settle = result.scorers[0].settle
    assert settle is not None and settle.more_cases > 0
    assert "more cases" in gate_mod.describe(result.scorers[0], result.gate)


@pytest.mark.parametrize("n", [5, 10, 20])
def test_one_flipped_critical_case_fails_at_any_size(n: int) -> None:
    base = [1.0] * n
    cur = [0.0] + [1.0] * (n - 1)
    result = gate_mod.evaluate(run_of(cur, critical=[0]), baseline_of(base))
    assert (result.verdict, result.exit_code) == (Verdict.FAILED, 1)
    assert "critical case 't-000' failed" in result.scorers[0].failures


def test_inconclusive_fails_when_configured() -> None:
    gate = Gate(on_inconclusive="fail")
    result = gate_mod.evaluate(run_of([0.0] + [1.0] * 9, gate), baseline_of([1.0] * 10))
    assert (result.verdict, result.exit_code) == (Verdict.INCONCLUSIVE, 1)


def test_drop_within_max_drop_passes_even_if_significant() -> None:
    base = [1.0] * 1000
    cur = [0.0] * 40 + [1.0] * 960  # 4 points: p tiny, but max_drop is 5
    result = gate_mod.evaluate(run_of(cur), baseline_of(base))
    assert result.verdict is Verdict.PASSED
    assert result.scorers[0].comparison.p_value < 1e-9  # type: ignore[union-attr]


def test_min_pass_rate_counts_every_current_case() -> None:
    gate = Gate(min_pass_rate=0.9)
    result = gate_mod.evaluate(run_of([1.0] * 8 + [0.0] * 2, gate), None)
    assert (result.verdict, result.exit_code) == (Verdict.FAILED, 1)
    assert "under min_pass_rate 90.0%" in result.scorers[0].failures[0]


@pytest.mark.parametrize(("floor", "fails"), [(0.5, False), (0.6, True)])
def test_the_run_floors_and_the_gate_decide_min_pass_rate_alike(floor: float, fails: bool) -> None:
    """Issue 13: floors are decided once. One case passing its only repeat and one failing all
    three is 50% with cases as the unit (the gate's count); repeats as the unit said 25%."""
    from dataclasses import replace

    from promptctl.gate.floors import check_floors

    one, three = outcomes([1.0, 0.0])
    outs = (one, replace(three, repeats=3))
    gate = Gate(min_pass_rate=floor)
    run = replace(run_of([1.0], gate), outcomes=outs)
    in_run = [f.detail for f in check_floors(gate, outs)]
    in_gate = list(gate_mod.evaluate(run, None).scorers[0].failures)
    assert (
        in_run
        == in_gate
        == ([f"pass rate 50.0% is under min_pass_rate {floor:.1%}"] if fails else [])
    )


def test_cost_over_budget_fails() -> None:
    result = gate_mod.evaluate(
        run_of([1.0] * 3, Gate(max_cost_usd=0.5), cost=0.75), baseline_of([1.0] * 3)
    )
    assert (result.verdict, result.exit_code) == (Verdict.FAILED, 1)
    assert "exceeds max_cost_usd" in result.failures[0]


def test_no_baseline_applies_floors_only_with_a_hint() -> None:
    result = gate_mod.evaluate(run_of([1.0] * 3), None)
    assert (result.verdict, result.exit_code) == (Verdict.NEW, 0)
    assert any("promptctl baseline update demo" in n for n in result.notes)


def test_changed_case_hashes_are_reported_not_compared() -> None:
    result = gate_mod.evaluate(run_of([0.0] * 10, case_hash="new"), baseline_of([1.0] * 10))
    (s,) = result.scorers
    assert s.comparison is None and s.changed_cases == 10
    assert result.verdict is Verdict.NEW and result.exit_code == 0
    assert any("NOTHING COMPARABLE" in n for n in result.notes)


def test_changed_scorer_is_not_compared() -> None:
    result = gate_mod.evaluate(run_of([0.0] * 10, shash="h2"), baseline_of([1.0] * 10))
    assert result.changed_scorers == ("s",)
    assert result.scorers[0].status == "scorer changed"
    assert result.exit_code == 0


def test_new_cases_are_counted_and_paired_ones_compared() -> None:
    base = baseline_of([1.0] * 10)
    run = run_of([1.0] * 12)
    result = gate_mod.evaluate(run, base)
    (s,) = result.scorers
    assert (s.new_cases, s.comparison.n) == (2, 10)  # type: ignore[union-attr]
    assert result.missing_cases == 0


def test_baseline_from_git_cannot_be_loosened_by_the_change() -> None:
    committed = Gate(max_drop=0.05, min_pass_rate=0.8)
    loosened = Gate(max_drop=0.5, min_pass_rate=None)
    base = baseline_of([1.0] * 100, commit="c" * 40, gate=committed)
    run = run_of([1.0] * 75 + [0.0] * 25, loosened)
    result = gate_mod.evaluate(run, base)
    assert result.gate.max_drop == 0.05 and result.gate.min_pass_rate == 0.8
    assert result.verdict is Verdict.FAILED  # 75% < 80% floor, and regressed too
    assert result.scorers[0].verdict is Verdict.FAILED


def test_as_dict_has_the_report_columns() -> None:
    result = gate_mod.evaluate(run_of([1.0] * 7 + [0.0] * 3), baseline_of([1.0] * 10))
    d = gate_mod.as_dict(result)
    s = d["scorers"][0]
    for key in (
        "base_rate",
        "current_rate",
        "delta",
        "delta_ci",
        "p_value",
        "min_detectable_drop",
        "pass_to_fail",
        "fail_to_pass",
        "verdict",
    ):
        assert key in s
    assert d["baseline"]["path"] == "evals/baselines/demo.json"


# ----------------------------------------------------------------------------- monotonicity


@settings(max_examples=200, deadline=None)
@given(
    base=st.lists(st.sampled_from([0.0, 1 / 3, 2 / 3, 1.0]), min_size=1, max_size=40),
    data=st.data(),
    min_rate=st.sampled_from([None, 0.5, 0.9]),
)
def test_turning_a_passing_case_into_a_failing_one_never_improves_the_verdict(
    base: list[float], data: st.DataObject, min_rate: float | None
) -> None:
    n = len(base)
    cur = data.draw(st.lists(st.sampled_from([0.0, 1 / 3, 2 / 3, 1.0]), min_size=n, max_size=n))
    critical = data.draw(st.lists(st.integers(0, n - 1), max_size=3))
    passing = [i for i, v in enumerate(cur) if v > 0]
    if not passing:
        return
    i = data.draw(st.sampled_from(passing))
    worse = list(cur)
    worse[i] = 0.0
    gate = Gate(min_pass_rate=min_rate)
    b = baseline_of(base, repeats=3)
    before = gate_mod.evaluate(run_of(cur, gate, critical=critical, repeats=3), b)
    after = gate_mod.evaluate(run_of(worse, gate, critical=critical, repeats=3), b)
    assert SEVERITY[after.verdict] >= SEVERITY[before.verdict]
    assert after.exit_code >= before.exit_code


def test_settling_spend_is_checked_by_the_cost_floor() -> None:
    # eval --settle's calls count towards the run's spend: with them the floor can fail.
    result = gate_mod.evaluate(
        run_of([1.0] * 3, Gate(max_cost_usd=0.5), cost=0.25), baseline_of([1.0] * 3)
    )
    assert result.exit_code == 0
    (over,) = gate_mod.decide([gate_mod.with_cost(result, 0.25 + 0.5)])
    assert over.verdict is Verdict.FAILED and over.exit_code == 1
    assert over.cost_usd == 0.75
    assert over.failures == ("cost $0.7500 exceeds max_cost_usd $0.5000",)
    (back,) = gate_mod.decide([gate_mod.with_cost(over, 0.4)])
    assert back.failures == () and back.exit_code == 0
