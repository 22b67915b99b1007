"""Anthropic Messages API: system messages move to `system`, max_tokens is required."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from promptctl.model import Request, is_embedding
from promptctl.providers.base import (
    Completion,
    HTTPCall,
    NetworkProvider,
    ProviderSettings,
    http_error,
    int_or_none,
    join_url,
    parse_json,
    shape_error,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # the API refuses a request without max_tokens


class Anthropic(NetworkProvider):
    key_env: ClassVar[str | None] = "ANTHROPIC_API_KEY"
    base_url_env: ClassVar[str | None] = "ANTHROPIC_BASE_URL"
    # Anthropic's SDK takes the base URL without /v1; one with /v1 works too (join_url).
    default_base_url: ClassVar[str | None] = "https://api.anthropic.com"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        base = (settings.base_url or self.default_base_url or "").rstrip("/")
        self.url = join_url(base, "/messages" if base.endswith("/v1") else "/v1/messages")

    def build(self, request: Request, api_key: str | None) -> HTTPCall:
        if is_embedding(request):
            from promptctl.errors import UsageError

            raise UsageError(
                f"{self.settings.name}: Anthropic's API has no embeddings endpoint",
                hint="give the similar scorer an OpenAI-compatible `model:`, or drop `model:` "
                "and install the offline extra: pip install 'promptctl-cli[similar]'",
            )
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        messages = [
            {"role": m["role"], "content": m["content"]}
            for m in request.messages
            if m["role"] != "system"
        ]
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        if system:
            body["system"] = "\n\n".join(system)
        body.update(request.params)
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        # The Messages API has no JSON mode; the prompt asks for JSON and the scorers check it.
        headers = {
            "content-type": "application/json",
            "anthropic-version": API_VERSION,
            **self.settings.headers,
        }
        if api_key:
            headers["x-api-key"] = api_key
        return HTTPCall(self.url, headers, body)

    def parse(self, status: int, headers: Mapping[str, str], body: bytes) -> Completion:
        name = self.settings.name
        if not 200 <= status < 300:
            raise http_error(name, status, headers, body)
        data = parse_json(name, status, body)
        if isinstance(data, dict) and data.get("type") == "error":
            raise http_error(name, 529 if "overloaded" in str(data) else 500, headers, body)
        try:
            blocks = data["content"]
            texts = [b["text"] for b in blocks if b.get("type") == "text"]
        except (KeyError, TypeError, AttributeError):
            raise shape_error(name, "content", body) from None
        if not texts and data.get("stop_reason") != "max_tokens":
            raise shape_error(name, "text content", body)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            text="".join(texts),
            model=str(data.get("model") or ""),
            input_tokens=int_or_none(usage.get("input_tokens")),
            output_tokens=int_or_none(usage.get("output_tokens")),
            finish_reason=data.get("stop_reason"),
        )
