"""A PR-comment-ready markdown report of an eval."""

from __future__ import annotations

from promptctl.escaping import markdown_cell
from promptctl.evals.runner import EvalResult, SuiteResult
from promptctl.redaction import printable

_ICON = {0: "✅", 1: "❌", 3: "⚠️"}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _cell(text: str) -> str:
    # model outputs and dataset text: no HTML, no table breaks, no @mentions (issue 9)
    return markdown_cell(text[:160])


def _code(text: str) -> str:
    """A code span for a name from a dataset (literal inside: no HTML, no mentions), unless
    the name could close the span or the table cell."""
    if any(c in text for c in "`|\r\n") or printable(text) != text:
        return _cell(text)
    return f"`{text}`"


def suite_markdown(s: SuiteResult) -> list[str]:
    sm = s.summary
    lines = [
        f"### {_ICON.get(s.exit_code, '❌')} `{s.suite.name}` — {s.status}",
        "",
        f"Prompt `{s.prompt}@{s.prompt_version}` on `{s.model}`; "
        f"{sm.pairs_done}/{sm.pairs_total} results, run `{s.run_id}`.",
        "",
        "| scorer | pass rate | 95% interval | mean score | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for sid, st in sm.scorers.items():
        lines.append(
            f"| `{sid}` | {_pct(st.pass_rate)} ({st.passed}/{st.n}) | "
            f"{_pct(st.wilson_low)}–{_pct(st.wilson_high)} | "
            f"{'–' if st.mean_score is None else format(st.mean_score, '.3f')} | "
            f"{st.errors} |"
        )
    cost = sm.cost_usd
    lines += [
        "",
        f"Tokens {sm.input_tokens:,} in / {sm.output_tokens:,} out; "
        f"cost {'unknown' if cost is None else f'${cost:.4f}'}; "
        f"{sm.calls} calls, {sm.cache_hits} cached"
        + (
            f"; {sm.batch_calls} through a provider batch, "
            + (
                "saving unknown (a model has no price)."
                if sm.batch_saved_usd is None
                else f"${sm.batch_saved_usd:.4f} saved."
            )
            if sm.batch_calls
            else "."
        ),
    ]
    if s.floor_failures:
        lines += ["", "**Floors missed:**", ""]
        lines += [f"- {_cell(f.message)}" for f in s.floor_failures]
    worst = sm.worst_cases
    if worst:
        lines += [
            "",
            "<details><summary>Worst cases</summary>",
            "",
            "| case | score | why |",
            "|---|---:|---|",
        ]
        for w in worst:
            crit = " (critical)" if w.critical else ""
            lines.append(
                f"| {_code(w.case_id)}{crit} | {w.mean_score:.2f} | {_cell('; '.join(w.reasons))} |"
            )
        lines += ["", "</details>"]
    if s.gate is not None:
        from promptctl.reporters import gate_report

        lines += ["", *gate_report.markdown(s.gate)]
    if s.error and s.status != "complete":
        lines += ["", f"> {_cell(s.error)}"]
    return lines


def render_markdown(result: EvalResult) -> str:
    head = {0: "passed", 1: "failed", 3: "could not complete"}.get(result.exit_code, "failed")
    lines = [f"## promptctl eval: {head}", ""]
    for s in result.suites:
        lines += [*suite_markdown(s), ""]
    return "\n".join(lines).rstrip() + "\n"
