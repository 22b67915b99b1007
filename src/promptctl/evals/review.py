"""What a reviewer sees of a run: per case the input, both replies, every score, and the gate.

Built from the run directory (runs.py), the committed baseline (gate/baseline.py) and the prompt
at both versions; reporters turn a `RunReview` into HTML or terminal text. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import PromptctlError, UsageError
from promptctl.evals import runs
from promptctl.model import Case, RecordedOutput, Suite
from promptctl.project.config import Project
from promptctl.prompts.prompt import Prompt

# The case verdicts the report filters on (issue 16).
CASE_VERDICTS = ("regressed", "flipped", "failed", "errored", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreView:
    scorer_id: str
    score: float
    passed: bool
    reason: str
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RepeatView:
    """One (case, repeat): the reply, the baseline's reply to the same case and repeat."""

    repeat: int
    output: str | None
    baseline_output: str | None  # None: the baseline recorded none we can tell apart
    error: str | None
    scores: tuple[ScoreView, ...]
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    cached: bool = False
    replayed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerChange:
    """One scorer on one case: baseline and current (mean score, pass fraction)."""

    scorer_id: str
    base_score: float | None
    base_pass: float | None
    score: float
    passed: float
    verdicts: tuple[str, ...] = ()  # of this scorer on this case, a subset of CASE_VERDICTS


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseReview:
    case_id: str
    tags: tuple[str, ...]
    critical: bool
    vars: Mapping[str, Any] | None  # None: the case is no longer in the dataset
    messages: tuple[Mapping[str, str], ...]  # the rendered input; () when it cannot be rendered
    repeats: tuple[RepeatView, ...]
    scorers: tuple[ScorerChange, ...]
    verdicts: tuple[str, ...]  # a subset of CASE_VERDICTS, in that order

    @property
    def score_change(self) -> float | None:
        """Mean over scorers of (current - baseline) mean score; None without a baseline."""
        deltas = [s.score - s.base_score for s in self.scorers if s.base_score is not None]
        return sum(deltas) / len(deltas) if deltas else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptChange:
    """The prompt between the baseline's version and the run's."""

    name: str
    base_version: str | None
    version: str
    text_diff: str  # unified diff of the messages; "" when unchanged or unknown
    model_change: tuple[str, str] | None
    param_changes: tuple[str, ...]
    note: str | None = None  # why a side could not be shown


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReview:
    run_id: str
    suite: str
    prompt: str
    prompt_version: str
    model: str
    status: str
    summary: runs.Summary | None  # None while the run has no summary.json
    gate: Any  # gate.verdict.GateResult, or None when the run is not complete
    prompt_change: PromptChange
    cases: tuple[CaseReview, ...]
    scorer_ids: tuple[str, ...]


def review_run(
    project: Project, path: Path, *, gate: Any = None, baseline_ref: str | None = None
) -> RunReview:
    """The review of the run at `path`. `gate` is the eval's own GateResult when it has one;
    otherwise the run is gated again against the baseline (as committed at `baseline_ref`)."""
    from promptctl.gate import baseline as baseline_mod

    header = runs.read_header(path)
    summary = runs.read_summary(path)
    recorded = summary.gate if summary is not None and isinstance(summary.gate, dict) else None
    ref = baseline_ref
    if ref is None and recorded is not None and gate is None:
        # the baseline the eval compared with: as committed where it read it from git
        rb = recorded.get("baseline")
        ref = rb.get("commit") if isinstance(rb, dict) and rb.get("commit") else None
    base = baseline_mod.read(project, header.suite, ref=ref)
    records = runs.latest_lines(path)
    if gate is None and summary is not None and summary.complete:
        from promptctl.evals.results import load_run
        from promptctl.gate import verdict
        from promptctl.model import Gate

        applied = None
        if recorded is not None and isinstance(recorded.get("gate"), dict):
            applied = Gate.from_fields(recorded["gate"])  # as tightened by --baseline-ref
        gate = verdict.evaluate(load_run(path), base, gate=applied)
        if recorded is not None and baseline_ref is None:
            gate = verdict.with_recorded(gate, recorded)  # the eval's decision, as it said it
    suite = _suite_of(project, header)
    prompt = _prompt_at(project, header.prompt, header.prompt_version)
    cases_by_id = _cases(project, suite)
    scorer_ids = tuple(header.scorer_hashes)
    return RunReview(
        run_id=path.name,
        suite=header.suite,
        prompt=header.prompt,
        prompt_version=header.prompt_version,
        model=header.model,
        status=summary.status if summary is not None else "unfinished",
        summary=summary,
        gate=gate,
        prompt_change=_prompt_change(project, header, prompt, base),
        cases=tuple(_case_reviews(records, base, gate, prompt, cases_by_id, scorer_ids)),
        scorer_ids=scorer_ids,
    )


