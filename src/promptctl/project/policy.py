"""The `policy:` block of promptctl.yaml: which moves of which label are allowed (docs/policy.md).

Parsed here, once, for config.py (the reader of promptctl.yaml); labels/policy.py applies it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from promptctl.errors import Location
from promptctl.project import yamlio
from promptctl.project.checks import Checker

_POLICY_KEYS = ("labels",)
_RULE_KEYS = ("from", "min_soak", "protected", "force", "require_suites", "rollout")
_ROLLOUT_KEYS = ("steps", "min_soak")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNIT_S = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutRule:
    """The label moves to a new version only through `rollout finish`, after these steps."""

    steps: tuple[float, ...] = ()  # percents the rollout must have passed through, in order
    min_soak_s: float | None = None  # between two steps, and from the last step to finish


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelRule:
    label: str
    from_label: str | None = None  # the version must have held this label first
    min_soak_s: float | None = None  # ... for at least this long
    protected: bool = False  # moves need evidence; --force needs --reason (and force: true)
    force: bool = True  # False: --force is refused for this label
    require_suites: tuple[str, ...] = ()  # these suites' evidence must pass for the version
    rollout: RolloutRule | None = None
    source: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    labels: Mapping[str, LabelRule] = field(default_factory=dict)
    source: Location | None = None

    def rule(self, label: str) -> LabelRule | None:
        return self.labels.get(label)


def parse_duration(text: str) -> float | None:
    """'24h', '90m', '1d12h', '2w' -> seconds; None when it does not parse."""
    text = text.strip().lower()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if text[pos : m.start()].strip():
            return None
        total += float(m[1]) * _UNIT_S[m[2]]
        pos = m.end()
    if pos == 0 or text[pos:].strip():
        return None
    return total


def _duration(raw: yamlio.YamlMap, key: str, checker: Checker, what: str) -> float | None:
    value = checker.typed(raw, key, str, int, float, what=what)
    if value is None:
        return None
    seconds = float(value) if isinstance(value, (int, float)) else parse_duration(value)
    if seconds is None or seconds < 0:
        checker.add(
            "PC310",
            f"{what}: {key} {value!r} is not a duration",
            raw.value_loc(key),
            "write a number of seconds or e.g. 30m, 24h, 7d, 1d12h",
        )
    return seconds


def parse_policy(raw: yamlio.YamlMap, checker: Checker) -> Policy:
    """Validate `policy:`; every problem goes to `checker` (PC310, PC003, PC004)."""
    checker.keys(raw, _POLICY_KEYS, "policy")
    labels = checker.typed(raw, "labels", dict, what="policy") or {}
    rules: dict[str, LabelRule] = {}
    for label, entry in labels.items():
        what = f"policy.labels.{label}"
        if entry is None:
            entry = yamlio.YamlMap()
        if not isinstance(entry, yamlio.YamlMap):
            checker.add("PC310", f"{what} must be a mapping", labels.value_loc(label))
            continue
        checker.keys(entry, _RULE_KEYS, what)
        from_label = entry.get("from")
        if from_label is not None and not isinstance(from_label, str):
            checker.add("PC310", f"{what}: from must be a label name", entry.value_loc("from"))
            from_label = None
        suites = checker.typed(entry, "require_suites", list, what=what) or []
        rollout = entry.get("rollout")
        rollout_rule = None
        if rollout is True:
            rollout_rule = RolloutRule()
        elif isinstance(rollout, yamlio.YamlMap):
            checker.keys(rollout, _ROLLOUT_KEYS, f"{what}.rollout")
            steps = checker.typed(rollout, "steps", list, what=f"{what}.rollout") or []
            numbers = all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in steps)
            if (
                not numbers
                or any(not a < b for a, b in itertools.pairwise([0, *steps]))
                or steps[-1:] > [100]
            ):
                checker.add(
                    "PC310",
                    f"{what}.rollout: steps must be rising percents in (0, 100], e.g. "
                    "[5, 25, 50, 100]",
                    rollout.value_loc("steps"),
                )
                steps = []
            rollout_rule = RolloutRule(
                steps=tuple(float(s) for s in steps),
                min_soak_s=_duration(rollout, "min_soak", checker, f"{what}.rollout"),
            )
        elif rollout not in (None, False):
            checker.add(
                "PC310",
                f"{what}: rollout must be true or a mapping {{steps, min_soak}}",
                entry.value_loc("rollout"),
            )
        rules[str(label)] = LabelRule(
            label=str(label),
            from_label=from_label,
            min_soak_s=_duration(entry, "min_soak", checker, what),
            protected=bool(checker.typed(entry, "protected", bool, what=what)),
            force=checker.typed(entry, "force", bool, what=what) is not False,
            require_suites=tuple(str(s) for s in suites),
            rollout=rollout_rule,
            source=labels.key_loc(label),
        )
    for rule in rules.values():
        if rule.from_label is not None and rule.from_label not in rules:
            checker.add(
                "PC310",
                f"policy.labels.{rule.label}: from names {rule.from_label!r}, which the policy "
                "does not declare",
                rule.source,
                f"declare it under policy.labels (labels here: {', '.join(sorted(rules))})",
            )
        if rule.min_soak_s is not None and rule.from_label is None:
            checker.add(
                "PC310",
                f"policy.labels.{rule.label}: min_soak needs from: (the label to soak in)",
                rule.source,
            )
    return Policy(labels=rules, source=raw.loc)
