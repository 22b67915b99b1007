"""contains-any, contains-all, icontains-any, icontains-all: a list of needles in the output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, as_text, render_value, short


def needles(value: Any) -> list[Any] | None:
    """`value` as a list: a YAML list, or promptfoo's comma-separated string form."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and "{{" not in value and "{%" not in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, str):
        return [value]  # one template; it may render to a comma-separated list
    return None


@dataclass(frozen=True, slots=True)
class _ContainsSet:
    spec: ScorerSpec
    partials_dir: str | None = None
    every: ClassVar[bool] = False  # all needles (True) or any one (False)
    fold: ClassVar[bool] = False  # compare ignoring case

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec, ctx.partials_dir)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        items = needles(spec.value)
        if not items:
            yield "PC005", f"{spec.type} needs `value`: a list of strings", "value"
        elif any(isinstance(i, dict | list) for i in items):
            yield "PC004", f"{spec.type}: each item of `value` must be text", "value"

    def wanted(self, case: Case) -> list[str]:
        out: list[str] = []
        for item in needles(self.spec.value) or []:
            rendered = as_text(render_value(item, case, self.spec, self.partials_dir))
            if isinstance(item, str) and rendered != item and "," in rendered:
                out.extend(p.strip() for p in rendered.split(",") if p.strip())
            elif rendered:
                out.append(rendered)
        return out

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        wanted = self.wanted(case)
        text = reply.text.casefold() if self.fold else reply.text
        found = [w for w in wanted if (w.casefold() if self.fold else w) in text]
        missing = [w for w in wanted if w not in found]
        if self.every:
            passed = bool(wanted) and not missing
            value = len(found) / len(wanted) if wanted else 0.0
            reason = "contains all" if passed else f"lacks {short(', '.join(missing))!r}"
        else:
            passed = bool(found)
            value = float(passed)
            reason = f"contains {short(found[0])!r}" if found else "contains none of the items"
        return Score(value=value, passed=passed, reason=reason)


@dataclass(frozen=True, slots=True)
class ContainsAny(_ContainsSet):
    pass


@dataclass(frozen=True, slots=True)
class ContainsAll(_ContainsSet):
    every: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class IContainsAny(_ContainsSet):
    fold: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class IContainsAll(_ContainsSet):
    every: ClassVar[bool] = True
    fold: ClassVar[bool] = True
