"""`promptctl drift`: did the model move under a label that did not? (issue 15 §6)

The labelled versions' suites run again, fresh (no replay, no cache), and are compared with the
committed baselines of exactly those versions. One drift check is one decision: the gates of all
its suites are corrected together with Holm's procedure (gate/verdict.decide), and so are the
"improved" tests, so the chance of any false alarm across the whole check stays at alpha.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from pathlib import Path

from promptctl.errors import IncompleteError, UsageError
from promptctl.evals import datasets, runner, runs
from promptctl.evals import suites as suite_files
from promptctl.gate import stats
from promptctl.labels import promote as promotion
from promptctl.labels import store as labels
from promptctl.model import Suite, Verdict
from promptctl.project.config import Project

STATUSES = ("stable", "regressed", "improved", "changed", "inconclusive", "unmeasured")


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftSuite:
    suite: str
    prompt: str
    version: str
    status: str  # one of STATUSES
    detail: str
    changed_outputs: int = 0  # outputs that differ from the baseline's recorded ones
    compared_outputs: int = 0
    served_models: tuple[str, ...] = ()  # what the provider says it ran
    run_dir: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftResult:
    label: str
    suites: tuple[DriftSuite, ...]
    eval: runner.EvalResult | None = None

    @property
    def exit_code(self) -> int:
        statuses = {s.status for s in self.suites}
        if "unmeasured" in statuses:
            return 3
        return 1 if "regressed" in statuses else 0


def sample_ids(project: Project, suite: Suite, n: int, day: dt.date) -> frozenset[str]:
    """Every critical case plus `n` others drawn with a seed of the day: the same sample all
    day (a rerun after an outage measures the same cases), a different one tomorrow."""
    critical, others = [], []
    for case in datasets.iter_cases(project, suite):
        (critical if case.critical else others).append(case.id)
    rng = random.Random(f"{day.isoformat()}:{suite.name}")  # noqa: S311 - a sample, not a secret
    return frozenset(critical) | frozenset(rng.sample(others, min(n, len(others))))


def _targets(project: Project, label: str) -> list[tuple[str, labels.LabelEntry]]:
    labels.check_label_name(label)
    pointers = labels.read(project)
    found = [(name, e[label]) for name, e in sorted(pointers.items()) if label in e]
    if not found:
        raise UsageError(
            f"no prompt has the label {label!r}",
            hint=f"promote one first (promptctl promote NAME --to {label}), or pick --label",
        )
    return found


def _baseline_ref(project: Project, suite: str, entry: labels.LabelEntry) -> str | bool | None:
    """Where the baseline of exactly the labelled version is: the working tree (None), the
    label's commit, or nowhere (False)."""
    from promptctl.gate import baseline

    current = baseline.read(project, suite)
    if current is not None and current.prompt_version == entry.version:
        return None
    if entry.commit:
        try:
            old = baseline.read(project, suite, ref=entry.commit)
        except UsageError:
            old = None
        if old is not None and old.prompt_version == entry.version:
            return entry.commit
    return False


def check(
    project: Project,
    label: str = "production",
    *,
    sample: int | None = None,
    max_cost_usd: float | None = None,
    concurrency: int | None = None,
    progress: runner.Progress = runner.SILENT,
    today: dt.date | None = None,
    batch: bool = False,
    batch_retry: str = "live",
) -> DriftResult:
    """Re-run the suites of every prompt holding `label`, fresh, against their baselines;
    with `batch`, through the providers' batch APIs (issue 18), waiting for them."""
    if sample is not None and sample < 1:
        raise UsageError("--sample must be at least 1")
    today = today or dt.datetime.now(dt.timezone.utc).date()
    files = suite_files.suite_files(project)
    groups: dict[str | None, list[tuple[Suite, labels.LabelEntry]]] = {}
    out: list[DriftSuite] = []
    for name, entry in _targets(project, label):
        for suite_name in promotion.suites_of(project, name):
            suite = replace(
                suite_files.load_suite(project, files[suite_name]), prompt_ref=f"{name}@{label}"
            )
            ref = _baseline_ref(project, suite_name, entry)
            if ref is False:
                out.append(
                    DriftSuite(
                        suite=suite_name,
                        prompt=name,
                        version=entry.version,
                        status="unmeasured",
                        detail=f"no committed baseline of version {entry.version}: nothing to "
                        "compare with (record one: promptctl eval --update-baseline)",
                    )
                )
                continue
            groups.setdefault(ref, []).append((suite, entry))
    results: list[runner.SuiteResult] = []
    for ref, members in groups.items():
        for suite, entry in members:
            ids = sample_ids(project, suite, sample, today) if sample else None
            options = runner.EvalOptions(
                fresh=True,  # no cache, no replay: the point is to ask the model again
                max_cost_usd=max_cost_usd,
                concurrency=concurrency,
                baseline_ref=ref,
                case_ids=ids,
                batch=batch,
                batch_retry=batch_retry,
            )
            try:
                results += runner.run_eval(project, [suite], options, progress).suites
            except IncompleteError as e:
                out.append(
                    DriftSuite(
                        suite=suite.name,
                        prompt=suite.prompt_ref.split("@")[0],
                        version=entry.version,
                        status="unmeasured",
                        detail=f"could not complete: {e.message}",
                    )
                )
    decided = runner.decide(runner.EvalResult(suites=tuple(results)))
    improved = _improved(decided)
    for s in decided.suites:
        out.append(_status(project, s, improved))
    order = {name: i for i, name in enumerate(files)}
    out.sort(key=lambda d: (order.get(d.suite, len(order)), d.prompt))
    return DriftResult(label=label, suites=tuple(out), eval=decided)


