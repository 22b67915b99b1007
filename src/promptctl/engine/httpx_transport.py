"""The fallback HTTP client: httpx, for requests through a proxy or when the user asks for it.

The engine's lean transport (transport.py) speaks to servers directly. A request whose URL a
proxy variable covers (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, minus NO_PROXY: see
`transport.proxy_for`), or every request when PROMPTCTL_HTTP_CLIENT=httpx, goes through this
instead: httpx knows forward proxies, CONNECT tunnels and proxy credentials. It costs more CPU
per call (httpcore's pool), which a proxied run can afford.

Same interface and errors as `PooledTransport.post`: (status, lower-cased headers, body),
`TransportError` subclasses with generic messages (never a URL, a header or a key: httpx's
own messages and reprs hold URLs), `InvalidURL`, and `ReplyTooLarge` past the size cap, read
as a stream so an oversized reply is never held whole.

`trust_env` is off on purpose: the proxy is the one `proxy_for` chose (one rule set decides
both paths, so the two can never disagree about a URL), certificates come from the same
`tls_context` as the lean path (SSL_CERT_FILE and a provider's ca_bundle included), and
~/.netrc is never read (keys come from api_key_env only).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from promptctl.engine.transport import (
    _TLS_VERIFY_FAILED,
    ConnectError,
    ConnectTimeout,
    InvalidRequest,
    InvalidURL,
    ReadError,
    RemoteProtocolError,
    ReplyTooLarge,
    Target,
    TLSVerifyError,
    TransportError,
    WriteError,
    decode_body,
)


class ProxyConfigError(ValueError):
    """The proxy variable's value is unusable (bad URL, or SOCKS without its extra)."""


class HttpxTransport:
    """One httpx.AsyncClient (one proxy or none, one TLS context), created by the engine
    lazily and closed with it."""

    def __init__(
        self,
        *,
        proxy: str | None,
        ssl_context: ssl.SSLContext,
        connect_timeout_s: float = 10.0,
    ) -> None:
        try:
            self._client = httpx.AsyncClient(
                proxy=proxy,
                verify=ssl_context,
                trust_env=False,
                follow_redirects=False,
                # The engine gives each attempt a total deadline; only connecting gets its own.
                timeout=httpx.Timeout(None, connect=connect_timeout_s),
                # The engine bounds the calls in flight; the pool must not queue them again.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
            )
        except ImportError:  # socks5:// needs httpx[socks]
            raise ProxyConfigError("a SOCKS proxy needs the socksio package") from None
        except (ValueError, httpx.InvalidURL):  # never echo the value: it may hold credentials
            raise ProxyConfigError("not a valid proxy URL") from None
        self._targets: dict[str, Target] = {}

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, max_bytes: int
    ) -> tuple[int, dict[str, str], bytes]:
        """POST `body` and read the whole reply: (status, lower-cased headers, body).

        Raises TransportError subclasses, InvalidURL, or ReplyTooLarge past `max_bytes`.
        """
        if url not in self._targets:  # the lean path's URL rules (no credentials in URLs)
            self._targets[url] = Target(url)
        # httpx would ask for br/zstd too and inflate each chunk whole (a double gzip bomb of
        # 2 KB reached 2 GB): ask for what decode_body reads, and read the raw bytes
        headers = {**headers, "accept-encoding": "gzip, deflate"}
        try:
            async with self._client.stream("POST", url, headers=headers, content=body) as reply:
                declared = reply.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ReplyTooLarge(max_bytes)
                chunks = bytearray()
                async for chunk in reply.aiter_raw():
                    chunks += chunk
                    if len(chunks) > max_bytes:
                        raise ReplyTooLarge(max_bytes)
                found = {k.lower(): v for k, v in reply.headers.items()}
                return reply.status_code, found, decode_body(found, bytes(chunks), max_bytes)
        except httpx.LocalProtocolError:
            # its message can quote a header, key included (issue 20)
            raise InvalidRequest(
                "a header or the URL holds characters HTTP does not allow"
            ) from None
        except httpx.HTTPError as e:
            raise _mapped(e) from None
        except httpx.InvalidURL:
            raise InvalidURL("not a valid URL") from None
        except UnicodeEncodeError:
            raise InvalidRequest("a header holds characters HTTP cannot carry") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _mapped(e: httpx.HTTPError) -> Exception:
    """httpx's exception as ours, with a message that holds no URL."""
    if isinstance(e, httpx.ConnectTimeout):
        return ConnectTimeout("connect timed out")
    if isinstance(e, httpx.ProxyError):
        return ConnectError("the proxy refused or failed the connection")
    if isinstance(e, httpx.ConnectError):
        cause = _ssl_cause(e)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TLSVerifyError(_TLS_VERIFY_FAILED)
        if cause is not None:
            return ConnectError("TLS handshake failed")
        return ConnectError("connection refused or unreachable")
    if isinstance(e, httpx.UnsupportedProtocol):
        return InvalidURL("not an http(s) URL")
    if isinstance(e, (httpx.RemoteProtocolError, httpx.DecodingError)):
        return RemoteProtocolError("malformed or truncated reply")
    if isinstance(e, httpx.ReadError):
        return ReadError("connection dropped")
    if isinstance(e, httpx.WriteError):
        return WriteError("connection dropped")
    return TransportError("connection failed")


def _ssl_cause(e: BaseException) -> ssl.SSLError | None:
    """The ssl error somewhere under httpx's and httpcore's wrappers, if any."""
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