def _suite_of(project: Project, header: runs.RunHeader) -> Suite | None:
    from promptctl.evals import suites as suite_files

    path = Path(header.suite_path)
    if not header.suite_path or not path.is_file():
        found = suite_files.suite_files(project).get(header.suite)
        if found is None:
            return None
        path = found
    try:
        return suite_files.load_suite(project, path)
    except PromptctlError:  # the suite changed shape since the run: show the run without it
        return None


def _prompt_at(project: Project, name: str, version: str) -> Prompt | None:
    from promptctl.prompts import loader

    try:
        return loader.resolve(f"{name}@{version}", project)
    except PromptctlError:  # an uncommitted version that is gone, or no git
        return None


def _cases(project: Project, suite: Suite | None) -> dict[str, Case]:
    if suite is None:
        return {}
    from promptctl.evals import datasets

    try:
        return {c.id: c for c in datasets.iter_cases(project, suite)}
    except PromptctlError:
        return {}


def _render(prompt: Prompt | None, case: Case | None) -> tuple[Mapping[str, str], ...]:
    if prompt is None or case is None:
        return ()
    from promptctl.prompts import rendering

    try:
        return tuple(rendering.render_messages(prompt, case.vars))
    except PromptctlError:
        return ()


def _baseline_replies(base: Any) -> dict[tuple[str, int], list[RecordedOutput]]:
    out: dict[tuple[str, int], list[RecordedOutput]] = {}
    for o in base.outputs if base is not None else ():
        out.setdefault((o.case_id, o.repeat), []).append(o)
    return out


def _pick_baseline(recorded: Sequence[RecordedOutput], record: runs.ResultLine) -> str | None:
    """The baseline's reply to this (case, repeat): the output of the same request when the
    prompt did not change; otherwise the one output that is not a judge's (the record names its
    own judges' keys; a baseline without judges holds one output per repeat)."""
    key = record.request_key
    for o in recorded:
        if o.request_key == key:
            return o.output
    candidates = [o for o in recorded if not o.judge]
    return candidates[0].output if len(candidates) == 1 else None


def _case_reviews(
    records: Mapping[tuple[str, int], runs.ResultLine],
    base: Any,
    gate: Any,
    prompt: Prompt | None,
    cases_by_id: Mapping[str, Case],
    scorer_ids: tuple[str, ...],
) -> list[CaseReview]:
    base_replies = _baseline_replies(base)
    base_outcomes = {(o.case_id, o.scorer_id): o for o in base.outcomes} if base else {}
    base_hashes = dict(base.case_hashes) if base is not None else {}
    # Flips are the gate's (one owner): pass fraction fell (regressed) or changed (flipped).
    worse: set[tuple[str, str]] = set()
    flipped: set[tuple[str, str]] = set()
    for sg in gate.scorers if gate is not None else ():
        worse.update((f.case_id, sg.scorer_id) for f in sg.worse)
        flipped.update((f.case_id, sg.scorer_id) for f in (*sg.worse, *sg.better))
    by_case: dict[str, list[runs.ResultLine]] = {}
    for (case_id, _), record in sorted(records.items()):
        by_case.setdefault(case_id, []).append(record)
    out = []
    for case_id, recs in by_case.items():
        case = cases_by_id.get(case_id)
        case_hash = recs[0].case_hash
        comparable = base is not None and base_hashes.get(case_id) == case_hash
        repeats = tuple(
            _repeat(r, base_replies.get((case_id, r.repeat), []), scorer_ids) for r in recs
        )
        changes = []
        for sid in scorer_ids:
            views = [s for rv in repeats for s in rv.scores if s.scorer_id == sid]
            n = max(1, len(views))
            b = base_outcomes.get((case_id, sid)) if comparable else None
            passed = sum(v.passed for v in views) / n
            flags = {
                "regressed": (case_id, sid) in worse,
                "flipped": (case_id, sid) in flipped,
                "failed": passed < 1,
                "errored": any(v.error for v in views),
                "new": b is None,
            }
            changes.append(
                ScorerChange(
                    scorer_id=sid,
                    base_score=None if b is None else b.mean_score,
                    base_pass=None if b is None else b.pass_fraction,
                    score=sum(v.score for v in views) / n,
                    passed=passed,
                    verdicts=tuple(v for v in CASE_VERDICTS if flags[v]),
                )
            )
        verdicts = {v: any(v in c.verdicts for c in changes) for v in CASE_VERDICTS}
        verdicts["errored"] = verdicts["errored"] or any(rv.error for rv in repeats)
        verdicts["new"] = not comparable
        out.append(
            CaseReview(
                case_id=case_id,
                tags=case.tags if case else (),
                critical=recs[0].critical,
                vars=dict(case.vars) if case else None,
                messages=_render(prompt, case),
                repeats=repeats,
                scorers=tuple(changes),
                verdicts=tuple(v for v in CASE_VERDICTS if verdicts[v]),
            )
        )
    return out


