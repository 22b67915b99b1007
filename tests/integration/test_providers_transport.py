"""The HTTP/1.1 transport under the engine: keep-alive, chunked bodies, closed connections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptctl.engine import Engine
from promptctl.errors import ProviderError
from promptctl.model import Request
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config

FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.02}


@pytest.fixture
def fake(project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(project.root, llm_server)
    return config.load_project(root=project.root)


def request(text: str) -> Request:
    return Request(provider="fake", model="m", messages=({"role": "user", "content": text},))


def texts(proj: Any, items: list[str], **kwargs: Any) -> list[Any]:
    async def go() -> list[Any]:
        out = []
        async with Engine(proj, use_cache=False, **{**FAST, **kwargs}) as eng:
            for t in items:
                try:
                    out.append((await eng.complete(request(t))).text)
                except ProviderError as e:
                    out.append(e)
        return out

    return asyncio.run(go())


def test_sequential_calls_reuse_one_connection(fake: Any, llm_server: FakeLLMServer):
    assert texts(fake, ["a", "b", "c", "d"]) == ["a", "b", "c", "d"]
    assert llm_server.connections == 1


def test_chunked_reply_is_read_whole(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.chunked())
    assert texts(fake, ["a fairly long message to split into chunks", "next"]) == [
        "a fairly long message to split into chunks",
        "next",
    ]
    assert llm_server.connections == 1  # a chunked reply leaves the connection reusable


def test_server_closing_the_connection_is_not_an_error(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted(headers={"Connection": "close"}))
    assert texts(fake, ["one", "two"]) == ["one", "two"]
    assert llm_server.total == 2 and llm_server.connections == 2


def test_a_timed_out_connection_is_never_reused(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.trickle())
    first, second = texts(fake, ["slow", "fine"], timeout_s=0.3, max_retries=0)
    assert isinstance(first, ProviderError) and second == "fine"
    assert llm_server.connections == 2


def test_concurrent_calls_open_one_connection_each(fake: Any, llm_server: FakeLLMServer):
    llm_server.latency_s = 0.05

    async def go() -> None:
        async with Engine(fake, concurrency=5, **FAST) as eng:
            for _ in range(2):
                await asyncio.gather(*(eng.complete(request(f"x{i}-{_}")) for i in range(5)))

    asyncio.run(go())
    assert llm_server.total == 10 and llm_server.connections == 5


def test_connect_failure_is_a_connect_error():
    import socket

    from promptctl.engine.transport import ConnectError, PooledTransport

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go() -> None:
        await PooledTransport().post(f"http://127.0.0.1:{port}/v1/x", {}, b"{}", max_bytes=10)

    with pytest.raises(ConnectError, match=r"^connection refused or unreachable$"):
        asyncio.run(go())


@pytest.mark.parametrize(
    ("url", "origin", "path", "host"),
    [
        (
            "http://127.0.0.1:8080/v1/chat/completions",
            ("http", "127.0.0.1", 8080),
            b"/v1/chat/completions",
            b"127.0.0.1:8080",
        ),
        (
            "https://api.example.com/v1/messages?beta=1",
            ("https", "api.example.com", 443),
            b"/v1/messages?beta=1",
            b"api.example.com",
        ),
    ],
)
def test_target_parsing(url: str, origin: tuple[str, str, int], path: bytes, host: bytes):
    from promptctl.engine.transport import Target

    t = Target(url)
    assert (t.origin, t.path, t.host_header) == (origin, path, host)


@pytest.mark.parametrize("url", ["ftp://x/y", "http://user:pw@host/v1", "not a url", "http://:99/"])
def test_bad_urls_are_refused(url: str):
    from promptctl.engine.transport import InvalidURL, Target

    with pytest.raises(InvalidURL):
        Target(url)


def test_bad_base_url_is_a_usage_error(project: Any, monkeypatch: pytest.MonkeyPatch):
    from promptctl.errors import UsageError

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:secret@host/v1")
    proj = config.load_project(root=project.root)

    async def go() -> None:
        async with Engine(proj) as eng:
            await eng.complete(
                Request(
                    provider="openai",
                    model="gpt-4o-mini",
                    messages=({"role": "user", "content": "x"},),
                )
            )

    with pytest.raises(UsageError) as err:
        asyncio.run(go())
    assert "secret" not in str(err.value)
    # checked when read, naming the variable (issue 20), never its value
    assert err.value.message == "OPENAI_BASE_URL holds credentials (keys go in api_key_env)"
