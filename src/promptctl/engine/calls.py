"""The call engine: cache, provider, retries with backoff, timeouts, concurrency, budget, cost.

No terminal code. One connection pool per run (`async with Engine(project) as engine`; a
lean HTTP/1.1 keep-alive client, see providers/transport.py for why not httpx; an httpx client,
created only when needed, for URLs a proxy variable covers or with PROMPTCTL_HTTP_CLIENT=httpx),
one event loop (`asyncio.run` at the CLI edge). Providers only build requests and parse replies;
every policy about *when* to call lives here:

- cache first (network providers only: mock replies are computed, and caching them would hide
  an edited rules file); then offline / stopped / missing-key / budget checks; then the call.
- retries on 408, 409, 429, 5xx (and Anthropic's 529 / overloaded_error), connection errors,
  truncated bodies and timeouts; `x-should-retry` overrides; never on 400/401/403/404/422 or on
  a 429 saying the quota is spent (that one stops the run). Full-jitter backoff, ~0.5 s doubling
  to an 8 s cap, or the server's Retry-After / retry-after-ms (capped).
- each attempt has a total deadline (a socket read timeout is per chunk: a body that trickles
  forever would never trip it) and a size cap.
- per provider, an adaptive limit: halved on 429s, grown back by one per `limit` successes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from promptctl.engine import prices
from promptctl.engine.cache import Cache
from promptctl.engine.transport import (
    HTTP_CLIENT_ENV,
    InvalidURL,
    PooledTransport,
    ReplyTooLarge,
    TLSVerifyError,
    TransportError,
    http_client_choice,
    proxy_for,
    tls_context,
)
from promptctl.errors import (
    AuthError,
    BudgetError,
    IncompleteError,
    MissingKeyError,
    OfflineError,
    ProviderError,
    UsageError,
)
from promptctl.model import Prompt, Reply, Request
from promptctl.project.config import Project
from promptctl.providers import providers
from promptctl.providers.base import (
    Completion,
    HTTPCall,
    Provider,
    ProviderHTTPError,
    ProviderSettings,
)

if TYPE_CHECKING:
    import ssl

    from promptctl.engine.httpx_transport import HttpxTransport

# (url, headers, body, *, max_bytes) -> (status, lower-cased headers, body)
Send = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]

T = TypeVar("T")
R = TypeVar("R")

# Measured with benchmarks/bench_calls.py (table in docs/providers.md): the engine's cost per
# call is flat from 8 to 64 in flight (~1 ms CPU), so the provider sets the limit. 16 calls of
# ~2 s each is ~480 requests/min, inside entry API tiers; 32 mostly buys 429s there.
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 60.0  # a server asking for longer is treated as down for this run
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# Outage breaker (issue 9): this many calls in a row to one provider failing after all their
# retries, with no success between, means the provider is down for this run. Stop scheduling
# and keep what finished, rather than spend hours retrying every remaining case.
OUTAGE_AFTER_CALLS = 3
ESTIMATE_OUTPUT_TOKENS = 256  # dry-run / budget guess when params set no max_tokens


class StoppedError(IncompleteError):
    """The engine was stopped (budget, quota, Ctrl-C) and no new call may start."""


class ProviderUnavailableError(IncompleteError):
    """The outage breaker tripped: the run stops (exit 3) and keeps what finished."""


@dataclass(slots=True)
class EngineStats:
    """What this run spent. Cache hits cost nothing and are counted apart."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    priced_cost_usd: float = 0.0  # the calls whose price is known
    unpriced_calls: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    @property
    def cost_usd(self) -> float | None:
        """Total spend, or None when a call's price is unknown (never a silent 0)."""
        return None if self.unpriced_calls else self.priced_cost_usd


