"""The terminal report as a person sees it (issue 16): promptctl runs in a real terminal (tmux)
and the screen, colours included, is what the tests read."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests import report_project
from tests.conftest import Project

RED, GREEN, YELLOW = "\x1b[31m", "\x1b[32m", "\x1b[33m"
SGR = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="TMUX IS NOT INSTALLED: the terminal-screen tests need it (apt-get install tmux; "
    ".ci/run installs it)",
)


def screen(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> str:
    """Run `promptctl ARGV` in a fresh 200x80 tmux terminal; the whole screen, with colours."""
    sock = f"promptctl-test-{uuid.uuid4().hex[:8]}"
    unset = [a for k in ("CI", "GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR") for a in ("-u", k)]
    sets = [f"{k}={v}" for k, v in (env or {}).items()]
    command = shlex.join(["env", *unset, *sets, sys.executable, "-m", "promptctl", *argv])
    signal = f"tmux -L {sock} wait-for -S done"
    shell = f"cd {shlex.quote(str(cwd))} && {command}; echo EXIT=$?; {signal}; read _"
    tmux = ["tmux", "-L", sock, "-f", os.devnull]
    try:
        subprocess.run([*tmux, "new-session", "-d", "-x", "200", "-y", "80", shell], check=True)
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=120)
        return subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-J", "-S", "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def plain(text: str) -> str:
    return SGR.sub("", text)


def test_eval_on_a_terminal_reads_at_a_glance(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    shown = screen(p.root, "eval")
    text = plain(shown)
    assert "EXIT=1" in text
    # Verdicts coloured: the suite and the gate red, the scorer that held green.
    assert f"qa: {RED}REGRESSED" in shown
    assert f"gate: {RED}REGRESSED" in shown
    assert re.search(rf"\nsays-it +{re.escape(RED)}REGRESSED", shown)
    assert re.search(rf"\nshort +{re.escape(GREEN)}PASSED", shown)
    # The progress bar is neutral: no colour on its line at all.
    (bar,) = [line for line in shown.splitlines() if line.startswith("qa ")]
    assert "12/12" in bar and not SGR.search(bar)
    # One line for the whole eval; no placeholder where nothing was measured.
    # 6 short questions render as before: their replies are replayed from the baseline.
    assert (
        "\ntotal: 1 suite, 12 results  calls 6  cached 0  replayed 6  tokens 80 in / 44 out" in text
    )
    assert "latency p50 -" not in text and "<= 0" not in text and " - p95" not in text


def test_no_color_and_ci_logs_stay_plain_unless_forced(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    assert not SGR.search(screen(p.root, "eval", "-q", env={"NO_COLOR": "1"}))
    assert not SGR.search(screen(p.root, "eval", "-q", env={"CI": "true"}))
    forced = screen(p.root, "eval", "-q", env={"CI": "true", "FORCE_COLOR": "1"})
    assert f"qa: {RED}REGRESSED" in forced


def test_piped_output_has_no_colour_unless_forced(
    git_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = report_project.flipped(git_project)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert "\x1b[" not in p.run("eval").out
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert f"qa: {RED}REGRESSED" in p.run("eval").out
    monkeypatch.setenv("NO_COLOR", "1")  # NO_COLOR wins
    assert "\x1b[" not in p.run("eval").out


def test_quiet_eval_says_why_it_failed_in_one_line(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    r = p.run("eval", "-q")
    assert r.code == 1
    (line,) = r.out.splitlines()
    assert line.startswith("qa: REGRESSED  prompt qa@")
    assert line.endswith(
        "  why: says-it: pass rate fell 50.0% (> max_drop 5.0%), significant: "
        "adjusted p=0.0312 (raw 0.0156) < alpha 0.05"  # Holm over the suite's two scorers
    )


def test_show_on_a_terminal_colours_the_word_diff(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    run_id = re.search(r"  run (\S+)", p.run("eval", "-q").out).group(1)  # type: ignore[union-attr]
    shown = screen(p.root, "show", run_id, "q-03")
    assert f"Answer: {RED}[-tall mountain peak-]" in shown
    assert f"{GREEN}{{+no idea+}}" in shown
    assert f"says-it  {RED}FAIL" in shown
