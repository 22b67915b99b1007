"""Scorer registry: type name -> "module:Class", imported on first use; `not-` and aliases here."""

from __future__ import annotations

from typing import Any

from promptctl.model import ScorerSpec
from promptctl.registry import Registry
from promptctl.scorers.base import Scorer, ScorerContext

BUILTIN = {
    "equals": "promptctl.scorers.text:Equals",
    "contains": "promptctl.scorers.text:Contains",
    "icontains": "promptctl.scorers.text:IContains",
    "starts-with": "promptctl.scorers.text:StartsWith",
    "regex": "promptctl.scorers.regex:Regex",
    "is-json": "promptctl.scorers.json_schema:IsJson",
    "json-schema": "promptctl.scorers.json_schema:JsonSchema",
    "llm-judge": "promptctl.scorers.judge:LlmJudge",
    "latency": "promptctl.scorers.metrics:Latency",
    "cost": "promptctl.scorers.metrics:Cost",
    "contains-any": "promptctl.scorers.contains_set:ContainsAny",
    "contains-all": "promptctl.scorers.contains_set:ContainsAll",
    "icontains-any": "promptctl.scorers.contains_set:IContainsAny",
    "icontains-all": "promptctl.scorers.contains_set:IContainsAll",
    "levenshtein": "promptctl.scorers.levenshtein:Levenshtein",
    "word-count": "promptctl.scorers.bounds:WordCount",
    "length": "promptctl.scorers.bounds:Length",
    "pii": "promptctl.scorers.pii:Pii",
    "refusal": "promptctl.scorers.refusal:Refusal",
    "canary": "promptctl.scorers.canary:Canary",
    "python": "promptctl.scorers.python:Python",
    "similar": "promptctl.scorers.similar:Similar",
}
# promptfoo's names, so a converted config keeps working.
ALIASES = {"llm-rubric": "llm-judge"}

scorers: Registry[Any] = Registry("scorer type", group="promptctl.scorers")
for _name, _target in BUILTIN.items():
    scorers.register(_name, _target)

__all__ = [
    "ALIASES",
    "BUILTIN",
    "Scorer",
    "ScorerContext",
    "build",
    "check_spec",
    "is_graded",
    "resolve_type",
    "scorers",
]


def resolve_type(name: str) -> tuple[str, bool]:
    """`not-contains` -> ("contains", True); aliases resolved; unknown types a UsageError."""
    negate = name.startswith("not-")
    base = name[4:] if negate else name
    base = ALIASES.get(base, base)
    # The registry scans installed entry points (~40 ms) only for a name not built in.
    if base not in scorers:
        scorers.get(base)  # raises UsageError naming the known types
    return base, negate


def check_spec(spec: ScorerSpec) -> list[tuple[str, str, str]]:
    """Static problems of a scorer config: (lint code, message, key the problem is at)."""
    cls = scorers.get(spec.type)
    check = getattr(cls, "check", None)
    return list(check(spec)) if check is not None else []


def is_graded(type_name: str) -> bool:
    """True for a scorer type whose score carries more than pass/fail (`GRADED = True` on its
    class: the judge's scale, latency and cost fall-offs); `gate.metric: mean_score` needs one."""
    return bool(getattr(scorers.get(type_name), "GRADED", False))


def build(spec: ScorerSpec, ctx: ScorerContext) -> Scorer:
    """An instance ready to score; negated scorers are wrapped."""
    cls = scorers.get(spec.type)
    scorer = cls.from_spec(spec, ctx)
    if spec.negate:
        from promptctl.scorers.base import Negated

        return Negated(scorer)
    return scorer
