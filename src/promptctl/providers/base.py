"""The provider Protocols (network or local), with defaults, and the helpers providers share.

Retries, timeouts, concurrency, the cache and cost live once in `promptctl.engine`, which acts
on the `ProviderHTTPError` a provider raises for a non-2xx reply.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from promptctl.errors import ProviderError
from promptctl.model import Request
from promptctl.redaction import printable, redact

SNIPPET_BYTES = 200  # enough to recognise an HTML error page or an error JSON; no more
_QUOTA = re.compile(
    r"(?i)insufficient_quota|exceeded your current quota|credit balance is too low|"
    r"billing_hard_limit|quota[ _]exceeded"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    """One provider as resolved from promptctl.yaml or the built-in defaults."""

    name: str  # as written in model ids: "openai", "local", ...
    type: str  # registry name: openai | anthropic | mock | a plug-in
    base_url: str | None = None
    api_key_env: str | None = None  # None: the server needs no key (e.g. a local Ollama)
    headers: Mapping[str, str] = field(default_factory=dict)
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    replies: Path | None = None  # mock: absolute path of a rules file
    root: Path | None = None  # the project root (mock rules are relative to it)
    ca_bundle: Path | None = None  # absolute: a PEM file of CAs to trust instead of the system's
    batch: bool = False  # `batch: true`: an OpenAI-compatible server with the Batch API
    batch_max_requests: int | None = None
    rpm: int | None = None  # pacing for servers that send no rate-limit headers
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class HTTPCall:
    """What a network provider wants sent: always a JSON POST."""

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """A parsed reply, before the engine adds latency, retries and cost."""

    text: str
    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None


class NetworkProvider(Protocol):
    """A provider that talks HTTP: it builds one request and parses one reply; nothing else.

    Subclass it to inherit the defaults below (pre-commit's `lang_base` pattern): a provider
    states only what differs. Retries, timeouts, concurrency, the cache, keys and cost are the
    engine's. Define `__init__(self, settings: ProviderSettings)` (Python 3.10's Protocol
    does not pass arguments to an inherited one).
    """

    network: ClassVar[bool] = True
    key_env: ClassVar[str | None] = None  # the built-in key variable, e.g. OPENAI_API_KEY
    base_url_env: ClassVar[str | None] = None  # e.g. OPENAI_BASE_URL
    default_base_url: ClassVar[str | None] = None

    def build(self, request: Request, api_key: str | None) -> HTTPCall:
        """The HTTP request for `request`; the key goes into headers and nowhere else."""
        ...

    def parse(self, status: int, headers: Mapping[str, str], body: bytes) -> Completion:
        """The reply, or `ProviderHTTPError` (non-2xx) / `ProviderError` (nonsense)."""
        ...


class LocalProvider(Protocol):
    """A provider that computes replies in-process (like `mock`): no network, never a key.

    Subclass it for the defaults; define `__init__(self, settings: ProviderSettings)`.
    """

    network: ClassVar[bool] = False
    key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str | None] = None

    async def complete_local(self, request: Request) -> Completion:
        """The reply to `request`, computed without a network."""
        ...


# What a `promptctl.providers` entry point names: a class of either kind, called with the
# provider's ProviderSettings. The engine reads `network` to know which methods to call.
Provider = NetworkProvider | LocalProvider


class ProviderHTTPError(ProviderError):
    """A non-2xx reply. The engine decides what to do from the fields; never holds headers."""

    def __init__(
        self,
        provider: str,
        status: int,
        *,
        retry_after: float | None = None,
        snippet: str = "",
        should_retry: bool | None = None,
        quota: bool = False,
        overloaded: bool = False,
    ) -> None:
        detail = f": {snippet}" if snippet else ""
        super().__init__(f"{provider}: HTTP {status}{detail}")
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.snippet = snippet
        self.should_retry = should_retry
        self.quota = quota
        self.overloaded = overloaded
        # set by the engine: a 429 that came with rate-limit headers (wait and retry; never
        # an outage)
        self.backpressure = False

    @property
    def retriable(self) -> bool:
        if self.quota:
            return False
        if self.should_retry is not None:  # the server knows best (OpenAI's x-should-retry)
            return self.should_retry
        return self.status in (408, 409, 429) or self.status >= 500 or self.overloaded


def snippet(body: bytes, limit: int = SNIPPET_BYTES) -> str:
    """The first bytes of a body, safe to show: decoded, one line, control bytes and keys gone."""
    text = body[:limit].decode("utf-8", errors="replace")
    text = " ".join(printable(text).split())
    more = "..." if len(body) > limit else ""
    return redact(text) + more if text else "(empty body)"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI, Anthropic) or `Retry-After` (s or date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    import email.utils  # an HTTP date is rare; keep the import off the start-up path

    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def http_error(
    provider: str, status: int, headers: Mapping[str, str], body: bytes
) -> ProviderHTTPError:
    """The error for a non-2xx reply, with what the engine needs to decide on a retry."""
    flag = (headers.get("x-should-retry") or "").strip().lower()
    should_retry = True if flag == "true" else False if flag == "false" else None
    head = body[:4096].decode("utf-8", errors="replace")
    return ProviderHTTPError(
        provider,
        status,
        retry_after=parse_retry_after(headers),
        snippet=snippet(body),
        should_retry=should_retry,
        quota=status == 429 and bool(_QUOTA.search(head)),
        overloaded="overloaded_error" in head,
    )


def parse_json(provider: str, status: int, body: bytes) -> Any:
    """A reply body as JSON, or a ProviderError naming the status and the first bytes."""
    try:
        return json.loads(body)
    except RecursionError:
        # 200,000 nested brackets: json recurses per level; one case's error, not the run's
        raise ProviderError(
            f"{provider}: reply JSON nests too deeply (HTTP {status}): {snippet(body)}",
            hint="the server is broken or hostile; check the provider's base_url",
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(
            f"{provider}: reply is not JSON (HTTP {status}): {snippet(body)}",
            hint="check the provider's base_url: it should point at the API, not a web page",
        ) from None


MAX_TOKENS = 10**9  # no context window comes near; a count past it is nonsense, not usage
MAX_FIELD_CHARS = 200  # model and finish_reason are labels, not payloads


def validated(provider: str, c: Completion) -> Completion:
    """Every reply's shape, checked and clamped in one place (the engine calls this for every
    provider, plug-ins included) before cost, cache or results see it.

    A token count that is not a whole number in [0, MAX_TOKENS] is unknown (None): 10^400 was
    an OverflowError at the cache flush, a negative one a negative cost that defeated
    --max-cost. `model` and `finish_reason` become short strings (a list there failed a whole
    cache batch); text must be a string.
    """
    if not isinstance(c.text, str):
        raise ProviderError(f"{provider}: reply text is a {type(c.text).__name__}, not text")
    return Completion(
        text=c.text,
        model=_label(c.model) or "",
        input_tokens=_count(c.input_tokens),
        output_tokens=_count(c.output_tokens),
        finish_reason=_label(c.finish_reason),
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_TOKENS else None


def _label(value: Any) -> str | None:
    if isinstance(value, str):
        return printable(value)[:MAX_FIELD_CHARS]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:MAX_FIELD_CHARS]
    return None


def shape_error(provider: str, what: str, body: bytes) -> ProviderError:
    return ProviderError(f"{provider}: reply has no {what}: {snippet(body)}")


def join_url(base: str, path: str) -> str:
    """`base` + `path` without doubling the path when a user pasted the full endpoint."""
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


def int_or_none(value: Any) -> int | None:
    """A usage count from a reply: an int, or None when absent or malformed (never a bool)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
