"""Scorers with hand-made replies and cases: every type passing and failing, not-, aliases."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from promptctl import scorers
from promptctl.errors import Location, UsageError
from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.regexes import RegexTimeout
from promptctl.scorers.base import ScorerContext


def spec(type_name: str, value: Any = None, **options: Any) -> ScorerSpec:
    base, negate = scorers.resolve_type(type_name)
    return ScorerSpec(
        id=type_name,
        type=base,
        negate=negate,
        value=value,
        options=options,
        source=Location("evals/s.yaml", 3, 5),
    )


def score(s: ScorerSpec, text: str, case: Case | None = None, **reply: Any) -> Score:
    scorer = scorers.build(s, ScorerContext())
    case = case or Case(id="c1", vars={"ticket": "Printer on fire"}, expected="billing")
    return asyncio.run(scorer.score(Reply(text=text, **reply), case))


@pytest.mark.parametrize(
    ("type_name", "value", "text", "passed"),
    [
        ("equals", "billing", " billing\n", True),
        ("equals", "billing", "Billing", False),
        ("equals", {"a": 1}, '{"a": 1}', True),
        ("equals", {"a": 1}, '{"a": 2}', False),
        ("contains", "fire", "the printer is on fire", True),
        ("contains", "Fire", "the printer is on fire", False),
        ("icontains", "FIRE", "the printer is on fire", True),
        ("icontains", "smoke", "the printer is on fire", False),
        ("starts-with", "Summary:", "  Summary: x", True),
        ("starts-with", "Summary:", "x Summary:", False),
        ("regex", r"^\s*\w+\s*$", "billing", True),
        ("regex", r"^\s*\w+\s*$", "two words", False),
        ("is-json", None, '{"a": [1, 2]}', True),
        ("is-json", None, "{'a': 1}", False),
        ("json-schema", {"type": "object", "required": ["summary"]}, '{"summary": "x"}', True),
        ("json-schema", {"type": "object", "required": ["summary"]}, '{"other": 1}', False),
        ("json-schema", {"type": "object"}, "not json", False),
        ("latency", 1.0, "x", True),
        ("cost", 0.01, "x", True),
    ],
)
def test_scorer_passes_and_fails(type_name: str, value: Any, text: str, passed: bool) -> None:
    s = score(spec(type_name, value), text, latency_s=0.2, cost_usd=0.001)
    assert s.passed is passed
    assert s.value == (1.0 if passed else 0.0) or type_name in ("latency", "cost")
    assert s.reason


def test_latency_and_cost_over_the_ceiling_fail_with_a_graded_score() -> None:
    s = score(spec("latency", 0.5), "x", latency_s=2.0)
    assert (s.passed, s.value) == (False, 0.25)
    assert "2.000 s > 0.5 s" in s.reason
    c = score(spec("cost", 0.001), "x", cost_usd=0.004)
    assert (c.passed, c.value) == (False, 0.25)


def test_cost_unknown_is_an_error_not_a_silent_pass() -> None:
    with pytest.raises(ValueError, match="cost unknown"):
        score(spec("cost", 0.01), "x", cost_usd=None)


def test_not_prefix_negates_pass_and_score() -> None:
    s = score(spec("not-contains", "sorry"), "Here you go")
    assert (s.passed, s.value) == (True, 1.0)
    assert s.reason.startswith("not (")
    s = score(spec("not-contains", "sorry"), "sorry, no")
    assert (s.passed, s.value) == (False, 0.0)


def test_value_renders_expected_and_case_vars_in_the_sandbox() -> None:
    case = Case(id="c", vars={"team": "billing"}, expected="refund")
    assert score(spec("contains", "{{ expected }}"), "a refund", case).passed
    assert score(spec("equals", "{{ team | upper }}"), "BILLING", case).passed
    with pytest.raises(UsageError, match="sandbox"):
        score(spec("contains", "{{ ''.__class__.__mro__ }}"), "x", case)


def test_expected_of_a_case_without_one_is_undefined_not_the_text_none() -> None:
    """`{{ expected }}` of a case with no `expected` rendered "None", so a reply containing the
    word passed: the sandbox is strict, so it is an error naming the variable."""
    case = Case(id="c", vars={"q": "x"})
    with pytest.raises(UsageError, match="expected"):
        score(spec("contains", "{{ expected }}"), "the answer is None", case)
    guarded = "{{ expected if expected is defined else q }}"
    assert score(spec("contains", guarded), "x marks it", case).passed


def test_aliases_and_unknown_types() -> None:
    assert scorers.resolve_type("llm-rubric") == ("llm-judge", False)
    assert scorers.resolve_type("not-llm-rubric") == ("llm-judge", True)
    with pytest.raises(UsageError, match="unknown scorer type 'contain'") as e:
        scorers.resolve_type("contain")
    assert "did you mean 'contains'" in (e.value.hint or "")


def test_catastrophic_regex_is_bounded_in_time() -> None:
    started = time.monotonic()
    with pytest.raises(RegexTimeout):
        asyncio.run(
            scorers.build(spec("regex", r"^(a|aa)+$"), ScorerContext()).score(
                Reply(text="a" * 60 + "!"), Case(id="c", vars={})
            )
        )
    assert time.monotonic() - started < 5


def test_static_checks_find_bad_regex_schema_and_missing_value() -> None:
    assert scorers.check_spec(spec("regex", "(unclosed"))[0][0] == "PC203"
    assert scorers.check_spec(spec("json-schema", {"type": "objekt"}))[0][0] == "PC210"
    assert scorers.check_spec(spec("contains"))[0][0] == "PC005"
    assert scorers.check_spec(spec("latency", -1))[0][0] == "PC004"
    assert scorers.check_spec(spec("llm-judge", rubric="ok?", scale=[5, 1]))[0][0] == "PC004"
    assert (
        scorers.check_spec(spec("llm-judge", rubric="ok?", scale=[1, 5], **{"pass": 9}))[0][0]
        == "PC004"
    )
    assert scorers.check_spec(spec("regex", "{{ expected }}")) == []


def test_json_schema_never_fetches_a_remote_ref() -> None:
    s = score(spec("json-schema", {"$ref": "https://example.invalid/schema.json"}), "{}")
    assert not s.passed
    assert "not fetched" in s.reason
