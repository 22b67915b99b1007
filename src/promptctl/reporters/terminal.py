"""`eval` on a terminal: a Rich bar or plain lines (stderr), then the result table (stdout)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from promptctl.engine.prices import known_sum
from promptctl.evals.dryrun import DryRun
from promptctl.evals.runner import SILENT, EvalResult, Progress, SuiteResult
from promptctl.evals.runs import ResultLine, Summary
from promptctl.redaction import printable
from promptctl.reporters import colour
from promptctl.reporters.colour import Painter


def _passed(line: ResultLine) -> bool:
    return (
        not line.error
        and bool(line.scores)
        and all(s.passed and not s.error for s in line.scores.values())
    )


class _Counts:
    def __init__(self) -> None:
        self.total = self.done = self.passed = self.seen = 0
        self.cost = 0.0

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.passed, self.seen, self.cost = total, done, 0, 0, 0.0

    def add(self, line: ResultLine) -> None:
        self.done += 1
        self.seen += 1
        self.passed += _passed(line)
        if not line.cached:
            self.cost += line.cost_usd or 0.0

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

    def advance(self, suite: str, record: ResultLine) -> None:
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
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        from rich.theme import Theme

        # Neutral while running (issue 16): Rich paints the count green and the bar green when
        # done, which reads as "passed" before the gate has said anything.
        neutral = Theme({"progress.remaining": "none", "bar.finished": "none"})

        self.counts = _Counts()
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(complete_style="none", finished_style="none", style="bright_black"),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("pass {task.fields[rate]}"),
            TextColumn("${task.fields[cost]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True, theme=neutral),
            transient=False,
        )
        self.task: Any = None

    def start(self, suite: str, total: int, done: int) -> None:
        self.counts.start(total, done)
        if self.task is not None:  # the last suite's bar is on the screen already
            self.bar.remove_task(self.task)
        self.bar.start()
        self.task = self.bar.add_task(suite, total=total, completed=done, rate="–", cost="0.0000")

    def advance(self, suite: str, record: ResultLine) -> None:
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
    if stream.isatty() and not (os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS")):
        return RichProgress()  # a CI runner with a pty still wants plain lines in its log
    return PlainProgress(stream)


# ----------------------------------------------------------------------------- tables


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    from promptctl.reporters.plain import table

    return table(headers, rows)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _money(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.4f}"


def _verdict(s: SuiteResult) -> str:
    verdict = {0: "PASSED", 1: "FAILED"}.get(s.exit_code, s.status.upper())
    if s.gate is not None and s.gate.verdict.value in ("regressed", "inconclusive"):
        verdict = s.gate.verdict.value.upper()
    return verdict


def why_failed(s: SuiteResult) -> str | None:
    """The first reason a suite did not pass, in one line (what `eval -q` prints)."""
    if s.status != "complete":
        return s.error or s.status
    g = s.gate
    if g is not None:
        from promptctl.gate.verdict import describe

        if g.failures:
            return g.failures[0]
        for sg in g.scorers:
            if sg.failures:
                return f"{sg.scorer_id}: {sg.failures[0]}"
        for wanted in ("regressed", "inconclusive"):
            for sg in g.scorers:
                if sg.verdict.value == wanted:
                    return f"{sg.scorer_id}: {describe(sg, g.gate)}"
    if s.floor_failures:
        return s.floor_failures[0].message
    return None


def _counts(summaries: Sequence[Summary]) -> str:
    """calls, cached, replayed (judge replies included), tokens (judges' included), cost."""
    judge_replayed = sum(sm.judge_replayed for sm in summaries)
    judge = f" ({judge_replayed} judge)" if judge_replayed else ""
    tokens_in = sum(sm.input_tokens + sm.judge_input_tokens for sm in summaries)
    tokens_out = sum(sm.output_tokens + sm.judge_output_tokens for sm in summaries)
    replayed = sum(sm.replayed for sm in summaries) + judge_replayed
    costs = [sm.cost_usd for sm in summaries]
    cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    batch_calls = sum(sm.batch_calls for sm in summaries)
    saved = known_sum(*(sm.batch_saved_usd for sm in summaries))
    # what --batch saved, so the discount is seen where the cost is
    batch = f" (batch {batch_calls} calls, saved {_money(saved)})" if batch_calls else ""
    return (
        f"calls {sum(sm.calls for sm in summaries)}  "
        f"cached {sum(sm.cache_hits for sm in summaries)}  replayed {replayed}{judge}"
        f"  tokens {tokens_in} in / {tokens_out} out  cost {_money(cost)}{batch}"
    )


def suite_text(s: SuiteResult, *, quiet: bool = False, paint: Painter | None = None) -> str:
    paint = paint or Painter(False)
    sm = s.summary
    verdict = _verdict(s)
    head = printable(
        f"{s.suite.name}: {verdict}  prompt {s.prompt}@{s.prompt_version}  model {s.model}  "
        f"run {s.run_id}"
    )
    head = head.replace(f": {verdict}  ", f": {paint.verdict(verdict)}  ", 1)
    if quiet:
        why = why_failed(s) if s.exit_code else None
        return head + (f"  why: {printable(why)}" if why else "") + "\n"
    rows = []
    for sid, st in sm.scorers.items():
        rows.append(
            [
                sid,
                f"{_pct(st.pass_rate)} ({st.passed}/{st.n})",
                f"{_pct(st.wilson_low)}-{_pct(st.wilson_high)}",
                "-" if st.mean_score is None else f"{st.mean_score:.3f}",
                st.errors,
            ]
        )
    out = [_table(["SCORER", "PASS RATE", "95% CI (WILSON)", "MEAN", "ERRORS"], rows)]
    p50, p95 = sm.latency_p50_s, sm.latency_p95_s
    # No latency line when every reply came from the cache or the baseline: nothing was timed.
    latency = f"  latency p50 {p50:.3f}s p95 {p95:.3f}s" if p50 is not None else ""
    out.append(f"results {sm.pairs_done}/{sm.pairs_total}  {_counts([sm])}{latency}\n")
    worst = sm.worst_cases
    if worst:
        out.append("worst cases:\n")
        for w in worst:
            crit = " [critical]" if w.critical else ""
            why = "; ".join(w.reasons)
            out.append(f"  {w.case_id}{crit} {w.mean_score:.2f}  {why[:160]}\n")
    tail = []
    if s.gate is not None:
        from promptctl.reporters import gate_report

        tail.append(gate_report.text(s.gate))  # floors are part of the gate's verdict
    else:
        for f in s.floor_failures:
            tail.append(f"FAILED: {f.message}\n")
    if s.status != "complete" and s.error:
        tail.append(f"INCOMPLETE: {s.error} (resume: promptctl eval --resume {s.run_id})\n")
    # Colour goes on after printable(): model text cannot smuggle escapes in, ours stay.
    gate_text = paint.verdict_words(printable("".join(tail)))
    return head + "\n" + printable("".join(out)) + gate_text + "\n"


def total_text(result: EvalResult) -> str:
    """One line for the whole eval: every suite's calls, cache, replays, tokens and cost."""
    summaries = [s.summary for s in result.suites]
    n = len(result.suites)
    done = sum(sm.pairs_done for sm in summaries)
    return f"total: {n} suite{'s' if n != 1 else ''}, {done} results  {_counts(summaries)}\n"


def write_result(result: EvalResult, *, quiet: bool = False, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    paint = Painter(colour.enabled(stream))
    for s in result.suites:
        stream.write(suite_text(s, quiet=quiet, paint=paint))
    if not quiet and result.suites:
        stream.write(total_text(result))


def write_dry_run(plans: Sequence[DryRun], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout

    def add(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    rows: list[list[Any]] = []
    for p in plans:
        total = add([p.estimated_cost_usd, p.judge_estimated_cost_usd])
        rows.append(
            [
                p.suite, p.pairs, p.calls, p.cached, p.judge_calls,
                _money(p.estimated_cost_usd), _money(p.judge_estimated_cost_usd), _money(total),
            ]
        )  # fmt: skip
    if len(plans) > 1:
        rows.append(
            [
                "total",
                *(sum(r[i] for r in rows) for i in range(1, 5)),
                _money(add([p.estimated_cost_usd for p in plans])),
                _money(add([p.judge_estimated_cost_usd for p in plans])),
                _money(
                    add([add([p.estimated_cost_usd, p.judge_estimated_cost_usd]) for p in plans])
                ),
            ]
        )
    headers = ["SUITE", "RESULTS", "CALLS", "CACHED", "JUDGE CALLS", "EST. COST", "EST. JUDGE",
               "EST. TOTAL"]  # fmt: skip
    stream.write(_table(headers, rows))


def warn(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
