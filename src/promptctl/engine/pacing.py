"""Client-side pacing of one provider's calls from its rate-limit headers (or `rpm:`/`tpm:`).

A provider that enforces its limit answers 429 past it; a run that waits for the 429s spends
its retries and, before this module, tripped the outage breaker. The pacer spaces requests so
the run approaches the limit without hitting it:

- the limits come from the replies' headers: OpenAI's `x-ratelimit-limit-requests/-tokens`,
  `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` ("1s", "6m0s", "20ms"), Anthropic's
  `anthropic-ratelimit-requests-*` / `anthropic-ratelimit-tokens-*` (RFC 3339 reset times);
  headers win over `rpm:`/`tpm:` from promptctl.yaml, which pace servers that send none;
- what a reply says remains (less the calls out since) goes at once: a run starts with the
  server's burst instead of leaving it unused; past it,
- requests leave evenly spaced at PACE_SHARE of the per-minute limit (a leaky bucket: each
  call reserves the next free slot, so no lock is needed on one event loop); tokens likewise,
  an estimate (prompt bytes / 4 + max_tokens) reserved before the call, corrected by the
  reply's usage;
- remaining 0 holds every call until the window resets; a 429 holds it for its Retry-After;
- a run starts gently: until a reply has shown whether the server sends limit headers (and
  with no `rpm:`), one call goes alone, so 32 workers do not burst past a small limit at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

# Pace at this share of the limit: the server's bucket absorbs arrival jitter, and the last
# percent or two of throughput is not worth the 429s it costs.
PACE_SHARE = 0.98
# Calls kept in hand when spending the requests a reply says remain (their replies may be late).
MARGIN = 1
# A reset further out than this is taken as not meant for pacing (a daily quota window).
MAX_HOLD_S = 60.0

_OPENAI = {
    "limit_requests": "x-ratelimit-limit-requests",
    "limit_tokens": "x-ratelimit-limit-tokens",
    "remaining_requests": "x-ratelimit-remaining-requests",
    "remaining_tokens": "x-ratelimit-remaining-tokens",
    "reset_requests": "x-ratelimit-reset-requests",
    "reset_tokens": "x-ratelimit-reset-tokens",
}
_ANTHROPIC = {
    "limit_requests": "anthropic-ratelimit-requests-limit",
    "limit_tokens": "anthropic-ratelimit-tokens-limit",
    "remaining_requests": "anthropic-ratelimit-requests-remaining",
    "remaining_tokens": "anthropic-ratelimit-tokens-remaining",
    "reset_requests": "anthropic-ratelimit-requests-reset",
    "reset_tokens": "anthropic-ratelimit-tokens-reset",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_reset(value: str, *, now: datetime | None = None) -> float | None:
    """Seconds until a reset: OpenAI's Go durations ("1s", "6m0s", "20ms", "1.5s") or an RFC
    3339 time (Anthropic); None when unreadable."""
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit() and not ("T" in text or "-" in text):
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            try:
                return max(0.0, float(text))  # a bare number: seconds
            except ValueError:
                return None
        return sum(float(n) * _UNIT_S[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    """The rate-limit facts of one reply (None where the header is absent or unreadable)."""

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: float | None = None  # seconds from now
    reset_tokens: float | None = None

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> Limits:
        anthropic = any(name in headers for name in _ANTHROPIC.values())
        names = _ANTHROPIC if anthropic else _OPENAI
        values: dict[str, int | float | None] = {}
        for field, header in names.items():
            raw = headers.get(header)
            if field.startswith("reset"):
                values[field] = parse_reset(raw) if raw else None
            else:
                values[field] = _int(raw)
        return cls(**values)  # type: ignore[arg-type]


def has_limits(headers: Mapping[str, str]) -> bool:
    """Whether a reply carries rate-limit headers (a 429 with them is back-pressure)."""
    return (
        "x-ratelimit-limit-requests" in headers
        or "x-ratelimit-limit-tokens" in headers
        or "anthropic-ratelimit-requests-limit" in headers
        or "anthropic-ratelimit-tokens-limit" in headers
    )


class Pacer:
    """The pace of one provider's calls for one run (one event loop)."""

    def __init__(self, *, rpm: int | None = None, tpm: int | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self.from_headers = False
        self._next_request = 0.0  # monotonic time of the next free request slot
        self._next_tokens = 0.0
        self._hold_until = 0.0
        # Gentle start: None = nothing learnt yet; a future while the probe call is out.
        self._learnt = rpm is not None or tpm is not None
        self._probe: asyncio.Future[None] | None = None
        self._out = 0  # calls admitted whose attempt has not finished
        # requests that may go at once: the last reply's remaining less those out since; a
        # configured rpm starts with one second of it
        self._credit = rpm / 60 - MARGIN if rpm else 0.0

    @property
    def paced(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    async def admit(self, tokens: int) -> None:
        """Wait until a call estimated at `tokens` tokens may go, and reserve its slot."""
        while not self._learnt:
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_future()
                break  # this call is the probe
            await asyncio.shield(self._probe)
        self._out += 1
        now = time.monotonic()
        if self._credit >= 1 and now >= self._hold_until and now >= self._next_tokens:
            self._credit -= 1
            if self.rpm:  # the paced calls after a burst start one interval after it
                self._next_request = max(self._next_request, now + self._interval())
            self._reserve_tokens(now, tokens)
            return
        at = max(now, self._hold_until, self._next_request, self._next_tokens)
        if self.rpm:
            self._next_request = max(at, self._next_request) + self._interval()
        self._reserve_tokens(at, tokens)
        if at > now:
            await asyncio.sleep(at - now)

    def _interval(self) -> float:
        return 60.0 / ((self.rpm or 1) * PACE_SHARE)

    def _reserve_tokens(self, at: float, tokens: int) -> None:
        if self.tpm and tokens > 0:
            self._next_tokens = max(at, self._next_tokens) + 60.0 * tokens / (self.tpm * PACE_SHARE)

    def observe(self, headers: Mapping[str, str]) -> bool:
        """Learn from one reply's headers; True when they carried rate limits."""
        if not has_limits(headers):
            self._learn()
            return False
        limits = Limits.read(headers)
        self.from_headers = True
        if limits.limit_requests:
            self.rpm = limits.limit_requests
        if limits.limit_tokens:
            self.tpm = limits.limit_tokens
        if limits.remaining_requests is not None:
            # the calls out besides the one this reply answers will spend from it too
            self._credit = limits.remaining_requests - (self._out - 1) - MARGIN
        for remaining, reset in (
            (limits.remaining_requests, limits.reset_requests),
            (limits.remaining_tokens, limits.reset_tokens),
        ):
            if remaining is not None and remaining <= 0 and reset is not None:
                self.hold(reset)
        self._learn()
        return True

    def used(self, estimated: int, actual: int | None) -> None:
        """Correct a call's token reservation with the reply's usage."""
        if self.tpm and actual is not None and actual != estimated:
            self._next_tokens += 60.0 * (actual - estimated) / (self.tpm * PACE_SHARE)

    def hold(self, seconds: float) -> None:
        """No call leaves for `seconds` (a 429's Retry-After, an exhausted window)."""
        if 0 < seconds <= MAX_HOLD_S:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def finished(self) -> None:
        """An attempt ended (after `observe` when a reply came; a connection error or timeout
        leaves the gentle start waiting on nothing)."""
        self._out = max(0, self._out - 1)
        self._learn()

    def _learn(self) -> None:
        if self._learnt:
            return
        self._learnt = True
        if self._probe is not None and not self._probe.done():
            self._probe.set_result(None)


def estimate_tokens(body: bytes, params: Mapping[str, object]) -> int:
    """A call's tokens as providers count them against a limit: the prompt (~4 bytes a token)
    plus the reply it may produce (max_tokens)."""
    most = params.get("max_tokens") or params.get("max_completion_tokens") or 0
    return len(body) // 4 + (most if isinstance(most, int) else 0)
