"""The call engine against the loopback fake: retries, limits, timeouts, concurrency, budget."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from promptctl import engine
from promptctl.engine import Engine, bounded
from promptctl.errors import (
    AuthError,
    BudgetError,
    MissingKeyError,
    OfflineError,
    ProviderError,
    ProviderUnavailableError,
    StoppedError,
    UsageError,
)
from promptctl.model import OutputSpec, Request
from promptctl.project import config
from promptctl.prompts.prompt import Prompt
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config

T = TypeVar("T")
FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.02, "retry_after_cap_s": 2.0}


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def fake(project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)
    write_config(project.root, llm_server)
    return config.load_project(root=project.root)


def prompt(model: str = "fake/gpt-test", **params: Any) -> Prompt:
    return Prompt(
        name="p",
        version="0" * 12,
        model=model,
        messages=(),
        params=params,
        input={},
        output=OutputSpec(),
        source=None,  # type: ignore[arg-type]
    )


def request(
    text: str = "hello", model: str = "gpt-test", provider: str = "fake", **params: Any
) -> Request:
    return Request(
        provider=provider, model=model, messages=({"role": "user", "content": text},), params=params
    )


async def one(proj: Any, req: Request, **kwargs: Any) -> Any:
    async with Engine(proj, **{**FAST, **kwargs}) as eng:
        reply = await eng.complete(req)
        return reply, eng.stats


def test_echo_reply_records_tokens_latency_and_unknown_cost(fake: Any, llm_server: FakeLLMServer):
    reply, stats = run(one(fake, request("ping")))
    assert reply.text == "ping"
    assert reply.input_tokens == 2 and reply.output_tokens == 2
    assert reply.latency_s > 0
    assert reply.cost_usd is None  # fake/gpt-test has no price: null, never 0
    assert stats.calls == 1 and stats.cost_usd is None
    sent = llm_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.body == {"model": "gpt-test", "messages": [{"role": "user", "content": "ping"}]}


def test_cost_uses_the_price_table_and_config_override(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(
        project.root, llm_server, extra="prices:\n  fake/gpt-test: {input: 2.0, output: 10.0}\n"
    )
    proj = config.load_project(root=project.root)
    llm_server.enqueue(Scripted.text("ok", input_tokens=1000, output_tokens=500))
    reply, stats = run(one(proj, request()))
    assert reply.cost_usd == pytest.approx((1000 * 2.0 + 500 * 10.0) / 1e6)
    assert stats.cost_usd == pytest.approx(0.007)


def test_builtin_price_for_dated_model_ids() -> None:
    from promptctl.engine import prices

    assert prices.price("openai/gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert prices.price("openai/gpt-4o-2024-08-06") == (2.50, 10.00)
    assert prices.price("local/gpt-4o") is None
    assert prices.cost_usd((0.15, 0.60), 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert prices.cost_usd(None, 10, 10) is None


def test_retries_5xx_and_429_then_succeeds(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.error(500), Scripted.error(429), Scripted.error(503))
    reply, stats = run(one(fake, request("again")))
    assert reply.text == "again" and reply.retries == 3
    assert stats.retries == 3 and llm_server.total == 4


@pytest.mark.parametrize(
    "script",
    [
        Scripted.reset(),
        Scripted.truncated(),
        Scripted.html(502),
        Scripted.error(408),
        Scripted.error(409),
        Scripted.error(529),
    ],
)
def test_transient_faults_are_retried(fake: Any, llm_server: FakeLLMServer, script: Scripted):
    llm_server.enqueue(script)
    reply, _ = run(one(fake, request("ok")))
    assert reply.text == "ok" and reply.retries == 1 and llm_server.total == 2


def test_gives_up_after_max_retries_with_status_in_message(fake: Any, llm_server: FakeLLMServer):
    llm_server.default = Scripted.error(503)
    with pytest.raises(ProviderError) as err:
        run(one(fake, request(), max_retries=2))
    assert err.value.exit_code == 3
    assert "HTTP 503" in err.value.message and "after 2 retries" in err.value.message
    assert llm_server.total == 3


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(fake: Any, llm_server: FakeLLMServer, status: int):
    llm_server.enqueue(Scripted.error(status, body={"error": {"message": "bad param"}}))
    with pytest.raises(ProviderError) as err:
        run(one(fake, request()))
    assert f"HTTP {status}" in err.value.message and "bad param" in err.value.message
    assert llm_server.total == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_not_retried_and_names_provider_and_variable(
    fake: Any, llm_server: FakeLLMServer, status: int
):
    llm_server.default = Scripted.error(status)
    with pytest.raises(AuthError) as err:
        run(one(fake, request()))
    assert err.value.exit_code == 3
    assert "fake" in err.value.message and "FAKE_API_KEY" in (err.value.hint or "")
    assert llm_server.total == 1


def test_retry_after_is_honoured(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.error(429, retry_after="1"))
    reply, _ = run(one(fake, request()))
    first, second = llm_server.requests
    assert reply.retries == 1
    assert first.ended is not None
    assert 0.95 <= second.started - first.ended < 1.8


def test_retry_after_ms_wins_over_retry_after(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.error(429, retry_after="30", retry_after_ms="300"))
    run(one(fake, request(), retry_after_cap_s=0.5))
    a, b = llm_server.requests
    assert 0.28 <= b.started - a.ended < 0.45  # type: ignore[operator]


def test_retry_after_beyond_the_cap_is_an_outage_for_the_run(fake: Any, llm_server: FakeLLMServer):
    # waiting the cap on every retry of every call took minutes per call (issue 20)
    llm_server.enqueue(Scripted.error(503, retry_after="1e9"))
    with pytest.raises(ProviderUnavailableError, match=r"asks to wait 1,000,000,000 s"):
        run(one(fake, request(), retry_after_cap_s=0.5))
    assert llm_server.total == 1


def test_x_should_retry_overrides_the_status(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.error(400, should_retry=True))
    reply, _ = run(one(fake, request()))
    assert reply.retries == 1
    llm_server.reset()
    llm_server.enqueue(Scripted.error(500, should_retry=False))
    with pytest.raises(ProviderError):
        run(one(fake, request("not cached")))
    assert llm_server.total == 1


def test_quota_exhausted_429_is_not_retried_and_stops_the_engine(
    fake: Any, llm_server: FakeLLMServer
):
    llm_server.enqueue(
        Scripted.error(
            429,
            body={
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                }
            },
        )
    )

    async def go() -> None:
        async with Engine(fake, **FAST) as eng:
            with pytest.raises(ProviderError, match="quota"):
                await eng.complete(request())
            assert eng.stopped
            with pytest.raises(StoppedError):
                await eng.complete(request("next"))

    run(go())
    assert llm_server.total == 1


def test_per_attempt_timeout(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted(latency_s=2.0), Scripted(latency_s=2.0))
    with pytest.raises(ProviderError, match=r"no complete reply within 0.2 s \(after 1 retries\)"):
        run(one(fake, request(), timeout_s=0.2, max_retries=1))


def test_trickling_body_hits_the_total_deadline(fake: Any, llm_server: FakeLLMServer):
    # httpx's read timeout is per chunk: a byte every 50 ms would never trip it.
    llm_server.enqueue(Scripted.trickle())
    loop_start = asyncio.run(_timed(one(fake, request(), timeout_s=0.3, max_retries=0)))
    assert loop_start < 1.5


async def _timed(coro: Awaitable[Any]) -> float:
    import time

    start = time.perf_counter()
    with pytest.raises(ProviderError, match=r"no complete reply within 0\.3 s"):
        await coro
    return time.perf_counter() - start


def test_non_json_body_names_status_and_first_bytes(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.malformed())
    with pytest.raises(ProviderError) as err:
        run(one(fake, request()))
    assert "not JSON (HTTP 200)" in err.value.message
    assert '{"choices": [ this is not json' in err.value.message
    assert llm_server.total == 1


def test_reply_without_choices_is_a_provider_error(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.no_choices())
    with pytest.raises(ProviderError, match=r"no choices\[0\]\.message\.content"):
        run(one(fake, request()))


def test_oversize_reply_is_refused(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.oversize(200_000))
    with pytest.raises(ProviderError, match="reply larger than"):
        run(one(fake, request(), max_response_bytes=100_000))


def test_connection_refused_after_retries(project: Any, monkeypatch: pytest.MonkeyPatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    project.write(
        "promptctl.yaml",
        f"providers:\n  fake: {{type: openai, base_url: "
        f"'http://127.0.0.1:{port}/v1', api_key_env: FAKE_API_KEY}}\n",
    )
    proj = config.load_project(root=project.root)
    with pytest.raises(ProviderError) as err:
        run(one(proj, request(), max_retries=1))
    assert "connection refused" in err.value.message and "after 1 retries" in err.value.message


def test_missing_key_names_the_variable(fake: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FAKE_API_KEY")
    with pytest.raises(MissingKeyError) as err:
        run(one(fake, request()))
    assert err.value.exit_code == 2 and "FAKE_API_KEY" in err.value.message


def test_unknown_provider_lists_the_known_ones(fake: Any):
    with pytest.raises(UsageError) as err:
        Engine(fake).build_request(prompt("nope/x"), [{"role": "user", "content": "x"}])
    assert "unknown provider 'nope'" in err.value.message
    assert "known: anthropic, fake, fake-anthropic, mock, openai" in (err.value.hint or "")
    with pytest.raises(UsageError, match="must be <provider>/<model id>"):
        Engine(fake).build_request(prompt(), [], model="gpt-4o")


def test_concurrency_bound_is_held(fake: Any, llm_server: FakeLLMServer):
    llm_server.latency_s = 0.05

    async def go() -> list[str]:
        async with Engine(fake, concurrency=4, **FAST) as eng:

            async def work(i: int) -> str:
                return (await eng.complete(request(f"m{i}"))).text

            return [t async for t in bounded(range(16), work, 4)]

    texts = run(go())
    assert sorted(texts) == sorted(f"m{i}" for i in range(16))
    assert llm_server.peak_in_flight == 4


def test_provider_concurrency_limit_caps_in_flight(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(project.root, llm_server, concurrency=2)
    proj = config.load_project(root=project.root)
    llm_server.latency_s = 0.05

    async def go() -> None:
        async with Engine(proj, concurrency=8, **FAST) as eng:
            await asyncio.gather(*(eng.complete(request(f"m{i}")) for i in range(8)))

    run(go())
    assert llm_server.peak_in_flight == 2


def test_repeated_429_lowers_concurrency(fake: Any, llm_server: FakeLLMServer):
    llm_server.latency_s = 0.03
    llm_server.enqueue(*[Scripted.error(429, retry_after="0.05")] * 8)

    async def go() -> int:
        async with Engine(fake, concurrency=8, **FAST) as eng:
            await asyncio.gather(*(eng.complete(request(f"m{i}")) for i in range(8)))
            return eng._slot("fake").limiter.limit  # type: ignore[union-attr]

    limit = run(go())
    assert limit < 8
    retries = llm_server.requests[8:]
    assert len(retries) == 8
    # after the cut, the retries never ran 8 at once again
    assert peak_overlap(retries) <= 4


def peak_overlap(logged: list[Any]) -> int:
    events = sorted([(r.started, 1) for r in logged] + [(r.ended, -1) for r in logged])
    peak = now = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def test_budget_stops_before_the_call_that_would_exceed_it(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(
        project.root,
        llm_server,
        extra="prices:\n  fake/gpt-test: {input: 1000.0, output: 1000.0}\n",
    )
    proj = config.load_project(root=project.root)
    llm_server.enqueue(*[Scripted.text("ok", input_tokens=100, output_tokens=100)] * 10)

    async def go() -> None:
        async with Engine(proj, max_cost_usd=0.5, **FAST) as eng:
            # each call costs $0.20; the estimate (4 + 100 tokens at $1000/M) is ~$0.104
            for i in range(10):
                await eng.complete(request(f"q{i}", max_tokens=100))

    with pytest.raises(BudgetError) as err:
        run(go())
    assert err.value.exit_code == 3 and "budget of $0.5000" in err.value.message
    assert llm_server.total == 2  # spent $0.40; a 3rd (~$0.10 more) would pass $0.50


def test_offline_refuses_uncached_network_calls_but_allows_mock(
    fake: Any, llm_server: FakeLLMServer
):
    with pytest.raises(OfflineError) as err:
        run(one(fake, request(), offline=True))
    assert err.value.exit_code == 3 and "fake/gpt-test" in err.value.message
    assert llm_server.total == 0
    reply, _ = run(one(fake, request("local", provider="mock", model="echo"), offline=True))
    assert reply.text == "local"


def test_offline_serves_cached_replies(fake: Any, llm_server: FakeLLMServer):
    run(one(fake, request("warm")))
    reply, stats = run(one(fake, request("warm"), offline=True))
    assert reply.cached and reply.text == "warm" and stats.cache_hits == 1
    assert llm_server.total == 1


def test_anthropic_request_mapping(fake: Any, llm_server: FakeLLMServer):
    req = Request(
        provider="fake-anthropic",
        model="claude-test",
        messages=(
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "hi there"},
        ),
        params={"temperature": 0.1},
    )
    reply, _ = run(one(fake, req))
    assert reply.text == "hi there" and reply.input_tokens is not None
    sent = llm_server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == FAKE_KEY and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body == {
        "model": "claude-test",
        "system": "Be brief.\n\nBe kind.",
        "messages": [{"role": "user", "content": "hi there"}],
        "temperature": 0.1,
        "max_tokens": 1024,
    }


def test_anthropic_overloaded_is_retried(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(
        Scripted.error(
            529,
            body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    )
    reply, _ = run(one(fake, request("x", provider="fake-anthropic", model="c")))
    assert reply.retries == 1


def test_openai_json_mode_and_json_schema_bodies(fake: Any, llm_server: FakeLLMServer):
    eng = Engine(fake)
    plain = Prompt(
        name="p",
        version="0" * 12,
        model="fake/m",
        messages=(),
        params={"seed": 1},
        input={},
        output=OutputSpec(format="json"),
        source=None,
    )  # type: ignore[arg-type]
    schema = {"type": "object", "required": ["a"]}
    shaped = Prompt(
        name="p",
        version="0" * 12,
        model="fake/m",
        messages=(),
        params={},
        input={},
        output=OutputSpec(format="json", schema=schema),
        source=None,
    )  # type: ignore[arg-type]
    msgs = [{"role": "user", "content": "json please"}]

    async def go() -> None:
        async with eng:
            await eng.complete(eng.build_request(plain, msgs))
            await eng.complete(eng.build_request(shaped, msgs))

    run(go())
    first, second = (r.body for r in llm_server.requests)
    assert first["response_format"] == {"type": "json_object"} and first["seed"] == 1
    assert second["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": False},
    }


def test_build_request_merges_params_and_sets_repeat(fake: Any):
    req = Engine(fake).build_request(
        prompt(temperature=0.2),
        [{"role": "user", "content": "x"}],
        repeat=2,
        params={"temperature": 0.0, "max_tokens": 5},
    )
    assert req.params == {"temperature": 0.0, "max_tokens": 5}
    assert req.repeat == 2 and req.provider == "fake" and req.model == "gpt-test"
    other = Engine(fake).build_request(
        prompt(temperature=0.2),
        [{"role": "user", "content": "x"}],
        repeat=3,
        params={"temperature": 0.0, "max_tokens": 5},
    )
    assert other.key != req.key


def test_estimate_cost(fake: Any, project: Any):
    eng = Engine(config.load_project(root=project.root))
    priced = Request(
        provider="openai",
        model="gpt-4o-mini",
        messages=({"role": "user", "content": "x" * 400},),
        params={"max_tokens": 100},
    )
    assert eng.estimate_cost(priced) == pytest.approx((104 * 0.15 + 100 * 0.60) / 1e6)
    assert eng.estimate_cost(request()) is None
    assert eng.estimate_cost(request(provider="mock", model="echo")) == 0.0


def test_bounded_pulls_lazily_and_stops_on_error():
    pulled: list[int] = []

    def items() -> Any:
        for i in range(100):
            pulled.append(i)
            yield i

    async def work(i: int) -> int:
        await asyncio.sleep(0.001)
        if i == 5:
            raise ValueError("boom")
        return i

    async def go() -> list[int]:
        return [r async for r in bounded(items(), work, 3)]

    with pytest.raises(ValueError, match="boom"):
        run(go())
    assert len(pulled) <= 8  # stopped pulling soon after the failure, never all 100


def test_bounded_honours_stop():
    state = {"stop": False}

    async def work(i: int) -> int:
        if i == 2:
            state["stop"] = True
        return i

    async def go() -> list[int]:
        return [r async for r in bounded(range(100), work, 1, stop=lambda: state["stop"])]

    assert run(go()) == [0, 1, 2]


def test_bounded_close_cancels_in_flight_workers():
    cancelled: list[int] = []
    pulled: list[int] = []

    def items() -> Any:
        for i in range(10):
            pulled.append(i)
            yield i

    async def work(i: int) -> int:
        if i == 0:
            return 0
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def go() -> None:
        gen = bounded(items(), work, 3)
        assert await gen.__anext__() == 0
        await gen.aclose()

    run(go())
    assert sorted(cancelled) == [1, 2]  # the sleepers were cancelled, not awaited for 10 s
    assert pulled == [0, 1, 2, 3]  # 3 replaced 0 as it finished; nothing after


def test_default_concurrency_is_documented():
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "providers.md").read_text(encoding="utf-8")
    assert f"default concurrency is {engine.DEFAULT_CONCURRENCY}" in docs
