"""Proxies and the httpx fallback: HTTP_PROXY / HTTPS_PROXY (a CONNECT tunnel) / NO_PROXY are
honoured, PROMPTCTL_HTTP_CLIENT=httpx works like the lean client (retries, errors, size cap),
and no key or proxy secret leaks."""

from __future__ import annotations

import asyncio
import http.client
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme

from promptctl.engine import Engine, retry
from promptctl.engine.transport import PooledTransport, proxy_for
from promptctl.errors import ProviderError
from promptctl.model import Request
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
              "transfer-encoding", "upgrade"}  # fmt: skip


class ForwardProxy:
    """A loopback forward proxy: takes absolute-form requests (`POST http://host:port/path`),
    forwards them and relays the reply, and tunnels `CONNECT host:port`; records what it saw."""

    def __init__(self) -> None:
        self.targets: list[str] = []  # request targets as received (absolute-form)
        self.tunnels: list[str] = []  # CONNECT targets
        self.proxy_auth: list[str | None] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_CONNECT(self) -> None:
                with proxy._lock:
                    proxy.tunnels.append(self.path)
                    proxy.proxy_auth.append(self.headers.get("proxy-authorization"))
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                ends = [self.connection, upstream]
                try:  # pipe bytes both ways until either side closes
                    while True:
                        ready, _, _ = select.select(ends, [], [], 10)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.connection else self.connection).sendall(data)
                except OSError:
                    return
                finally:
                    upstream.close()

            def do_POST(self) -> None:
                with proxy._lock:
                    proxy.targets.append(self.path)
                    proxy.proxy_auth.append(self.headers.get("proxy-authorization"))
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                url = urlsplit(self.path)
                if url.scheme != "http" or not url.hostname:
                    self.send_error(400, "absolute-form http URL expected")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
                try:
                    path = url.path + (f"?{url.query}" if url.query else "")
                    upstream.request("POST", path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    data = reply.read()
                finally:
                    upstream.close()
                self.send_response(reply.status)
                for k, v in reply.getheaders():
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,))

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as p:
        yield p


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the machine running the tests sets, each test decides its own proxy variables.
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("PROMPTCTL_HTTP_CLIENT", raising=False)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 0.02)


