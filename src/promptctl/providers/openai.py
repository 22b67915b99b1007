"""OpenAI Chat Completions, and every OpenAI-compatible server (vLLM, Ollama, LiteLLM, ...)."""

from __future__ import annotations

import json
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


class OpenAI(NetworkProvider):
    key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    base_url_env: ClassVar[str | None] = "OPENAI_BASE_URL"
    # Users paste base URLs with the /v1 (as OpenAI's SDKs expect); we append the endpoint only.
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        base = settings.base_url or self.default_base_url or ""
        self.url = join_url(base, "/chat/completions")
        self.embeddings_url = join_url(base, "/embeddings")

    def build(self, request: Request, api_key: str | None) -> HTTPCall:
        headers = {"content-type": "application/json", **self.settings.headers}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        if is_embedding(request):
            # The `similar` scorer: one text in, one vector out (POST /v1/embeddings).
            text = request.messages[0]["content"] if request.messages else ""
            return HTTPCall(self.embeddings_url, headers, {"model": request.model, "input": text})
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
        return HTTPCall(self.url, headers, body)

    def parse(self, status: int, headers: Mapping[str, str], body: bytes) -> Completion:
        name = self.settings.name
        if not 200 <= status < 300:
            raise http_error(name, status, headers, body)
        data = parse_json(name, status, body)
        if isinstance(data, dict) and "choices" not in data and isinstance(data.get("data"), list):
            return _embedding(name, data, body)
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


def _embedding(name: str, data: Mapping[str, Any], body: bytes) -> Completion:
    """An embeddings reply as a Completion whose text is the vector in JSON (cached and
    replayed like any reply)."""
    try:
        vector = data["data"][0]["embedding"]
    except (KeyError, IndexError, TypeError):
        raise shape_error(name, "data[0].embedding", body) from None
    if not isinstance(vector, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in vector
    ):
        raise shape_error(name, "a list of numbers in data[0].embedding", body)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=json.dumps(vector),
        model=str(data.get("model") or ""),
        input_tokens=int_or_none(usage.get("prompt_tokens")),
        output_tokens=0,
        finish_reason="embedding",
    )
