"""Paired statistics for the gate: exact one-sided tests, Wilson and paired-difference intervals,
minimum detectable drop and sample-size hints. Standard library only (no scipy); see docs/gate.md.

Conventions: every comparison is paired by case, `base[i]` and `current[i]` are one case's pass
fractions (repeats averaged, so the case is the unit), a difference is `current - base`, and a
one-sided p-value tests H1 "current is lower than base".
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from statistics import NormalDist

_NORMAL = NormalDist()
_GRID_MAX = 720  # lcm of repeats up to 6, and any single repeat count up to 720
_EXACT_BUDGET = 4_000_000  # elementary steps of the exact convolution (~0.3 s in CPython)
MC_DRAWS = 20_000  # Monte Carlo p-value: standard error <= 0.0036 at p = 0.05
_EPS = 1e-9


def z_quantile(q: float) -> float:
    return _NORMAL.inv_cdf(q)


# ----------------------------------------------------------------------------- intervals


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval for a proportion; `successes` may be fractional (averaged
    repeats). Well-behaved at 0, 1 and small n, unlike the normal (Wald) interval."""
    if n <= 0:
        return (0.0, 1.0)
    z = z_quantile(1 - (1 - confidence) / 2)
    p = min(1.0, max(0.0, successes / n))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At p = 0 or 1 the formula's end is exactly 0 or 1; rounding must not move it.
    return (0.0 if p <= 0 else max(0.0, centre - half), 1.0 if p >= 1 else min(1.0, centre + half))


