"""Rendering is bounded in time as well as size (issue 9): no template spins for hours."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from promptctl import rendering
from promptctl.errors import Location, UsageError

SOURCE = Location("prompts/p.yaml", 7, 14)


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    # the mechanism is the same at 2 s; a short deadline keeps the suite fast
    monkeypatch.setattr(rendering, "RENDER_TIMEOUT_S", 0.3)
    return 0.3


def _render_error(text: str, partials: Path | None = None) -> tuple[UsageError, float]:
    start = time.monotonic()
    with pytest.raises(UsageError) as info:
        rendering.render_text(
            text, {"n": 3}, source=SOURCE, partials_dir=str(partials) if partials else None
        )
    return info.value, time.monotonic() - start


def test_default_deadline_is_two_seconds() -> None:
    assert rendering.RENDER_TIMEOUT_S == 2.0


@pytest.mark.parametrize(
    "text",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        # strings are iterable too, and 1M characters is under the size limit
        "{% for a in 'x' * 1000000 %}{% for b in 'y' * 1000000 %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% for a in range(100000) recursive %}{% for b in range(100000) %}"
        "{% endfor %}{% endfor %}",
        "{% set xs = range(100000) | list %}{% for a in xs %}{% for b in xs %}{% endfor %}"
        "{% endfor %}",
    ],
)
def test_nested_loops_stop_at_the_deadline_with_location(short_deadline: float, text: str) -> None:
    err, elapsed = _render_error(text)
    assert err.message == f"template took too long (over {short_deadline:g} s)"
    assert str(err.where) == "prompts/p.yaml:7:14"
    assert "nested loops" in (err.hint or "")
    assert elapsed < short_deadline + 1.0


def test_the_deadline_names_the_line_of_the_loop(short_deadline: float) -> None:
    text = (
        "line one\nline two\n{% for a in range(10**5) %}{% for b in range(10**5) %}"
        "{% endfor %}{% endfor %}"
    )
    err, _ = _render_error(text)
    assert "took too long" in err.message
    assert str(err.where) == "prompts/p.yaml:9:1"


def test_a_macro_calling_itself_is_a_usage_error_not_a_crash() -> None:
    err, elapsed = _render_error("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}")
    assert err.message in ("template recursion too deep", "template took too long (over 2 s)")
    assert elapsed < 3


def test_a_partial_including_itself_is_a_usage_error(tmp_path: Path) -> None:
    partials = tmp_path / "partials"
    partials.mkdir()
    (partials / "loop.j2").write_text("x{% include 'loop.j2' %}", encoding="utf-8")
    err, elapsed = _render_error("{% include 'loop.j2' %}", partials)
    assert err.message in ("template recursion too deep", "template took too long (over 2 s)")
    assert elapsed < 3


def test_macro_calls_in_a_long_loop_meet_the_clock(short_deadline: float) -> None:
    text = (
        "{% macro m(x) %}{% endmacro %}"
        "{% for a in range(10**5) %}{% for b in range(10**5) %}{{ m(b) }}{% endfor %}{% endfor %}"
    )
    err, elapsed = _render_error(text)
    assert "took too long" in err.message
    assert elapsed < short_deadline + 1.0


def test_huge_repetition_is_refused_without_allocating() -> None:
    err, elapsed = _render_error("{{ 'a' * 200000000 }}")
    assert "rendered-size limit" in err.message
    assert elapsed < 1


def test_huge_output_from_a_loop_stops_at_the_size_limit() -> None:
    err, _ = _render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")
    assert f"{rendering.MAX_OUTPUT_CHARS:,} characters" in err.message


def test_ordinary_loops_still_render_and_keep_loop_variables() -> None:
    text = (
        "{% for x in items %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}"
        "{% endfor %}|{% for row in [[1, [2]], [3]] recursive %}{{ row }}{% endfor %}"
        "|{{ dict(self=1, context=2) | length }}"
    )
    out = rendering.render_text(text, {"items": ["a", "b", "c"]}, source=SOURCE)
    assert out == "1:a,2:b,3:c|[1, [2]][3]|2"


def test_a_large_legitimate_loop_renders_well_inside_the_deadline() -> None:
    start = time.monotonic()
    out = rendering.render_text(
        "{% for i in range(100000) %}{% endfor %}{{ n }}", {"n": 1}, source=SOURCE
    )
    assert out == "1"
    assert time.monotonic() - start < 1.0


def test_the_deadline_is_per_render(short_deadline: float) -> None:
    # a slow render must not leave a stale deadline that fails the next, fast one
    _render_error("{% for a in range(10**5) %}{% for b in range(10**5) %}{% endfor %}{% endfor %}")
    assert rendering.render_text("{% for a in range(3) %}{{ a }}{% endfor %}", {}) == "012"
    assert rendering._deadline.get() is None