class _Limiter:
    """An adaptive concurrency limit for one provider (AIMD on 429s)."""

    def __init__(self, limit: int) -> None:
        self.ceiling = max(1, limit)
        self.limit = self.ceiling
        self.in_flight = 0
        self._ok = 0
        self._cut_at = 0.0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, *, throttled: bool = False) -> None:
        async with self._cond:
            self.in_flight -= 1
            now = time.monotonic()
            if throttled:
                # A burst of 429s from one window halves once, not once per request.
                if now - self._cut_at > 1.0 and self.limit > 1:
                    self.limit = max(1, self.limit // 2)
                    self._cut_at = now
                self._ok = 0
            elif self.limit < self.ceiling:
                self._ok += 1
                if self._ok >= self.limit:
                    self.limit += 1
                    self._ok = 0
            self._cond.notify(max(0, self.limit - self.in_flight))


@dataclass(slots=True)
class _Slot:
    settings: ProviderSettings
    provider: Provider
    network: bool
    limiter: _Limiter | None = None
    failed_in_a_row: int = 0  # calls that failed after all retries since the last success
    senders: dict[str, Send] = field(default_factory=dict)  # URL -> the client that posts it


class Engine:
    """Makes model calls for one run. Use as `async with Engine(project) as engine:`."""

    def __init__(
        self,
        project: Project,
        *,
        concurrency: int | None = None,
        use_cache: bool = True,
        offline: bool = False,
        max_cost_usd: float | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        backoff_base_s: float | None = None,
        backoff_cap_s: float | None = None,
        retry_after_cap_s: float | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        defaults = project.config.defaults
        self.project = project
        self.concurrency = max(1, concurrency or defaults.concurrency or DEFAULT_CONCURRENCY)
        self.use_cache = use_cache
        self.offline = offline
        self.max_cost_usd = max_cost_usd
        self.timeout_s = timeout_s or defaults.timeout_s or DEFAULT_TIMEOUT_S
        self.max_retries = (
            max_retries
            if max_retries is not None
            else defaults.max_retries
            if defaults.max_retries is not None
            else DEFAULT_MAX_RETRIES
        )
        self.backoff_base_s = BACKOFF_BASE_S if backoff_base_s is None else backoff_base_s
        self.backoff_cap_s = BACKOFF_CAP_S if backoff_cap_s is None else backoff_cap_s
        self.retry_after_cap_s = (
            RETRY_AFTER_CAP_S if retry_after_cap_s is None else retry_after_cap_s
        )
        self.max_response_bytes = max_response_bytes or MAX_RESPONSE_BYTES
        self.stats = EngineStats()
        self.stop_reason: str | None = None
        self._slots: dict[str, _Slot] = {}
        self._transport: PooledTransport | None = None  # the lean client, system CAs
        self._transports: dict[Path, PooledTransport] = {}  # lean clients per ca_bundle
        self._fallbacks: dict[tuple[str | None, Path | None], HttpxTransport] = {}
        self._tls: dict[Path, ssl.SSLContext] = {}
        self._cache: Cache | None = None
        self._reserved_usd = 0.0
        self._prices: dict[str, tuple[float, float] | None] = {}
        self._flushing: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Engine:
        self._open_cache()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            if self._flushing is not None:
                await asyncio.shield(self._flushing)
                self._flushing = None
            if self._cache is not None:
                cache, self._cache = self._cache, None
                _flush_quietly(cache.close)
        finally:
            clients: list[PooledTransport | HttpxTransport] = [
                *self._transports.values(),
                *self._fallbacks.values(),
            ]
            if self._transport is not None:
                clients.append(self._transport)
            self._transport = None
            self._transports.clear()
            self._fallbacks.clear()
            for client in clients:
                await client.aclose()

    def _open_cache(self) -> Cache:
        if self._cache is None:
            self._cache = Cache.for_state_dir(self.project.state_dir)
        return self._cache

    def _http(self) -> PooledTransport:
        if self._transport is None:
            # No ~/.netrc: keys come from api_key_env only.
            self._transport = PooledTransport(connect_timeout_s=min(10.0, self.timeout_s))
        return self._transport

    def _sender(self, slot: _Slot, url: str) -> Send:
        """The client that posts to `url` for this provider, chosen once per run and URL."""
        send = slot.senders.get(url)
        if send is None:
            send = slot.senders[url] = self._route(slot.settings, url)
        return send

    def _route(self, settings: ProviderSettings, url: str) -> Send:
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
                    connect_timeout_s=min(10.0, self.timeout_s),
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
                    connect_timeout_s=min(10.0, self.timeout_s),
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

    def stop(self, reason: str = "stopped") -> None:
        """Start no new network call (Ctrl-C, budget, quota, outage); cache hits still serve."""
        if self.stop_reason is None:
            self.stop_reason = reason

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None

    # ------------------------------------------------------------------ providers

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is not None:
            return slot
        settings = self.resolve_provider(name)
        cls = providers.get(settings.type)
        provider = cls(settings)
        slot = _Slot(settings, provider, bool(getattr(cls, "network", True)))
        if slot.network:
            limit = min(self.concurrency, settings.concurrency or self.concurrency)
            slot.limiter = _Limiter(limit)
        self._slots[name] = slot
        return slot

    def resolve_provider(self, name: str) -> ProviderSettings:
        """A provider name from a model id -> its settings (promptctl.yaml, then built in)."""
        entry = self.project.config.providers.get(name)
        if entry is None and name not in providers:
            # Scanning installed entry points costs ~40 ms: only on this error path.
            known = sorted(set(self.project.provider_names()) | set(providers.names()))
            raise UsageError(
                f"unknown provider {name!r}",
                hint=f"known: {', '.join(known)}; declare others under providers: in "
                "promptctl.yaml",
            )
        ptype = entry.type if entry is not None else name
        cls = providers.get(ptype)
        builtin = entry is None or name == ptype
        key_env = entry.api_key_env if entry is not None else None
        if key_env is None and builtin:
            key_env = getattr(cls, "key_env", None)
        base_url = entry.base_url if entry is not None else None
        env_base = getattr(cls, "base_url_env", None)
        if base_url is None and builtin and env_base and os.environ.get(env_base):
            base_url = os.environ[env_base].strip()
        replies = None
        if entry is not None and entry.replies:
            replies = (self.project.root / entry.replies).resolve()
        ca_bundle = None
        if entry is not None and entry.ca_bundle:
            ca_bundle = (self.project.root / entry.ca_bundle).resolve()
        return ProviderSettings(
            name=name,
            type=ptype,
            base_url=base_url,
            api_key_env=key_env,
            headers=dict(entry.headers) if entry is not None else {},
            concurrency=entry.concurrency if entry is not None else None,
            timeout_s=entry.timeout_s if entry is not None else None,
            max_retries=entry.max_retries if entry is not None else None,
            replies=replies,
            root=self.project.root,
            ca_bundle=ca_bundle,
        )

    def _api_key(self, slot: _Slot) -> str | None:
        env = slot.settings.api_key_env
        if env is None:
            return None
        value = os.environ.get(env, "").strip()
        if not value:
            raise MissingKeyError(
                f"provider {slot.settings.name!r} needs an API key: {env} is not set",
                hint=f"export {env}=... (keys are read from the environment only)",
            )
        return value

    # ------------------------------------------------------------------ requests

    def build_request(
        self,
        prompt: Prompt,
        messages: list[dict[str, str]],
        *,
        repeat: int = 0,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Request:
        """The fully resolved call for `prompt` with rendered `messages`."""
        model_id = model or prompt.model
        provider, sep, name = model_id.partition("/")
        if not sep or not provider or not name:
            raise UsageError(
                f"model {model_id!r} must be <provider>/<model id>",
                hint=f"e.g. openai/gpt-4o-mini or mock/echo; providers: "
                f"{', '.join(self.project.provider_names())}",
            )
        self._slot(provider)  # an unknown provider fails here, before any work
        merged = dict(prompt.params)
        if params:
            merged.update(params)
        fmt: dict[str, Any] | None = None
        if prompt.output.format == "json":
            fmt = (
                {"type": "json_schema", "schema": dict(prompt.output.schema)}
                if prompt.output.schema is not None
                else {"type": "json"}
            )
        return Request(
            provider=provider,
            model=name,
            messages=tuple({"role": m["role"], "content": m["content"]} for m in messages),
            params=merged,
            response_format=fmt,
            repeat=repeat,
        )

    def is_cached(self, request: Request) -> bool:
        if not self.use_cache or not self._slot(request.provider).network:
            return False
        return self._open_cache().contains(request.key)

    def price(self, request: Request) -> tuple[float, float] | None:
        """USD per million (input, output) tokens for the request's model; None = unknown."""
        model = f"{request.provider}/{request.model}"
        if model not in self._prices:  # the prefix scan runs once per model, not per call
            self._prices[model] = prices.price(model, self.project.config.prices)
        return self._prices[model]

    def estimate_cost(self, request: Request) -> float | None:
        """A call's cost before making it (max_tokens as the output); None = unknown price."""
        if not self._slot(request.provider).network:
            return 0.0
        chars = sum(len(m["content"]) for m in request.messages)
        out = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
        out_tokens = out if isinstance(out, int) else ESTIMATE_OUTPUT_TOKENS
        return prices.cost_usd(
            self.price(request), chars // 4 + 4 * len(request.messages), out_tokens
        )

    # ------------------------------------------------------------------ calls

    async def complete(self, request: Request) -> Reply:
        """The reply to `request`: from the cache, else from the provider (with retries)."""
        slot = self._slot(request.provider)
        if not slot.network:
            return await self._local(slot, request)
        cache = self._open_cache()
        if self.use_cache:
            hit = cache.get(request.key)
            if hit is not None:
                self.stats.cache_hits += 1
                return hit
        label = f"{request.provider}/{request.model}"
        if self.offline:
            raise OfflineError(
                f"--offline: {label} would be called (no cached reply for this request)",
                hint="run once without --offline to fill the cache, or drop --offline",
            )
        if self.stopped:
            raise StoppedError(f"not calling {label}: the run was stopped ({self.stop_reason})")
        api_key = self._api_key(slot)
        estimate = self.estimate_cost(request)
        if self.max_cost_usd is not None and estimate is not None:
            spent = self.stats.priced_cost_usd + self._reserved_usd
            if spent + estimate > self.max_cost_usd:
                self.stop("budget")
                raise BudgetError(
                    f"budget of ${self.max_cost_usd:.4f} reached: spent ${spent:.4f}, the next "
                    f"call to {label} would cost about ${estimate:.4f}",
                    hint="raise --max-cost (or gate.max_cost_usd), or evaluate fewer cases",
                )
        self._reserved_usd += estimate or 0.0
        try:
            completion, latency_s, retries = await self._call(slot, request, api_key)
        finally:
            self._reserved_usd -= estimate or 0.0
        reply = self._record(request, completion, latency_s, retries, self.price(request))
        if cache.put(request.key, request.provider, request.model, reply):
            self._schedule_flush(cache)
        return reply

    async def _local(self, slot: _Slot, request: Request) -> Reply:
        if self.stopped:
            raise StoppedError(
                f"not calling {request.provider}/{request.model}: the run was stopped "
                f"({self.stop_reason})"
            )
        started = time.perf_counter()
        completion = await slot.provider.complete_local(request)
        return self._record(request, completion, time.perf_counter() - started, 0, (0.0, 0.0))

    def _record(
        self,
        request: Request,
        c: Completion,
        latency_s: float,
        retries: int,
        price: tuple[float, float] | None,
    ) -> Reply:
        cost = prices.cost_usd(price, c.input_tokens, c.output_tokens)
        s = self.stats
        s.calls += 1
        s.input_tokens += c.input_tokens or 0
        s.output_tokens += c.output_tokens or 0
        s.latency_s += latency_s
        label = f"{request.provider}/{request.model}"
        s.by_model[label] = s.by_model.get(label, 0) + 1
        if cost is None:
            s.unpriced_calls += 1
        else:
            s.priced_cost_usd += cost
        return Reply(
            # a lone surrogate (a "\ud800" escape in the provider's JSON) cannot be stored as
            # UTF-8 in the cache or results; valid pairs join, lone ones become U+FFFD
            text=c.text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"),
            model=c.model or request.model,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            latency_s=latency_s,
            cost_usd=cost,
            retries=retries,
            finish_reason=c.finish_reason,
        )

    def _schedule_flush(self, cache: Cache) -> None:
        # SQLite commits leave the event loop; one flush at a time, the rest wait in memory.
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(asyncio.to_thread(_flush_quietly, cache.flush))

    async def _call(
        self, slot: _Slot, request: Request, api_key: str | None
    ) -> tuple[Completion, float, int]:
        settings = slot.settings
        try:
            result = await self._call_once(slot, request, api_key)
        except ProviderError as e:
            if getattr(e, "exhausted", False):
                slot.failed_in_a_row += 1
                if slot.failed_in_a_row >= OUTAGE_AFTER_CALLS:
                    self.stop("outage")
                    raise ProviderUnavailableError(
                        f"{settings.name}: provider unavailable: {slot.failed_in_a_row} calls "
                        f"in a row failed after retries (last: {e.message}); stopped the run",
                        hint="finished results are kept; when the provider is back: "
                        "promptctl eval --resume",
                    ) from None
            raise
        slot.failed_in_a_row = 0
        return result

    async def _call_once(
        self, slot: _Slot, request: Request, api_key: str | None
    ) -> tuple[Completion, float, int]:
        settings = slot.settings
        limiter = slot.limiter
        assert limiter is not None
        http = slot.provider.build(request, api_key)
        timeout_s = settings.timeout_s or self.timeout_s
        max_retries = settings.max_retries if settings.max_retries is not None else self.max_retries
        name = settings.name
        attempt = 0
        while True:
            retry_after: float | None = None
            throttled = False
            await limiter.acquire()
            started = time.perf_counter()
            try:
                completion = await _deadline(self._attempt(slot, http), timeout_s)
                return completion, time.perf_counter() - started, attempt
            except ProviderHTTPError as e:
                if e.status in (401, 403):
                    raise AuthError(
                        # the variable's name (never its value) in the message too: the
                        # runner replaces hints with its --resume line
                        f"{name}: HTTP {e.status}: the API key was refused"
                        + (f" ({settings.api_key_env})" if settings.api_key_env else ""),
                        hint=f"check {settings.api_key_env or 'the key'} for provider {name!r}",
                    ) from None
                if e.quota:
                    self.stop("quota")
                    raise ProviderError(
                        f"{name}: HTTP 429: quota or credit exhausted: {e.snippet}",
                        hint="add credit or raise the account's limit; retrying will not help",
                    ) from None
                throttled = e.status == 429
                if not e.retriable:
                    raise ProviderError(_after(e.message, attempt), hint=_hint(e.status)) from None
                if attempt >= max_retries:
                    raise _exhausted(_after(e.message, attempt), _hint(e.status)) from None
                retry_after = e.retry_after
            except asyncio.TimeoutError:
                if attempt >= max_retries:
                    raise _exhausted(
                        _after(f"{name}: no complete reply within {timeout_s:g} s", attempt),
                        "the server is slow or stuck; raise timeout_s for this provider",
                    ) from None
            except TLSVerifyError:
                # A certificate does not change between retries; like an outage, it stops the
                # run after a few calls rather than failing every remaining case alike.
                raise _exhausted(
                    f"{name}: TLS handshake failed: the server's certificate is not trusted or "
                    "not issued for this host",
                    "for a private CA, set ca_bundle for this provider in promptctl.yaml (or "
                    "SSL_CERT_FILE) to its PEM file; check the base URL's host name",
                ) from None
            except InvalidURL:
                raise UsageError(
                    f"{name}: the base URL is not a valid http(s) URL (or holds credentials)",
                    hint="fix base_url in promptctl.yaml or the provider's BASE_URL variable",
                ) from None
            except TransportError as e:
                if attempt >= max_retries:
                    raise _exhausted(
                        _after(f"{name}: connection failed ({_transport(e)})", attempt),
                        "is the provider up and the base URL right?"
                        + (
                            " Is the proxy in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY up (or the "
                            "host missing from NO_PROXY)?"
                            if proxy_for(http.url)
                            else ""
                        ),
                    ) from None
            finally:
                await limiter.release(throttled=throttled)
            if self.stop_reason == "outage":
                # the breaker tripped while this call was retrying: it would fail too
                raise ProviderError(_after(f"{name}: not retried: provider unavailable", attempt))
            delay = self._backoff(attempt, retry_after)
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap_s)
        # Full jitter (AWS architecture blog): spreads a herd of retries over the window.
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))  # noqa: S311

    async def _attempt(self, slot: _Slot, http: HTTPCall) -> Completion:
        body = json.dumps(http.body, ensure_ascii=False).encode("utf-8")
        try:
            status, headers, reply = await self._sender(slot, http.url)(
                http.url, http.headers, body, max_bytes=self.max_response_bytes
            )
        except ReplyTooLarge:
            raise _too_big(slot.settings.name, self.max_response_bytes) from None
        return slot.provider.parse(status, headers, reply)