def paired_difference_interval(
    base: Sequence[float], current: Sequence[float], confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for mean(current) - mean(base) over paired cases: Newcombe's (1998) method 10,
    which combines the two Wilson intervals with the correlation of the pairs (phi for pass/fail;
    Pearson's r for pass fractions). Never degenerate at small n, unlike a t-interval."""
    n = len(base)
    if n == 0:
        return (-1.0, 1.0)
    p1 = sum(base) / n
    p2 = sum(current) / n
    l1, u1 = wilson_interval(p1 * n, n, confidence)
    l2, u2 = wilson_interval(p2 * n, n, confidence)
    phi = _correlation(base, current)
    diff = p2 - p1
    # Newcombe writes D = p1 - p2 with (D - delta, D + eps); ours is its negation.
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (max(-1.0, diff - eps), min(1.0, diff + delta))


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= _EPS or syy <= _EPS:
        return 0.0  # Newcombe: phi is 0 when a margin is empty
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


# ----------------------------------------------------------------------------- exact tests


def sign_test(pass_to_fail: int, fail_to_pass: int) -> float:
    """Exact one-sided McNemar (sign) test on the discordant pairs: P(X >= pass_to_fail) for
    X ~ Binomial(pass_to_fail + fail_to_pass, 1/2). Exact integers up to 1000 discordant pairs,
    a float sum of the exact terms beyond (relative error ~1e-12)."""
    k = pass_to_fail + fail_to_pass
    if k == 0:
        return 1.0
    if k > 1000:  # exact integers cost O(k^2) digits here; the float tail is exact to ~1e-12
        return min(
            1.0,
            _upper_tail(k, 0.5, pass_to_fail)
            if pass_to_fail > k / 2
            else 1.0 - _lower_tail_half(k, pass_to_fail - 1),
        )
    tail = sum(math.comb(k, j) for j in range(pass_to_fail, k + 1))
    return min(1.0, tail / 2**k)


def _lower_tail_half(k: int, stop: int) -> float:
    """P(Binomial(k, 1/2) <= stop): the mirror image of the upper tail."""
    if stop < 0:
        return 0.0
    return _upper_tail(k, 0.5, k - stop)


@dataclass(frozen=True, slots=True)
class TestResult:
    p_value: float
    method: str  # how p was computed, for the report


def permutation_test(
    base: Sequence[float], current: Sequence[float], *, seed: int = 0, draws: int = MC_DRAWS
) -> TestResult:
    """One-sided paired permutation (sign-flip) test of H1 "current < base" on the differences.

    Under H0 each case's base and current are exchangeable, so each difference is as likely
    negated. Exact (enumerating all 2^k sign patterns by convolution over the distinct
    magnitudes) when that is cheap, which covers pass/fail with any n and pass fractions over a
    few repeats up to thousands of cases; seeded Monte Carlo otherwise. On pass/fail data it
    equals the exact McNemar test.
    """
    diffs = [c - b for b, c in zip(base, current, strict=True)]
    nonzero = [d for d in diffs if abs(d) > _EPS]
    if not nonzero:
        return TestResult(1.0, "exact")
    grid = _grid(nonzero)
    if grid is not None:
        units = [round(d * grid) for d in nonzero]
        magnitudes = Counter(abs(u) for u in units)
        observed = sum(units)
        if len(magnitudes) == 1:
            # One magnitude (pass/fail data): the exact McNemar test on the discordant pairs.
            negatives = sum(1 for u in units if u < 0)
            return TestResult(sign_test(negatives, len(units) - negatives), "exact")
        if _exact_cost(magnitudes) <= _EXACT_BUDGET:
            return TestResult(_exact_grid_p(magnitudes, observed), "exact")
        return TestResult(
            _monte_carlo_grid(magnitudes, observed, seed, draws), f"monte-carlo ({draws} draws)"
        )
    return TestResult(_monte_carlo(nonzero, seed, draws), f"monte-carlo ({draws} draws)")


def _grid(values: Sequence[float]) -> int | None:
    """Smallest g with every value * g an integer: pass fractions are k/repeats."""
    for g in range(1, _GRID_MAX + 1):
        if all(abs(v * g - round(v * g)) < 1e-6 for v in values):
            return g
    return None


def _exact_cost(magnitudes: Counter[int]) -> int:
    support, cost = 1, 0
    for v, m in magnitudes.items():
        cost += support * (m + 1)
        support += 2 * v * m
    return cost


def _exact_grid_p(magnitudes: Counter[int], observed: int) -> float:
    """P(sum of s_i * |u_i| <= observed) by convolving one binomial per magnitude."""
    dist: dict[int, float] = {0: 1.0}
    for v, m in sorted(magnitudes.items()):
        pmf = [math.comb(m, j) / 2**m for j in range(m + 1)]
        nxt: dict[int, float] = {}
        for total, prob in dist.items():
            for j, pj in enumerate(pmf):
                key = total + v * (2 * j - m)
                nxt[key] = nxt.get(key, 0.0) + prob * pj
        dist = nxt
    return min(1.0, sum(p for t, p in dist.items() if t <= observed))


def _monte_carlo_grid(magnitudes: Counter[int], observed: int, seed: int, draws: int) -> float:
    # One draw flips every sign at once: per magnitude, the count of positive signs is the
    # popcount of m random bits, so a draw costs one step per distinct magnitude.
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible draw, not a secret
    items = sorted(magnitudes.items())
    hits = 0
    for _ in range(draws):
        total = 0
        for v, m in items:
            total += v * (2 * rng.getrandbits(m).bit_count() - m)
        hits += total <= observed
    return (hits + 1) / (draws + 1)  # never 0: a Monte Carlo p-value must stay valid


def _monte_carlo(diffs: Sequence[float], seed: int, draws: int) -> float:
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible draw, not a secret
    observed = sum(diffs) + _EPS
    mags = [abs(d) for d in diffs]
    draws = max(2_000, min(draws, 4_000_000 // max(1, len(mags))))
    hits = 0
    for _ in range(draws):
        bits = rng.getrandbits(len(mags))
        total = 0.0
        for i, m in enumerate(mags):
            total += m if (bits >> i) & 1 else -m
        hits += total <= observed
    return (hits + 1) / (draws + 1)


# ----------------------------------------------------------------------------- t-test


def student_t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return tail if t < 0 else 1.0 - tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by Lentz's continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return math.exp(ln_front) * f / a


# ----------------------------------------------------------------------------- many tests


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the order given.

    Rejecting every hypothesis whose adjusted p is under alpha keeps the family-wise error rate
    (the chance of even one false alarm among them) at alpha, under any dependence between the
    tests; it is uniformly more powerful than Bonferroni (Holm 1979, theorem 1).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        # Step-down: the k-th smallest p is multiplied by (m - k + 1); the running maximum keeps
        # the adjusted values monotone, so a later hypothesis is never easier to reject.
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# Alpha spending over the looks of `eval --settle` (gate/settle.py): the run itself is look 1
# and gets a tenth of alpha; the rest (nine tenths) goes to the settling round(s), where the
# fresh samples are. Fixed before any data is seen, as a spending plan must be. The figures in
# docs/gate.md (tests/unit/test_gate_family_simulation.py: 88.7% of 15-point drops found at
# 1.87x the calls with one repeat) are measured with this 0.1/0.9 split.
SETTLE_LOOKS = 2
_FIRST_LOOK_SHARE = 0.1


def look_weight(look: int, looks: int = SETTLE_LOOKS) -> float:
    """The share of alpha spent at `look` (1-based) of `looks`; the shares sum to 1."""
    if look == 1:
        return _FIRST_LOOK_SHARE
    return (1 - _FIRST_LOOK_SHARE) / (looks - 1)


def sequential_p(p_at_looks: Sequence[float], looks: int = SETTLE_LOOKS) -> float:
    """A valid p-value over sequential looks: min_k p_k / w_k (Bonferroni alpha spending).

    Rejecting when p_k <= alpha w_k at some look has P <= sum_k alpha w_k = alpha under H0
    (the union bound), whatever the dependence between looks and whenever the sampling stops,
    so the smallest alpha at which some look rejects is a p-value: Holm may take it as one.
    It is more conservative than an O'Brien-Fleming or Pocock boundary computed from the
    looks' correlation, and needs no model of that correlation, which re-sampling chosen
    cases makes hard to state. No naive re-testing at the full alpha.
    """
    return min(1.0, *(p / look_weight(k + 1, looks) for k, p in enumerate(p_at_looks)))


# ----------------------------------------------------------------------------- power


def min_flips(alpha: float) -> int:
    """Fewest cases that must all drop for any paired test here to reach p < alpha."""
    return max(1, math.ceil(math.log2(1 / alpha) + 1e-12))


def noise_flip_rate(base: Sequence[float], current: Sequence[float]) -> float:
    """Background per-case change rate: the smaller of the up and down movement. Noise moves
    both ways equally; a real drop (or gain) inflates only one side, so the minimum estimates
    the noise alone whichever way the change went."""
    n = len(base)
    if n == 0:
        return 0.0
    up = sum(max(0.0, c - b) for b, c in zip(base, current, strict=True))
    down = sum(max(0.0, b - c) for b, c in zip(base, current, strict=True))
    return min(up, down) / n


def _power_normal(n: int, drop: float, flip_rate: float, alpha: float) -> float:
    # Per-case difference: -1 with prob f + drop, +1 with prob f (the drop arrives as extra
    # pass->fail flips on top of symmetric noise f). Normal approximation of the paired test.
    # The -1 is a continuity correction: the statistic moves in whole flipped cases.
    sd0 = math.sqrt(2 * flip_rate)
    sd1 = math.sqrt(max(1e-12, 2 * flip_rate + drop - drop * drop))
    return _NORMAL.cdf(
        (drop * n - z_quantile(1 - alpha) * sd0 * math.sqrt(n) - 1) / (sd1 * math.sqrt(n))
    )


def _power_floor(n: int, drop: float, alpha: float) -> float:
    # Even without noise, significance needs min_flips(alpha) dropped cases: P(Poisson >= k).
    k, lam = min_flips(alpha), drop * n
    below = sum(math.exp(-lam) * lam**j / math.factorial(j) for j in range(k))
    return 1.0 - below


@lru_cache(maxsize=4096)
def _critical(k: int, alpha: float) -> int | None:
    """Fewest pass->fail among k discordant pairs that the exact sign test finds significant."""
    total, tail = 2**k, 0
    best = None
    for j in range(k, -1, -1):
        tail += math.comb(k, j)
        if tail / total >= alpha:
            break
        best = j
    return best


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _power_exact(n: int, drop: float, flip_rate: float, alpha: float) -> float:
    # Discordant count D ~ Bin(n, 2f + drop); given D = k, pass->fail ~ Bin(k, (f + drop)/(2f +
    # drop)); the exact sign test rejects at its critical count. Only k near the mean matter.
    q = min(1.0, 2 * flip_rate + drop)
    share = min(1.0, (flip_rate + drop) / q)
    sd = math.sqrt(n * q * (1 - q)) + 1
    lo, hi = max(0, int(n * q - 7 * sd)), min(n, int(n * q + 7 * sd) + 1)  # tails < 1e-11
    total = 0.0
    for k in range(lo, hi + 1):
        crit = _critical(k, alpha)
        if crit is None:
            continue
        weight = math.exp(_log_binom_pmf(k, n, q))
        if weight < 1e-12:
            continue
        total += weight * _upper_tail(k, share, crit)
    return min(1.0, total)


def _upper_tail(k: int, p: float, start: int) -> float:
    """P(Binomial(k, p) >= start), by the pmf's ratio recurrence (one lgamma per call)."""
    if p >= 1:
        return 1.0
    if p <= 0:
        return 1.0 if start <= 0 else 0.0
    pmf = math.exp(_log_binom_pmf(start, k, p))
    ratio = p / (1 - p)
    total = 0.0
    for j in range(start, k + 1):
        total += pmf
        pmf *= (k - j) / (j + 1) * ratio
    return total


def power(n: int, drop: float, flip_rate: float, alpha: float) -> float:
    """Probability that the exact paired test flags a true drop of `drop` on n pass/fail cases
    with background flip rate `flip_rate` (exact up to 300 cases, normal approximation above,
    where the test's discreteness no longer matters)."""
    if n <= 0 or drop <= 0:
        return 0.0
    if n <= 300:
        return _power_exact(n, drop, flip_rate, alpha)
    return min(_power_normal(n, drop, flip_rate, alpha), _power_floor(n, drop, alpha))


def min_detectable_drop(n: int, flip_rate: float, alpha: float, target: float = 0.8) -> float:
    """Smallest true drop in pass rate found significant with probability `target` on n cases
    (1.0 when even a total collapse could not be); an approximation, see docs/gate.md."""
    return _mdd(n, round(flip_rate, 4), alpha, target)


@lru_cache(maxsize=1024)
def _mdd(n: int, flip_rate: float, alpha: float, target: float) -> float:
    # Cached: a suite's scorers (and a simulation's trials) share n and nearly share f.
    if n <= 0 or power(n, 1.0, flip_rate, alpha) < target:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(20):  # to 1e-6: finer than any report prints
        mid = (lo + hi) / 2
        if power(n, mid, flip_rate, alpha) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def cases_needed(drop: float, flip_rate: float, alpha: float, target: float = 0.8) -> int | None:
    """Cases for `target` power at a true drop of `drop` (None if drop <= 0)."""
    if drop <= 0:
        return None
    return _cases_needed(round(drop, 4), round(flip_rate, 4), alpha, target)


@lru_cache(maxsize=1024)
def _cases_needed(drop: float, flip_rate: float, alpha: float, target: float) -> int:
    z_a, z_b = z_quantile(1 - alpha), z_quantile(target)
    sd0 = math.sqrt(2 * flip_rate)
    sd1 = math.sqrt(max(1e-12, 2 * flip_rate + drop - drop * drop))
    n = math.ceil(((z_a * sd0 + z_b * sd1) / drop) ** 2)
    while power(n, drop, flip_rate, alpha) < target and n < 10_000_000:
        n = max(n + 1, math.ceil(n * 1.05))
    return n


# ----------------------------------------------------------------------------- the comparison


@dataclass(frozen=True, slots=True, kw_only=True)
class PairedComparison:
    """Base vs current pass rate on n paired cases."""

    n: int
    base_rate: float
    current_rate: float
    delta: float  # current - base; negative is a drop
    ci_low: float
    ci_high: float
    p_value: float  # one-sided, H1: current < base
    method: str
    worse: int  # cases whose pass fraction fell
    better: int  # cases whose pass fraction rose
    flip_rate: float
    min_detectable_drop: float
    metric: str = "pass_rate"  # or mean_score: rates above are then mean scores in [0, 1]
    sd: float = 0.0  # mean_score: standard deviation of the per-case differences

    @property
    def drop(self) -> float:
        return -self.delta


def compare(
    base: Sequence[float],
    current: Sequence[float],
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Everything the gate reports about one scorer: rates, delta with CI, p, MDE."""
    if len(base) != len(current):
        raise ValueError("paired samples differ in length")
    n = len(base)
    if n == 0:
        return PairedComparison(
            n=0,
            base_rate=0.0,
            current_rate=0.0,
            delta=0.0,
            ci_low=-1.0,
            ci_high=1.0,
            p_value=1.0,
            method="none",
            worse=0,
            better=0,
            flip_rate=0.0,
            min_detectable_drop=1.0,
        )
    b, c = sum(base) / n, sum(current) / n
    test = permutation_test(base, current, seed=seed)
    lo, hi = paired_difference_interval(base, current, confidence)
    flip = noise_flip_rate(base, current)
    return PairedComparison(
        n=n,
        base_rate=b,
        current_rate=c,
        delta=c - b,
        ci_low=lo,
        ci_high=hi,
        p_value=test.p_value,
        method=test.method,
        worse=sum(1 for x, y in zip(base, current, strict=True) if y < x - _EPS),
        better=sum(1 for x, y in zip(base, current, strict=True) if y > x + _EPS),
        flip_rate=flip,
        min_detectable_drop=min_detectable_drop(n, flip, alpha),
    )


@lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """Student's t quantile by bisection on `student_t_cdf` (no scipy): to 1e-10."""
    lo, hi = -1e3, 1e3
    for _ in range(100):
        mid = (lo + hi) / 2
        if student_t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def compare_scores(
    base: Sequence[float],
    current: Sequence[float],
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """`gate.metric: mean_score` (issue 17 §2): per-case mean scores in [0, 1], paired.

    The p-value is the same sign-flip permutation test as for pass fractions: a judge's scores
    on a k-point scale, averaged over r repeats, are multiples of 1/((k-1) r), so the exact
    enumeration covers every realistic suite, and seeded Monte Carlo (20,000 draws, standard
    error <= 0.0036 at p = 0.05) takes over beyond its budget. It assumes nothing about the
    shape of the score distribution (judge scores are lumpy and bounded, far from normal),
    which a paired t-test would. The interval is the paired t-interval on the per-case
    differences: the case is the unit, so it is the clustered interval of Miller (2024, §3).
    """
    if len(base) != len(current):
        raise ValueError("paired samples differ in length")
    n = len(base)
    diffs = [c - b for b, c in zip(base, current, strict=True)]
    if n == 0:
        return replace(compare([], []), metric="mean_score")
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    half = t_quantile(1 - (1 - confidence) / 2, n - 1) * sd / math.sqrt(n) if n > 1 else 1.0
    test = permutation_test(base, current, seed=seed)
    return PairedComparison(
        n=n,
        base_rate=sum(base) / n,
        current_rate=sum(current) / n,
        delta=mean,
        ci_low=max(-1.0, mean - half),
        ci_high=min(1.0, mean + half),
        p_value=test.p_value,
        method=test.method,
        worse=sum(1 for d in diffs if d < -_EPS),
        better=sum(1 for d in diffs if d > _EPS),
        flip_rate=0.0,
        min_detectable_drop=min_detectable_score_drop(n, sd, alpha),
        metric="mean_score",
        sd=sd,
    )


def min_detectable_score_drop(n: int, sd: float, alpha: float, target: float = 0.8) -> float:
    """Smallest true drop in mean score found significant with probability `target` on n cases
    whose per-case differences spread by `sd` (normal approximation of the sign-flip test, which
    at these sizes is close to the t-test's power). Below min_flips(alpha) cases no drop can
    be significant at all: 1.0."""
    if n < min_flips(alpha):
        return 1.0
    return min(1.0, (z_quantile(1 - alpha) + z_quantile(target)) * sd / math.sqrt(n))


def score_cases_needed(drop: float, sd: float, alpha: float, target: float = 0.8) -> int | None:
    """Cases for `target` power at a true mean-score drop of `drop` with per-case spread `sd`."""
    if drop <= 0:
        return None
    need = math.ceil(((z_quantile(1 - alpha) + z_quantile(target)) * sd / drop) ** 2)
    return max(min_flips(alpha), need)


@dataclass(frozen=True, slots=True)
class NoiseSplit:
    """The spread of the per-case differences, split into within-case noise (what repeats
    average away) and between-case differences (what only more cases average away)."""

    total: float  # sample variance of the per-case differences
    within: float | None  # its within-case part; None with one repeat: unknown
    deterministic: bool  # with repeats, every changed case changed the same way in every one
    repeats: int  # the fewest repeats of a paired case (base or now)

    @property
    def within_share(self) -> float | None:
        if self.within is None:
            return None
        return 0.0 if self.total <= _EPS else min(1.0, self.within / self.total)


def split_noise(
    base: Sequence[float],
    current: Sequence[float],
    base_repeats: Sequence[int],
    current_repeats: Sequence[int],
) -> NoiseSplit:
    """Within- vs between-case variance of the paired differences of pass fractions.

    A case's pass fraction over r repeats varies by p(1-p)/r around its true rate; p^(1-p^)/(r-1)
    estimates that without bias. Summed over base and now and averaged over cases it is the
    within-case part of the differences' variance; the rest is the cases themselves reacting
    differently to the change. A side run once (a baseline recorded with one repeat) is taken
    to be as noisy as the other; with one repeat on both sides nothing is known (issue 17 §3).
    """
    n = len(base)
    diffs = [c - b for b, c in zip(base, current, strict=True)]
    mean = sum(diffs) / n if n else 0.0
    total = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    sides = [
        (values, reps)
        for values, reps in ((base, base_repeats), (current, current_repeats))
        if reps and min(reps) >= 2
    ]
    if not sides:
        return NoiseSplit(total=total, within=None, deterministic=False, repeats=1)
    within = 0.0
    for values, reps in sides:
        within += sum(v * (1 - v) / (r - 1) for v, r in zip(values, reps, strict=True)) / n
    within *= 2 / len(sides)
    changed = [(b, c) for b, c in zip(base, current, strict=True) if abs(c - b) > _EPS]
    # Same in every repeat: every changed case is all-pass or all-fail on the measured side(s).
    deterministic = bool(changed) and all(
        min(v, 1 - v) < _EPS
        for values, _ in sides
        for v, (b, c) in zip(values, zip(base, current, strict=True), strict=True)
        if abs(c - b) > _EPS
    )
    repeats = min(min(reps) for _, reps in sides)
    return NoiseSplit(total=total, within=within, deterministic=deterministic, repeats=repeats)


@dataclass(frozen=True, slots=True)
class SettleHint:
    more_cases: int  # cases to add (at the current repeat count)
    # The repeat count that would settle it on the same cases; None when repeats cannot (the
    # flips were the same in every repeat, or the cases differ more than the repeats do) or
    # when one repeat leaves it unknown (`noise.within is None`).
    repeats: int | None
    noise: NoiseSplit | None = None


def settle_hint(
    comparison: PairedComparison, alpha: float, noise: NoiseSplit | None = None
) -> SettleHint | None:
    """How many more cases, or repeats, would make the observed drop, if real, significant with
    80% power. Repeats are suggested only when within-case noise dominates the spread of the
    differences and averaging it away would be enough; the hint says "about"."""
    if comparison.metric == "mean_score":
        needed = score_cases_needed(comparison.drop, comparison.sd, alpha)
    else:
        needed = cases_needed(comparison.drop, comparison.flip_rate, alpha)
    if needed is None:
        return None
    n = max(1, comparison.n)
    more = max(1, needed - n)
    repeats = None
    share = noise.within_share if noise is not None else None
    if noise is not None and share is not None and share > 0.5 and not noise.deterministic:
        # Power needs variance <= n drop^2 / (z_a + z_b)^2; repeats shrink only the within part:
        # V(r') = between + within * r / r'.
        z = z_quantile(1 - alpha) + z_quantile(0.8)
        allowed = n * comparison.drop**2 / z**2
        between = max(0.0, noise.total - (noise.within or 0.0))
        if between < allowed and noise.within:
            r = noise.repeats
            repeats = max(r + 1, math.ceil(r * noise.within / (allowed - between)))
            repeats = repeats if repeats <= 100 else None  # the suite's limit (SPEC: repeat)
    return SettleHint(more_cases=more, repeats=repeats, noise=noise)
