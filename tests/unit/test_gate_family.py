"""One eval, one decision (issue 17 §1): Holm over every compared scorer of every suite."""

from __future__ import annotations

from dataclasses import replace

import pytest

from promptctl.gate import stats
from promptctl.gate import verdict as gate_mod
from promptctl.model import Gate, Verdict
from promptctl.reporters import gate_report
from tests.unit.test_gate import baseline_of, run_of

# 100 cases, 6 pass->fail flips and none back: exact one-sided p = 1/64 = 0.0156, a 6-point
# drop over max_drop 5 points. Alone: regressed. Among three such tests: Holm's smallest
# threshold is alpha/3 = 0.0167 > 0.0156, so all three regress; among four, none do.
BASE = [1.0] * 100
DROPPED = [0.0] * 6 + [1.0] * 94


def _suite(gate: Gate | None = None, *, name: str = "demo") -> gate_mod.GateResult:
    g = gate or Gate()
    result = gate_mod.evaluate(run_of(DROPPED, g), baseline_of(BASE, gate=g))
    return replace(result, suite=name)


def test_holm_matches_the_step_down_definition() -> None:
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([]) == []
    assert stats.holm([0.6, 0.6]) == [1.0, 1.0]  # capped at 1


def test_one_borderline_drop_alone_is_regressed_with_equal_raw_and_adjusted_p() -> None:
    result = _suite()
    (s,) = result.scorers
    assert result.verdict is Verdict.REGRESSED
    assert s.comparison is not None and s.comparison.p_value == pytest.approx(1 / 64)
    assert s.p_adjusted == pytest.approx(1 / 64)
    assert (result.family, result.family_tests, result.family_suites) == ("eval", 1, 1)


def test_four_borderline_drops_in_one_eval_are_corrected_together() -> None:
    decided = gate_mod.decide([_suite(name=f"s{i}") for i in range(4)])
    for r in decided:
        (s,) = r.scorers
        assert s.p_adjusted == pytest.approx(4 / 64)
        assert (r.verdict, r.exit_code) == (Verdict.INCONCLUSIVE, 0)
        assert (r.family_tests, r.family_suites) == (4, 4)
        assert "adjusted p=0.0625 (raw 0.0156)" in gate_mod.describe(s, r.gate)


def test_decide_is_idempotent() -> None:
    once = gate_mod.decide([_suite(name=f"s{i}") for i in range(4)])
    assert gate_mod.decide(once) == once


def test_family_suite_opts_out_and_the_report_says_what_it_costs() -> None:
    opted = _suite(Gate(family="suite"), name="own")
    decided = gate_mod.decide([opted] + [_suite(name=f"s{i}") for i in range(3)])
    own, *others = decided
    assert own.verdict is Verdict.REGRESSED  # corrected over its own single scorer
    assert own.scorers[0].p_adjusted == pytest.approx(1 / 64)
    assert (own.family, own.family_tests) == ("suite", 1)
    # The other three form the eval's family: alpha/3 = 0.0167 > 1/64, still regressed.
    assert [r.verdict for r in others] == [Verdict.REGRESSED] * 3
    assert all(r.family_tests == 3 for r in others)
    text = gate_report.text(own)
    assert "gate.family: suite" in text and "more often than alpha" in text
    assert "P ADJ" in gate_report.text(others[0])


def test_floors_stay_absolute_whatever_the_family() -> None:
    g = Gate(min_pass_rate=0.99)
    decided = gate_mod.decide([_suite(g, name=f"s{i}") for i in range(4)])
    assert all((r.verdict, r.exit_code) == (Verdict.FAILED, 1) for r in decided)


def test_json_carries_raw_and_adjusted_p_and_the_family() -> None:
    (r, _) = gate_mod.decide([_suite(name="a"), _suite(name="b")])
    data = gate_mod.as_dict(r)
    assert data["scorers"][0]["p_value"] == pytest.approx(0.015625)
    assert data["scorers"][0]["p_adjusted"] == pytest.approx(0.03125)
    assert data["family"] == {"scope": "eval", "tests": 2, "suites": 2, "correction": "holm"}
