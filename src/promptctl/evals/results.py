"""Result lines aggregated: outcomes per (case, scorer), per-scorer stats, the run summary (built
here once, for eval and merge), and a run read back as RunData for the gate."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptctl.evals import runs
from promptctl.evals.runs import ResultLine, ScorerStats, Summary, WorstCase
from promptctl.model import PER_CASE_HASH, RecordedOutput, RecordedOutputs, RunData, ScorerOutcome

MAX_REASONS = 3  # why a case failed: the first few reasons are enough for a report


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass(slots=True)
class _ScorerCount:
    n: int = 0  # (case, repeat) pairs scored
    passed: int = 0
    errors: int = 0
    score_sum: float = 0.0


@dataclass(slots=True)
class _Slot:
    """One (case, scorer) over its repeats."""

    case_hash: str
    critical: bool
    score_sum: float = 0.0
    passed: int = 0
    errors: int = 0
    repeats: int = 0


@dataclass(slots=True)
class _CaseCount:
    critical: bool
    score_sum: float = 0.0
    scored: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)


class Tally:
    """Aggregates result lines as they arrive: per scorer, per (case, scorer), per case.

    Memory is a few small counters per case (no outputs kept), so 100k cases stay cheap.
    """

    def __init__(self, scorer_hashes: Mapping[str, str]) -> None:
        self.scorer_hashes = dict(scorer_hashes)
        self.per_scorer = {s: _ScorerCount() for s in scorer_hashes}
        # scorer id -> case id -> its slot: no (case, scorer) tuple per slot (100k cases)
        self.slots: dict[str, dict[str, _Slot]] = {s: {} for s in scorer_hashes}
        self.cases: dict[str, _CaseCount] = {}
        self.pairs = 0
        self.call_errors = 0
        self.first_call_error: str | None = None  # what happened, for the run's one-line status
        self.cached = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.judge_input_tokens = 0  # judges' calls (replayed or not): the eval's token total
        self.judge_output_tokens = 0
        self.cost_usd = 0.0
        self.latencies: list[float] = []

    def add(self, line: ResultLine) -> None:
        error = line.error
        self.pairs += 1
        self.call_errors += 1 if error else 0
        if error and self.first_call_error is None:
            self.first_call_error = str(error)[:300]
        self.cached += 1 if line.cached else 0
        self.input_tokens += line.input_tokens or 0
        self.output_tokens += line.output_tokens or 0
        for j in line.judge_outputs:
            self.judge_input_tokens += int(j.get("input_tokens") or 0)
            self.judge_output_tokens += int(j.get("output_tokens") or 0)
        if not error and not line.cached:
            self.cost_usd += line.cost_usd or 0.0
            self.latencies.append(line.latency_s or 0.0)
        case = self.cases.get(line.case_id)
        if case is None:
            case = self.cases[line.case_id] = _CaseCount(critical=line.critical)
        for sid, scorer_hash in self.scorer_hashes.items():
            s = line.scores.get(sid)
            if s is None:
                if scorer_hash == PER_CASE_HASH:
                    continue  # a row's own scorer: only the cases that carry it are scored by it
                s = runs.ScoreLine(error=error or "not scored")
            passed = s.passed and not s.error
            count = self.per_scorer[sid]
            count.n += 1
            count.passed += passed
            count.errors += 1 if s.error else 0
            count.score_sum += s.score
            by_case = self.slots[sid]
            slot = by_case.get(line.case_id)
            if slot is None:
                slot = by_case[line.case_id] = _Slot(
                    case_hash=line.case_hash, critical=line.critical
                )
            slot.score_sum += s.score
            slot.passed += passed
            slot.errors += 1 if s.error else 0
            slot.repeats += 1
            case.score_sum += s.score
            case.scored += 1
            if not passed:
                case.failed += 1
                if len(case.reasons) < MAX_REASONS:
                    why = s.error or s.reason or "failed"
                    case.reasons.append(f"{sid}: {str(why)[:300]}")

    def outcomes(self) -> list[ScorerOutcome]:
        """One outcome per (case, scorer), in (case, scorer) order."""
        sids = sorted(self.slots)
        return [
            ScorerOutcome(
                case_id=case_id,
                case_hash=v.case_hash,
                scorer_id=sid,
                scorer_hash=self.scorer_hashes[sid],
                mean_score=v.score_sum / v.repeats,
                pass_fraction=v.passed / v.repeats,
                repeats=v.repeats,
                errors=v.errors,
                critical=v.critical,
            )
            for case_id in sorted(self.cases)
            for sid in sids
            if (v := self.slots[sid].get(case_id)) is not None
        ]

    def scorer_stats(self) -> dict[str, ScorerStats]:
        from promptctl.gate.stats import wilson_interval

        # The interval counts cases, as the gate does: repeats of one case are not independent
        # samples (issue 13: 10 cases x 3 repeats gave 24.6-57.7% here, 16.8-68.7% in the gate).
        case_passes: dict[str, list[float]] = {sid: [0.0, 0.0] for sid in self.per_scorer}
        for sid, by_case in self.slots.items():
            for slot in by_case.values():
                case_passes[sid][0] += slot.passed / slot.repeats
                case_passes[sid][1] += 1
        out = {}
        for sid, c in self.per_scorer.items():
            lo, hi = wilson_interval(case_passes[sid][0], int(case_passes[sid][1]))
            out[sid] = ScorerStats(
                n=c.n,
                passed=c.passed,
                errors=c.errors,
                pass_rate=(c.passed / c.n) if c.n else None,
                wilson_low=lo,
                wilson_high=hi,
                mean_score=(c.score_sum / c.n) if c.n else None,
            )
        return out

    def failing_cases(self) -> dict[str, list[str]]:
        """case id -> the first reasons it failed (for JUnit and the worst-case list)."""
        return {cid: c.reasons for cid, c in self.cases.items() if c.failed}

    def worst(self, k: int = 5) -> tuple[WorstCase, ...]:
        rows = heapq.nsmallest(
            k,
            (
                (c.score_sum / c.scored if c.scored else 0.0, cid)
                for cid, c in self.cases.items()
                if c.failed
            ),
        )
        return tuple(
            WorstCase(
                case_id=cid,
                mean_score=round(score, 4),
                critical=self.cases[cid].critical,
                reasons=tuple(self.cases[cid].reasons),
            )
            for score, cid in rows
        )


def tally_of(lines: Iterable[ResultLine], scorer_hashes: Mapping[str, str]) -> Tally:
    tally = Tally(scorer_hashes)
    for line in lines:
        tally.add(line)
    return tally


def build_summary(
    *,
    run_id: str,
    suite: str,
    status: str,
    error: str | None,
    prompt: str,
    prompt_version: str,
    model: str,
    pairs_total: int,
    repeat: int | None,
    calls: int,
    cache_hits: int,
    retries: int,
    tally: Tally,
    batch_calls: int = 0,
    batch_saved_usd: float | None = 0.0,
    floor_failures: Sequence[str],
    judge_cost_usd: float | None,
    gate: Mapping[str, Any] | None = None,
    replayed: int = 0,
    judge_replayed: int = 0,
    merged_from: Sequence[str] | None = None,
) -> Summary:
    """summary.json of a run, for `eval` and `merge` alike. The total cost is the candidate's
    (from the lines) plus the judge's; None when either is unknown (never a silent 0)."""
    judge = None if judge_cost_usd is None else round(judge_cost_usd, 8)
    lat = sorted(tally.latencies)
    return Summary(
        run_id=run_id,
        suite=suite,
        status=status,
        error=error,
        prompt=prompt,
        prompt_version=prompt_version,
        model=model,
        pairs_total=pairs_total,
        repeat=repeat,
        calls=calls,
        cache_hits=cache_hits,
        retries=retries,
        pairs_done=tally.pairs,
        cases=len(tally.cases),
        call_errors=tally.call_errors,
        cached=tally.cached,
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        judge_input_tokens=tally.judge_input_tokens,
        judge_output_tokens=tally.judge_output_tokens,
        cost_usd=None if judge is None else round(tally.cost_usd + judge, 8),
        judge_cost_usd=judge,
        latency_p50_s=percentile(lat, 0.5),
        latency_p95_s=percentile(lat, 0.95),
        scorers=tally.scorer_stats(),
        worst_cases=tally.worst(),
        floor_failures=tuple(floor_failures),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        gate=gate,
        replayed=replayed,
        judge_replayed=judge_replayed,
        merged_from=tuple(merged_from) if merged_from is not None else None,
        batch_calls=batch_calls,
        batch_saved_usd=batch_saved_usd,
    )


