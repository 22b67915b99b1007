"""Hostile or broken providers on loopback (issue 20): a clear per-case error or exit 2, the run
goes on where it can, exit codes per SPEC, and no key in any output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptctl.engine import retry
from tests.conftest import FAKE_KEY, Result
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

LEAK = "LEAKCHECK-abc"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 0.02)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)


@pytest.fixture(params=["lean", "httpx"])
def client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", request.param)
    return str(request.param)


def setup(project: Any, server: FakeLLMServer, n: int = 3, **provider: Any) -> None:
    write_config(project.root, server, **{"max_retries": 1, **provider})
    project.write(
        "prompts/p.yaml", "model: fake/m\ninput:\n  text: {type: string}\ntemplate: '{{ text }}'\n"
    )
    project.write(
        "evals/data/d.jsonl",
        "".join(
            json.dumps({"id": f"t-{i}", "vars": {"text": f"case {i}"}}) + "\n" for i in range(n)
        ),
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{id: ok, type: contains, value: case}]\n",
    )


def evaluate(project: Any, *args: str) -> Result:
    r = project.run("eval", "--concurrency", "1", *args)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert_no_secret(r.out, r.err)
    assert LEAK not in r.out + r.err
    return r


def records(project: Any) -> list[dict[str, Any]]:
    (run,) = list((project.root / ".promptctl" / "runs").iterdir())
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def errors(project: Any) -> list[str]:
    return [x["error"] for x in records(project) if x.get("error")]


# ------------------------------------------------------------------ keys and base URLs


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (f"{FAKE_KEY}\n{LEAK}", "FAKE_API_KEY contains a line break"),
        (f"{FAKE_KEY}\r{LEAK}", "FAKE_API_KEY contains a line break"),
        (f"{FAKE_KEY}\x0b{LEAK}", "FAKE_API_KEY contains a control character"),
        (f"{FAKE_KEY}é{LEAK}", "FAKE_API_KEY contains a non-ASCII character"),
    ],
)
def test_a_key_that_cannot_be_a_header_is_exit_2_naming_the_variable(
    project: Any,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    client: str,
    value: str,
    says: str,
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("FAKE_API_KEY", value)
    r = evaluate(project)
    assert r.code == 2
    assert says in r.err
    assert llm_server.total == 0
    r = project.run("run", "p", "--var", "text=x", "--debug")
    assert r.code == 2 and says in r.err and LEAK not in r.out + r.err


def test_a_header_from_the_config_with_a_line_break_is_pc301_at_its_line(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server)
    project.write(
        "promptctl.yaml",
        f"providers:\n  fake:\n    type: openai\n    base_url: '{llm_server.openai_base}'\n"
        '    headers: {X-Title: "a\\nb"}\n',
    )
    r = evaluate(project)
    assert r.code == 2
    assert "promptctl.yaml:5:24: error: provider 'fake': header 'X-Title' must be text" in r.err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/v 1", "base_url contains a space, line break or control character"),
        ("http://127.0.0.1:99999/v1", "base_url is not a valid URL"),
        ("http://127.0.0.1:9/vé", "base_url has non-ASCII characters in its path"),
        ("ftp://127.0.0.1/v1", "base_url must start with http:// or https://"),
    ],
)
def test_a_bad_base_url_in_the_config_is_exit_2_at_its_line(
    project: Any, llm_server: FakeLLMServer, url: str, says: str
) -> None:
    setup(project, llm_server)
    project.write(
        "promptctl.yaml",
        f"providers:\n  fake: {{type: openai, base_url: {json.dumps(url)}}}\n",
    )
    r = evaluate(project)
    assert r.code == 2
    assert "promptctl.yaml:2:34: error: provider 'fake': " + says in r.err


def test_a_bad_base_url_variable_is_exit_2_naming_it(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v 1")
    project.write("prompts/p.yaml", "model: openai/gpt-4o-mini\ntemplate: hi\n")
    r = project.run("run", "p")
    assert r.code == 2
    assert "error: OPENAI_BASE_URL contains a space, line break or control character" in r.err


# ------------------------------------------------------------------ replies


def test_a_double_gzip_bomb_stops_at_the_cap_on_both_clients(
    project: Any, llm_server: FakeLLMServer, client: str
) -> None:
    import tracemalloc

    setup(project, llm_server)
    llm_server.enqueue(Scripted.gzip_bomb(64 << 20, layers=2))
    tracemalloc.start()
    try:
        r = evaluate(project)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # inflated a layer at a time under the 8 MiB cap, never the 64 MiB inside (2 GB in the wild)
    assert peak < 40 << 20, f"peak {peak >> 20} MiB"
    assert r.code == 3, r.err  # one case's error; the others finished
    (error,) = errors(project)
    assert "reply larger than 8 MiB" in error
    assert len(records(project)) == 3


@pytest.mark.parametrize("layers", [1, 2])
def test_a_gzipped_reply_is_read_on_both_clients(
    project: Any, llm_server: FakeLLMServer, client: str, layers: int
) -> None:
    setup(project, llm_server, n=1)
    body = {
        "model": "m",
        "choices": [{"message": {"content": "case 0"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    llm_server.enqueue(Scripted.gzipped(body, layers=layers))
    r = evaluate(project)
    assert r.code == 0, r.err


def test_a_reply_nested_200000_deep_is_one_cases_error(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server)
    llm_server.enqueue(Scripted.deep(200_000))
    r = evaluate(project)
    assert r.code == 3
    (error,) = errors(project)
    assert "reply JSON nests too deeply" in error
    assert "promptctl eval --resume" in r.err  # the summary and the resume hint are there


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"prompt_tokens": "1" + "0" * 400}, (None, 2)),
        ({"prompt_tokens": "-5", "completion_tokens": "-7"}, (None, None)),
        ({"prompt_tokens": "3.5"}, (None, 2)),
        ({"prompt_tokens": "true"}, (None, 2)),
    ],
)
def test_usage_counts_are_validated_in_one_place(
    project: Any, llm_server: FakeLLMServer, fields: dict[str, str], stored: tuple[Any, Any]
) -> None:
    setup(project, llm_server, n=2, extra="prices:\n  fake/m: {input: 1000, output: 1000}\n")
    llm_server.enqueue(Scripted.raw_reply(text="case 0", **fields))
    r = evaluate(project, "--max-cost", "5")
    assert r.code == 0, r.err
    first = next(x for x in records(project) if x["case_id"] == "t-0")
    assert (first["input_tokens"], first["output_tokens"]) == stored
    assert first["cost_usd"] is None or first["cost_usd"] >= 0
    summary = json.loads(
        next((project.root / ".promptctl" / "runs").iterdir()).joinpath("summary.json").read_text()
    )
    assert summary["cost_usd"] is None or summary["cost_usd"] >= 0
    # the cache took the batch: a second run asks nothing
    before = llm_server.total
    assert project.run("eval").code == 0
    assert llm_server.total == before


@pytest.mark.parametrize("finish", ["[1, 2]", '{"a": 1}', "7", "null", '"' + "x" * 500 + '"'])
def test_a_non_string_finish_reason_does_not_fail_the_cache_batch(
    project: Any, llm_server: FakeLLMServer, finish: str
) -> None:
    setup(project, llm_server, n=2)
    llm_server.enqueue(Scripted.raw_reply(text="case 0", finish_reason=finish))
    r = evaluate(project)
    assert r.code == 0, r.err
    assert "not cached" not in r.err
    before = llm_server.total
    assert project.run("eval").code == 0
    assert llm_server.total == before  # both replies came from the cache


# ------------------------------------------------------------------ retries and what happened


def test_retry_after_beyond_the_cap_trips_the_breaker_for_the_run(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=5)
    llm_server.default = Scripted.error(503, retry_after="1e9")
    r = evaluate(project)
    assert r.code == 3
    assert "asks to wait 1,000,000,000 s (Retry-After), more than the 60 s cap" in r.err
    assert llm_server.total == 1  # no wait, no retry, no other case asked


def test_eval_max_retries_bounds_the_retries(project: Any, llm_server: FakeLLMServer) -> None:
    setup(project, llm_server, n=1, max_retries=5)
    llm_server.default = Scripted.error(500)
    r = evaluate(project, "--max-retries", "2")
    assert r.code == 3
    assert llm_server.total == 3  # the call and two retries, not the provider's five
    assert "(after 2 retries)" in errors(project)[0]


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_redirect_is_reported_as_one(
    project: Any, llm_server: FakeLLMServer, status: int
) -> None:
    setup(project, llm_server, n=1)
    llm_server.enqueue(Scripted.redirect(status))
    r = evaluate(project)
    assert r.code == 3
    assert f"HTTP {status}: the server redirects this request" in r.err
    assert "after retries" not in r.err
    assert llm_server.total == 1


def test_a_quota_429_says_quota_not_failed_after_retries(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=3)
    llm_server.enqueue(
        Scripted.error(429, body={"error": {"message": "x", "type": "insufficient_quota"}})
    )
    r = evaluate(project)
    assert r.code == 3
    assert "quota or credit exhausted" in r.err
    assert "failed after retries" not in r.err


def test_no_hostile_reply_leaves_the_key_on_disk(project: Any, llm_server: FakeLLMServer) -> None:
    setup(project, llm_server, n=4)
    llm_server.enqueue(
        Scripted.deep(5000),
        Scripted.raw_reply(text="case", finish_reason="[1]"),
        Scripted.redirect(),
    )
    evaluate(project)
    assert_no_secret_in_dir(Path(project.root / ".promptctl"))


@pytest.mark.parametrize("kind", ["lean", "httpx"])
def test_a_header_http_cannot_carry_is_refused_before_sending_without_quoting_it(
    llm_server: FakeLLMServer, kind: str
) -> None:
    """A plug-in provider (or anything past the key check) handing the client a bad header:
    h11's and httpx's own errors quote the header, key included; ours name neither."""
    import asyncio

    from promptctl.engine.transport import InvalidRequest, PooledTransport, tls_context

    async def go() -> None:
        if kind == "lean":
            client: Any = PooledTransport()
        else:
            from promptctl.engine.httpx_transport import HttpxTransport

            client = HttpxTransport(proxy=None, ssl_context=tls_context())
        try:
            await client.post(
                f"{llm_server.openai_base}/chat/completions",
                {"authorization": f"Bearer {FAKE_KEY}\n{LEAK}"},
                b"{}",
                max_bytes=1 << 20,
            )
        finally:
            await client.aclose()

    with pytest.raises(InvalidRequest) as err:
        asyncio.run(go())
    assert FAKE_KEY not in str(err.value) and LEAK not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert llm_server.total == 0
