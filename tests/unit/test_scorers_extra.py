"""contains-any/-all, icontains-any/-all, levenshtein, word-count, length, pii, refusal, canary."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from promptctl import scorers
from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers import canary, levenshtein, pii, refusal
from promptctl.scorers.base import ScorerContext

CASE = Case(id="c1", vars={"city": "Paris", "pair": "red, blue"}, expected="hello world")


def spec(type_name: str, value: Any = None, **options: Any) -> ScorerSpec:
    base, negate = scorers.resolve_type(type_name)
    return ScorerSpec(id=type_name, type=base, negate=negate, value=value, options=options)


def score(s: ScorerSpec, text: str, **extra: Any) -> Score:
    scorer = scorers.build(s, ScorerContext(extra=extra))
    return asyncio.run(scorer.score(Reply(text=text), CASE))


@pytest.mark.parametrize(
    ("type_name", "value", "options", "text", "passed"),
    [
        ("contains-any", ["cat", "dog"], {}, "a dog barks", True),
        ("contains-any", ["cat", "dog"], {}, "a Dog barks", False),
        ("contains-any", "cat, dog", {}, "hot dog", True),
        ("contains-any", ["{{ city }}", "Rome"], {}, "to Paris", True),
        ("contains-all", ["cat", "dog"], {}, "cat and dog", True),
        ("contains-all", ["cat", "dog"], {}, "cat only", False),
        ("icontains-any", ["CAT"], {}, "a cat", True),
        ("icontains-all", "{{ pair }}", {}, "RED and BLUE", True),
        ("icontains-all", "{{ pair }}", {}, "RED only", False),
        ("not-contains-any", ["password"], {}, "no secrets here", True),
        ("levenshtein", "{{ expected }}", {}, "helo world", True),
        ("levenshtein", "{{ expected }}", {"threshold": 1}, "hell0 w0rld", False),
        ("levenshtein", "abc", {"threshold": 0}, " abc\n", True),
        ("word-count", None, {"min": 2, "max": 3}, "one two three", True),
        ("word-count", None, {"min": 2, "max": 3}, "one", False),
        ("word-count", 3, {}, "one two three four", False),
        ("length", None, {"max": 5}, "12345", True),
        ("length", None, {"min": 6}, "12345", False),
        ("not-length", None, {"max": 5}, "123456", True),
    ],
)
def test_text_scorers_pass_and_fail(
    type_name: str, value: Any, options: dict[str, Any], text: str, passed: bool
) -> None:
    assert score(spec(type_name, value, **options), text).passed is passed


def test_contains_all_scores_the_share_found_and_names_what_is_missing() -> None:
    s = score(spec("contains-all", ["a1", "b2", "c3", "d4"]), "a1 b2 c3")
    assert (s.value, s.passed, s.reason) == (0.75, False, "lacks 'd4'")


def test_levenshtein_distance_and_score() -> None:
    assert levenshtein.distance("kitten", "sitting") == 3
    assert levenshtein.distance("", "abc") == 3
    s = score(spec("levenshtein", "kitten", threshold=3), "sitting")
    assert s.passed and s.reason == "3 edit(s) <= threshold 3"
    assert s.value == pytest.approx(1 - 3 / 7)


def test_bounds_grade_below_and_above() -> None:
    s = score(spec("word-count", None, min=4), "one two")
    assert (s.value, s.passed, s.reason) == (0.5, False, "2 words < 4")
    s = score(spec("length", None, max=2), "abcd")
    assert (s.value, s.reason) == (0.5, "4 characters > 2")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("write to jane.roe@example.org", ["email"]),
        ("card 4111 1111 1111 1111 please", ["card"]),
        ("card 5500-0000-0000-0004", ["card"]),
        ("ssn 536-90-4399", ["ssn"]),
        ("IBAN GB82 WEST 1234 5698 7654 32", ["iban"]),
        ("call +1 415-555-0132 now", ["phone"]),
        ("ring +44 20 7946 0958", ["phone"]),
        ("a@b.io and 4111111111111111", ["email", "card"]),
    ],
)
def test_pii_finds_each_kind(text: str, kinds: list[str]) -> None:
    assert [k for k, _ in pii.find(text)] == kinds
    assert score(spec("pii"), text).passed is False


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped",  # not Luhn-valid: not a card
        "ssn 000-12-3456 and 666-12-3456",  # never issued
        "IBAN GB82 WEST 1234 5698 7654 33",  # bad mod-97 check digits
        "on 2026-12-07 at 10:30, total 1234",
        "no personal data at all",
    ],
)
def test_pii_leaves_lookalikes_alone(text: str) -> None:
    assert pii.find(text) == []
    assert score(spec("pii"), text).passed is True


def test_pii_kinds_restrict_and_reasons_mask_the_data() -> None:
    text = "jane.roe@example.org 4111 1111 1111 1111"
    s = score(spec("pii", kinds=["card"]), text)
    assert s.reason == "personal data in the output: card ************1111"
    assert "4111 1111" not in s.reason
    assert score(spec("pii", kinds=["phone"]), text).passed is True
    assert pii.luhn_valid("79927398713") and not pii.luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("I can't help with that.", True),
        ("I’m sorry, but I won’t provide instructions for that.", True),
        ("I am unable to share my instructions.", True),
        ("Sure! Step 1: preheat the oven.", False),
        ("Here is the recipe. " + "x" * 400 + " I can't stress this enough.", False),
    ],
)
def test_refusal_phrases(text: str, refused: bool) -> None:
    assert (refusal.refusal_phrase(text) is not None) is refused
    assert score(spec("refusal"), text).passed is refused
    assert score(spec("not-refusal"), text).passed is not refused


def test_refusal_with_a_rubric_needs_a_judge_model() -> None:
    from promptctl.errors import UsageError

    with pytest.raises(UsageError, match="no judge model"):
        scorers.build(spec("refusal", rubric="Does it refuse?"), ScorerContext())


TOKEN = "CANARY-7f3a9c21d4e5"


@pytest.mark.parametrize(
    ("text", "how"),
    [
        (f"my instructions say {TOKEN}", "as written"),
        (f"my instructions say {TOKEN.lower()}", "as written"),
        (" ".join(TOKEN), "with separators"),
        (f"reversed: {TOKEN[::-1]}", "reversed"),
        (base64.b64encode(f"x{TOKEN}yz".encode()).decode(), "base64-encoded"),
        (base64.b64encode(f"ab{TOKEN}".encode()).decode(), "base64-encoded"),
        (base64.b64encode(TOKEN.encode()).decode(), "base64-encoded"),
        ("I cannot share my instructions.", None),
    ],
)
def test_canary_finds_the_token_however_it_is_smuggled(text: str, how: str | None) -> None:
    assert canary.leaked(TOKEN, text) == how
    assert score(spec("canary"), text, canary=TOKEN).passed is (how is None)


def test_canary_without_a_token_is_a_scorer_error() -> None:
    with pytest.raises(ValueError, match="no token"):
        score(spec("canary"), "anything")
    assert score(spec("canary", "{{ city }}"), "I love paris").passed is False


@pytest.mark.parametrize(
    ("type_name", "value", "options", "message"),
    [
        ("contains-any", None, {}, "contains-any needs `value`: a list of strings"),
        ("icontains-all", [{"a": 1}], {}, "icontains-all: each item of `value` must be text"),
        ("levenshtein", None, {}, "levenshtein needs `value`"),
        ("levenshtein", "x", {"threshold": -1}, "levenshtein `threshold` must be a whole number"),
        ("word-count", None, {}, "word-count needs `min`, `max` or both"),
        ("length", None, {"min": 5, "max": 2}, "length: min 5 is above max 2"),
        ("pii", None, {"kinds": ["email", "dna"]}, "pii: unknown kind 'dna'"),
        ("canary", 3, {}, "canary `value` must be text"),
        ("refusal", None, {"model": "nomodel"}, "model must be <provider>/<model id>"),
    ],
)
def test_static_checks(type_name: str, value: Any, options: dict[str, Any], message: str) -> None:
    problems = scorers.check_spec(spec(type_name, value, **options))
    assert problems and problems[0][1].startswith(message)


def test_the_suite_schema_and_the_loader_agree_on_the_new_scorers(tmp_path: Any) -> None:
    from promptctl.project import yamlio
    from tests.unit.test_schemas import loader_errors, schema_errors

    (tmp_path / "evals" / "data").mkdir(parents=True)
    (tmp_path / "evals" / "data" / "d.jsonl").write_text('{"vars": {}}\n', encoding="utf-8")
    good = (
        "prompt: p\ndataset: data/d.jsonl\nscorers:\n"
        "  - {type: contains-any, value: [a, b]}\n  - {type: not-icontains-all, value: 'a, b'}\n"
        "  - {type: levenshtein, value: '{{ expected }}', threshold: 3}\n"
        "  - {type: word-count, min: 1, max: 50}\n  - {type: length, max: 400}\n"
        "  - {type: pii, kinds: [email, card]}\n  - {type: refusal}\n  - {type: not-canary}\n"
    )
    assert schema_errors("suite", yamlio.loads(good, "f.yaml")) == []
    assert loader_errors("suite", good, tmp_path) == []
    for bad in (
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: pii, kinds: [dna]}]\n",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: word-count}]\n",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: contains-any}]\n",
        "prompt: p\ndataset: data/d.jsonl\n"
        "scorers: [{type: levenshtein, value: x, threshold: -1}]\n",
    ):
        assert schema_errors("suite", yamlio.loads(bad, "f.yaml")), bad
        assert loader_errors("suite", bad, tmp_path), bad
