"""A lean HTTP/1.1 keep-alive transport for httpx: asyncio streams + h11, O(1) pooling.

Why not httpx's default transport: httpcore's pool rescans every connection (with a socket
poll each) on every request and response; at 32 calls in flight that cost ~7 ms of CPU per call
in benchmarks/bench_calls.py, against ~0.5 ms with this transport. LLM calls need nothing the
default transport has and this one lacks: no HTTP/2, no proxies (the engine never reads proxy
credentials from the environment), TLS through the stdlib's default context.

Errors are httpx's own (ConnectError, ConnectTimeout, ReadError, WriteError,
RemoteProtocolError), so the engine handles both transports alike. A connection goes back to
the pool only after a complete response; a cancelled or failed one is closed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import h11
import httpx

_READ_BYTES = 65536
Origin = tuple[str, str, int]


class ReplyTooLarge(Exception):
    """A reply past the size cap (a chat reply that big is a misconfigured server)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"reply larger than {limit} bytes")
        self.limit = limit


class _Conn:
    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    @property
    def usable(self) -> bool:
        # The loop keeps reading idle sockets: a server's close shows up as EOF here.
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def next_event(self) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as e:
                raise httpx.RemoteProtocolError("malformed or truncated reply") from e
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.reader.read(_READ_BYTES)
            except OSError as e:
                raise httpx.ReadError("connection dropped") from e
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError as e:
                raise httpx.RemoteProtocolError("malformed or truncated reply") from e


class _Body(httpx.AsyncByteStream):
    def __init__(self, pool: PooledTransport, origin: Origin, conn: _Conn) -> None:
        self._pool = pool
        self._origin = origin
        self._conn: _Conn | None = conn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            event = await conn.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._release()
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("connection closed mid-reply")

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._pool._give_back(self._origin, conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # not read to the end: the connection's state is unknown
            conn.close()


class PooledTransport(httpx.AsyncBaseTransport):
    """httpx transport: one idle list per origin; as many connections as calls in flight."""

    def __init__(self, *, connect_timeout_s: float = 10.0, max_idle: int = 256) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        self._idle: dict[Origin, list[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None

    def _give_back(self, origin: Origin, conn: _Conn) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < self.max_idle and conn.usable:
            idle.append(conn)
        else:
            conn.close()

    async def _connect(self, origin: Origin) -> _Conn:
        scheme, host, port = origin
        ctx = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            ctx = self._ssl
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname=host if ctx else None),
                self.connect_timeout_s,
            )
        except asyncio.TimeoutError as e:
            raise httpx.ConnectTimeout("connect timed out") from e
        except (OSError, ssl.SSLError) as e:
            raise httpx.ConnectError("connection refused or unreachable") from e
        return _Conn(reader, writer)

    async def _acquire(self, url: httpx.URL) -> tuple[Origin, _Conn]:
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable:
                return origin, conn
            conn.close()
        return origin, await self._connect(origin)

    async def _exchange(
        self,
        conn: _Conn,
        method: bytes,
        url: httpx.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> h11.Response:
        """Send one request on `conn`, return the response head (the body is still to read)."""
        out = conn.h11.send(h11.Request(method=method, target=url.raw_path, headers=headers))
        out += conn.h11.send(h11.Data(data=body)) + conn.h11.send(h11.EndOfMessage())
        try:
            conn.writer.write(out)
            await conn.writer.drain()
        except OSError as e:
            raise httpx.WriteError("connection dropped") from e
        while True:
            event = await conn.next_event()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("connection closed before the reply")

    async def post(
        self, url: httpx.URL, headers: Mapping[str, str], body: bytes, *, max_bytes: int
    ) -> tuple[int, dict[str, str], bytes]:
        """POST and read the whole reply: (status, lower-cased headers, body).

        The engine's fast path (no cookie jar, auth flow or redirect logic to pay for).
        Raises `ReplyTooLarge` past `max_bytes`.
        """
        origin, conn = await self._acquire(url)
        wire = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        wire += [(b"host", url.netloc), (b"content-length", str(len(body)).encode())]
        try:
            head = await self._exchange(conn, b"POST", url, wire, body)
            reply_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers}
            declared = reply_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ReplyTooLarge(max_bytes)
            chunks = bytearray()
            while True:
                event = await conn.next_event()
                if isinstance(event, h11.Data):
                    chunks += event.data
                    if len(chunks) > max_bytes:
                        raise ReplyTooLarge(max_bytes)
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("connection closed mid-reply")
        except BaseException:
            conn.close()  # cancelled or failed: never reuse a connection in an unknown state
            raise
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._give_back(origin, conn)
        else:
            conn.close()
        return head.status_code, reply_headers, bytes(chunks)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The httpx transport interface, for an `httpx.AsyncClient(transport=...)`."""
        body = await request.aread()
        origin, conn = await self._acquire(request.url)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        try:
            head = await self._exchange(conn, request.method.encode(), request.url, headers, body)
        except BaseException:
            conn.close()
            raise
        return httpx.Response(
            head.status_code,
            headers=[(bytes(k), bytes(v)) for k, v in head.headers],
            stream=_Body(self, origin, conn),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
