"""The gate's part of every report: per scorer base rate, current rate, delta with CI, p,
verdict, minimum detectable drop and flipped cases; notes said loudly."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

from promptctl.escaping import markdown_cell, xml_text
from promptctl.gate.verdict import GateResult, ScorerGate, describe, family_line, raw_p
from promptctl.model import Verdict

_PASS_FAIL = ("pass->fail", "fail->pass")
MAX_FLIPS = 10  # a report lists this many flipped cases per direction; JSON has them all


_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:/@+-]{1,80}$")


def _code(text: str) -> str:
    """An id as inline code when it is plain, else an escaped cell (a code span shows
    entities literally, so escaping and backticks do not mix)."""
    return f"`{text}`" if _PLAIN_ID.match(text) else markdown_cell(text)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _delta(s: ScorerGate) -> str:
    c = s.comparison
    if c is None:
        return "-"
    if s.metric == "mean_score":  # score units, [0, 1]: a 1-5 judge's point is 0.25
        return f"{c.delta:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]"
    return f"{c.delta * 100:+.1f} [{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}]"


def _level(s: ScorerGate, x: float | None) -> str:
    """A rate as a percentage, or a mean score (gate.metric: mean_score) as a number."""
    if x is None:
        return "-"
    return f"{x:.3f}" if s.metric == "mean_score" else f"{x:.1%}"


def distribution_line(s: ScorerGate) -> str:
    """Paired cases per mean score, base -> now: `1.00: 40->12  0.75: 10->38`."""
    return "  ".join(f"{v:.2f}: {b}->{n}" for v, b, n in s.distribution)


def _p(s: ScorerGate) -> str:
    # The p Holm corrects: under --settle the sequential one, not the last look's test (which
    # the JSON keeps as p_value, beside p_looks and p_sequential).
    c = s.comparison
    return "-" if c is None else f"{raw_p(s):.3g}"


def _p_adj(s: ScorerGate) -> str:
    return "-" if s.p_adjusted is None or s.comparison is None else f"{s.p_adjusted:.3g}"


def _repeats(f: Any) -> str:
    """A flipped case's results: `1->0`, or per repeat `3/3->0/3` passed (issue 17 §3)."""
    if (f.base_repeats == 1 and f.current_repeats == 1) or not _whole(f):
        return f"{f.base:.2g}->{f.current:.2g}"
    return (
        f"{round(f.base * f.base_repeats)}/{f.base_repeats}->"
        f"{round(f.current * f.current_repeats)}/{f.current_repeats}"
    )


def _whole(f: Any) -> bool:
    # Pass fractions are k/repeats; a mean score usually is not, and keeps its decimal form.
    return all(
        abs(v * r - round(v * r)) < 1e-6
        for v, r in ((f.base, f.base_repeats), (f.current, f.current_repeats))
    )


def _flips(flips: Any) -> str:
    shown = [f"{f.case_id} ({_repeats(f)})" for f in flips[:MAX_FLIPS]]
    more = len(flips) - MAX_FLIPS
    return ", ".join(shown) + (f", +{more} more" if more > 0 else "")


def baseline_line(g: GateResult) -> str:
    if g.baseline_path is None:
        return "baseline: none"
    where = (
        f"{g.baseline_path} at {g.baseline_commit[:12]}"
        if g.baseline_commit
        else f"{g.baseline_path} (working tree)"
    )
    return f"baseline: {where}, prompt version {g.baseline_version}; now {g.prompt_version}"


def rows(g: GateResult) -> list[list[str]]:
    out = []
    for s in g.scorers:
        c = s.comparison
        out.append(
            [
                s.scorer_id,
                s.verdict.value.upper(),
                _level(s, c.base_rate) if c else "-",
                _level(s, c.current_rate) if c else _pct(s.pass_rate),
                _delta(s),
                _p(s),
                _p_adj(s),
                _level(s, c.min_detectable_drop) if c else "-",
                str(c.n) if c else "0",
                f"{len(s.worse)}/{len(s.better)}",
            ]
        )
    return out


HEADERS = [
    "SCORER",
    "VERDICT",
    "BASE",
    "NOW",
    "DELTA PTS [95% CI]",
    "P",
    "P ADJ",
    "MIN DROP",
    "PAIRED",
    "FLIPS -/+",
]


