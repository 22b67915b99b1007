"""A lean HTTP/1.1 keep-alive client for provider calls: asyncio streams + h11, O(1) pooling.

Why not httpx (measured with benchmarks/bench_calls.py, 1000 calls at 32 in flight):
httpcore's pool rescans every connection, with a socket poll each, on every request and
response: ~7 ms of CPU per call, 3-7 s per run, where the target is 1.5 s. httpx's client layer
(cookie jar, auth flow, redirects, URL model) adds ~0.5 ms per call and ~60 ms of import. This
module does what LLM calls need and no more: POST a JSON body over HTTP/1.1 (keep-alive,
Content-Length or chunked or close-delimited replies, via h11), TLS through the stdlib's
default context (which reads SSL_CERT_FILE / SSL_CERT_DIR) or a provider's `ca_bundle`, and no
~/.netrc (credentials come from api_key_env only). It speaks to no proxy: the engine sends a
request whose URL a proxy variable covers (`proxy_for`), or every request when
PROMPTCTL_HTTP_CLIENT=httpx, through providers/httpx_transport.py instead.

A connection goes back to the idle list only after a complete response; a cancelled, failed or
half-read one is closed. Errors are `TransportError`s whose messages never hold a URL.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import h11

_READ_BYTES = 65536
Origin = tuple[str, str, int]
# `lean` (default) or `httpx`: a way out should this client ever misbehave against a server.
HTTP_CLIENT_ENV = "PROMPTCTL_HTTP_CLIENT"
HTTP_CLIENTS = ("lean", "httpx")
# The variables urllib (and curl, and httpx) read; either case. no_proxy alone proxies nothing.
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy"})


class TransportError(Exception):
    """The connection failed; the message is generic (never a URL, header or key)."""


class ConnectError(TransportError):
    pass


class ConnectTimeout(ConnectError):
    pass


class ReadError(TransportError):
    pass


class WriteError(TransportError):
    pass


class TLSVerifyError(ConnectError):
    """The server's certificate is not trusted or not for this host: retrying cannot help."""


class RemoteProtocolError(TransportError):
    """Malformed or truncated reply, or the server closed the connection mid-reply."""


class InvalidURL(ValueError):
    pass


