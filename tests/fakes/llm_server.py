"""A real loopback HTTP server speaking the OpenAI and Anthropic chat APIs, for tests.

Never a patched client: the server binds 127.0.0.1:0 in a background thread and answers
`POST /v1/chat/completions` (OpenAI), `POST /v1/embeddings` (OpenAI: `fake_embedding`, a
deterministic bag-of-words vector) and `POST /v1/messages` (Anthropic).

Use the `llm_server` fixture (registered for every test by tests/conftest.py)::

    def test_x(project, llm_server, monkeypatch):
        write_config(project.root, llm_server)          # providers `fake` and `fake-anthropic`
        monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
        llm_server.enqueue(Scripted.error(429, retry_after="1"), Scripted.error(500))
        ...                                              # model ids: fake/<m>, fake-anthropic/<m>

Knobs (set per test; `reset()` restores the defaults):

- `latency_s`: seconds before each reply (default 0); `Scripted(latency_s=...)` overrides one.
- `enqueue(*scripted)`: replies consumed in order before the default one.
- `default`: the reply once the queue is empty (None = the echo reply). Set
  `Scripted.error(503)` to make the provider "down".
- `require_key`: when set, a request whose `Authorization: Bearer` / `x-api-key` differs gets 401.
- `Scripted` kinds: `Scripted.error(status, retry_after=, retry_after_ms=, should_retry=,
  body=)`, `.malformed()` (200, not JSON), `.truncated()` (Content-Length larger than the body,
  then the connection closes), `.trickle()` (one byte every 50 ms, forever), `.reset()` (TCP
  RST, no reply), `.html(status)` (an HTML error page), `.oversize(n_bytes)`,
  `.no_choices()` (200 JSON without choices/content), `.chunked()` (the echo reply with
  Transfer-Encoding: chunked), hostile ones: `.gzip_bomb(decoded_bytes, layers=)`,
  `.gzipped(payload, layers=)`, `.deep(levels)` (nested JSON), `.raw_reply(text=,
  prompt_tokens=, completion_tokens=, finish_reason=, model=)` (fields as raw JSON text),
  `.redirect(status, location)`, `.text(reply, input_tokens=,
  output_tokens=)` (a well-formed reply with that text), or `Scripted(status, body, headers)`.
- `rate_limit(rpm=, tpm=, headers=True)`: enforce a limit the way the APIs do, as a one-second
  bucket (600 rpm = 10 requests, refilled continuously; tokens = characters // 4 + max_tokens):
  past it, 429 with Retry-After and retry-after-ms. `headers`: every chat reply carries
  `x-ratelimit-limit/remaining/reset-requests|tokens` (and `anthropic-ratelimit-*` with RFC
  3339 resets on /v1/messages); False = a server that enforces silently. `throttled` counts
  the 429s sent.
- Observations: `requests` (list of `Logged(method, path, headers, body, started, ended)`,
  headers lower-cased, body parsed JSON or None, times from `time.monotonic()`), `total`,
  `in_flight`, `peak_in_flight`, `connections` (TCP connections accepted),
  `wait_for_requests(n, timeout)`.

Default reply: the last user message echoed back, deterministic, with usage
(prompt tokens = characters of all messages // 4 + 1, completion tokens = len(reply) // 4 + 1)
and `model` echoed. `write_config(root, server, **provider_options)` writes a promptctl.yaml
with `fake: {type: openai, base_url: <url>/v1, api_key_env: FAKE_API_KEY}` and
`fake-anthropic: {type: anthropic, base_url: <url>, api_key_env: FAKE_ANTHROPIC_KEY}`.

Run standalone (the benchmark does, so the server's CPU is not the client's):
`python -m tests.fakes.llm_server --latency 0.05 [--lean]` prints the base URL on its first
line and serves until its stdin closes; `--lean` serves only the echo reply, on asyncio.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TRICKLE_INTERVAL_S = 0.05


@dataclass
class Scripted:
    """One scripted reply. `body`: dict -> JSON, str/bytes -> raw, None -> the echo reply."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "send"  # send | truncate | trickle | reset
    latency_s: float | None = None
    content_type: str = "application/json"

    @classmethod
    def error(
        cls,
        status: int,
        *,
        retry_after: str | None = None,
        retry_after_ms: str | None = None,
        should_retry: bool | None = None,
        body: Any = None,
    ) -> Scripted:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        if should_retry is not None:
            headers["x-should-retry"] = "true" if should_retry else "false"
        if body is None:
            body = {"error": {"message": f"scripted error {status}", "type": "scripted"}}
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def text(cls, reply: str, *, input_tokens: int = 10, output_tokens: int = 5) -> Scripted:
        return cls(body={"__text__": reply, "__usage__": (input_tokens, output_tokens)})

    @classmethod
    def malformed(cls) -> Scripted:
        return cls(body=b'{"choices": [ this is not json', content_type="application/json")

    @classmethod
    def chunked(cls) -> Scripted:
        return cls(action="chunked")

    @classmethod
    def truncated(cls) -> Scripted:
        return cls(action="truncate")

    @classmethod
    def trickle(cls) -> Scripted:
        return cls(action="trickle")

    @classmethod
    def reset(cls) -> Scripted:
        return cls(action="reset")

    @classmethod
    def html(cls, status: int = 502) -> Scripted:
        page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        return cls(status=status, body=page, content_type="text/html")

    @classmethod
    def oversize(cls, n_bytes: int) -> Scripted:
        return cls(body=b'{"pad": "' + b"x" * n_bytes + b'"}')

    @classmethod
    def no_choices(cls) -> Scripted:
        return cls(body={"id": "chatcmpl-0", "object": "chat.completion", "choices": []})

    # ---- hostile servers (issue 20)

    @classmethod
    def gzip_bomb(cls, decoded_bytes: int, *, layers: int = 2) -> Scripted:
        """`decoded_bytes` of zeros gzipped `layers` times (`content-encoding: gzip, gzip`):
        2 layers of 2 GiB come to about 2 KB on the wire."""
        import zlib

        chunk = bytes(1 << 20)
        co = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [co.compress(chunk) for _ in range(decoded_bytes >> 20)]
        data = b"".join(parts) + co.compress(bytes(decoded_bytes & ((1 << 20) - 1))) + co.flush()
        for _ in range(layers - 1):
            data = _gzip(data)
        return cls(body=data, headers={"Content-Encoding": ", ".join(["gzip"] * layers)})

    @classmethod
    def gzipped(cls, payload: dict[str, Any], *, layers: int = 1) -> Scripted:
        """A well-formed reply, gzipped `layers` times (a proxy that compresses regardless)."""
        data = json.dumps(payload).encode()
        for _ in range(layers):
            data = _gzip(data)
        return cls(body=data, headers={"Content-Encoding": ", ".join(["gzip"] * layers)})

    @classmethod
    def deep(cls, levels: int) -> Scripted:
        """A 200 whose JSON nests `levels` deep (the json module recurses once per level)."""
        return cls(body=b'{"choices": ' + b"[" * levels + b"]" * levels + b"}")

    @classmethod
    def raw_reply(
        cls,
        *,
        text: Any = "ok",
        prompt_tokens: str = "3",
        completion_tokens: str = "2",
        finish_reason: str = '"stop"',
        model: str = '"m"',
    ) -> Scripted:
        """An OpenAI reply with these fields written as raw JSON (10^400, -5, [1], ...)."""
        content = json.dumps(text)
        body = (
            f'{{"id": "x", "model": {model}, "choices": [{{"index": 0, "message": '
            f'{{"role": "assistant", "content": {content}}}, "finish_reason": {finish_reason}}}], '
            f'"usage": {{"prompt_tokens": {prompt_tokens}, '
            f'"completion_tokens": {completion_tokens}}}}}'
        )
        return cls(body=body.encode())

    @classmethod
    def redirect(
        cls, status: int = 301, location: str = "https://elsewhere.invalid/v1"
    ) -> Scripted:
        return cls(
            status=status, body=b"", headers={"Location": location}, content_type="text/plain"
        )


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9, mtime=0)


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    ended: float | None = None