def _improved(result: runner.EvalResult, alpha: float = 0.05) -> set[tuple[str, str]]:
    """(suite, scorer) pairs significantly better now, Holm-corrected over the whole check."""
    tests = []
    for s in result.suites:
        if s.gate is None:
            continue
        for g in s.gate.scorers:
            c = g.comparison
            if c is not None and c.n > 0:
                # the sign test the other way round: fail -> pass flips against pass -> fail
                tests.append(((s.suite.name, g.scorer_id), stats.sign_test(c.better, c.worse)))
    adjusted = stats.holm([p for _k, p in tests])
    return {k for (k, _p), q in zip(tests, adjusted, strict=True) if q < alpha}


def _status(project: Project, s: runner.SuiteResult, improved: set[tuple[str, str]]) -> DriftSuite:
    records = list(runs.read_lines(Path(s.run_dir)))
    failed_calls = sum(1 for r in records if r.error)
    served = tuple(sorted({r.served_model for r in records if r.served_model}))
    base = {
        (o.case_id, o.repeat): o.output
        for o in (s.gate and _baseline_outputs(project, s)) or ()
        if not o.judge
    }
    now = {r.key: r.output for r in records if not r.error}
    compared = [k for k in now if k in base]
    changed = sum(1 for k in compared if now[k] != base[k])
    common = {
        "suite": s.suite.name,
        "prompt": s.prompt,
        "version": s.prompt_version,
        "changed_outputs": changed,
        "compared_outputs": len(compared),
        "served_models": served,
        "run_dir": s.run_dir,
    }
    gate = s.gate
    if s.status != "complete" or failed_calls:
        return DriftSuite(
            status="unmeasured",
            detail=f"{failed_calls} call(s) failed: a provider problem, not a measurement",
            **common,
        )
    if gate is None or gate.verdict is Verdict.NEW:
        return DriftSuite(status="unmeasured", detail="no baseline to compare with", **common)
    if gate.verdict in (Verdict.REGRESSED, Verdict.FAILED):
        worse = [
            g.scorer_id for g in gate.scorers if g.verdict in (Verdict.REGRESSED, Verdict.FAILED)
        ]
        return DriftSuite(
            status="regressed", detail=f"worse now: {', '.join(worse) or 'cost'}", **common
        )
    if gate.verdict is Verdict.INCONCLUSIVE:
        return DriftSuite(
            status="inconclusive", detail="a drop too small to call at this size", **common
        )
    better = sorted(sid for (suite, sid) in improved if suite == s.suite.name)
    if better:
        return DriftSuite(status="improved", detail=f"better now: {', '.join(better)}", **common)
    if changed:
        return DriftSuite(
            status="changed",
            detail=f"{changed} of {len(compared)} outputs differ from the baseline's; the rates "
            "did not move",
            **common,
        )
    return DriftSuite(status="stable", detail="same outputs, same rates", **common)


def _baseline_outputs(project: Project, s: runner.SuiteResult) -> tuple:
    from promptctl.gate import baseline

    gate = s.gate
    ref = gate.baseline_commit if gate is not None else None
    found = baseline.read(project, s.suite.name, ref=ref)
    return found.outputs if found is not None else ()