def text(g: GateResult) -> str:
    """The gate section of the terminal report."""
    from promptctl.reporters.plain import table

    lines = [f"gate: {g.verdict.value.upper()}  ({baseline_line(g)})\n"]
    if g.baseline_path is None:  # nothing to tabulate: the floors and the hint say it all
        for s in g.scorers:
            if s.failures:
                lines.append(f"  {s.scorer_id}: {describe(s, g.gate)}\n")
        return "".join(
            lines + [f"FAILED: {f}\n" for f in g.failures] + [f"WARNING: {n}\n" for n in g.notes]
        )
    lines.append(table(HEADERS, rows(g)))
    lines.append(f"  {family_line(g)}\n")
    if g.settle_calls:
        lines.append(
            f"  settle: {g.settle_calls} extra call(s) for this eval (fresh samples of the "
            "baseline's prompt and this one); p is sequential over the looks\n"
        )
    for s in g.scorers:
        lines.append(f"  {s.scorer_id}: {describe(s, g.gate)}\n")
        if s.distribution:
            lines.append(f"    mean score per case, base->now: {distribution_line(s)}\n")
        down, up = ("score fell", "score rose") if s.metric == "mean_score" else _PASS_FAIL
        if s.worse:
            lines.append(f"    {down}: {_flips(s.worse)}\n")
        if s.better:
            lines.append(f"    {up}: {_flips(s.better)}\n")
    for f in g.failures:
        lines.append(f"FAILED: {f}\n")
    for n in g.notes:
        lines.append(f"WARNING: {n}\n")
    if g.missing_cases:
        lines.append(f"note: {g.missing_cases} baseline case(s) not in this run\n")
    return "".join(lines)


def markdown(g: GateResult) -> list[str]:
    icon = {
        Verdict.PASSED: "✅",
        Verdict.NEW: "🆕",
        Verdict.INCONCLUSIVE: "⚠️",
        Verdict.REGRESSED: "❌",
        Verdict.FAILED: "❌",
    }[g.verdict]
    # Case and scorer ids come from datasets and suites: escaped like every other cell (issue 9).
    md = markdown_cell
    out = [
        f"**Gate: {icon} {g.verdict.value}** — {md(baseline_line(g))}",
        "",
        "| scorer | verdict | base | now | Δ pts [95% CI] | p | p adj | min detectable drop "
        "| paired | flips −/+ |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows(g):
        out.append("| " + " | ".join([_code(r[0]), *(md(c) for c in r[1:])]) + " |")
    out.append("")
    out.append(md(family_line(g)))
    out.append("")
    for s in g.scorers:
        out.append(f"- {_code(s.scorer_id)}: {md(describe(s, g.gate))}")
        if s.distribution:
            out.append(f"  - mean score per case, base→now: {md(distribution_line(s))}")
        if s.worse:
            out.append(f"  - pass→fail: {md(_flips(s.worse))}")
    for f in g.failures:
        out.append(f"- **failed:** {md(f)}")
    for n in g.notes:
        out.append(f"> **Warning:** {md(n)}")
    return out


def junit(g: GateResult, suite_node: ET.Element, suite: str) -> int:
    """One testcase per scorer's gate, and the baseline used as properties; returns the
    failures added."""
    props = suite_node.find("properties")
    if props is None:
        props = ET.SubElement(suite_node, "properties")
    for key, value in (
        ("gate", g.verdict.value),
        ("baseline", g.baseline_path or "none"),
        ("baseline_commit", g.baseline_commit or "working tree"),
    ):
        ET.SubElement(props, "property", name=key, value=xml_text(value))
    failures = 0
    for s in g.scorers:
        tc = ET.SubElement(
            suite_node, "testcase", classname=f"{suite}.gate", name=xml_text(s.scorer_id)
        )
        reason = xml_text(describe(s, g.gate))
        if s.verdict in (Verdict.REGRESSED, Verdict.FAILED) or (
            s.verdict is Verdict.INCONCLUSIVE and g.gate.on_inconclusive == "fail"
        ):
            ET.SubElement(tc, "failure", message=reason[:200]).text = reason
            failures += 1
        else:
            ET.SubElement(tc, "system-out").text = reason
    return failures
