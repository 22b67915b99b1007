"""`eval` on a terminal: a Rich bar or plain lines (stderr), then the result table (stdout)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from promptctl.evals.runner import SILENT, DryRun, EvalResult, Progress, SuiteResult
from promptctl.redaction import printable


def _passed(record: Mapping[str, Any]) -> bool:
    scores = record.get("scores") or {}
    return (
        not record.get("error")
        and bool(scores)
        and all(s.get("passed") and not s.get("error") for s in scores.values())
    )


class _Counts:
    def __init__(self) -> None:
        self.total = self.done = self.passed = self.seen = 0
        self.cost = 0.0

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.passed, self.seen, self.cost = total, done, 0, 0, 0.0

    def add(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        self.seen += 1
        self.passed += _passed(record)
        if not record.get("cached"):
            self.cost += float(record.get("cost_usd") or 0.0)

    @property
    def rate(self) -> str:
        return f"{self.passed / self.seen:.0%}" if self.seen else "–"


class PlainProgress:
    """CI logs: a line at start, every `every_s` seconds, and at the end (stderr)."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.counts = _Counts()
        self._last = 0.0
        self._started = 0.0

    def _line(self, suite: str) -> None:
        c = self.counts
        pct = f" ({c.done / c.total:.0%})" if c.total else ""
        self.stream.write(
            f"{suite}: {c.done}/{c.total}{pct} pass {c.rate} cost ${c.cost:.4f} "
            f"elapsed {time.monotonic() - self._started:.1f}s\n"
        )
        self.stream.flush()

    def start(self, suite: str, total: int, done: int) -> None:
        self.counts.start(total, done)
        self._started = self._last = time.monotonic()
        resumed = f", {done} already done" if done else ""
        self.stream.write(f"{suite}: {total} to evaluate{resumed}\n")
        self.stream.flush()

    def advance(self, suite: str, record: Mapping[str, Any]) -> None:
        self.counts.add(record)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._line(suite)

    def finish(self, suite: str) -> None:
        # Nothing finished (a missing key, a fatal first call): "0/30 (0%)" before the error
        # read as a run that scored zero (issue 20); the error says what happened.
        if self.counts.seen:
            self._line(suite)


class RichProgress:
    """A terminal: done/total, pass rate so far, cost so far, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.counts = _Counts()
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pass {task.fields[rate]}"),
            TextColumn("${task.fields[cost]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task: Any = None

    def start(self, suite: str, total: int, done: int) -> None:
        self.counts.start(total, done)
        self.bar.start()
        self.task = self.bar.add_task(suite, total=total, completed=done, rate="–", cost="0.0000")

    def advance(self, suite: str, record: Mapping[str, Any]) -> None:
        self.counts.add(record)
        self.bar.update(self.task, advance=1, rate=self.counts.rate, cost=f"{self.counts.cost:.4f}")

    def finish(self, suite: str) -> None:
        if not self.counts.seen and self.task is not None:
            self.bar.remove_task(self.task)  # no empty bar left above the error
        self.bar.stop()


def progress_for(*, quiet: bool, stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    if quiet:
        return SILENT
    if stream.isatty():
        return RichProgress()
    return PlainProgress(stream)


# ----------------------------------------------------------------------------- tables


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    from promptctl.reporters.plain import table

    return table(headers, rows)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}s"


def suite_text(s: SuiteResult, *, quiet: bool = False) -> str:
    sm = s.summary
    verdict = {0: "PASSED", 1: "FAILED"}.get(s.exit_code, s.status.upper())
    if s.gate is not None and s.gate.verdict.value in ("regressed", "inconclusive"):
        verdict = s.gate.verdict.value.upper()
    cost = sm.get("cost_usd")
    head = (
        f"{s.suite.name}: {verdict}  prompt {s.prompt}@{s.prompt_version}  model {s.model}  "
        f"run {s.run_id}\n"
    )
    if quiet:
        return head
    rows = []
    for sid, st in (sm.get("scorers") or {}).items():
        rows.append(
            [
                sid,
                f"{_pct(st['pass_rate'])} ({st['passed']}/{st['n']})",
                f"{_pct(st['wilson_low'])}-{_pct(st['wilson_high'])}",
                "-" if st["mean_score"] is None else f"{st['mean_score']:.3f}",
                st["errors"],
            ]
        )
    out = [head, _table(["SCORER", "PASS RATE", "95% CI (WILSON)", "MEAN", "ERRORS"], rows)]
    out.append(
        f"results {sm.get('pairs_done', 0)}/{sm.get('pairs_total', 0)}  calls {sm.get('calls', 0)}"
        f"  cached {sm.get('cache_hits', 0)}  tokens {sm.get('input_tokens', 0)} in / "
        f"{sm.get('output_tokens', 0)} out  cost {'unknown' if cost is None else f'${cost:.4f}'}"
        f"  latency p50 {_secs(sm.get('latency_p50_s'))} p95 {_secs(sm.get('latency_p95_s'))}\n"
    )
    worst = sm.get("worst_cases") or []
    if worst:
        out.append("worst cases:\n")
        for w in worst:
            crit = " [critical]" if w.get("critical") else ""
            why = "; ".join(w.get("reasons") or [])
            out.append(f"  {w['case_id']}{crit} {w['mean_score']:.2f}  {why[:160]}\n")
    if s.replayed:
        out.append(f"replayed {s.replayed} recorded output(s) from the baseline\n")
    if s.gate is not None:
        from promptctl.reporters import gate_report

        out.append(gate_report.text(s.gate))  # floors are part of the gate's verdict
    else:
        for f in s.floor_failures:
            out.append(f"FAILED: {f.message}\n")
    if s.status != "complete" and s.error:
        out.append(f"INCOMPLETE: {s.error} (resume: promptctl eval --resume {s.run_id})\n")
    return printable("".join(out)) + "\n"


def write_result(result: EvalResult, *, quiet: bool = False, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for s in result.suites:
        stream.write(suite_text(s, quiet=quiet))


def write_dry_run(plans: Sequence[DryRun], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    rows = [
        [
            p.suite,
            p.pairs,
            p.calls,
            p.cached,
            f"<= {p.judge_calls}",
            "unknown" if p.estimated_cost_usd is None else f"${p.estimated_cost_usd:.4f}",
        ]
        for p in plans
    ]
    stream.write(_table(["SUITE", "RESULTS", "CALLS", "CACHED", "JUDGE CALLS", "EST. COST"], rows))


def warn(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
