"""HTTP client choice per URL: the lean pooled client, or httpx behind a proxy; TLS contexts.

One connection pool per run. The lean HTTP/1.1 keep-alive client (transport.py says why not
httpx) posts unless a proxy variable covers the URL or PROMPTCTL_HTTP_CLIENT=httpx; the httpx
client is created only then. A provider's `ca_bundle` gets its own pool and TLS context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from promptctl.engine.transport import (
    HTTP_CLIENT_ENV,
    PooledTransport,
    http_client_choice,
    proxy_for,
    tls_context,
)
from promptctl.errors import UsageError
from promptctl.project.config import Project
from promptctl.providers.base import ProviderSettings

if TYPE_CHECKING:
    import ssl

    from promptctl.engine.httpx_transport import HttpxTransport

# (url, headers, body, *, max_bytes) -> (status, lower-cased headers, body)
Send = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]


class Clients:
    """The HTTP clients of one run, created on first use and closed together."""

    def __init__(self, project: Project, *, connect_timeout_s: float) -> None:
        self.project = project
        self.connect_timeout_s = connect_timeout_s
        self._lean: PooledTransport | None = None  # system CAs
        self._transports: dict[Path, PooledTransport] = {}  # lean clients per ca_bundle
        self._fallbacks: dict[tuple[str | None, Path | None], HttpxTransport] = {}
        self._tls: dict[Path, ssl.SSLContext] = {}

    async def aclose(self) -> None:
        clients: list[PooledTransport | HttpxTransport] = [
            *self._transports.values(),
            *self._fallbacks.values(),
        ]
        if self._lean is not None:
            clients.append(self._lean)
        self._lean = None
        self._transports.clear()
        self._fallbacks.clear()
        for client in clients:
            await client.aclose()

    def _http(self) -> PooledTransport:
        if self._lean is None:
            # No ~/.netrc: keys come from api_key_env only.
            self._lean = PooledTransport(connect_timeout_s=self.connect_timeout_s)
        return self._lean

    def route(self, settings: ProviderSettings, url: str) -> Send:
        """The client that posts to `url` for this provider (callers keep it per URL)."""
        try:
            choice = http_client_choice()
        except ValueError:
            raise UsageError(
                f"{HTTP_CLIENT_ENV} must be 'lean' or 'httpx'",
                hint=f"unset {HTTP_CLIENT_ENV} to use the default client",
            ) from None
        proxy = proxy_for(url)
        ca_bundle = settings.ca_bundle
        if proxy is None and choice == "lean":
            if ca_bundle is None:
                return self._http().post
            lean = self._transports.get(ca_bundle)
            if lean is None:
                lean = self._transports[ca_bundle] = PooledTransport(
                    connect_timeout_s=self.connect_timeout_s,
                    ssl_context=self._tls_context(settings),
                )
            return lean.post
        fallback = self._fallbacks.get((proxy, ca_bundle))
        if fallback is None:
            from promptctl.engine.httpx_transport import HttpxTransport, ProxyConfigError

            try:
                fallback = HttpxTransport(
                    proxy=proxy,
                    ssl_context=self._tls_context(settings),
                    connect_timeout_s=self.connect_timeout_s,
                )
            except ProxyConfigError as e:
                raise UsageError(
                    f"{settings.name}: the proxy variable for this URL is unusable: {e}",
                    hint="check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (http://host:port), or "
                    "list the host in NO_PROXY",
                ) from None
            self._fallbacks[(proxy, ca_bundle)] = fallback
        return fallback.post

    def _tls_context(self, settings: ProviderSettings) -> ssl.SSLContext:
        """The system's CAs (SSL_CERT_FILE included), or only the provider's ca_bundle."""
        path = settings.ca_bundle
        if path is None:
            return tls_context()
        found = self._tls.get(path)
        if found is None:
            import ssl

            try:
                found = self._tls[path] = tls_context(path)
            except (OSError, ssl.SSLError):
                entry = self.project.config.providers.get(settings.name)
                raise UsageError(
                    f"provider {settings.name!r}: ca_bundle {path.name!r} is missing, "
                    "unreadable or not a PEM certificate bundle",
                    where=entry.source if entry is not None else None,
                    hint="point ca_bundle (relative to the project root) at the PEM file of the "
                    "CA that signed the server's certificate",
                ) from None
        return found
