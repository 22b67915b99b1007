"""GitHub Actions output when GITHUB_ACTIONS=true: annotations, a step summary, a safe log.

- Annotations (`::error file=…,line=…::`) for regressed or failed scorers point at the prompt
  file (the line where its messages/template start); incomplete suites and suite-level failures
  point at the suite file. They go to **stderr**: the runner parses workflow commands on both
  streams (actions/runner, `ScriptHandler`: stdout and stderr each feed an `OutputManager` with
  the `ActionCommandManager`), and stdout must stay pure for `--format json | jq`.
- The step summary is the markdown report, appended to `$GITHUB_STEP_SUMMARY`.
- Everything else promptctl prints, on both streams, is defanged at the CLI edge
  (`escaping.DefangingStream`, issue 19): a reply, case id, file name or provider error body
  cannot raise annotations, mask values or stop command processing in the job log. Only the
  annotations here are written to the stream below it (`escaping.undefanged`).
- Secrets: promptctl never prints a key (promptctl.redaction), so there is nothing to
  `::add-mask::`; emitting that command would itself write the value to stdout, where a pipe or
  log file could keep it. GitHub masks `${{ secrets.* }}` values itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from promptctl.evals.runner import EvalResult, SuiteResult
from promptctl.model import Verdict
from promptctl.project.config import Project
from promptctl.redaction import printable, redact

SUMMARY_LIMIT_BYTES = 1_000_000  # GitHub refuses a step summary over 1 MiB


def active(env: Mapping[str, str] | None = None) -> bool:
    """True inside a GitHub Actions job."""
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: one line, `%` escaped first (the runner's own rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    """`::error file=…,line=…,title=…::message` (level: error, warning or notice)."""
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(redact(printable(message)))}"


# ----------------------------------------------------------------------------- annotations


def _shown_path(project: Project, path: Path, repo_root: Path | None) -> str:
    """`path` as GitHub names files in annotations: relative to the repository root."""
    path = path.resolve()
    bases: list[Path] = []
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        bases.append(Path(workspace).resolve())
    if repo_root is not None:
        bases.append(repo_root)
    for base in bases:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return project.rel(path)


def _prompt_location(
    project: Project, s: SuiteResult, repo_root: Path | None
) -> tuple[str | None, int | None]:
    at = s.prompt_at
    if at is None:
        return None, None
    return _shown_path(project, Path(at.path), repo_root), at.line or 1


def _suite_file(project: Project, s: SuiteResult, repo_root: Path | None) -> str | None:
    path = Path(s.suite.path)
    return _shown_path(project, path, repo_root) if path.is_file() else None


def annotations(project: Project, result: EvalResult, repo_root: Path | None = None) -> list[str]:
    """Workflow commands for every suite that did not pass cleanly. Files are named relative to
    GITHUB_WORKSPACE or `repo_root` (the git top level, which the caller looks up)."""
    from promptctl.gate.verdict import describe
    from promptctl.reporters.gate_report import MAX_FLIPS

    out: list[str] = []
    for s in result.suites:
        name = s.suite.name
        if s.status != "complete":
            out.append(
                command(
                    "error",
                    f"{name}: {s.status}: {s.error or 'not finished'}; "
                    f"resume with `promptctl eval --resume {s.run_id}`",
                    file=_suite_file(project, s, repo_root),
                    line=1,
                    title=f"promptctl: {name} {s.status}",
                )
            )
            continue
        g = s.gate
        if g is None:
            for f in s.floor_failures:
                file, line = _prompt_location(project, s, repo_root)
                out.append(
                    command(
                        "error",
                        f.message,
                        file=file,
                        line=line,
                        title=f"promptctl: {name}/{f.scorer_id} failed",
                    )
                )
            continue
        for sg in g.scorers:
            fails = g.gate.on_inconclusive == "fail"
            if sg.verdict in (Verdict.REGRESSED, Verdict.FAILED):
                level = "error"
            elif sg.verdict is Verdict.INCONCLUSIVE:
                level = "error" if fails else "warning"
            else:
                continue
            message = f"{name}/{sg.scorer_id}: {describe(sg, g.gate)}"
            if sg.worse:
                flips = ", ".join(f.case_id for f in sg.worse[:MAX_FLIPS])
                more = len(sg.worse) - MAX_FLIPS
                message += f"; pass->fail: {flips}" + (f", +{more} more" if more > 0 else "")
            file, line = _prompt_location(project, s, repo_root)
            out.append(
                command(
                    level,
                    message,
                    file=file,
                    line=line,
                    title=f"promptctl: {name}/{sg.scorer_id} {sg.verdict.value}",
                )
            )
        for failure in g.failures:
            out.append(
                command(
                    "error",
                    f"{name}: {failure}",
                    file=_suite_file(project, s, repo_root),
                    line=1,
                    title=f"promptctl: {name} failed",
                )
            )
    return out


# ----------------------------------------------------------------------------- step summary


def step_summary(result: EvalResult) -> str:
    """The markdown report, cut to GitHub's step-summary limit."""
    from promptctl.reporters.markdown import render_markdown

    text = redact(render_markdown(result))
    data = text.encode("utf-8")
    if len(data) <= SUMMARY_LIMIT_BYTES:
        return text
    note = (
        "\n\n_(report cut to GitHub's step summary limit; the full report is in the run "
        "directory)_\n"
    )
    cut = data[: SUMMARY_LIMIT_BYTES - len(note.encode("utf-8"))].decode("utf-8", "ignore")
    return cut[: cut.rfind("\n") + 1] + note


def report(
    project: Project,
    result: EvalResult,
    *,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
    repo_root: Path | None = None,
) -> None:
    """Inside GitHub Actions: annotations on stderr, the report in the step summary."""
    env = env if env is not None else os.environ
    if not active(env):
        return
    # imported here: every eval imports this module to ask active(), and escaping compiles
    # its patterns on import
    from promptctl.escaping import undefanged

    stream = undefanged(stream or sys.stderr)  # our own commands: the one writer past defanging
    for line in annotations(project, result, repo_root):
        stream.write(line.replace("##[", "#\u200b#[") + "\n")
    stream.flush()
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(step_summary(result) + "\n")


def log_stream(stream: TextIO | None = None) -> TextIO:
    """stdout (or `stream`): kept for callers written before issue 19; the CLI edge now defangs
    every stream under GitHub Actions, so there is nothing left to wrap here."""
    return stream or sys.stdout
