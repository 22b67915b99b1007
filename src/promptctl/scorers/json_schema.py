"""is-json and json-schema: the output parses as JSON (and conforms; $refs are never fetched)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.prompts import validation
from promptctl.scorers.base import ScorerContext


def parse_output(text: str) -> tuple[Any, str | None]:
    """The JSON value of an output, or the reason it is not JSON."""
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, f"not JSON: {getattr(e, 'msg', e)} at char {getattr(e, 'pos', '?')}"


@dataclass(frozen=True, slots=True)
class IsJson:
    spec: ScorerSpec

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec)

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        _, problem = parse_output(reply.text)
        if problem:
            return Score(value=0.0, passed=False, reason=problem)
        return Score(value=1.0, passed=True, reason="valid JSON")


@dataclass(frozen=True, slots=True)
class JsonSchema:
    spec: ScorerSpec
    schema: Mapping[str, Any]

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        schema = spec.value
        if schema is None and ctx.prompt is not None:
            schema = ctx.prompt.output.schema  # no value: the prompt's own output schema
        if not isinstance(schema, Mapping):
            from promptctl.errors import UsageError

            raise UsageError(
                f"scorer {spec.id!r}: json-schema needs `value` (a schema) or a "
                "prompt with output.schema",
                where=spec.source,
            )
        return cls(spec, schema)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        if spec.value is None:
            return
        for problem in validation.schema_errors(spec.value)[:3]:
            yield "PC210", f"invalid JSON Schema: {problem}", "value"

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        value, problem = parse_output(reply.text)
        if problem:
            return Score(value=0.0, passed=False, reason=problem)
        errors = validation.validate(value, self.schema)
        if errors:
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            return Score(value=0.0, passed=False, reason=f"schema: {errors[0]}{more}")
        return Score(value=1.0, passed=True, reason="matches the schema")
