"""A new user's first afternoon (issue 20): each paper cut as it was hit, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import promptctl
from promptctl.errors import UsageError
from promptctl.evals import runs
from promptctl.project import config

ECHO = "model: mock/echo\ninput:\n  ticket: {type: string}\ntemplate: 'Summarize: {{ ticket }}'\n"
SUITE = """\
prompt: p
dataset: data/d.jsonl
scorers:
  - {id: has, type: contains, value: "Summarize"}
"""


def _seed(project: Any, rows: int = 3) -> None:
    project.write("prompts/p.yaml", ECHO)
    project.write("evals/s.yaml", SUITE)
    project.write(
        "evals/data/d.jsonl",
        "".join(
            json.dumps({"id": f"c{i}", "vars": {"ticket": f"t{i}"}}) + "\n" for i in range(rows)
        ),
    )


# 1 ------------------------------------------------------------------------------------------


def test_eval_suite_resume_resumes_that_suites_latest_interrupted_run(project: Any) -> None:
    _seed(project)
    project.write("evals/t.yaml", SUITE)
    assert project.run("eval").code == 0
    proj = config.load_project(root=project.root)
    s_run = runs.latest_run(proj, suite="s")
    assert s_run is not None
    (s_run / "summary.json").unlink()  # as a kill -9 leaves it
    r = project.run("eval", "s", "--resume")
    assert r.code == 0, r.err
    assert "recent runs" not in r.err
    assert json.loads((s_run / "summary.json").read_text())["status"] == "complete"
    r = project.run("eval", "t", "--resume")
    assert r.code == 2
    assert "suite 't' has no interrupted run to resume" in r.err


# 2 ------------------------------------------------------------------------------------------


def test_a_missing_variable_points_at_the_dataset_row(project: Any) -> None:
    _seed(project)
    project.write(
        "evals/data/d.jsonl",
        '{"id": "a", "vars": {"ticket": "x"}}\n{"id": "b", "vars": {"tickt": "y"}}\n',
    )
    r = project.run("eval")
    assert r.code == 2
    assert r.err.startswith("evals/data/d.jsonl:2:1: error: case b: missing variable ticket")
    assert (
        "set it in the case's vars (the prompt declares its input at prompts/p.yaml:2:1)" in r.err
    )


# 3 ------------------------------------------------------------------------------------------


def test_init_ci_in_an_existing_project_writes_only_the_ci_files(git_project: Any) -> None:
    _seed(git_project)
    before = sorted(p.relative_to(git_project.root) for p in git_project.root.rglob("*"))
    r = git_project.run("init", "--ci", "github")
    assert r.code == 0, r.err
    after = sorted(p.relative_to(git_project.root) for p in git_project.root.rglob("*"))
    assert set(after) - set(before) == {
        Path(".github"),
        Path(".github/workflows"),
        Path(".github/workflows/promptctl.yml"),
        Path(".github/workflows/promptctl-drift.yml"),
    }
    assert "wrote only the CI files" in r.err


def test_the_workflow_triggers_on_the_repositorys_default_branch(project: Any) -> None:
    project.git("init", "-q", "-b", "master")
    assert project.run("init", ".").code == 0
    flow = project.read(".github/workflows/promptctl.yml")
    assert "    branches: [master]  # your default branch" in flow
    assert "[main]" not in flow


def test_the_default_branch_is_origins_head_when_known(git_project: Any, tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    git_project.git("-C", str(origin), "init", "-q", "-b", "trunk")
    git_project.git("-C", str(origin), "commit", "-q", "--allow-empty", "-m", "x")
    git_project.git("remote", "add", "origin", str(origin))
    git_project.git("fetch", "-q", "origin")
    git_project.git("remote", "set-head", "origin", "trunk")
    assert git_project.run("init", ".").code == 0
    assert "branches: [trunk]" in git_project.read(".github/workflows/promptctl.yml")


# 4 ------------------------------------------------------------------------------------------


def test_export_prompt_yml_writes_nothing_when_one_prompt_cannot_be_converted(
    git_project: Any, tmp_path: Path
) -> None:
    git_project.write("prompts/a.yaml", ECHO)
    git_project.write("prompts/partials/h.j2", "House style.")
    git_project.write(
        "prompts/b.yaml",
        "model: mock/echo\ninput:\n  ticket: {type: string}\n"
        "template: \"{% include 'h.j2' %} {{ ticket }}\"\n",
    )
    git_project.commit("two prompts")
    for name in ("a", "b"):
        r = git_project.run("promote", name, "--to", "production", "--force", "--reason", "r")
        assert r.code == 0, r.err
    out = tmp_path / "out"
    out.mkdir()
    r = git_project.run("export", "--label", "production", "--format", "prompt-yml", "-o", str(out))
    assert r.code == 2
    assert "Jinja beyond" in r.err
    assert list(out.iterdir()) == []  # a.prompt.yml was written before b failed


# 5 ------------------------------------------------------------------------------------------

TWO_ON_A_LINE = """\
prompt: p
cases:
  - {id: a, vars: {ticket: x, zeta: 1, alpha: 2}}
  - {id: a, vars: {ticket: y, beta: 1}}
scorers:
  - {id: has, type: contains, value: x}
