"""Retries and the outage breaker: when a failed call is tried again, and when a run gives up.

- retries on 408, 409, 429, 5xx (and Anthropic's 529 / overloaded_error), connection errors,
  truncated bodies and timeouts; `x-should-retry` overrides; never on 400/401/403/404/422 or on
  a 429 saying the quota is spent (that one stops the run). Full-jitter backoff, ~0.5 s doubling
  to an 8 s cap, or the server's Retry-After / retry-after-ms (capped).
- each attempt has a total deadline (a socket read timeout is per chunk: a body that trickles
  forever would never trip it).
- the breaker: OUTAGE_AFTER_CALLS calls in a row to one provider failing after all their
  retries means the provider is down for this run.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from promptctl.engine.concurrency import Limiter
from promptctl.engine.pacing import Pacer
from promptctl.engine.transport import (
    InvalidRequest,
    InvalidURL,
    TLSVerifyError,
    TransportError,
    proxy_for,
)
from promptctl.errors import (
    AuthError,
    ProviderError,
    ProviderUnavailableError,
    RetriesExhaustedError,
    UsageError,
)
from promptctl.project.config import Defaults
from promptctl.providers.base import Completion, ProviderHTTPError, ProviderSettings

R = TypeVar("R")

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 60.0  # a server asking for longer is treated as down for this run
# Outage breaker (issue 9): this many calls in a row to one provider failing after all their
# retries, with no success between, means the provider is down for this run. Stop scheduling
# and keep what finished, rather than spend hours retrying every remaining case.
OUTAGE_AFTER_CALLS = 3
# A 429 with rate-limit headers is back-pressure: the call waits and retries without spending
# its retries, up to this many times (then it fails alone; the breaker never counts it).
MAX_BACKPRESSURE_WAITS = 20
BACKPRESSURE_WAIT_S = 1.0  # when such a 429 names no Retry-After


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How long an attempt may take, how often to retry, how long to wait between."""

    timeout_s: float
    max_retries: int
    backoff_base_s: float
    backoff_cap_s: float
    retry_after_cap_s: float
    # `eval --max-retries N`: wins over every provider's own max_retries
    max_retries_override: int | None = None

    @classmethod
    def build(
        cls,
        defaults: Defaults,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        backoff_base_s: float | None = None,
        backoff_cap_s: float | None = None,
        retry_after_cap_s: float | None = None,
    ) -> RetryPolicy:
        """Arguments, then promptctl.yaml's defaults, then this module's constants. An explicit
        `max_retries` (the CLI's --max-retries) also overrides providers' own settings."""
        override = max_retries
        if max_retries is None:
            max_retries = defaults.max_retries
        return cls(
            max_retries_override=override,
            timeout_s=timeout_s or defaults.timeout_s or DEFAULT_TIMEOUT_S,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            backoff_base_s=BACKOFF_BASE_S if backoff_base_s is None else backoff_base_s,
            backoff_cap_s=BACKOFF_CAP_S if backoff_cap_s is None else backoff_cap_s,
            retry_after_cap_s=RETRY_AFTER_CAP_S if retry_after_cap_s is None else retry_after_cap_s,
        )

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap_s)
        # Full jitter (AWS architecture blog): spreads a herd of retries over the window.
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))  # noqa: S311


