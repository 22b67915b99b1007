"""`promptctl show`: one case of a run in the terminal, with the baseline's reply and a diff."""

from __future__ import annotations

import sys
from typing import TextIO

from promptctl.evals.review import CaseReview, RepeatView, RunReview
from promptctl.redaction import printable, redact
from promptctl.reporters import colour, worddiff


def _indent(text: str, prefix: str = "    ") -> str:
    return "".join(prefix + printable(line) + "\n" for line in (text.splitlines() or [""]))


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _diff_text(ops: list[worddiff.Op], paint: colour.Painter) -> str:
    """git's --word-diff=plain markers, coloured when colour is on."""
    out = []
    for op, raw in ops:
        text = printable(raw)  # before the colour codes go around it
        if op == "=":
            out.append(text)
        elif op == "-":
            out.append(paint(f"[-{text}-]", colour.RED))
        else:
            out.append(paint(f"{{+{text}+}}", colour.GREEN))
    return "".join(out)


def _repeat_text(
    rv: RepeatView, paint: colour.Painter, scorer: str | None, several: bool
) -> list[str]:
    head = f"repeat {rv.repeat}" if several else "reply"
    extra = "replayed from the baseline" if rv.replayed else "cached" if rv.cached else ""
    lines = [
        f"{head}: tokens {_num(rv.input_tokens, 'd')} in / {_num(rv.output_tokens, 'd')} out, "
        f"latency {_num(rv.latency_s, '.3f')}s, cost ${_num(rv.cost_usd, '.6f')}"
        + (f", {extra}" if extra else "")
        + "\n"
    ]
    if rv.error:
        lines.append(paint(f"  error: {printable(rv.error)}", colour.RED) + "\n")
    if rv.output is not None:
        lines += ["  reply:\n", _indent(rv.output)]
    if rv.baseline_output is None:
        lines.append("  baseline reply: none recorded\n")
    elif rv.output is not None and rv.baseline_output == rv.output:
        lines.append("  baseline reply: the same\n")
    else:
        lines += ["  baseline reply:\n", _indent(rv.baseline_output)]
        if rv.output is not None:
            ops = worddiff.word_diff(rv.baseline_output, rv.output)
            diffed = _diff_text(ops, paint)
            lines += ["  diff (baseline -> reply):\n"]
            lines += ["    " + line + "\n" for line in diffed.splitlines() or [""]]
    lines.append("  scores:\n")
    for s in rv.scores:
        if scorer is not None and s.scorer_id != scorer:
            continue
        word = paint("PASS", colour.GREEN) if s.passed else paint("FAIL", colour.RED)
        why = printable(f"error: {s.error}" if s.error else s.reason)
        lines.append(f"    {printable(s.scorer_id)}  {word}  {s.score:.2f}  {why}\n")
    return lines


def case_text(
    run: RunReview, case: CaseReview, *, scorer: str | None, paint: colour.Painter
) -> str:
    tags = f"  tags {', '.join(case.tags)}" if case.tags else ""
    crit = "  [critical]" if case.critical else ""
    lines = [
        printable(f"case {case.case_id} of run {run.run_id}{tags}{crit}\n"),
        printable(f"suite {run.suite}, prompt {run.prompt}@{run.prompt_version}, model {run.model}")
        + "\n",
        "verdicts: " + (", ".join(case.verdicts) or "passed") + "\n",
    ]
    for s in case.scorers:
        if scorer is not None and s.scorer_id != scorer:
            continue
        base = (
            "no baseline"
            if s.base_pass is None
            else f"baseline pass {s.base_pass:.0%} score {s.base_score:.2f}"
        )
        state = ", ".join(s.verdicts) or "passed"
        lines.append(
            f"  {printable(s.scorer_id)}: pass {s.passed:.0%} score {s.score:.2f} ({base}) "
            + paint(state, colour.RED if s.passed < 1 else colour.GREEN)
            + "\n"
        )
    lines.append("\ninput:\n")
    if case.messages:
        for m in case.messages:
            lines += [f"  [{printable(m['role'])}]\n", _indent(m["content"])]
    elif case.vars is not None:
        lines.append(_indent(repr(dict(case.vars))))
    else:
        lines.append("  (the case is no longer in the dataset)\n")
    for rv in case.repeats:
        lines.append("\n")
        lines += _repeat_text(rv, paint, scorer, len(case.repeats) > 1)
    return "".join(lines)


def write_case(
    run: RunReview, case: CaseReview, *, scorer: str | None, stream: TextIO | None = None
) -> None:
    stream = stream or sys.stdout
    paint = colour.Painter(colour.enabled(stream))
    stream.write(redact(case_text(run, case, scorer=scorer, paint=paint)))