"""


def _twenty_on_one_line(project: Any, path: Path) -> list[Any]:
    from promptctl.errors import Location
    from promptctl.lint import Finding, Severity

    where = Location(project.rel(path), 4, 1)
    return [
        Finding("PC102", Severity.ERROR, f"uses {c * 3}", where) for c in "zqwertyuiopasdfghjkl"
    ]


def test_lint_findings_on_one_line_come_out_sorted(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptctl import lint

    project.write("prompts/p.yaml", ECHO)
    # a checker (in the plug-in table) that reports twenty findings at one place, one code
    monkeypatch.setitem(lint.CHECKERS, "prompt", f"{__name__}:_twenty_on_one_line")
    r = project.run("lint", "--format", "json")
    messages = [f["message"] for f in json.loads(r.out)]
    assert len(messages) == 20 and messages == sorted(messages)


def test_pc211_past_the_cap_says_how_many_more(project: Any) -> None:
    _seed(project, rows=0)
    project.write(
        "evals/data/d.jsonl",
        "".join(
            json.dumps({"id": f"c{i}", "vars": {"ticket": "t", "extra": 1}}) + "\n"
            for i in range(35)
        ),
    )
    r = project.run("lint")
    assert r.out.count("warning: PC211") == 21
    assert "suite 's': 15 more case(s) with PC211 [case-unknown-variable]" in r.out


def test_lint_ignore_in_config_and_on_a_line(project: Any) -> None:
    project.write("prompts/p.yaml", ECHO)
    project.write(
        "evals/s.yaml",
        "prompt: p\ncases:\n"
        "  - {id: a, vars: {ticket: x, extra: 1}}  # promptctl: ignore[PC211]\n"
        "  - {id: b, vars: {ticket: x, extra: 1}}\n"
        "  - {id: c, vars: {ticket: x, extra: 1}}  # promptctl: ignore[PC103, PC211]\n"
        "scorers:\n  - {id: has, type: contains, value: x}\n",
    )
    r = project.run("lint")
    assert "evals/s.yaml:4:" in r.out and "PC211" in r.out
    assert "evals/s.yaml:3:" not in r.out and "evals/s.yaml:5:" not in r.out
    project.write("promptctl.yaml", "lint:\n  ignore: [PC211]\n")
    r = project.run("lint")
    assert (r.code, "PC211" in r.out) == (0, False)
    project.write("promptctl.yaml", "lint:\n  ignore: [PC2111]\n")
    r = project.run("lint")
    assert r.code == 1
    assert "promptctl.yaml:2:12: error: PC004 [invalid-value] lint.ignore: 'PC2111'" in r.out


# 6 ------------------------------------------------------------------------------------------


def test_a_mistyped_var_gets_did_you_mean_and_an_extra_one_is_an_error(project: Any) -> None:
    project.write("prompts/p.yaml", ECHO)
    r = project.run("render", "p", "--var", "tickt=hi")
    assert r.code == 2
    assert "missing variable ticket for prompt 'p' ('tickt' was given: did you mean 'ticket'?)" in (
        r.err
    )
    r = project.run("render", "p", "--var", "ticket=hi", "--var", "extra=1")
    assert r.code == 2
    assert "prompts/p.yaml:2:1: error: unknown variable extra for prompt 'p'" in r.err
    assert "the prompt declares: ticket" in r.err
    r = project.run("run", "p", "--var", "ticket=hi", "--var", "extra=1")
    assert r.code == 2 and "unknown variable extra" in r.err
    with pytest.raises(UsageError, match="unknown variable extra"):
        promptctl.load("p").render(ticket="x", extra=1)
    # a prompt without `input:` still takes the variables its template reads
    project.write("prompts/q.yaml", "model: mock/echo\ntemplate: 'Hi {{ who }}'\n")
    assert project.run("render", "q", "--var", "who=you").code == 0


# 7 ------------------------------------------------------------------------------------------


def test_lint_outside_any_project_is_exit_2(project: Any) -> None:
    r = project.run("lint")
    assert r.code == 2
    assert "no promptctl project here (no prompts/ or promptctl.yaml)" in r.err


# 8 ------------------------------------------------------------------------------------------


def test_a_missing_key_prints_no_empty_progress_line(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _seed(project)
    project.write("prompts/p.yaml", ECHO.replace("mock/echo", "openai/gpt-4o-mini"))
    r = project.run("eval")
    assert r.code == 2
    assert "OPENAI_API_KEY is not set" in r.err
    assert "0/3" not in r.err and "(0%)" not in r.err


def test_eval_help_names_regressions_under_exit_1(project: Any) -> None:
    r = project.run("eval", "--help")
    text = " ".join(r.out.split())
    assert "1 a gate failed: a significant regression against the baseline" in text


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["render", "--help"], "Usage: promptctl render [OPTIONS] NAME[@REF]\n"),
        (["log", "--help"], "Usage: promptctl log [OPTIONS] NAME\n"),
        (["merge", "--help"], "Usage: promptctl merge [OPTIONS] RUN...\n"),
    ],
)
def test_usage_lines_have_no_braces(project: Any, argv: list[str], usage: str) -> None:
    r = project.run(*argv)
    assert usage in r.out
    assert "{" not in r.out.splitlines()[0]


def test_a_suite_key_typo_shows_did_you_mean_first(project: Any) -> None:
    _seed(project)
    project.write("evals/s.yaml", SUITE.replace("scorers:", "scorer:"))
    r = project.run("eval")
    assert r.code == 2
    assert "evals/s.yaml:3:1: error: unknown key 'scorer' in suite file" in r.err
    assert "hint: did you mean 'scorers'?" in r.err


# 9 ------------------------------------------------------------------------------------------


def test_user_docs_cite_no_spec_outside_the_repository() -> None:
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    schemas = sorted((root / "src" / "promptctl" / "schemas").glob("*.json"))
    cited = [p.name for p in pages + schemas if "SPEC" in p.read_text(encoding="utf-8")]
    assert cited == []