def setup(project: Any, server: FakeLLMServer, **provider: Any) -> None:
    write_config(project.root, server, **provider)
    project.write("prompts/p.yaml", "model: fake/m\ntemplate: 'hello {{ who }}'\n")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_proxy_carries_the_call(
    project: Any, llm_server: FakeLLMServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    result = project.run("run", "p", "--var", "who=proxy")
    assert (result.code, result.out) == (0, "hello proxy\n"), result.err
    assert proxy.targets == [f"{llm_server.url}/v1/chat/completions"]  # absolute-form
    assert llm_server.total == 1
    seen = llm_server.requests[0]
    assert seen.headers["authorization"] == f"Bearer {FAKE_KEY}"  # forwarded, never shown
    assert seen.headers["user-agent"].startswith("python-httpx/")  # the fallback client
    assert_no_secret(result.out, result.err)
    assert_no_secret_in_dir(project.root)


def test_no_proxy_sends_the_call_directly(
    project: Any, llm_server: FakeLLMServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    result = project.run("run", "p", "--var", "who=direct")
    assert (result.code, result.out) == (0, "hello direct\n"), result.err
    assert proxy.targets == []
    assert llm_server.total == 1
    assert "user-agent" not in llm_server.requests[0].headers  # the lean client sends none


def test_https_proxy_does_not_cover_http_urls(
    project: Any, llm_server: FakeLLMServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert project.run("run", "p", "--var", "who=x").code == 0
    assert proxy.targets == [] and llm_server.total == 1


def test_https_proxy_tunnels_tls_with_connect(
    project: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ca.cert_pem.write_to_path(str(project.root / "ca.pem"))
    server = FakeLLMServer(ssl_context=ctx).start()
    try:
        setup(project, server, ca_bundle="ca.pem")
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        result = project.run("run", "p", "--var", "who=tunnel")
    finally:
        server.stop()
    assert (result.code, result.out) == (0, "hello tunnel\n"), result.err
    assert proxy.tunnels == [server.url.removeprefix("https://")] and proxy.targets == []
    assert server.total == 1 and server.requests[0].path == "/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert_no_secret(result.out, result.err)


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({}, "https://api.example.com/v1", None),
        ({"HTTPS_PROXY": "http://p:3128"}, "https://api.example.com/v1", "http://p:3128"),
        ({"https_proxy": "p:3128"}, "https://api.example.com/v1", "http://p:3128"),
        ({"ALL_PROXY": "http://p:1"}, "http://h:8/v1", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://a.example.com/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.example.com/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com"}, "https://x.com/", "http://p:1"),
        ({"NO_PROXY": "*"}, "https://api.example.com/", None),
    ],
)
def test_proxy_for_follows_pythons_rules(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: str | None
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert proxy_for(url) == expected


def test_without_proxy_variables_the_lean_client_posts(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server)
    proj = config.load_project(root=project.root)

    async def go() -> Any:
        async with Engine(proj, use_cache=False) as eng:
            await eng.complete(request("x"))
            slot = eng._slot("fake")
            (send,) = slot.senders.values()
            return send.__self__, dict(eng._clients._fallbacks)

    client, fallbacks = asyncio.run(go())
    assert isinstance(client, PooledTransport) and fallbacks == {}


def request(text: str) -> Request:
    return Request(provider="fake", model="m", messages=({"role": "user", "content": text},))


def test_forced_httpx_client_retries_a_429_then_succeeds(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", "httpx")
    llm_server.enqueue(Scripted.error(429, retry_after="0"))
    result = project.run("run", "p", "--var", "who=retry", "--format", "json")
    assert result.code == 0, result.err
    assert '"retries": 1' in result.out and '"text": "hello retry"' in result.out
    assert llm_server.total == 2
    assert all(r.headers["user-agent"].startswith("python-httpx/") for r in llm_server.requests)
    assert_no_secret(result.out, result.err)


def test_forced_httpx_client_maps_faults_like_the_lean_one(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", "httpx")
    proj = config.load_project(root=project.root)
    script = {
        "survives three faults": (Scripted.truncated(), Scripted.reset(), Scripted.error(503)),
        "too big": (Scripted.oversize(5000),),
        "trickles": (Scripted.trickle(),) * 4,
    }

    async def go() -> list[Any]:
        out: list[Any] = []
        async with Engine(
            proj, use_cache=False, max_response_bytes=2000, timeout_s=0.3, max_retries=3
        ) as eng:
            for text, faults in script.items():
                llm_server.reset()
                llm_server.enqueue(*faults)
                try:
                    reply = await eng.complete(request(text))
                    out.append((reply.text, reply.retries))
                except ProviderError as e:
                    out.append(str(e))
        return out

    retried, too_big, slow = asyncio.run(go())
    assert retried == ("survives three faults", 3)
    assert too_big == "fake: reply larger than 0 MiB"  # the cap is in MiB; 2000 B rounds to 0
    assert slow == "fake: no complete reply within 0.3 s (after 3 retries)"


def test_forced_httpx_connection_refused_is_a_clear_error(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    project.write(
        "promptctl.yaml",
        f"providers:\n  fake: {{type: openai, base_url: 'http://127.0.0.1:{port}/v1', "
        "api_key_env: FAKE_API_KEY, max_retries: 1}\n",
    )
    project.write("prompts/p.yaml", "model: fake/m\ntemplate: hi\n")
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", "httpx")
    result = project.run("run", "p")
    assert result.code == 3
    assert "fake: connection failed (connection refused or unreachable) (after 1 retries)" in (
        result.err
    )
    assert "Traceback" not in result.err and str(port) not in result.err
    assert "proxy" not in result.err  # no proxy variable: the hint does not send them looking


def test_a_proxy_that_is_down_fails_clearly_and_hides_its_credentials(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server, max_retries=1)
    monkeypatch.setenv("HTTP_PROXY", f"http://corp-user:s3cretPW@127.0.0.1:{closed_port()}")
    result = project.run("run", "p", "--var", "who=x")
    assert result.code == 3
    assert "fake: connection failed" in result.err
    assert "Is the proxy in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY up" in result.err
    assert "s3cretPW" not in result.err + result.out and "corp-user" not in result.err
    assert "Traceback" not in result.err
    assert llm_server.total == 0
    monkeypatch.setenv("PROMPTCTL_DEBUG", "1")  # a traceback, but nothing of httpx's messages
    debug = project.run("run", "p", "--var", "who=x")
    assert debug.code == 3
    assert "s3cretPW" not in debug.err + debug.out and "corp-user" not in debug.err
    assert_no_secret(debug.out, debug.err)


def test_proxy_credentials_reach_the_proxy_only(
    project: Any, llm_server: FakeLLMServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("http_proxy", proxy.url.replace("http://", "http://corp-user:s3cretPW@"))
    result = project.run("run", "p", "--var", "who=x")
    assert result.code == 0, result.err
    assert proxy.proxy_auth[0] is not None and proxy.proxy_auth[0].startswith("Basic ")
    assert "proxy-authorization" not in llm_server.requests[0].headers
    assert_no_secret(result.out, result.err, key="s3cretPW")


def test_an_unknown_http_client_choice_is_a_usage_error(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server)
    monkeypatch.setenv("PROMPTCTL_HTTP_CLIENT", "curl")
    result = project.run("run", "p", "--var", "who=x")
    assert result.code == 2
    assert "PROMPTCTL_HTTP_CLIENT must be 'lean' or 'httpx'" in result.err
    assert llm_server.total == 0
