"""`promptctl diff` as text and as a markdown PR comment (history/diff.py computes the
changes; this module only shows them). Text from the repository is escaped in markdown."""

from __future__ import annotations

import json
import re
from typing import Any

from promptctl.history.diff import DiffResult, ParamChange, PromptChange


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


def _param_line(c: ParamChange) -> str:
    if c.kind == "renamed":
        return f"{c.key} renamed to {c.new_key} ({_value(c.new)})"
    if c.kind == "added":
        return f"{c.key} added: {_value(c.new)}"
    if c.kind == "removed":
        return f"{c.key} removed (was {_value(c.old)})"
    return f"{c.key}: {_value(c.old)} -> {_value(c.new)}"


def _heading(c: PromptChange) -> str:
    if c.status == "added":
        return f"{c.name}: added at {c.new_version}"
    if c.status == "removed":
        return f"{c.name}: removed (was {c.old_version})"
    if c.status == "invalid":
        return f"{c.name}: does not load ({c.error})"
    return f"{c.name}: {c.old_version} -> {c.new_version}"


def _details(c: PromptChange) -> list[str]:
    lines = []
    if c.model:
        lines.append(f"model: {c.model[0]} -> {c.model[1]}")
    lines += [f"params: {_param_line(p)}" for p in c.params]
    lines += [f"input: {s}" for s in c.input]
    lines += [f"output: {s}" for s in c.output]
    if c.suites:
        lines.append("suites affected: " + ", ".join(c.suites))
    return lines


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def render_text(result: DiffResult) -> str:
    out = [f"promptctl diff {result.rev_a} -> {result.rev_b}"]
    if result.empty:
        out.append("no prompt, suite or config changes")
        return "\n".join(out) + "\n"
    for c in result.prompts:
        out += ["", _heading(c)] + [f"  {line}" for line in _details(c)]
        if c.text_diff:
            out += ["  " + line for line in c.text_diff.rstrip("\n").splitlines()]
    for pc in result.partials:
        used = ", ".join(pc.prompts) or "no prompt"
        out += [
            "",
            f"partial {pc.name}: {pc.status} (included by {used}: a new version of each)",
        ]
        out += ["  " + line for line in pc.text_diff.rstrip("\n").splitlines()]
    if result.deltas:
        out += ["", "eval deltas:"]
        out += [
            f"  {d.suite}/{d.scorer}: {_pct(d.old_rate)} -> {_pct(d.new_rate)} "
            f"({d.delta * 100:+.1f} pts; {d.old_source} vs {d.new_source})"
            for d in result.deltas
        ]
    if result.suites_changed:
        out += ["", "suites changed: " + ", ".join(result.suites_changed)]
    if result.problems:
        out += ["", "suites that do not load (not compared):"]
        out += [f"  {f.subject}: {f.detail}" for f in result.problems]
    if result.loosened:
        out += ["", "WARNING: gates loosened:"]
        out += [f"  {f.subject}: {f.kind}: {f.detail}" for f in result.loosened]
    if result.security:
        out += [
            "",
            "SECURITY: provider endpoints or key variables changed (review where keys are sent):",
        ]
        out += [f"  {f.subject}: {f.detail}" for f in result.security]
    return "\n".join(out) + "\n"


# What lets repository text drive a PR comment: HTML, links and images, code spans, mentions
# and issue references. `_`, `*` and `>` mid-line only change emphasis: left readable.
_MD_ACTIVE = {
    "\\": "\\\\",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "<": "&lt;",
    "&": "&amp;",
    "@": "&#64;",
    "#": "&#35;",
}
_MD_ACTIVE_RE = re.compile("|".join(re.escape(c) for c in _MD_ACTIVE))


def _md(text: str) -> str:
    text = " ".join(text.splitlines())
    return _MD_ACTIVE_RE.sub(lambda m: _MD_ACTIVE[m.group(0)], text)


def _code(text: str) -> str:
    """An inline code span, or escaped text when a backtick would end the span early."""
    return f"`{text}`" if "`" not in text and "\n" not in text else _md(text)


def _fenced(text: str, lang: str) -> list[str]:
    """A code block whose fence is longer than any backtick run inside: prompt text cannot
    close it and inject markdown into the comment."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + lang, text, fence]


def render_markdown(result: DiffResult) -> str:
    """A PR comment: warnings first, a heading per changed prompt, the text diff folded. Text
    from the repository (names, case ids, values) is escaped: it must not drive the comment."""
    from promptctl.escaping import markdown_cell

    md = _md
    out = [f"## promptctl diff: {_code(result.rev_a)} -> {_code(result.rev_b)}", ""]
    if result.empty:
        out.append("No prompt, suite or config changes.")
        return "\n".join(out) + "\n"
    if result.loosened:
        out += ["> [!WARNING]", "> **Gates loosened** by this change:"]
        out += [f"> - {_code(f.subject)}: {f.kind}: {md(f.detail)}" for f in result.loosened]
        out.append("")
    if result.security:
        out += ["> [!CAUTION]", "> **Security-relevant config changes** (where API keys are sent):"]
        out += [f"> - provider {_code(f.subject)}: {md(f.detail)}" for f in result.security]
        out.append("")
    for c in result.prompts:
        if c.status == "modified":
            out.append(f"### {_code(c.name)} `{c.old_version}` -> `{c.new_version}`")
        elif c.status == "added":
            out.append(f"### {_code(c.name)} added at `{c.new_version}`")
        elif c.status == "removed":
            out.append(f"### {_code(c.name)} removed (was `{c.old_version}`)")
        else:
            out.append(f"### {_code(c.name)} does not load: {md(c.error or '')}")
        out.append("")
        out += [f"- {md(line)}" for line in _details(c)]
        if c.text_diff:
            out += ["", "<details><summary>text diff</summary>", ""]
            out += _fenced(c.text_diff.rstrip("\n"), "diff")
            out += ["", "</details>"]
        out.append("")
    for pc in result.partials:
        used = ", ".join(_code(p) for p in pc.prompts) or "no prompt"
        out += [
            f"### partial {_code(pc.name)} {pc.status}",
            "",
            f"- included by {used} (a new version of each: a version covers its partials)",
        ]
        out += ["", "<details><summary>text diff</summary>", ""]
        out += _fenced(pc.text_diff.rstrip("\n"), "diff")
        out += ["", "</details>", ""]
    if result.deltas:
        out += [
            "### Eval deltas",
            "",
            "| suite | scorer | before | after | delta |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {markdown_cell(d.suite)} | {markdown_cell(d.scorer)} | {_pct(d.old_rate)} | "
            f"{_pct(d.new_rate)} | {d.delta * 100:+.1f} pts |"
            for d in result.deltas
        ]
        out.append("")
    if result.suites_changed:
        out += ["Suites changed: " + ", ".join(_code(s) for s in result.suites_changed), ""]
    if result.problems:
        out += ["Suites that do not load (not compared):", ""]
        out += [f"- {_code(f.subject)}: {md(f.detail)}" for f in result.problems]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