class ReplyTooLarge(Exception):
    """A reply past the size cap (a chat reply that big is a misconfigured server)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"reply larger than {limit} bytes")
        self.limit = limit


class InvalidRequest(ValueError):
    """h11 refused to send the request (a header value or URL with characters HTTP does not
    allow); nothing was sent. The message names neither."""


# Content codings we undo; a reply may stack them (`gzip, gzip`), each undone in turn with its
# own cap, so a 2 KB double gzip bomb stops at the cap instead of inflating to 2 GB.
MAX_CODINGS = 2
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


def decode_body(headers: Mapping[str, str], body: bytes, max_bytes: int) -> bytes:
    """`body` with its Content-Encoding undone, each layer capped at `max_bytes` while it is
    decoded (ReplyTooLarge past it); RemoteProtocolError for an unknown or broken coding.
    Both HTTP clients read the raw bytes and call this: one rule for both paths."""
    raw = headers.get("content-encoding", "")
    codings = [
        c.strip().lower() for c in raw.split(",") if c.strip().lower() not in ("", "identity")
    ]
    if not codings:
        return body
    if len(codings) > MAX_CODINGS:
        raise RemoteProtocolError(f"reply compressed {len(codings)} times over")
    for coding in reversed(codings):
        wbits = _WBITS.get(coding)
        if wbits is None:
            raise RemoteProtocolError("reply in a content encoding promptctl does not read")
        body = _inflate(body, wbits, max_bytes)
    return body


def _inflate(data: bytes, wbits: int, max_bytes: int) -> bytes:
    import zlib

    try:
        inflater = zlib.decompressobj(wbits)
        out = bytearray()
        while data:
            # max_length bounds what one step may allocate; the rest waits in unconsumed_tail
            out += inflater.decompress(data, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise ReplyTooLarge(max_bytes)
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error:
        raise RemoteProtocolError("reply body is not valid gzip/deflate data") from None
    if len(out) > max_bytes:
        raise ReplyTooLarge(max_bytes)
    return bytes(out)


_TLS_VERIFY_FAILED = "TLS handshake failed: the certificate is not trusted or not for this host"


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """The verifying client context: the system's CAs (OpenSSL reads SSL_CERT_FILE and
    SSL_CERT_DIR when the context is made), or only the PEM bundle `ca_bundle` when given.

    Raises OSError (unreadable file) or ssl.SSLError (not a PEM bundle).
    """
    if ca_bundle is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=os.fspath(ca_bundle))


def proxy_for(url: str) -> str | None:
    """The proxy URL the environment names for `url`, or None to connect directly.

    Python's own rules (urllib.request.getproxies_environment / proxy_bypass_environment):
    `<scheme>_proxy` then `all_proxy`, lower case before upper; `no_proxy` lists hosts or
    domain suffixes (`*` for all). Loopback is not exempt, as with curl: list it in NO_PROXY.
    A proxy value without a scheme is taken as http://.
    """
    # The common case (no proxy variable at all) costs one scan of the environment and no
    # urllib.request import (~15 ms).
    if not any(name.lower() in _PROXY_VARS for name in os.environ):
        return None
    import urllib.request

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here, as it does for the transport
    except ValueError:
        return None  # the transport reports the bad URL
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname:
        return None
    if urllib.request.proxy_bypass_environment(parts.netloc, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def http_client_choice() -> str:
    """$PROMPTCTL_HTTP_CLIENT: "lean" (default) or "httpx"; anything else raises ValueError."""
    value = os.environ.get(HTTP_CLIENT_ENV, "").strip().lower() or "lean"
    if value not in HTTP_CLIENTS:
        raise ValueError(value)
    return value


class Target:
    """A parsed http(s) URL: where to connect and what to send."""

    __slots__ = ("host_header", "origin", "path")

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise InvalidURL("not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidURL("not an http(s) URL")
        if parts.username or parts.password:
            # Credentials belong in api_key_env, not in a URL that ends up in logs.
            raise InvalidURL("credentials in a URL are not supported")
        default = 443 if parts.scheme == "https" else 80
        self.origin: Origin = (parts.scheme, parts.hostname, port or default)
        self.path = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode()
        netloc = parts.hostname if not port or port == default else f"{parts.hostname}:{port}"
        self.host_header = netloc.encode("idna") if not netloc.isascii() else netloc.encode()


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
        # abort, not close: a TLS close waits for the peer's close_notify (up to 30 s), which
        # outlives the event loop when a run ends; nothing is ever left to flush here (the
        # connection is idle after a whole reply, or in an unknown state it must not reuse).
        self.writer.transport.abort()

    async def next_event(self) -> object:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                raise RemoteProtocolError("malformed or truncated reply") from None
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.reader.read(_READ_BYTES)
            except OSError:
                raise ReadError("connection dropped") from None
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError:
                raise RemoteProtocolError("malformed or truncated reply") from None


class PooledTransport:
    """One idle list per origin; as many connections as calls in flight (the engine bounds it)."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = 10.0,
        max_idle: int = 256,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        self._idle: dict[Origin, list[_Conn]] = {}
        self._targets: dict[str, Target] = {}
        self._ssl: ssl.SSLContext | None = ssl_context  # None: tls_context() at first https

    def target(self, url: str) -> Target:
        """`url` parsed once per run (raises InvalidURL)."""
        found = self._targets.get(url)
        if found is None:
            found = self._targets[url] = Target(url)
        return found

    async def _acquire(self, origin: Origin) -> _Conn:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable:
                return conn
            conn.close()
        scheme, host, port = origin
        ctx = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = tls_context()
            ctx = self._ssl
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname=host if ctx else None),
                self.connect_timeout_s,
            )
        except asyncio.TimeoutError:
            raise ConnectTimeout("connect timed out") from None
        except ssl.SSLCertVerificationError:
            raise TLSVerifyError(_TLS_VERIFY_FAILED) from None
        except ssl.SSLError:
            raise ConnectError("TLS handshake failed") from None
        except OSError:
            raise ConnectError("connection refused or unreachable") from None
        return _Conn(reader, writer)

    def _release(self, origin: Origin, conn: _Conn) -> None:
        if conn.h11.our_state is not h11.DONE or conn.h11.their_state is not h11.DONE:
            conn.close()  # e.g. the server said Connection: close
            return
        conn.h11.start_next_cycle()
        idle = self._idle.setdefault(origin, [])
        if len(idle) < self.max_idle and conn.usable:
            idle.append(conn)
        else:
            conn.close()

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, max_bytes: int
    ) -> tuple[int, dict[str, str], bytes]:
        """POST `body` and read the whole reply: (status, lower-cased headers, body).

        Raises TransportError subclasses, InvalidURL, or ReplyTooLarge past `max_bytes`.
        """
        target = self.target(url)
        try:
            wire = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        except UnicodeEncodeError:
            raise InvalidRequest("a header holds characters HTTP cannot carry") from None
        wire += [(b"host", target.host_header), (b"content-length", str(len(body)).encode())]
        try:
            request = h11.Request(method=b"POST", target=target.path, headers=wire)
        except h11.LocalProtocolError:
            # its message quotes the header, key included: never let it out (issue 20)
            raise InvalidRequest(
                "a header or the URL holds characters HTTP does not allow"
            ) from None
        conn = await self._acquire(target.origin)
        try:
            out = conn.h11.send(request)
            out += conn.h11.send(h11.Data(data=body)) + conn.h11.send(h11.EndOfMessage())
            try:
                conn.writer.write(out)
                await conn.writer.drain()
            except OSError:
                raise WriteError("connection dropped") from None
            head = await conn.next_event()
            while not isinstance(head, h11.Response):
                if isinstance(head, h11.ConnectionClosed):
                    raise RemoteProtocolError("connection closed before the reply")
                head = await conn.next_event()  # 1xx informational responses
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
                    raise RemoteProtocolError("connection closed mid-reply")
        except BaseException:
            conn.close()  # cancelled or failed: never reuse a connection in an unknown state
            raise
        self._release(target.origin, conn)
        return head.status_code, reply_headers, decode_body(reply_headers, bytes(chunks), max_bytes)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
