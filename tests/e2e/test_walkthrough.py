"""docs/getting-started.md stays true: every command of its ```console blocks runs, in order, in
a fresh scratch directory, with the exit code and the output lines the page shows.

Format of a block (see the page's "How to read the blocks"):

- `$ COMMAND` starts a step; a heredoc (`<<'EOF'`) continues it up to its terminator;
- a trailing `# exit N` on the command is the expected exit code (default 0);
- the lines after it, up to the next `$ `, are output the command must print, in order
  (stdout and stderr each in their own order); `…` inside a line matches any text, and a line
  that is only `…` marks skipped output. Blank lines are not checked.

`promptctl` commands run in-process through `main()` (fast); `cd` moves the test; anything
else (git, cat, sed, python) runs in bash with this interpreter first on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import promptctl
from tests.conftest import Project

DOC = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
SHOWN = "docs/getting-started.md"
GAP = "…"
_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


@dataclass(frozen=True)
class Step:
    line: int  # 1-based line of the `$ ` in the page
    command: str  # heredoc body included, `# exit N` removed
    code: int
    expected: tuple[str, ...]


def parse(text: str) -> list[Step]:
    """The steps of every ```console block, in page order."""
    steps: list[Step] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        i += 1
        current: dict[str, object] | None = None
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            if line.startswith("$ "):
                if current is not None:
                    steps.append(_step(current))
                command, code = line[2:], 0
                found = _EXIT.search(command)
                if found:
                    command, code = command[: found.start()], int(found.group(1))
                body: list[str] = []
                heredoc = _HEREDOC.search(command)
                start = i + 1
                if heredoc:
                    i += 1
                    while i < len(lines) and lines[i] != heredoc.group(2):
                        body.append(lines[i])
                        i += 1
                    body.append(heredoc.group(2))
                current = {
                    "line": start,
                    "command": "\n".join([command, *body]),
                    "code": code,
                    "expected": [],
                }
            elif current is not None:
                current["expected"].append(line)  # type: ignore[union-attr]
            i += 1
        if current is not None:
            steps.append(_step(current))
        i += 1
    return steps


def _step(raw: dict[str, object]) -> Step:
    return Step(
        line=int(raw["line"]),  # type: ignore[call-overload]
        command=str(raw["command"]),
        code=int(raw["code"]),  # type: ignore[call-overload]
        expected=tuple(raw["expected"]),  # type: ignore[arg-type]
    )


def _pattern(shown: str) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(part) for part in shown.rstrip().split(GAP)) + r"\Z")


def missing_lines(expected: tuple[str, ...], out: str, err: str) -> list[str]:
    """The shown lines the output lacks: each must match a whole line of stdout or stderr,
    after the previous match in the same stream."""
    streams = [[line.rstrip() for line in s.splitlines()] for s in (out, err)]
    where = [0, 0]
    missing = []
    for shown in expected:
        if not shown.strip() or shown.strip() == GAP:
            continue
        pattern = _pattern(shown)
        for s, lines in enumerate(streams):
            hit = next((k for k in range(where[s], len(lines)) if pattern.match(lines[k])), None)
            if hit is not None:
                where[s] = hit + 1
                break
        else:
            missing.append(shown)
    return missing


def run_step(step: Step, project: Project, env: dict[str, str]) -> tuple[int, str, str]:
    words = shlex.split(step.command) if "\n" not in step.command else []
    if words[:1] == ["cd"] and len(words) == 2:
        os.chdir(Path.cwd() / words[1])
        return 0, "", ""
    if words[:1] == ["promptctl"] and not set("|&;<>`$") & set(step.command):
        result = project.run(*words[1:])
        return result.code, result.out, result.err
    proc = subprocess.run(
        ["bash", "-c", step.command],
        cwd=Path.cwd(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, ""


def test_the_page_has_the_whole_tour() -> None:
    steps = parse(DOC.read_text(encoding="utf-8"))
    used = {shlex.split(s.command)[1] for s in steps if s.command.startswith("promptctl ")}
    for command in (
        "init",
        "list",
        "render",
        "lint",
        "eval",
        "baseline",
        "diff",
        "promote",
        "rollback",
        "log",
    ):
        assert command in used, f"{SHOWN} no longer runs `promptctl {command}`"
    failing = [s.command for s in steps if s.code == 1]
    assert "promptctl eval" in failing, "the tour must show a regression failing the gate"
    assert any("promptctl.load(" in s.command for s in steps)


def test_parse_reads_heredocs_exit_codes_and_output() -> None:
    text = "\n".join(
        [
            "```console",
            "$ cat > a.txt <<'EOF'",
            "$ not a command",
            "EOF",
            "$ promptctl eval  # exit 1",
            "FAILED …",
            "…",
            "```",
            "```sh",
            "$ ignored",
            "```",
        ]
    )
    steps = parse(text)
    assert steps == [
        Step(line=2, command="cat > a.txt <<'EOF'\n$ not a command\nEOF", code=0, expected=()),
        Step(line=5, command="promptctl eval", code=1, expected=("FAILED …", "…")),
    ]
    assert missing_lines(("FAILED …", "…", "done"), "x\nFAILED run 1\n", "done\n") == []
    assert missing_lines(("done", "FAILED …"), "FAILED run 1\ndone\n", "") == ["FAILED …"]
    assert missing_lines(("a…c",), "abx\n", "") == ["a…c"]


def test_the_walkthrough_runs_as_written(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = parse(DOC.read_text(encoding="utf-8"))
    assert len(steps) > 20
    # `log` sizes its AUTHOR column to the names: the page was made with a short one.
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Ada")
    for var in ("PROMPTCTL_TRUSTED_CONFIG_REF", "GITHUB_STEP_SUMMARY", "PROMPTCTL_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # `python -` imports promptctl from where this test does
    package_root = str(Path(promptctl.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    started = time.monotonic()
    for step in steps:
        code, out, err = run_step(step, project, env)
        shown = f"{SHOWN}:{step.line}: `{step.command.splitlines()[0]}`"
        report = f"\n--- stdout\n{out}--- stderr\n{err}"
        assert code == step.code, f"{shown} exited {code}, the page says {step.code}{report}"
        missing = missing_lines(step.expected, out, err)
        assert not missing, f"{shown}: output lacks {missing}{report}"
    assert time.monotonic() - started < 30
