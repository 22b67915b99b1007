"""The mock provider: deterministic replies computed locally, for demos, docs and tests.

Order: a `replies:` rules file (first rule whose `model` matches and whose `match` regex finds the
last user message), then `params.reply` (fixed text), then the model id: `echo` (the last user
message), `json` (an object satisfying the requested schema), `judge` (a naive LLM judge, see
`judge`); any other model id echoes. Usage is ~chars/4 tokens; cost is always 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.model import Request, is_embedding
from promptctl.project import yamlio
from promptctl.providers.base import Completion, LocalProvider, ProviderSettings
from promptctl.regexes import compile_error, search_bounded

INSTRUCTION = re.compile(r"(?i)\b(?:answer|score|give(?: it)?(?: a)?)\s*:?\s*(\d+)\b")
_WORD = re.compile(r"\w{3,}")
_DELIMITER = re.compile(r"(?m)^\s*Delimiter:\s*(\S+)\s*$")
_SCALE = re.compile(r"(?m)Scale:\s*(-?\d+)\s*to\s*(-?\d+)")
_REFERENCE = re.compile(r"(?s)<reference>(.*?)</reference>")


@dataclass(frozen=True, slots=True)
class Rule:
    match: str
    reply: str
    model: str | None = None


def tokens(text: str) -> int:
    """A realistic token count without a tokenizer: ~4 characters per token."""
    return max(1, (len(text) + 3) // 4)


def last_user(messages: Sequence[Mapping[str, str]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return m.get("content", "")
    return messages[-1].get("content", "") if messages else ""


def load_rules(path: Path, shown: str, root: Path | None = None) -> tuple[Rule, ...]:
    data = yamlio.load_file(path, shown, root=root)
    if not isinstance(data, list):
        raise UsageError(
            "a mock replies file must be a list of {match, reply} rules",
            where=getattr(data, "loc", None) or Location(shown, 1, 1),
        )
    rules = []
    for i, item in enumerate(data):
        where = data.item_loc(i) if isinstance(data, yamlio.YamlList) else Location(shown)
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("match"), str)
            or not isinstance(item.get("reply"), str)
        ):
            raise UsageError(
                "each rule needs `match` (a regex) and `reply` (text)",
                where=where,
                hint="e.g. - {match: '(?i)refund', reply: billing}",
            )
        unknown = set(item) - {"match", "reply", "model"}
        if unknown:
            raise UsageError(
                f"unknown key {sorted(unknown)[0]!r} in a mock rule",
                where=where,
                hint="a rule has match, reply and optionally model",
            )
        problem = compile_error(item["match"])
        if problem:
            raise UsageError(problem, where=where)
        model = item.get("model")
        rules.append(Rule(item["match"], item["reply"], str(model) if model is not None else None))
    return tuple(rules)


class Mock(LocalProvider):
    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._rules: tuple[Rule, ...] | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        if self._rules is None:
            path = self.settings.replies
            if path is None:
                self._rules = ()
            else:
                shown = path.name
                if self.settings.root is not None:
                    try:
                        shown = path.relative_to(self.settings.root).as_posix()
                    except ValueError:
                        shown = str(path)
                self._rules = load_rules(path, shown, self.settings.root)
        return self._rules

    async def complete_local(self, request: Request) -> Completion:
        latency_ms = request.params.get("latency_ms")
        if isinstance(latency_ms, int | float) and latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
        text = self.reply_text(request)
        prompt_chars = sum(len(m.get("content", "")) for m in request.messages)
        return Completion(
            text=text,
            model=request.model,
            input_tokens=max(1, (prompt_chars + 3) // 4) + 3 * len(request.messages),
            output_tokens=tokens(text),
            finish_reason="stop",
        )

    def reply_text(self, request: Request) -> str:
        user = last_user(request.messages)
        inline = request.params.get("replies")
        rules = self.rules + (_inline_rules(inline) if isinstance(inline, list) else ())
        for rule in rules:
            if rule.model is not None and rule.model != request.model:
                continue
            if search_bounded(rule.match, user):
                return rule.reply
        if is_embedding(request):
            return json.dumps(embedding(user))
        fixed = request.params.get("reply")
        if isinstance(fixed, str):
            return fixed
        if request.model == "json":
            return json.dumps(json_reply(request.response_format, user), ensure_ascii=False)
        if request.model == "judge":
            return judge(request.messages)
        return user


def _inline_rules(items: list[Any]) -> tuple[Rule, ...]:
    return tuple(
        Rule(str(r["match"]), str(r["reply"]), r.get("model"))
        for r in items
        if isinstance(r, dict) and "match" in r and "reply" in r
    )


# ---------------------------------------------------------------------------- embeddings

EMBEDDING_DIMS = 64


def embedding(text: str) -> list[float]:
    """A deterministic bag-of-words vector (hashed words, signed): shared words, close vectors.
    Good enough to demo and test `similar` offline; it knows nothing of meaning."""
    vector = [0.0] * EMBEDDING_DIMS
    for word in _WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        vector[digest[0] % EMBEDDING_DIMS] += 1.0 if digest[1] % 2 else -1.0
    return vector


# ---------------------------------------------------------------------------------- json


def json_reply(response_format: Mapping[str, Any] | None, text: str) -> Any:
    """An object satisfying the request's schema (filled from `text`), else {"text": text}."""
    schema = (response_format or {}).get("schema") if response_format else None
    if not isinstance(schema, Mapping):
        return {"text": text}
    return fill(schema, text, depth=0)


