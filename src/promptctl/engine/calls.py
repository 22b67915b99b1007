"""The call orchestration: cache first, then the offline / stopped / key / budget checks, then
the provider through the retry loop; one `Engine` per run (`async with Engine(project)`).

No terminal code, one event loop (`asyncio.run` at the CLI edge). Providers only build requests
and parse replies; each policy about *when* to call has its own module: settings.py (provider
settings and keys), clients.py (which HTTP client, TLS), retry.py (retries, the outage breaker),
budget.py (prices, the cost cap, the tally), concurrency.py (limits), cache.py. The cache serves
network providers only: mock replies are computed, and caching them would hide an edited rules
file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptctl.engine import prices as prices_mod
from promptctl.engine import retry
from promptctl.engine.budget import Budget, EngineStats
from promptctl.engine.cache import FILE_NAME, Cache
from promptctl.engine.clients import Clients, Send
from promptctl.engine.concurrency import DEFAULT_CONCURRENCY, Limiter
from promptctl.engine.pacing import Pacer, estimate_tokens
from promptctl.engine.settings import api_key, resolve_provider
from promptctl.engine.transport import ReplyTooLarge
from promptctl.errors import (
    IncompleteError,
    OfflineError,
    ProviderError,
    StoppedError,
    UsageError,
)
from promptctl.model import Reply, Request
from promptctl.project.config import Project
from promptctl.prompts.prompt import Prompt
from promptctl.providers import providers
from promptctl.providers.base import (
    Completion,
    HTTPCall,
    Provider,
    ProviderHTTPError,
    ProviderSettings,
    validated,
)

if TYPE_CHECKING:
    # imported where a run uses batches: a live run does not load batch.py (~3 ms)
    from promptctl.engine.batch import BatchSession

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _Slot:
    """One provider as this run uses it."""

    settings: ProviderSettings
    provider: Provider
    network: bool
    limiter: Limiter | None = None
    breaker: retry.Breaker | None = None
    pacer: Pacer | None = None
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
        batch: BatchSession | None = None,
    ) -> None:
        defaults = project.config.defaults
        self.project = project
        self.concurrency = max(1, concurrency or defaults.concurrency or DEFAULT_CONCURRENCY)
        self.use_cache = use_cache
        self.offline = offline
        self.policy = retry.RetryPolicy.build(
            defaults,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            retry_after_cap_s=retry_after_cap_s,
        )
        self.max_response_bytes = max_response_bytes or MAX_RESPONSE_BYTES
        self.budget = Budget(project.config.prices, max_cost_usd)
        self.stats: EngineStats = self.budget.stats
        self.stop_reason: str | None = None
        self.stop_cause: str | None = None  # the error that stopped the run (a spent quota)
        self._slots: dict[str, _Slot] = {}
        self._clients = Clients(project, connect_timeout_s=min(10.0, self.policy.timeout_s))
        self._cache: Cache | None = None
        self._flushing: asyncio.Task[None] | None = None
        self.batch = batch  # eval --batch: network calls go through provider batches
        self._said_no_batch: set[str] = set()  # providers --batch cannot apply to, said once

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
            if self.batch is not None:
                await self.batch.aclose()
            await self._clients.aclose()

    def _open_cache(self) -> Cache:
        if self._cache is None:
            from promptctl.project import paths

            paths.check_state_untracked(self.project)
            paths.writable(self.project.root, self.project.state_dir / FILE_NAME)
            self._cache = Cache.for_state_dir(self.project.state_dir)
        return self._cache

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
        settings = resolve_provider(self.project, name)
        cls = providers.get(settings.type)
        provider = cls(settings)
        slot = _Slot(settings, provider, bool(getattr(cls, "network", True)))
        if slot.network:
            limit = min(self.concurrency, settings.concurrency or self.concurrency)
            slot.limiter = Limiter(limit)
            slot.breaker = retry.Breaker(name)
            slot.pacer = Pacer(rpm=settings.rpm, tpm=settings.tpm)
        self._slots[name] = slot
        return slot

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
        return self.budget.price(request)

    def estimate_cost(self, request: Request, *, batch: bool = False) -> float | None:
        """A call's cost before making it (max_tokens as the output); None = unknown price.
        `batch`: at the batch price, where the provider has a batch API."""
        slot = self._slot(request.provider)
        if not slot.network:
            return 0.0
        if batch:
            from promptctl.engine.batch import supports_batch

            batch = supports_batch(slot.settings)
        return self.budget.estimate(request, batch=batch)

    # ------------------------------------------------------------------ calls

    async def complete(self, request: Request) -> Reply:
        """The reply to `request`: from the cache, else from the provider (with retries)."""
        slot = self._slot(request.provider)
        if not slot.network:
            if self.batch is not None:
                self._no_batch_api(
                    slot.settings.name, "answers in this process: --batch does not apply to it"
                )
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
            raise StoppedError(
                f"not calling {label}: the run was stopped ({self.stop_cause or self.stop_reason})"
            )
        key = api_key(slot.settings)
        reply = None
        if self.batch is not None:
            from promptctl.engine.batch import supports_batch

            if supports_batch(slot.settings):
                reply = await self._batched(slot, request, key)
            else:
                self._no_batch_api(
                    slot.settings.name,
                    "has no batch API: its calls are made live, at the live price (an "
                    "OpenAI-compatible server that has one: `batch: true` in promptctl.yaml)",
                )
        if reply is None:
            held = self.budget.reserve(request, on_refusal=self._stop_for_budget)
            try:
                completion, latency_s, retries = await self._call(slot, request, key)
            finally:
                self.budget.release(held)
            reply = self.budget.record(request, completion, latency_s, retries, self.price(request))
        if cache.put(request.key, request.provider, request.model, reply):
            self._schedule_flush(cache)
        return reply

    def _no_batch_api(self, provider: str, why: str) -> None:
        """Say once per provider that --batch cannot apply to it: its calls go live, at the live
        price, and the user asked for half of it."""
        if provider in self._said_no_batch:
            return
        self._said_no_batch.add(provider)
        import warnings

        from promptctl.errors import PromptctlWarning

        warnings.warn(
            PromptctlWarning(f"--batch: provider {provider!r} {why}"),
            stacklevel=3,
        )

    async def _batched(self, slot: _Slot, request: Request, key: str | None) -> Reply | None:
        """The reply from a provider batch, at the batch price; None when its line errored,
        expired or went missing and `--batch-retry live` (the default) says to call live."""
        assert self.batch is not None
        http = slot.provider.build(request, key)
        started = time.perf_counter()
        held = self.budget.reserve(request, on_refusal=self._stop_for_budget)
        try:
            outcome = await self.batch.outcome(slot.settings, request, http)
            if not outcome.ok and self.batch.retry == "batch":
                outcome = await self.batch.outcome(slot.settings, request, http)  # a follow-up
        finally:
            self.budget.release(held)
        if not outcome.ok:
            return None
        body = json.dumps(outcome.body).encode("utf-8")
        completion = slot.provider.parse(200, {}, body)
        price = self.budget.batch_price(request)
        reply = self.budget.record(request, completion, time.perf_counter() - started, 0, price)
        self.stats.batch_calls += 1
        live = prices_mod.cost_usd(self.price(request), reply.input_tokens, reply.output_tokens)
        saved = self.stats.batch_saved_usd
        if live is None or reply.cost_usd is None or saved is None:
            self.stats.batch_saved_usd = None  # unknown, never a silent 0
        else:
            self.stats.batch_saved_usd = saved + live - reply.cost_usd
        return reply

    async def _local(self, slot: _Slot, request: Request) -> Reply:
        if self.stopped:
            raise StoppedError(
                f"not calling {request.provider}/{request.model}: the run was stopped "
                f"({self.stop_reason})"
            )
        started = time.perf_counter()
        completion = validated(slot.settings.name, await slot.provider.complete_local(request))
        return self.budget.record(request, completion, time.perf_counter() - started, 0, (0.0, 0.0))

    def _schedule_flush(self, cache: Cache) -> None:
        # SQLite commits leave the event loop; one flush at a time, the rest wait in memory.
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(asyncio.to_thread(_flush_quietly, cache.flush))

    async def _call(
        self, slot: _Slot, request: Request, key: str | None
    ) -> tuple[Completion, float, int]:
        breaker, limiter = slot.breaker, slot.limiter
        assert breaker is not None
        assert limiter is not None
        http = slot.provider.build(request, key)
        body = json.dumps(http.body, ensure_ascii=False).encode("utf-8")
        tokens = estimate_tokens(body, request.params)
        try:
            result = await retry.call_with_retries(
                lambda: self._attempt(slot, http, body, tokens),
                settings=slot.settings,
                url=http.url,
                policy=self.policy,
                limiter=limiter,
                pacer=slot.pacer,
                tokens=tokens,
                stop=self.stop,
                stop_reason=lambda: self.stop_reason,
                on_retry=self._count_retry,
            )
        except ProviderError as e:
            if self.stop_reason == "quota" and self.stop_cause is None:
                self.stop_cause = e.message  # say what happened, not only "quota"
            unavailable = breaker.failed(e)
            if unavailable is not None:
                self.stop("outage")
                raise unavailable from None
            raise
        breaker.succeeded()
        return result

    def _stop_for_budget(self) -> None:
        self.stop("budget")

    def _count_retry(self) -> None:
        self.stats.retries += 1

    async def _attempt(self, slot: _Slot, http: HTTPCall, body: bytes, tokens: int) -> Completion:
        send = slot.senders.get(http.url)
        if send is None:  # the client is chosen once per run and URL
            send = slot.senders[http.url] = self._clients.route(slot.settings, http.url)
        try:
            status, headers, reply = await send(
                http.url, http.headers, body, max_bytes=self.max_response_bytes
            )
        except ReplyTooLarge:
            raise ProviderError(
                f"{slot.settings.name}: reply larger than "
                f"{self.max_response_bytes // (1024 * 1024)} MiB",
                hint="lower max_tokens; a chat reply this size is a misconfigured server",
            ) from None
        pacer = slot.pacer
        limited = pacer.observe(headers) if pacer is not None else False
        try:
            completion = validated(slot.settings.name, slot.provider.parse(status, headers, reply))
        except ProviderHTTPError as e:
            # A 429 that states the limit is the server pacing us, not an outage.
            e.backpressure = limited and e.status == 429 and not e.quota
            raise
        if pacer is not None and completion.input_tokens is not None:
            pacer.used(tokens, completion.input_tokens + (completion.output_tokens or 0))
        return completion


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