def _last_user(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # Anthropic content blocks
                return "".join(b.get("text", "") for b in content if isinstance(b, dict))
            return str(content or "")
    return ""


def _chars(body: Any) -> int:
    messages = body.get("messages") if isinstance(body, dict) else None
    total = len(str(body.get("system", ""))) if isinstance(body, dict) else 0
    for m in messages or []:
        if isinstance(m, dict):
            total += len(str(m.get("content", "")))
    return total


EMBEDDING_DIMS = 16


def fake_embedding(text: str) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    import hashlib

    vector = [0.0] * EMBEDDING_DIMS
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        vector[digest[0] % EMBEDDING_DIMS] += 1.0 if digest[1] % 2 else -1.0
    return vector


def embedding_reply(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/embeddings`, OpenAI's shape: one vector per input string."""
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    return {
        "object": "list",
        "model": str(body.get("model", "fake-embedding")),
        "data": [
            {"object": "embedding", "index": i, "embedding": fake_embedding(str(t))}
            for i, t in enumerate(items)
        ],
        "usage": {"prompt_tokens": sum(len(str(t)) // 4 + 1 for t in items), "total_tokens": 0},
    }


def echo_reply(path: str, body: Any, text: str | None = None, usage: Any = None) -> dict[str, Any]:
    """The default reply for `path`: the last user message echoed, with usage."""
    body = body if isinstance(body, dict) else {}
    if path.endswith("/embeddings"):
        return embedding_reply(body)
    reply = _last_user(body.get("messages")) if text is None else text
    tokens_in, tokens_out = usage or (_chars(body) // 4 + 1, len(reply) // 4 + 1)
    model = str(body.get("model", "fake-model"))
    if path.endswith("/messages"):
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


class RateLimiter:
    """A provider's rate limit: one-second buckets of requests and tokens, refilled
    continuously (600 rpm = 10 requests a second, burst 10)."""

    def __init__(self, *, rpm: int | None, tpm: int | None, headers: bool) -> None:
        self.rpm, self.tpm, self.headers = rpm, tpm, headers
        self.requests = rpm / 60 if rpm else 0.0
        self.tokens = tpm / 60 if tpm else 0.0
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self, path: str, body: Any) -> tuple[int, dict[str, str]]:
        """(200 or 429, headers to send) for one request."""
        cost = _chars(body) // 4 + 1
        if isinstance(body, dict) and isinstance(body.get("max_tokens"), int):
            cost += body["max_tokens"]
        with self.lock:
            now = time.monotonic()
            elapsed, self.at = now - self.at, now
            wait = 0.0
            if self.rpm:
                rate = self.rpm / 60
                self.requests = min(rate, self.requests + elapsed * rate)
                if self.requests < 1:
                    wait = (1 - self.requests) / rate
            if self.tpm:
                rate = self.tpm / 60
                self.tokens = min(rate, self.tokens + elapsed * rate)
                if self.tokens < cost:
                    wait = max(wait, (cost - self.tokens) / rate)
            if not wait:
                self.requests -= 1 if self.rpm else 0
                self.tokens -= cost if self.tpm else 0
            headers = self._headers(path) if self.headers else {}
        if wait:
            headers["Retry-After"] = str(max(1, round(wait)))
            headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
            return 429, headers
        return 200, headers

    def _headers(self, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, limit, left in (
            ("requests", self.rpm, self.requests),
            ("tokens", self.tpm, self.tokens),
        ):
            if not limit:
                continue
            full_in = (limit / 60 - left) / (limit / 60)  # seconds until the bucket is full
            if path == "/v1/messages":
                from datetime import datetime, timedelta, timezone

                when = datetime.now(timezone.utc) + timedelta(seconds=full_in)
                out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                out[f"anthropic-ratelimit-{kind}-remaining"] = str(max(0, int(left)))
                out[f"anthropic-ratelimit-{kind}-reset"] = when.isoformat().replace("+00:00", "Z")
            else:
                out[f"x-ratelimit-limit-{kind}"] = str(limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(left)))
                out[f"x-ratelimit-reset-{kind}"] = f"{max(0, round(full_in * 1000))}ms"
        return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog is fixed when the socket is bound; the default 5 drops SYNs when 32+
    # clients connect at once, and each dropped SYN costs a 1 s retransmit.
    request_queue_size = 512

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-reply (size cap, deadline, cancel) is what the tests
        # provoke; only other exceptions are the fake's own bugs and get reported.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: object) -> None:
        import contextlib

        with contextlib.suppress(OSError):  # the peer already reset the connection
            super().shutdown_request(request)  # type: ignore[arg-type]


class FakeLLMServer:
    """See the module docstring for the knobs."""

    def __init__(
        self, latency_s: float = 0.0, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context` (server side) makes it an HTTPS server (`url` says https://)."""
        self.latency_s = latency_s
        self.default: Scripted | None = None
        self.require_key: str | None = None
        self.requests: list[Logged] = []
        self.total = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self.limiter: RateLimiter | None = None
        self.throttled = 0  # 429s sent by the limiter
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self.tls = ssl_context is not None
        if ssl_context is not None:
            # The handshake runs at accept; one a client aborts (an untrusted certificate) is
            # an OSError that the server drops, and nothing reaches the request handler.
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None
        from tests.fakes.batch_api import FakeBatches

        self.batches = FakeBatches(self._batch_answer, self.url)

    def _batch_answer(self, path: str, body: Any) -> dict[str, Any]:
        """A batch line answered like the chat endpoint: `default` text if scripted, else echo."""
        script = self.default
        if script is not None and isinstance(script.body, dict) and "__text__" in script.body:
            return echo_reply(path, body, script.body["__text__"], script.body["__usage__"])
        return echo_reply(path, body)

    # ----------------------------------------------------------------- control

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def enqueue(self, *replies: Scripted) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.total = self.in_flight = self.peak_in_flight = self.connections = 0
            self.default = None
            self.require_key = None
            self.latency_s = 0.0
            self.limiter = None
            self.throttled = 0
        self.batches.reset()

    def rate_limit(
        self, *, rpm: int | None = None, tpm: int | None = None, headers: bool = True
    ) -> None:
        """Enforce `rpm` requests / `tpm` tokens a minute (see the module docstring)."""
        self.limiter = RateLimiter(rpm=rpm, tpm=tpm, headers=headers)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until `n` requests have arrived (an event, not a sleep)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.total >= n, timeout)

    # ----------------------------------------------------------------- serving

    def _next(self) -> Scripted | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real APIs

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1
                # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the
                # client's delayed ACK add ~40 ms to every reply.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                if server.batches.handles(self.path):
                    self._batch("GET", b"")
                    return
                self._reply(404, b'{"error": "not found"}', {})

            def _batch(self, method: str, raw: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                entry = Logged(method, self.path, headers, None, time.monotonic())
                with server._changed:
                    server.requests.append(entry)
                    server.total += 1
                    server._changed.notify_all()
                if server.require_key is not None:
                    sent = headers.get("x-api-key") or headers.get(
                        "authorization", ""
                    ).removeprefix("Bearer ")
                    if sent != server.require_key:
                        self._reply(401, b'{"error": {"message": "invalid api key"}}', {})
                        return
                status, data, extra = server.batches.serve(method, self.path, headers, raw)
                self._reply(status, data, extra)

            extra_headers: dict[str, str] = {}  # noqa: RUF012 - per request, reassigned

            def do_POST(self) -> None:
                self.extra_headers = {}
                started = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if server.batches.handles(self.path):
                    self._batch("POST", raw)
                    return
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                entry = Logged(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    started,
                )
                with server._changed:
                    server.requests.append(entry)
                    server.total += 1
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                    server._changed.notify_all()
                try:
                    self._serve(entry, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                        entry.ended = time.monotonic()

            def _serve(self, entry: Logged, body: Any) -> None:
                path = self.path.split("?", 1)[0]
                if path not in ("/v1/chat/completions", "/v1/messages", "/v1/embeddings"):
                    self._reply(404, b'{"error": {"message": "unknown path"}}', {})
                    return
                limiter = server.limiter
                if limiter is not None:
                    status, extra = limiter.take(path, body)
                    self.extra_headers = extra
                    if status == 429:
                        with server._lock:
                            server.throttled += 1
                        err = b'{"error": {"message": "rate limit reached", "type": "requests"}}'
                        self._reply(429, err, {})
                        return
                script = server._next()
                latency = server.latency_s
                if script is not None and script.latency_s is not None:
                    latency = script.latency_s
                if latency and server._stopping.wait(latency):
                    return
                if server.require_key is not None:
                    sent = entry.headers.get("x-api-key") or entry.headers.get(
                        "authorization", ""
                    ).removeprefix("Bearer ")
                    if sent != server.require_key:
                        err = b'{"error": {"message": "invalid api key", "type": "auth"}}'
                        self._reply(401, err, {})
                        return
                if script is None:
                    self._reply(200, json.dumps(echo_reply(path, body)).encode(), {})
                    return
                if script.action == "reset":
                    # SO_LINGER 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if script.action == "chunked":
                    data = json.dumps(echo_reply(path, body)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(data), 7):
                        piece = data[i : i + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if script.action == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [{"mess')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if script.action == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Connection", "close")  # no length: "until close"
                    self.end_headers()
                    try:
                        while not server._stopping.wait(TRICKLE_INTERVAL_S):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    except OSError:  # the client gave up: that is the point
                        pass
                    self.close_connection = True
                    return
                payload = script.body
                if isinstance(payload, dict) and "__text__" in payload:
                    payload = echo_reply(path, body, payload["__text__"], payload["__usage__"])
                if payload is None:
                    data = json.dumps(echo_reply(path, body)).encode()
                elif isinstance(payload, dict | list):
                    data = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = bytes(payload)
                self._reply(script.status, data, script.headers, script.content_type)

            def _reply(
                self,
                status: int,
                data: bytes,
                headers: dict[str, str],
                content_type: str = "application/json",
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in {**self.extra_headers, **headers}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True

        return Handler


def write_config(root: Path, server: FakeLLMServer, *, extra: str = "", **options: Any) -> Path:
    """promptctl.yaml with providers `fake` (OpenAI API) and `fake-anthropic` at `server`.

    `options` (e.g. max_retries=1, timeout_s=0.5, concurrency=4) go into both providers;
    `extra` is appended verbatim (e.g. a `prices:` block).
    """
    opts = "".join(f", {k}: {json.dumps(v)}" for k, v in options.items())
    text = (
        "providers:\n"
        f"  fake: {{type: openai, base_url: '{server.openai_base}', "
        f"api_key_env: FAKE_API_KEY{opts}}}\n"
        f"  fake-anthropic: {{type: anthropic, base_url: '{server.anthropic_base}', "
        f"api_key_env: FAKE_ANTHROPIC_KEY{opts}}}\n"
    ) + extra
    path = root / "promptctl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A started FakeLLMServer, stopped after the test."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()


async def _serve_lean(latency_s: float) -> None:
    """Benchmark mode: only the echo reply, on asyncio (no GIL-bound thread per connection).

    The threaded server spends ~0.5 ms of CPU per request; on a 2-CPU machine that CPU is taken
    from the client being measured. This one spends a fraction of it.
    """
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, rest = head.partition(b"\r\n")
                length = 0
                for line in rest.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length)) if length else {}
                path = request_line.split(b" ")[1].decode()
                await asyncio.sleep(latency_s)
                data = json.dumps(echo_reply(path, body)).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    server.close()


def _main() -> None:
    parser = argparse.ArgumentParser(description="fake OpenAI/Anthropic server for benchmarks")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--lean", action="store_true", help="echo only, on asyncio (benchmarks)")
    parser.add_argument("--rpm", type=int, help="enforce this many requests a minute")
    parser.add_argument("--tpm", type=int, help="enforce this many tokens a minute")
    parser.add_argument("--no-limit-headers", action="store_true", help="enforce silently")
    args = parser.parse_args()
    if args.lean:
        import asyncio

        asyncio.run(_serve_lean(args.latency))
        return
    server = FakeLLMServer(latency_s=args.latency).start()
    if args.rpm or args.tpm:
        server.rate_limit(rpm=args.rpm, tpm=args.tpm, headers=not args.no_limit_headers)
    sys.stdout.write(server.url + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        server.stop()
        # what the benchmark reads back: chat requests answered, and how many were 429s
        chat = sum(1 for r in server.requests if r.method == "POST")
        sys.stdout.write(json.dumps({"requests": chat, "throttled": server.throttled}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _main()