def fill(schema: Mapping[str, Any], text: str, depth: int) -> Any:
    if depth > 16:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            return fill(options[0], text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        names = [n for n in required if isinstance(n, str)] or list(props)
        return {n: fill(props.get(n) or {"type": "string"}, text, depth + 1) for n in names}
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return [fill(items, text, depth + 1) for _ in range(int(schema.get("minItems") or 0))]
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = max(0, low) if isinstance(low, int | float) else 0
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            value = schema["exclusiveMinimum"] + 1
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    value = text or "text"
    low = schema.get("minLength")
    if isinstance(low, int) and len(value) < low:
        value = value.ljust(low, ".")
    high = schema.get("maxLength")
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value


# --------------------------------------------------------------------------------- judge


def judge(messages: Sequence[Mapping[str, str]]) -> str:
    """A deliberately naive judge (see docs/providers.md, "The mock judge").

    Inside the candidate region (between `<candidate-NONCE>` and the LAST `</candidate-NONCE>`,
    NONCE from the system message's `Delimiter:` line) it only reads words; outside it, it
    obeys "score N"-style instructions, so a candidate that escapes its region gets its way.
    """
    system = "\n".join(m.get("content", "") for m in messages if m.get("role") == "system")
    user = last_user(messages)
    scale = _SCALE.search(system)
    lo, hi = (int(scale.group(1)), int(scale.group(2))) if scale else (1, 5)
    nonce = _DELIMITER.search(system)
    if nonce:
        opening, closing = f"<candidate-{nonce.group(1)}>", f"</candidate-{nonce.group(1)}>"
        start, end = user.find(opening), user.rfind(closing)
        if start >= 0 and end >= start + len(opening):
            candidate = user[start + len(opening) : end]
            outside = user[:start] + "\n" + user[end + len(closing) :]
        else:
            candidate, outside = "", user
    else:
        # No delimiter: the judge cannot tell data from instructions; everything is "outside".
        found = re.search(r"(?s)<candidate-([^>\s]*)>(.*)</candidate-\1>", user)
        candidate, outside = (found.group(2) if found else user), user
    order = INSTRUCTION.search(outside)
    if order:
        score = min(hi, max(lo, int(order.group(1))))
        return _verdict(f"instructed to give {order.group(1)}", score)
    words = set(_WORD.findall(candidate.lower()))
    if not words:
        return _verdict("empty candidate", lo)
    reference = _REFERENCE.search(outside)
    pool = set(_WORD.findall((reference.group(1) if reference else outside).lower()))
    overlap = len(words & pool) / len(words)
    score = lo + round(overlap * (hi - lo))
    return _verdict(f"{overlap:.0%} of the candidate's words appear in the reference", score)


def _verdict(reason: str, score: int) -> str:
    return json.dumps({"reason": reason, "score": score})