def _repeat(
    record: runs.ResultLine, recorded: Sequence[RecordedOutput], scorer_ids: tuple[str, ...]
) -> RepeatView:
    views = []
    for sid in scorer_ids:
        s = record.scores.get(sid) or runs.ScoreLine(error=record.error or "not scored")
        views.append(
            ScoreView(
                scorer_id=sid,
                score=s.score,
                passed=s.passed and not s.error,
                reason=s.reason,
                error=s.error,
            )
        )
    return RepeatView(
        repeat=record.repeat,
        output=record.output,
        baseline_output=_pick_baseline(recorded, record),
        error=record.error,
        scores=tuple(views),
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        latency_s=record.latency_s,
        cost_usd=record.cost_usd,
        cached=record.cached,
        replayed=record.replayed,
    )


def _prompt_change(
    project: Project, header: runs.RunHeader, prompt: Prompt | None, base: Any
) -> PromptChange:
    name, version = header.prompt, header.prompt_version
    if base is None:
        return PromptChange(
            name=name,
            base_version=None,
            version=version,
            text_diff="",
            model_change=None,
            param_changes=(),
            note="no baseline to compare with",
        )
    if base.prompt_version == version:
        return PromptChange(
            name=name,
            base_version=version,
            version=version,
            text_diff="",
            model_change=None,
            param_changes=(),
        )
    from promptctl.history import diff

    old = _prompt_at(project, base.prompt, base.prompt_version)
    model_change = (base.model, header.model) if base.model != header.model else None
    params = tuple(
        _param_text(c) for c in diff.param_changes(dict(base.params), dict(header.params))
    )
    missing = [v for v, p in ((base.prompt_version, old), (version, prompt)) if p is None]
    text = "" if missing else diff.text_diff(old, prompt, name, base.prompt_version, version)
    return PromptChange(
        name=name,
        base_version=base.prompt_version,
        version=version,
        text_diff=text,
        model_change=model_change,
        param_changes=params,
        note=(
            f"the text of version {', '.join(missing)} is in no commit of this repository"
            if missing
            else None
        ),
    )


def _param_text(c: Any) -> str:
    """One param change in words (history.diff.ParamChange)."""
    if c.kind == "added":
        return f"{c.key}: added, {c.new!r}"
    if c.kind == "removed":
        return f"{c.key}: removed (was {c.old!r})"
    if c.kind == "renamed":
        return f"{c.key}: renamed to {c.new_key}"
    return f"{c.key}: {c.old!r} -> {c.new!r}"


def find_case(review: RunReview, case_id: str) -> CaseReview:
    for case in review.cases:
        if case.case_id == case_id:
            return case
    shown = ", ".join(c.case_id for c in review.cases[:5])
    raise UsageError(
        f"run {review.run_id} has no case {case_id!r}",
        hint=f"its cases: {shown}{', ...' if len(review.cases) > 5 else ''}",
    )
