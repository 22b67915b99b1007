"""One self-contained HTML report of runs: inline CSS and JS, a strict CSP, everything escaped.

The static parts (verdicts, gate numbers, prompt diff, totals) are rendered by Jinja2 with
autoescape; the case table is built in the browser from JSON embedded in a data block, through
textContent only, so no string from a model, dataset or file is ever parsed as HTML. The same
reviews give the same bytes: nothing here reads a clock or the environment but the secrets to mask.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from promptctl.engine.prices import known_sum
from promptctl.evals.review import CASE_VERDICTS, CaseReview, RepeatView, RunReview
from promptctl.evals.runs import Summary
from promptctl.redaction import printable, redact, redactor
from promptctl.reporters import gate_report, worddiff

MAX_TEXT_CHARS = 4000  # per reply or message: a report of 1000 long replies stays small
_ASSETS = Path(__file__).resolve().parent.parent / "templates" / "report"

# JSON inside <script type="application/json">: only `</script` (or `<!--`) could end the block
# early; escaping <, > and & rules those out, and U+2028/9 keep it valid JavaScript source too.
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


# The masker of the render in progress: the environment's secrets read once per report.
_MASK: ContextVar[Callable[[str], str]] = ContextVar("promptctl_html_mask", default=redact)


def clean(text: Any) -> str:
    """A string from a model, dataset or file, fit for the report: keys masked (before any
    escaping, so an escaped quote can never be split), control and bidi characters removed."""
    return _MASK.get()(printable(str(text)))


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` cleaned and cut at `limit` characters, with a marker saying how much is not shown."""
    text = clean(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [truncated: {len(text) - limit} more characters not shown]"


def script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _num(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def _repeat_data(rv: RepeatView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "r": rv.repeat,
        "scores": [
            [clean(s.scorer_id), _num(s.score), s.passed, clip(s.reason, 1000), _opt(s.error)]
            for s in rv.scores
        ],
        "tin": rv.input_tokens,
        "tout": rv.output_tokens,
        "lat": _num(rv.latency_s, 3),
        "cost": _num(rv.cost_usd, 6),
        "cached": rv.cached,
        "replayed": rv.replayed,
        "error": _opt(rv.error),
    }
    current = None if rv.output is None else clip(rv.output)
    base = None if rv.baseline_output is None else clip(rv.baseline_output)
    if current is not None and base is not None:
        # Both sides rebuild from the ops: the texts are not stored twice.
        out["diff"] = [list(op) for op in worddiff.word_diff(base, current)]
    else:
        out["out"], out["base"] = current, base
    return out


def _opt(text: str | None) -> str | None:
    return None if text is None else clip(text, 1000)


def _case_data(suite: str, case: CaseReview) -> dict[str, Any]:
    return {
        "suite": clean(suite),
        "id": clean(case.case_id),
        "tags": [clean(t) for t in case.tags],
        "critical": case.critical,
        "verdicts": list(case.verdicts),
        "change": _num(case.score_change),
        "scorers": [
            [
                clean(s.scorer_id),
                _num(s.base_score),
                _num(s.base_pass),
                _num(s.score),
                _num(s.passed),
                list(s.verdicts),
            ]
            for s in case.scorers
        ],
        "messages": [[clean(m["role"]), clip(m["content"])] for m in case.messages],
        "vars": None
        if case.vars is None or case.messages
        else clip(json.dumps(case.vars, ensure_ascii=False, sort_keys=True, default=str)),
        "repeats": [_repeat_data(rv) for rv in case.repeats],
    }


def _money(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.4f}"


def _totals(summaries: Sequence[Summary | None]) -> dict[str, Any]:
    """The terminal's counts, summed over suites: replays and tokens include the judges'."""
    have = [s for s in summaries if s is not None]
    costs = [s.cost_usd for s in have] + [None] * (len(summaries) - len(have))
    return {
        "results": sum(s.pairs_done for s in have),
        "calls": sum(s.calls for s in have),
        "cached": sum(s.cache_hits for s in have),
        "replayed": sum(s.replayed + s.judge_replayed for s in have),
        "judge_replayed": sum(s.judge_replayed for s in have),
        "input_tokens": sum(s.input_tokens + s.judge_input_tokens for s in have),
        "output_tokens": sum(s.output_tokens + s.judge_output_tokens for s in have),
        "cost": _money(None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)),
        "batch_calls": sum(s.batch_calls for s in have),
        "batch_saved": _money(known_sum(*(s.batch_saved_usd for s in have))),
    }


def _verdict(review: RunReview) -> str:
    if review.gate is not None:
        return str(review.gate.verdict.value)
    return "passed" if review.status == "complete" else review.status


def _suite_view(review: RunReview) -> dict[str, Any]:
    g = review.gate
    from promptctl.gate.verdict import describe

    pc = review.prompt_change
    return {
        "name": review.suite,
        "verdict": _verdict(review),
        "run_id": review.run_id,
        "prompt": review.prompt,
        "version": review.prompt_version,
        "model": review.model,
        "status": review.status,
        "baseline": gate_report.baseline_line(g) if g is not None else "not gated",
        "headers": gate_report.HEADERS,
        "rows": gate_report.rows(g) if g is not None and g.baseline_path is not None else [],
        "lines": [f"{s.scorer_id}: {describe(s, g.gate)}" for s in g.scorers] if g else [],
        "failures": list(g.failures) if g else [],
        "notes": list(g.notes) if g else [],
        "totals": _totals([review.summary]),
        "judge_cost": _money(review.summary.judge_cost_usd if review.summary else None),
        "prompt_change": {
            "base": pc.base_version,
            "now": pc.version,
            "model": pc.model_change,
            "params": list(pc.param_changes),
            "diff": [(_diff_class(line), line) for line in clip(pc.text_diff, 20000).splitlines()],
            "note": pc.note,
        },
    }


def _diff_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "hdr"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")


def overall(reviews: Sequence[RunReview]) -> str:
    order = ["passed", "new", "inconclusive", "regressed", "failed", "interrupted", "incomplete"]
    verdicts = [_verdict(r) for r in reviews]
    return max(verdicts, key=lambda v: order.index(v) if v in order else len(order), default="new")


def _script() -> str:
    return (_ASSETS / "report.js").read_text(encoding="utf-8")


def script_hash() -> str:
    """The CSP source allowing the report's one inline script, and no other."""
    digest = hashlib.sha256(_script().encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def render_html(reviews: Sequence[RunReview], *, runs_nav: Sequence[Mapping[str, str]] = ()) -> str:
    """The report's text. `runs_nav` lists other runs to switch to (`view` only)."""
    token = _MASK.set(redactor())
    try:
        return _render(reviews, runs_nav)
    finally:
        _MASK.reset(token)


def _render(reviews: Sequence[RunReview], runs_nav: Sequence[Mapping[str, str]]) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    env.filters["printable"] = clean  # every string in the page goes through it
    template = env.from_string((_ASSETS / "report.html.j2").read_text(encoding="utf-8"))
    data = {
        "cases": [_case_data(r.suite, c) for r in reviews for c in r.cases],
        "verdicts": list(CASE_VERDICTS),
    }
    scorers = sorted({sid for r in reviews for sid in r.scorer_ids})
    tags = sorted({t for r in reviews for c in r.cases for t in c.tags})
    return template.render(
        verdict=overall(reviews),
        suites=[_suite_view(r) for r in reviews],
        totals=_totals([r.summary for r in reviews]),
        verdicts=CASE_VERDICTS,
        scorers=scorers,
        tags=tags,
        runs_nav=list(runs_nav),
        # Our own files and JSON escaped above: markup by construction, not from any input.
        css=Markup((_ASSETS / "report.css").read_text(encoding="utf-8")),  # noqa: S704
        script=Markup(_script()),  # noqa: S704
        script_hash=script_hash(),
        data_json=Markup(script_json(data)),  # noqa: S704
    )


def write_html(path: Path, reviews: Sequence[RunReview]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(reviews), encoding="utf-8")
