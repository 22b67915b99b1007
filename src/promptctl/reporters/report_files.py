"""Report files an eval or merge was asked for (--output, --junit, --markdown, --html), written
where asked and copied into each run directory (SPEC §Runs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from promptctl.project.files import write_atomic

if TYPE_CHECKING:
    from promptctl.evals.runner import EvalResult
    from promptctl.project.config import Project


def write_reports(
    result: EvalResult, *, output: Path | None, junit: Path | None, markdown: Path | None
) -> None:
    """results.json, junit.xml and report.md under `output`, and/or the single files asked for."""
    targets: list[tuple[Path, str]] = []
    if output is not None:
        from promptctl.evals.runs import write_json_atomic
        from promptctl.reporters import json_out

        output.mkdir(parents=True, exist_ok=True)
        write_json_atomic(output / "results.json", json_out.eval_json(result))
        targets += [(output / "junit.xml", "junit"), (output / "report.md", "md")]
    if junit is not None:
        targets.append((junit, "junit"))
    if markdown is not None:
        targets.append((markdown, "md"))
    if not targets:
        return
    from promptctl.reporters import junit as junit_out  # xml.etree: only when asked for
    from promptctl.reporters import markdown as md_out

    texts = {"junit": junit_out.render_junit(result), "md": md_out.render_markdown(result)}
    for path, kind in targets:
        write_atomic(path, texts[kind])
    # The run directories keep a copy of the reports asked for (SPEC §Runs).
    for s in result.suites:
        for kind, name in (("junit", "junit.xml"), ("md", "report.md")):
            if any(k == kind for _, k in targets):
                write_atomic(Path(s.run_dir) / name, texts[kind])


def write_html(project: Project, result: EvalResult, path: Path, baseline_ref: str | None) -> None:
    """The HTML report of every suite of this eval; the run directories keep a copy."""
    from promptctl.evals import review
    from promptctl.reporters import html

    reviews = [
        review.review_run(project, Path(s.run_dir), gate=s.gate, baseline_ref=baseline_ref)
        for s in result.suites
    ]
    text = html.render_html(reviews)
    write_atomic(path, text)
    for s in result.suites:
        write_atomic(Path(s.run_dir) / "report.html", text)
