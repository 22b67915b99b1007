"""gate.metric: mean_score (issue 17 §2): judge scores gated on their mean, not only pass/fail."""

from __future__ import annotations

import pytest

from promptctl.gate import stats
from promptctl.gate import verdict as gate_mod
from promptctl.gate.baseline import Baseline
from promptctl.model import Gate, RunData, ScorerOutcome, Verdict
from promptctl.reporters import gate_report

JUDGED = Gate(metrics=(("judge", "mean_score"),))


def _outcomes(scores: list[float], sid: str = "judge") -> tuple[ScorerOutcome, ...]:
    # A 1-5 judge with pass: 4: normalised 0.75 and up passes.
    return tuple(
        ScorerOutcome(
            case_id=f"c{i:02d}",
            case_hash="h",
            scorer_id=sid,
            scorer_hash="x",
            mean_score=v,
            pass_fraction=float(v >= 0.75),
            repeats=1,
        )
        for i, v in enumerate(scores)
    )


def _gate(base: list[float], cur: list[float], gate: Gate = JUDGED) -> gate_mod.GateResult:
    b = _outcomes(base)
    baseline = Baseline(
        suite="s",
        prompt="p",
        prompt_version="a" * 12,
        model="m/m",
        params={},
        gate=gate,
        gate_hash=gate.hash,
        scorer_hashes={"judge": "x"},
        outcomes=b,
        case_hashes={o.case_id: "h" for o in b},
        path="evals/baselines/s.json",
    )
    run = RunData(
        run_id="r",
        path="r",
        suite="s",
        prompt="p",
        prompt_version="b" * 12,
        model="m/m",
        params={},
        gate=gate,
        scorer_hashes={"judge": "x"},
        outcomes=_outcomes(cur),
    )
    return gate_mod.evaluate(run, baseline)


def test_fives_becoming_fours_pass_on_pass_rate_and_regress_on_mean_score() -> None:
    base, cur = [1.0] * 20, [0.75] * 20  # 5 -> 4 everywhere; pass: 4 still passes
    assert _gate(base, cur, Gate()).verdict is Verdict.PASSED
    result = _gate(base, cur)
    (s,) = result.scorers
    assert (result.verdict, result.exit_code) == (Verdict.REGRESSED, 1)
    assert s.metric == "mean_score"
    c = s.comparison
    assert c is not None
    assert (c.base_rate, c.current_rate, c.delta) == (1.0, 0.75, -0.25)
    assert c.p_value == pytest.approx(2**-20)  # exact sign-flip: every case dropped
    assert s.distribution == ((1.0, 20, 0), (0.75, 0, 20))
    assert "mean score fell 0.250 (> max_drop 0.050)" in gate_mod.describe(s, result.gate)
    text = gate_report.text(result)
    assert "mean score per case, base->now: 1.00: 20->0  0.75: 0->20" in text
    assert "1.000  0.750  -0.250 [-0.250, -0.250]" in text
    assert "score fell: c00 (1->0.75)" in text


def test_mean_score_interval_is_the_paired_t_interval() -> None:
    base = [1.0, 0.75, 0.5, 1.0, 0.75, 0.5, 1.0, 0.75]
    cur = [0.75, 0.75, 0.25, 1.0, 0.5, 0.5, 0.75, 0.75]
    c = stats.compare_scores(base, cur)
    diffs = [y - x for x, y in zip(base, cur, strict=True)]
    mean = sum(diffs) / 8
    sd = (sum((d - mean) ** 2 for d in diffs) / 7) ** 0.5
    half = 2.364624 * sd / 8**0.5  # t(0.975, 7)
    assert c.delta == pytest.approx(mean)
    assert (c.ci_low, c.ci_high) == pytest.approx((mean - half, mean + half), abs=1e-6)
    assert c.p_value == pytest.approx(1 / 16)  # 4 equal drops, none up: exact 2^-4
    assert c.method == "exact"


def test_mean_score_noise_is_inconclusive_or_passed_never_regressed() -> None:
    base = [1.0, 0.75, 0.5, 0.25] * 5
    cur = [0.75, 1.0, 0.5, 0.25] * 5  # as many up as down
    result = _gate(base, cur)
    assert result.verdict is Verdict.PASSED
    assert result.scorers[0].comparison.p_value > 0.5  # type: ignore[union-attr]


def test_json_carries_the_score_distribution() -> None:
    data = gate_mod.as_dict(_gate([1.0] * 6, [0.75] * 5 + [1.0]))
    (s,) = data["scorers"]
    assert s["metric"] == "mean_score"
    assert s["score_distribution"] == [
        {"score": 1.0, "base": 6, "current": 1},
        {"score": 0.75, "base": 0, "current": 5},
    ]