def _exhausted(message: str, hint: str | None) -> ProviderError:
    """A retriable failure that outlived its retries: one case's error, and a vote for the
    outage breaker. Still exactly a ProviderError, which the runner records and goes on."""
    error = ProviderError(message, hint=hint)
    error.exhausted = True  # type: ignore[attr-defined]
    return error


def _flush_quietly(flush: Callable[[], None]) -> None:
    """Run a cache write; a failure is a warning: the replies are in the run's results already,
    and a cache that cannot be written must not turn a finished run into a failed one."""
    try:
        flush()
    except IncompleteError as e:
        import warnings

        from promptctl.errors import PromptctlWarning

        warnings.warn(
            PromptctlWarning(f"{e.message}; replies of this run were not cached"), stacklevel=2
        )


async def _deadline(call: Awaitable[R], timeout_s: float) -> R:
    """`call` with a total deadline (asyncio.TimeoutError past it)."""
    if sys.version_info >= (3, 11):  # no extra task per attempt, unlike wait_for
        async with asyncio.timeout(timeout_s):
            return await call
    return await asyncio.wait_for(call, timeout_s)


def _too_big(name: str, limit: int) -> ProviderError:
    return ProviderError(
        f"{name}: reply larger than {limit // (1024 * 1024)} MiB",
        hint="lower max_tokens; a chat reply this size is a misconfigured server",
    )


