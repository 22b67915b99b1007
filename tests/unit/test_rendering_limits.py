"""Rendering is bounded in time as well as size (issue 9): no template spins for hours."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from promptctl.errors import Location, UsageError
from promptctl.prompts import rendering

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


MEMORY_BOMBS = [
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a'.center(1000000000) }}",
    "{{ 'a'.zfill(10**9) }}",
    "{{ ('\\t' * 100000).expandtabs(100000) }}",
    "{{ 'x'|attr('ljust')(10**9) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'|indent(1000000000, true) }}",
    "{{ ('x\\n' * 500000)|indent(' ' * 100000) }}",
    "{{ {'a': 1}|tojson(indent=1000000000) }}",
    "{{ ('x' * 1000000).replace('', 'y' * 1000000) }}",
    "{{ ('x' * 1000000)|replace('', 'y' * 1000) }}",
    "{{ range(100000)|join('y' * 1000000) }}",
    "{{ '{:>1000000000}'.format('a') }}",
    "{{ '{:{}}'.format('a', 10**9) }}",
    "{{ '{0:>1000000000}'.format_map({}) }}",
    "{{ '%1000000000s' % 'a' }}",
    "{{ '%*s' % (10**9, 'a') }}",
    "{{ '%1000000000s'|format('a') }}",
    "{{ ('x' * 1000000)|list|map('center', 1000000000)|list }}",
    # doubling: each step is small, the tenth is a gigabyte
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(60) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(60) %}"
    "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}",
    "{% macro d(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x' * 1000) %}"
    "{% for i in range(60) %}{% set ns.s = d(ns.s) %}{% endfor %}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}"
    "{% endfor %}",
]


@pytest.mark.parametrize("text", MEMORY_BOMBS)
def test_memory_bombs_are_refused_before_they_allocate(text: str) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    err, elapsed = _render_error(text)
    assert "exceeds the rendered-size limit" in err.message
    assert str(err.where) == "prompts/p.yaml:7:14"
    assert elapsed < 2
    # the peak resident size grew by well under the gigabyte each bomb asks for (KiB on Linux)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000


def test_lipsum_is_not_available() -> None:
    err, _ = _render_error("{{ lipsum(1000000000) }}")
    assert err.message == "undefined variable: 'lipsum' is undefined"


@pytest.mark.parametrize(
    "text",
    [
        "{{ '{0}'.format() }}",
        "{{ {}['k'] }}",
        "{{ [1][5] }}",
        "{{ 'x'.format_map({}) ~ '{a}'.format_map({}) }}",
    ],
)
def test_python_errors_inside_templates_are_usage_errors(text: str) -> None:
    err, _ = _render_error(text)
    assert err.message.startswith(("template error:", "undefined variable:"))


def test_ordinary_formatting_and_filters_are_untouched() -> None:
    text = (
        "{{ 'a'|wordwrap(1000000000) }}|{{ 'abc'|truncate(10**9) }}|{{ 1234567890|filesizeformat }}"
        "|{{ '{:,}'.format(1234567890) }}|{{ '%d'|format(10**9) }}|{{ 'a b'|replace(' ', '-') }}"
        "|{{ [1, 2]|join(',') }}|{{ 'x'|center(5) }}|{{ '%-4s|' % 'ab' }}|{{ 'a' + 'b' }}"
        "|{{ 2 + 3 }}"
        "|{{ 7 % 3 }}|{{ 'ab'.ljust(4, '.') }}|{{ {'b': 1}|tojson(indent=2)|length }}"
    )
    assert rendering.render_text(text, {}) == (
        "a|abc|1.2 GB|1,234,567,890|1000000000|a-b|1,2|  x  |ab  ||ab|5|1|ab..|12"
    )
