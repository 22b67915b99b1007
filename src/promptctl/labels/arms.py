"""Compare the arms of a rollout from production outcomes the user exports (`rollout analyze`).

Each key is served one arm, so the two arms are independent samples, not paired cases: the
comparison is an unpaired two-sample test (Welch's normal approximation over per-key means),
and the unit is the key, because a user who sends many requests is still one draw of the
assignment. docs/rollout.md explains the choice and the recommendation rules.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from promptctl.errors import Location, UsageError
from promptctl.gate.stats import wilson_interval, z_quantile
from promptctl.labels.rollout import CANDIDATE, STABLE

MIN_KEYS = 30  # per arm: below this the normal approximation is not to be trusted
POWER = 0.8
BAD_LINES_SHOWN = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Arm:
    variant: str
    keys: int
    requests: int
    mean: float
    interval: tuple[float, float]
    variance: float  # of the per-key means


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    stable: Arm
    candidate: Arm
    metric: str  # pass_rate | mean_score
    difference: float  # candidate - stable
    interval: tuple[float, float]
    p_value: float  # two-sided
    min_detectable: float  # at this size, alpha and 80 % power
    alpha: float
    max_drop: float
    recommendation: str  # widen | hold | abort
    reason: str
    more_keys: int = 0  # keys still needed before widening can be recommended


def read_scores(path: Path, shown: str) -> dict[str, dict[str, list[float]]]:
    """variant -> key -> outcomes, from a JSONL file; every bad line is named, none dropped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError("scores file not found", where=Location(shown)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the scores file: {e}", where=Location(shown)) from None
    arms: dict[str, dict[str, list[float]]] = {STABLE: {}, CANDIDATE: {}}
    bad: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        problem, parsed = _parse_line(line)
        if problem:
            bad.append((lineno, problem))
            continue
        variant, key, value = parsed
        arms[variant].setdefault(key, []).append(value)
    if bad:
        first = bad[0]
        listed = "; ".join(f"line {n}: {why}" for n, why in bad[:BAD_LINES_SHOWN])
        more = f" (and {len(bad) - BAD_LINES_SHOWN} more)" if len(bad) > BAD_LINES_SHOWN else ""
        raise UsageError(
            f"{len(bad)} bad line(s) in the scores file: {listed}{more}",
            where=Location(shown, first[0], 1),
            hint='each line: {"key": "...", "variant": "stable" | "candidate", '
            '"score": 0..1} or {..., "pass": true | false}',
        )
    return arms


def _parse_line(line: str) -> tuple[str | None, tuple[str, str, float]]:
    empty = ("", "", 0.0)
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return f"not JSON ({e.msg})", empty
    if not isinstance(row, dict):
        return "not a JSON object", empty
    key, variant = row.get("key"), row.get("variant")
    if not isinstance(key, str) or not key:
        return "'key' must be a non-empty string", empty
    if variant not in (STABLE, CANDIDATE):
        return f"unknown variant {variant!r} (stable or candidate)", empty
    if "pass" in row:
        if not isinstance(row["pass"], bool):
            return "'pass' must be true or false", empty
        return None, (variant, key, float(row["pass"]))
    score = row.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        return "needs 'score' (a number in 0..1) or 'pass' (true or false)", empty
    return None, (variant, key, float(score))


def _arm(variant: str, by_key: dict[str, list[float]], binary: bool) -> Arm:
    means = [sum(v) / len(v) for v in by_key.values()]
    n = len(means)
    requests = sum(len(v) for v in by_key.values())
    mean = sum(means) / n if n else 0.0
    variance = sum((m - mean) ** 2 for m in means) / (n - 1) if n > 1 else 0.0
    if binary and requests == n:  # one pass/fail per key: a proportion, Wilson's interval
        interval = wilson_interval(sum(means), n)
    else:
        half = z_quantile(0.975) * math.sqrt(variance / n) if n else math.inf
        interval = (mean - half, mean + half)
    return Arm(
        variant=variant, keys=n, requests=requests, mean=mean, interval=interval, variance=variance
    )


def analyze(
    arms: dict[str, dict[str, list[float]]],
    *,
    alpha: float = 0.05,
    max_drop: float = 0.02,
    shown: str = "scores",
) -> Analysis:
    """Both arms, their difference, and widen | hold | abort.

    abort: the candidate is significantly worse (two-sided p < alpha), whatever the size.
    hold: not enough keys to see a drop of `max_drop` with 80 % power (`more_keys` says how many
    more at the current split), or the candidate is worse by more than `max_drop` without
    significance yet.
    widen: enough keys, and no drop beyond `max_drop` is plausible.
    """
    values = [x for by_key in arms.values() for v in by_key.values() for x in v]
    binary = all(x in (0.0, 1.0) for x in values)
    s, c = _arm(STABLE, arms[STABLE], binary), _arm(CANDIDATE, arms[CANDIDATE], binary)
    for arm in (s, c):
        if arm.keys < 2:
            raise UsageError(
                f"the {arm.variant} arm has {arm.keys} key(s) in the scores file: nothing to "
                "compare",
                where=Location(shown),
                hint=f"collect outcomes of both arms (at least {MIN_KEYS} keys each)",
            )
    diff = c.mean - s.mean
    se = math.sqrt(s.variance / s.keys + c.variance / c.keys)
    z_a, z_b = z_quantile(1 - alpha / 2), z_quantile(POWER)
    # Normal approximation, two-sided; with no spread at all, any difference is certain.
    p = math.erfc(abs(diff) / se / math.sqrt(2)) if se > 0 else float(diff == 0)
    mdd = (z_a + z_b) * se
    needed = _keys_needed(s, c, max_drop, z_a + z_b)
    more = max(0, needed - (s.keys + c.keys), MIN_KEYS - s.keys, MIN_KEYS - c.keys)
    if diff < 0 and p < alpha:
        rec, why = "abort", f"the candidate is worse by {-diff:.3f} (p = {p:.3g} < {alpha:g})"
    elif more > 0:
        rec = "hold"
        why = (
            f"too few keys to see a drop of {max_drop:g} with {POWER:.0%} power: about {more} "
            "more at this split"
        )
    elif diff < -max_drop:
        rec, why = "hold", f"the candidate looks worse by {-diff:.3f}, not yet significant"
    else:
        rec = "widen"
        why = f"no drop beyond {max_drop:g} (minimum detectable {mdd:.3f} at this size)"
    return Analysis(
        stable=s,
        candidate=c,
        metric="pass_rate" if binary else "mean_score",
        difference=diff,
        interval=(diff - z_a * se, diff + z_a * se),
        p_value=p,
        min_detectable=mdd,
        alpha=alpha,
        max_drop=max_drop,
        recommendation=rec,
        reason=why,
        more_keys=more,
    )


def _keys_needed(s: Arm, c: Arm, drop: float, z_sum: float) -> int:
    """Total keys, at the current split, for the minimum detectable difference to reach `drop`:
    N >= (z_a + z_b)^2 / drop^2 * (var_s / (1 - f) + var_c / f)."""
    total = s.keys + c.keys
    f = c.keys / total
    var_s, var_c = _floor_variance(s), _floor_variance(c)
    return math.ceil(z_sum**2 / drop**2 * (var_s / (1 - f) + var_c / f))


def _floor_variance(arm: Arm) -> float:
    # A sample with no spread yet (all passes) would claim any size suffices; assume at least
    # the variance of a 1 % failure rate.
    return max(arm.variance, 0.01 * 0.99)