def _after(message: str, attempt: int) -> str:
    return f"{message} (after {attempt} retries)" if attempt else message


def _hint(status: int) -> str | None:
    if status in (400, 422):
        return "the provider rejected the request: check the prompt's params and model id"
    if status == 404:
        return "unknown model or wrong base URL"
    if status == 429 or status >= 500:
        return "the provider is overloaded or down; try later or lower --concurrency"
    return None


def _transport(e: TransportError) -> str:
    # Our transport's messages are generic by design (never a URL, header or key).
    return str(e) or type(e).__name__


# -------------------------------------------------------------------------- scheduling


async def bounded(
    items: Iterable[T],
    worker: Callable[[T], Awaitable[R]],
    concurrency: int,
    *,
    stop: Callable[[], bool] | None = None,
) -> AsyncIterator[R]:
    """Run `worker` over `items`, at most `concurrency` at once; yield results as they finish.

    Items are pulled lazily (a million-case dataset is never in memory). When a worker raises,
    or `stop()` turns true (pass `lambda: engine.stopped`), no new item is pulled; workers in
    flight finish and their results are yielded, then the first exception is raised. Closing
    the generator early cancels the workers in flight.
    """
    it = iter(items)
    limit = max(1, concurrency)
    pending: set[asyncio.Future[R]] = set()
    # Finished tasks arrive through a queue: O(1) per completion, where asyncio.wait() would
    # re-register a callback on every task in flight each time.
    finished: asyncio.Queue[asyncio.Future[R]] = asyncio.Queue()
    error: BaseException | None = None
    exhausted = False

    def pull() -> None:
        nonlocal exhausted
        while not exhausted and error is None and len(pending) < limit:
            if stop is not None and stop():
                exhausted = True
                return
            try:
                item = next(it)
            except StopIteration:
                exhausted = True
                return
            task = asyncio.ensure_future(worker(item))
            task.add_done_callback(finished.put_nowait)
            pending.add(task)

    try:
        pull()
        while pending:
            task = await finished.get()
            pending.discard(task)
            failure = asyncio.CancelledError() if task.cancelled() else task.exception()
            if failure is not None:
                error = error or failure
            pull()  # before yielding: the consumer's work overlaps the next calls
            if failure is None:
                yield task.result()
        if error is not None:
            raise error
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def run_once(
    project: Project,
    prompt: Prompt,
    messages: list[dict[str, str]],
    *,
    model: str | None = None,
    use_cache: bool = True,
) -> tuple[Reply, EngineStats]:
    """One call, its own event loop: what `promptctl run` needs."""

    async def go() -> tuple[Reply, EngineStats]:
        async with Engine(project, use_cache=use_cache, concurrency=1) as engine:
            reply = await engine.complete(engine.build_request(prompt, messages, model=model))
            return reply, engine.stats

    return asyncio.run(go())
