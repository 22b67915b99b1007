"""Field checks over loaded YAML maps; they collect Findings so lint can report every problem."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from promptctl.errors import Location, UsageError, did_you_mean
from promptctl.lint.findings import RULES, Finding, Severity
from promptctl.project.yamlio import YamlList, YamlMap

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


class Checker:
    """Collects findings for one file; `raise_first()` turns them into a UsageError."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, where: Location | None, hint: str | None = None) -> None:
        severity = RULES[code].severity
        self.findings.append(Finding(code, severity, message, where or Location(self.path), hint))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def raise_first(self) -> None:
        # An unknown key first: `scorer:` explains the missing `scorers`, and its hint says
        # "did you mean 'scorers'?" (issue 20: the missing-key error hid it)
        errors = sorted(
            self.errors,
            key=lambda f: (
                f.code != "PC003",
                *((f.where.line or 0, f.where.col or 0) if f.where else (0, 0)),
            ),
        )
        if not errors:
            return
        first = errors[0]
        more = f" (and {len(errors) - 1} more: run `promptctl lint`)" if len(errors) > 1 else ""
        raise UsageError(first.message + more, where=first.where, hint=first.hint)

    def keys(
        self, data: YamlMap, allowed: Iterable[str], what: str, required: Iterable[str] = ()
    ) -> None:
        allowed = list(allowed)
        for key in data:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}"
                self.add("PC003", f"unknown key {key!r} in {what}", data.key_loc(key), hint)
        for key in required:
            if key not in data:
                self.add("PC005", f"{what} needs {key!r}", data.loc, f"add `{key}:`")

    def typed(self, data: YamlMap, key: str, *types: type, what: str) -> Any:
        """The value if it has one of `types`, else None (and a finding)."""
        if key not in data:
            return None
        value = data[key]
        if _is(value, types):
            return value
        wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
        self.add(
            "PC004",
            f"{what}: {key!r} must be {wanted}, not {_describe(value)}",
            data.value_loc(key),
        )
        return None

    def number(
        self,
        data: YamlMap,
        key: str,
        what: str,
        *,
        low: float | None = None,
        high: float | None = None,
        integer: bool = False,
    ) -> float | None:
        types: tuple[type, ...] = (int,) if integer else (int, float)
        value = self.typed(data, key, *types, what=what)
        if value is None:
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.add("PC004", f"{what}: {key!r} must be {bounds}, not {value}", data.value_loc(key))
            return None
        return value


def _is(value: Any, types: tuple[type, ...]) -> bool:
    for t in types:
        if t is int and isinstance(value, bool):
            continue
        if t is float and isinstance(value, bool):
            continue
        if t is dict and isinstance(value, dict):
            return True
        if t is list and isinstance(value, list):
            return True
        if isinstance(value, t):
            return True
    return False


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, YamlMap | dict):
        return "a mapping"
    if isinstance(value, YamlList | list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]
