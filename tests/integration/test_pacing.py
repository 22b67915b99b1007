"""Rate limits as a budget (issue 18): the engine paces live calls from the providers'
rate-limit headers, or from `rpm:` in promptctl.yaml, against the loopback fake enforcing the
limit; a 429 that states the limit is back-pressure, never an outage."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from promptctl.engine import Engine, bounded, retry
from promptctl.engine.pacing import Pacer, parse_reset
from promptctl.errors import RetriesExhaustedError
from promptctl.model import Request
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)


def run_calls(project: Any, provider: str, n: int, concurrency: int) -> tuple[list[str], Engine]:
    proj = config.load_project(root=project.root)

    async def go() -> tuple[list[str], Engine]:
        async with Engine(proj, concurrency=concurrency, use_cache=False) as engine:

            async def one(i: int) -> str:
                request = Request(
                    provider=provider,
                    model="m",
                    messages=({"role": "user", "content": f"case {i}"},),
                )
                return (await engine.complete(request)).text

            texts = [t async for t in bounded(range(n), one, concurrency)]
            return texts, engine

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5), ("1h2m3s", 3723.0), ("7", 7.0)],
)
def test_reset_durations_as_openai_writes_them(value: str, seconds: float) -> None:
    assert parse_reset(value) == pytest.approx(seconds)


def test_reset_times_as_anthropic_writes_them() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_reset("2026-01-02T03:04:35Z", now=now) == pytest.approx(30.0)
    assert parse_reset("2026-01-02T03:04:00+00:00", now=now) == 0.0  # already past
    assert parse_reset("soon", now=now) is None


@pytest.mark.parametrize("provider", ["fake", "fake-anthropic"])
def test_limit_headers_pace_the_run_below_the_limit(
    project: Any, llm_server: FakeLLMServer, provider: str
) -> None:
    # 1200/min is a one-second bucket of 20; 32 workers at once would empty it at the start
    # (the gentle start sends one call until the headers are known) and then every second.
    write_config(project.root, llm_server)
    llm_server.rate_limit(rpm=1200)
    texts, engine = run_calls(project, provider, 30, 32)
    assert sorted(texts) == sorted(f"case {i}" for i in range(30))
    assert llm_server.throttled == 0
    pacer = engine._slots[provider].pacer
    assert pacer is not None and pacer.from_headers and pacer.rpm == 1200


def test_rpm_in_config_paces_a_server_that_sends_no_headers(
    project: Any, llm_server: FakeLLMServer
) -> None:
    write_config(project.root, llm_server, rpm=1200)
    llm_server.rate_limit(rpm=1200, headers=False)
    texts, engine = run_calls(project, "fake", 30, 32)
    assert len(texts) == 30
    assert llm_server.throttled == 0
    pacer = engine._slots["fake"].pacer
    assert pacer is not None and not pacer.from_headers and pacer.rpm == 1200


def test_without_pacing_the_same_server_answers_429s(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the control for the two tests above: their limit is one a burst of calls does exceed
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.05)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 1.0)
    write_config(project.root, llm_server, max_retries=20)
    llm_server.rate_limit(rpm=1200, headers=False)
    texts, _ = run_calls(project, "fake", 30, 32)
    assert len(texts) == 30
    assert llm_server.throttled > 0


LIMIT_429 = {
    "x-ratelimit-limit-requests": "600",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "20ms",
    "retry-after-ms": "5",
}


@pytest.mark.parametrize("with_headers", [True, False])
def test_a_429_with_limit_headers_is_back_pressure_not_an_outage(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, with_headers: bool
) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.001)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 0.002)
    write_config(project.root, llm_server, max_retries=1)
    headers = LIMIT_429 if with_headers else {"retry-after-ms": "5"}
    body = {"error": {"message": "rate limit reached", "type": "requests"}}
    # six 429s in a row: more than max_retries for each of the breaker's three calls
    llm_server.enqueue(*[Scripted(429, body, dict(headers)) for _ in range(6)])
    if not with_headers:
        with pytest.raises(RetriesExhaustedError):
            run_calls(project, "fake", 3, 1)
        return
    texts, engine = run_calls(project, "fake", 3, 1)
    assert texts == ["case 0", "case 1", "case 2"]
    assert engine.stop_reason is None
    assert engine.stats.retries == 6
    breaker = engine._slots["fake"].breaker
    assert breaker is not None and breaker.failed_in_a_row == 0


def test_remaining_zero_holds_every_call_until_the_reset() -> None:
    async def go() -> float:
        pacer = Pacer()
        pacer.observe(
            {
                "x-ratelimit-limit-requests": "600000",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "150ms",
            }
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        await pacer.admit(0)
        return loop.time() - started

    assert asyncio.run(go()) >= 0.14
