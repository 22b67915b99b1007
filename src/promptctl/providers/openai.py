"""OpenAI Chat Completions, and every OpenAI-compatible server (vLLM, Ollama, LiteLLM, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from promptctl.model import Request
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


class OpenAI(NetworkProvider):
    key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    base_url_env: ClassVar[str | None] = "OPENAI_BASE_URL"
    # Users paste base URLs with the /v1 (as OpenAI's SDKs expect); we append the endpoint only.
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.url = join_url(settings.base_url or self.default_base_url or "", "/chat/completions")

    def build(self, request: Request, api_key: str | None) -> HTTPCall:
        body: dict[str, Any] = {"model": request.model, "messages": list(request.messages)}
        body.update(request.params)
        fmt = request.response_format
        if fmt and fmt.get("type") == "json":
            body["response_format"] = {"type": "json_object"}
        elif fmt and fmt.get("type") == "json_schema":
            # strict mode would reject most hand-written schemas (it needs additionalProperties:
            # false everywhere); the json-schema scorer checks the reply either way.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "output",
                    "schema": dict(fmt.get("schema") or {}),
                    "strict": False,
                },
            }
        headers = {"content-type": "application/json", **self.settings.headers}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return HTTPCall(self.url, headers, body)

    def parse(self, status: int, headers: Mapping[str, str], body: bytes) -> Completion:
        name = self.settings.name
        if not 200 <= status < 300:
            raise http_error(name, status, headers, body)
        data = parse_json(name, status, body)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise shape_error(name, "choices[0].message.content", body) from None
        if not isinstance(text, str):
            refusal = (choice.get("message") or {}).get("refusal")
            if isinstance(refusal, str):
                text = refusal  # a refusal is the model's answer; scorers judge it
            else:
                raise shape_error(name, "text content", body)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            text=text,
            model=str(data.get("model") or ""),
            input_tokens=int_or_none(usage.get("prompt_tokens")),
            output_tokens=int_or_none(usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
        )
