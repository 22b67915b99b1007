"""The `python` scorer: project functions in a child process; raise, hang, wrong type and exit
are that case's scorer error and the run goes on; --trusted-config-ref reads the committed code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptctl import scorers
from promptctl.model import ScorerSpec

SCORERS = """\
import sys


def shouts(output, context):
    return output.isupper()


def share(output, context):
    return len(output) / 10


def detail(output, context):
    return {"pass": context["vars"]["q"] in output, "score": 0.25, "reason": "looked for q"}


def boom(output, context):
    return 1 / 0


def hang(output, context):
    while True:
        pass


def wrong(output, context):
    return "yes"


def leaves(output, context):
    sys.exit(3)
"""


def setup(project: Any) -> None:
    project.write("promptctl.yaml", "{}\n")
    project.write(
        "prompts/p.yaml", "model: mock/echo\ninput: {q: {type: string}}\ntemplate: '{{ q }}'\n"
    )
    project.write("scorers/checks.py", SCORERS)
    names = ["shouts", "share", "detail", "boom", "hang", "wrong", "leaves"]
    body = "\n".join(
        f"  - {{id: {n}, type: python, value: 'checks:{n}', timeout_s: 1}}" for n in names
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ncases: [{id: a, vars: {q: HELLO}}, {id: b, vars: {q: hi}}]\n"
        f"scorers:\n{body}\n",
    )


def scores(project: Any) -> dict[str, dict[str, Any]]:
    runs = sorted((project.root / ".promptctl" / "runs").iterdir())
    lines = (runs[-1] / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["case_id"]: r["scores"] for r in map(json.loads, lines)}


def test_results_errors_and_the_run_goes_on(project: Any) -> None:
    setup(project)
    r = project.run("eval")
    assert r.code == 0, r.err  # no floors: scorer errors are fails, not a crash
    got = scores(project)
    a, b = got["a"], got["b"]
    assert (a["shouts"]["passed"], b["shouts"]["passed"]) == (True, False)
    assert a["share"] == {"score": 0.5, "passed": True, "reason": "0.5 >= 0.5", "error": None}
    assert b["share"]["passed"] is False
    assert a["detail"] == {"score": 0.25, "passed": True, "reason": "looked for q", "error": None}
    assert a["boom"]["error"] == "ZeroDivisionError: division by zero (scorers/checks.py:17)"
    assert a["hang"]["error"] == "checks:hang took longer than 1 s (timeout_s)"
    assert a["wrong"]["error"].startswith("checks:wrong returned 'yes': expected a bool")
    assert a["leaves"]["error"] == "SystemExit: 3 (scorers/checks.py:30)"
    assert all(not s["passed"] for s in (a["boom"], a["hang"], a["wrong"], a["leaves"]))


def test_a_missing_module_is_exit_2_naming_the_file(project: Any) -> None:
    setup(project)
    (project.root / "scorers" / "checks.py").unlink()
    r = project.run("eval")
    assert r.code == 2
    assert "scorers/checks.py not found" in r.err and "evals/s.yaml:" in r.err


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        ("checks", {}, 'python needs `value: "module:function"`'),
        ("checks:f", {"timeout_s": 0}, "python `timeout_s` must be a number of seconds"),
        ("checks:f", {"threshold": 2}, "python `threshold` must be a number in [0, 1]"),
    ],
)
def test_static_checks(value: str, options: dict[str, Any], message: str) -> None:
    spec = ScorerSpec(id="x", type="python", value=value, options=options)
    problems = scorers.check_spec(spec)
    assert problems and problems[0][1].startswith(message)


def test_under_a_trusted_ref_the_committed_function_grades(git_project: Any) -> None:
    setup(git_project)
    git_project.commit("scorers")
    # The pull request rewrites the scorer to pass everything.
    git_project.write(
        "scorers/checks.py", SCORERS.replace("return output.isupper()", "return True")
    )
    assert git_project.run("eval").code == 0
    assert scores(git_project)["b"]["shouts"]["passed"] is True
    assert git_project.run("eval", "--trusted-config-ref", "HEAD").code == 0
    assert scores(git_project)["b"]["shouts"]["passed"] is False


def test_lint_names_a_missing_module(project: Any) -> None:
    setup(project)
    (project.root / "scorers" / "checks.py").unlink()
    r = project.run("lint")
    assert r.code == 1
    assert "PC214" in r.out + r.err and "scorers/checks.py not found" in r.out + r.err
