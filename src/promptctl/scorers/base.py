"""The Scorer protocol, the context scorers are built in, and value rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.prompts.prompt import Prompt


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerContext:
    """What a scorer may use besides the reply: the engine (judge calls), the prompt, defaults."""

    engine: Any = None  # promptctl.engine.Engine; None when no scorer may call a model
    prompt: Prompt | None = None
    judge_model: str | None = None
    partials_dir: str | None = None
    project: Any = None  # promptctl.project.config.Project: where `python` scorers are read
    extra: Mapping[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    """A scorer: one small class per type, built from a ScorerSpec.

    `score` returns a Score with value in [0, 1], a pass flag and a reason; raising is allowed
    (the runner records the error for that case and scorer, as a fail, and goes on).
    """

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score: ...


def render_value(value: Any, case: Case, spec: ScorerSpec, partials_dir: str | None = None) -> Any:
    """`value` with `{{ expected }}` and case vars filled in (Jinja2 sandbox); non-strings as-is."""
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return value
    from promptctl.prompts import rendering

    context: dict[str, Any] = {**case.vars, "vars": case.vars}
    if case.expected is not None:
        # a case without `expected` leaves it undefined: `{{ expected }}` is then an error (the
        # sandbox is strict), never the text "None" that a reply could happen to contain
        context["expected"] = case.expected
    return rendering.render_text(value, context, source=spec.source, partials_dir=partials_dir)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def short(text: str, limit: int = 80) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Negated:
    """`not-<type>`: passes when the inner scorer fails; errors stay errors (a fail)."""

    inner: Any

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        s = await self.inner.score(reply, case, repeat=repeat)
        if s.error is not None:
            return s
        return Score(value=1.0 - s.value, passed=not s.passed, reason=f"not ({s.reason})")
