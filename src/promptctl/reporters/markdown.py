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
        f"{sm.get('pairs_done', 0)}/{sm.get('pairs_total', 0)} results, run `{s.run_id}`.",
        "",
        "| scorer | pass rate | 95% interval | mean score | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for sid, st in (sm.get("scorers") or {}).items():
        lines.append(
            f"| `{sid}` | {_pct(st['pass_rate'])} ({st['passed']}/{st['n']}) | "
            f"{_pct(st['wilson_low'])}–{_pct(st['wilson_high'])} | "
            f"{'–' if st['mean_score'] is None else format(st['mean_score'], '.3f')} | "
            f"{st['errors']} |"
        )
    cost = sm.get("cost_usd")
    lines += [
        "",
        f"Tokens {sm.get('input_tokens', 0):,} in / {sm.get('output_tokens', 0):,} out; "
        f"cost {'unknown' if cost is None else f'${cost:.4f}'}; "
        f"{sm.get('calls', 0)} calls, {sm.get('cache_hits', 0)} cached.",
    ]
    if s.floor_failures:
        lines += ["", "**Floors missed:**", ""]
        lines += [f"- {_cell(f.message)}" for f in s.floor_failures]
    worst = sm.get("worst_cases") or []
    if worst:
        lines += [
            "",
            "<details><summary>Worst cases</summary>",
            "",
            "| case | score | why |",
            "|---|---:|---|",
        ]
        for w in worst:
            crit = " (critical)" if w.get("critical") else ""
            lines.append(
                f"| {_code(str(w['case_id']))}{crit} | {w['mean_score']:.2f} | "
                f"{_cell('; '.join(w.get('reasons') or []))} |"
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