def load_run(path: str | Path) -> RunData:
    """A run as read back from disk (complete or not). Its outputs are read from results.jsonl
    when iterated, so writing a 100k-case baseline never holds them all (issue 18)."""
    path = Path(path).resolve()
    header = runs.read_header(path)
    lines = runs.LatestLines(path)
    summary = runs.read_summary(path)
    tally = Tally(header.scorer_hashes)
    line_costs = 0.0
    for line in lines:
        tally.add(line)
        line_costs += line.cost_usd or 0.0
    cost = summary.cost_usd if summary else None
    if cost is None:
        cost = line_costs
    return RunData(
        run_id=path.name,
        path=str(path),
        suite=header.suite,
        prompt=header.prompt,
        prompt_version=header.prompt_version,
        model=header.model,
        params=dict(header.params),
        gate=header.gate,
        scorer_hashes=dict(header.scorer_hashes),
        outcomes=tuple(tally.outcomes()),
        outputs=RunOutputs(lines),
        cost_usd=cost,
        complete=summary is not None and summary.complete,
        shard=header.shard,
        uses=dict(header.uses),
    )


class RunOutputs(RecordedOutputs):
    """A run's recorded outputs, in (case, repeat) order: each line's reply, then its judges'
    and its chain steps' replies (replayed by key like the candidate's)."""

    sorted_by_case = True

    def __init__(self, lines: runs.LatestLines) -> None:
        self._lines = lines
        self._len: int | None = None

    def __iter__(self) -> Iterator[RecordedOutput]:
        n = 0
        for line in self._lines:
            if line.error is not None:
                continue
            if line.output is not None:
                n += 1
                yield RecordedOutput(
                    case_id=line.case_id,
                    repeat=line.repeat,
                    request_key=line.request_key or "",
                    output=line.output,
                    input_tokens=line.input_tokens,
                    output_tokens=line.output_tokens,
                    cost_usd=line.cost_usd,
                )
            for j in (*line.judge_outputs, *line.steps):
                n += 1
                yield RecordedOutput(
                    case_id=line.case_id,
                    repeat=line.repeat,
                    request_key=str(j.get("key") or ""),
                    output=str(j.get("output")),
                    input_tokens=j.get("input_tokens"),
                    output_tokens=j.get("output_tokens"),
                    cost_usd=j.get("cost_usd"),
                    judge=True,
                )
        self._len = n

    def __len__(self) -> int:
        if self._len is None:
            for _ in self:
                pass
        return self._len or 0

    def __contains__(self, item: object) -> bool:
        return any(o == item for o in self)