class Breaker:
    """The outage breaker of one provider: counts calls that failed after all their retries."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failed_in_a_row = 0  # since the last success

    def succeeded(self) -> None:
        self.failed_in_a_row = 0

    def failed(self, error: ProviderError) -> ProviderUnavailableError | None:
        """The error that stops the run when `error` trips the breaker, else None."""
        if not isinstance(error, RetriesExhaustedError):
            return None
        self.failed_in_a_row += 1
        if self.failed_in_a_row < OUTAGE_AFTER_CALLS:
            return None
        return ProviderUnavailableError(
            f"{self.name}: provider unavailable: {self.failed_in_a_row} calls "
            f"in a row failed after retries (last: {error.message}); stopped the run",
            hint="finished results are kept; when the provider is back: promptctl eval --resume",
        )


async def call_with_retries(
    attempt: Callable[[], Awaitable[Completion]],
    *,
    settings: ProviderSettings,
    url: str,
    policy: RetryPolicy,
    limiter: Limiter,
    stop: Callable[[str], None],
    stop_reason: Callable[[], str | None],
    on_retry: Callable[[], None],
    pacer: Pacer | None = None,
    tokens: int = 0,
) -> tuple[Completion, float, int]:
    """`attempt()` until it succeeds or a failure is final: (completion, latency_s, retries).

    Every failure leaves as one of our errors: AuthError (401/403), ProviderError (not
    retriable, or a spent quota, which also calls `stop("quota")`), RetriesExhaustedError,
    UsageError (a URL that cannot be posted to).
    """
    timeout_s = settings.timeout_s or policy.timeout_s
    max_retries = (
        policy.max_retries_override
        if policy.max_retries_override is not None
        else settings.max_retries
        if settings.max_retries is not None
        else policy.max_retries
    )
    name = settings.name
    tries = 0
    waits = 0  # back-pressure waits (429 with rate-limit headers)
    while True:
        retry_after: float | None = None
        throttled = False
        pushed_back = False
        await limiter.acquire()
        started = time.perf_counter()
        try:
            if pacer is not None:
                await pacer.admit(tokens)
                started = time.perf_counter()
            completion = await _deadline(attempt(), timeout_s)
            return completion, time.perf_counter() - started, tries
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
                stop("quota")
                raise ProviderError(
                    f"{name}: HTTP 429: quota or credit exhausted: {e.snippet}",
                    hint="add credit or raise the account's limit; retrying will not help",
                ) from None
            if e.backpressure:
                waits += 1
                if waits > MAX_BACKPRESSURE_WAITS:
                    raise ProviderError(
                        f"{name}: HTTP 429: still rate limited after {MAX_BACKPRESSURE_WAITS} "
                        "waits",
                        hint="another client shares this key's limit; lower --concurrency "
                        "or set rpm: for this provider",
                    ) from None
                pushed_back = True
                retry_after = e.retry_after
            else:
                throttled = e.status == 429
                if 300 <= e.status < 400:
                    raise ProviderError(
                        f"{name}: HTTP {e.status}: the server redirects this request; "
                        "promptctl does not follow redirects (a POST with a key must not be "
                        "re-sent elsewhere)",
                        hint="point base_url (or the provider's BASE_URL variable) at the address "
                        "the server redirects to",
                    ) from None
                if not e.retriable:
                    raise ProviderError(
                        _after(f"{e.message} (not retried)", tries), hint=_hint(e.status)
                    ) from None
                if tries >= max_retries:
                    raise RetriesExhaustedError(
                        _after(e.message, tries), hint=_hint(e.status)
                    ) from None
                retry_after = e.retry_after
                if retry_after is not None and retry_after > policy.retry_after_cap_s:
                    # Waiting the cap on every retry of every call took minutes per call: a server
                    # asking for longer than the cap is down for this run (the breaker's answer).
                    stop("outage")
                    raise ProviderUnavailableError(
                        f"{name}: HTTP {e.status} asks to wait {retry_after:,.0f} s (Retry-After), "
                        f"more than the {policy.retry_after_cap_s:g} s cap: treated as down for "
                        "this run",
                        hint="finished results are kept; when the provider is back: "
                        "promptctl eval --resume",
                    ) from None
        except asyncio.TimeoutError:
            if tries >= max_retries:
                raise RetriesExhaustedError(
                    _after(f"{name}: no complete reply within {timeout_s:g} s", tries),
                    hint="the server is slow or stuck; raise timeout_s for this provider",
                ) from None
        except TLSVerifyError:
            # A certificate does not change between retries; like an outage, it stops the
            # run after a few calls rather than failing every remaining case alike.
            raise RetriesExhaustedError(
                f"{name}: TLS handshake failed: the server's certificate is not trusted or "
                "not issued for this host",
                hint="for a private CA, set ca_bundle for this provider in promptctl.yaml (or "
                "SSL_CERT_FILE) to its PEM file; check the base URL's host name",
            ) from None
        except InvalidRequest:
            raise UsageError(
                f"{name}: the request could not be sent: a header (from `headers:` in "
                "promptctl.yaml, or the API key) holds characters HTTP does not allow",
                hint="check the provider's headers and its key variable for line breaks",
            ) from None
        except InvalidURL:
            raise UsageError(
                f"{name}: the base URL is not a valid http(s) URL (or holds credentials)",
                hint="fix base_url in promptctl.yaml or the provider's BASE_URL variable",
            ) from None
        except TransportError as e:
            if tries >= max_retries:
                raise RetriesExhaustedError(
                    _after(f"{name}: connection failed ({_transport(e)})", tries),
                    hint="is the provider up and the base URL right?"
                    + (
                        " Is the proxy in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY up (or the "
                        "host missing from NO_PROXY)?"
                        if proxy_for(url)
                        else ""
                    ),
                ) from None
        finally:
            if pacer is not None:
                pacer.finished()
            await limiter.release(throttled=throttled)
        if stop_reason() == "outage":
            # the breaker tripped while this call was retrying: it would fail too
            raise ProviderError(_after(f"{name}: not retried: provider unavailable", tries))
        on_retry()
        if pushed_back:
            # the pacer holds every call of this provider, not only this one
            wait = min(
                BACKPRESSURE_WAIT_S if retry_after is None else retry_after,
                policy.retry_after_cap_s,
            )
            if pacer is not None:
                pacer.hold(wait)
            else:
                await asyncio.sleep(wait)
            continue
        delay = policy.backoff(tries, retry_after)
        tries += 1
        await asyncio.sleep(delay)


async def _deadline(call: Awaitable[R], timeout_s: float) -> R:
    """`call` with a total deadline (asyncio.TimeoutError past it)."""
    if sys.version_info >= (3, 11):  # no extra task per attempt, unlike wait_for
        async with asyncio.timeout(timeout_s):
            return await call
    return await asyncio.wait_for(call, timeout_s)


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
