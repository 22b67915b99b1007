"""lint: every finding with a code and file:line:col; formats; exit codes."""

from __future__ import annotations

import json

from tests.conftest import Project


def test_lint_reports_every_problem_with_codes(project: Project) -> None:
    project.write(
        "prompts/a.yaml",
        """\
        model: openai/gpt-4o
        modle: x
        params: {temperature: 5, max_tokens: 0}
        input:
          unused: {type: string}
        template: "Hi {{ name }}"
        output:
          schema: {type: objectt}
        """,
    )
    project.write("prompts/b.yaml", "model: openai/gpt-4o\ntemplate: '{{ x }'\n")
    project.write("prompts/c.yaml", "model: nosuch/m\ntemplate: hi\n")
    result = project.run("lint", "--format", "json")
    assert result.code == 1
    got = {(f["code"], f["path"], f["line"]) for f in json.loads(result.out)}
    assert got == {
        ("PC003", "prompts/a.yaml", 2),
        ("PC106", "prompts/a.yaml", 3),
        ("PC102", "prompts/a.yaml", 6),  # where the template uses it
        ("PC103", "prompts/a.yaml", 5),
        ("PC107", "prompts/a.yaml", 8),
        ("PC101", "prompts/b.yaml", 2),
        ("PC105", "prompts/c.yaml", 1),
    } | {("PC106", "prompts/a.yaml", 3)}


def test_lint_github_format_is_workflow_commands(project: Project) -> None:
    project.write("prompts/a.yaml", "model: gpt4\ntemplate: hi\n")
    result = project.run("lint", "--format", "github")
    assert result.code == 1
    assert result.out.startswith("::error file=prompts/a.yaml,line=1,col=8,title=PC104")


def test_warnings_pass_unless_strict(project: Project) -> None:
    project.write("prompts/a.yaml", "model: mock/echo\ninput: {x: {type: string}}\ntemplate: hi\n")
    result = project.run("lint")
    assert result.code == 0
    assert "prompts/a.yaml:2:9: warning: PC103" in result.out
    assert project.run("lint", "--strict").code == 1


def test_lint_given_paths_checks_only_those(project: Project) -> None:
    project.write("prompts/good.yaml", "model: mock/echo\ntemplate: hi\n")
    project.write("prompts/bad.yaml", "model: mock\ntemplate: hi\n")
    assert project.run("lint", "prompts/good.yaml").code == 0
    assert project.run("lint", "prompts/bad.yaml").code == 1
    assert project.run("lint", "prompts/nope.yaml").code == 2


def test_lint_config_problems(project: Project) -> None:
    project.write(
        "promptctl.yaml",
        "providers:\n  local: {type: openai, base_url: 'http://x/v1', api_key_env: GITHUB_TOKEN}\n",
    )
    project.write("prompts/a.yaml", "model: local/llama\ntemplate: hi\n")
    result = project.run("render", "a")
    assert result.code == 2
    assert "promptctl.yaml:2:" in result.err and "GITHUB_TOKEN" in result.err


def test_lint_reports_a_broken_config_as_findings(project: Project) -> None:
    project.write(
        "promptctl.yaml", "providers:\n  local: {type: nope, base_url: ftp://x}\nbad: 1\n"
    )
    project.write("prompts/a.yaml", "model: mock/echo\ntemplate: hi\n")
    result = project.run("lint", "--format", "json")
    assert result.code == 1, result.err
    codes = {(f["code"], f["line"]) for f in json.loads(result.out)}
    assert ("PC003", 3) in codes
    assert ("PC301", 2) in codes


def test_lint_finds_what_eval_would_stop_on_in_a_suite(project: Project) -> None:
    """A case value of the wrong type and a json-schema scorer with nothing to check against
    stopped `eval` (exit 2) while lint said 0 errors."""
    project.write(
        "prompts/echo.yaml",
        'model: mock/echo\ninput: {q: {type: string}}\ntemplate: "Answer: {{ q }}"\n',
        dedent=False,
    )
    project.write(
        "evals/data/d.yaml",
        "- id: a\n  vars: {q: [1, 2]}\n- id: b\n  vars: {q: ok}\n",
        dedent=False,
    )
    project.write(
        "evals/s.yaml",
        "prompt: echo\ndataset: data/d.yaml\nscorers:\n"
        "  - {id: shape, type: json-schema}\n  - {id: has, type: contains, value: ok}\n",
        dedent=False,
    )
    result = project.run("lint", "--format", "json")
    assert result.code == 1, result.out
    got = {(f["code"], f["path"], f["line"]) for f in json.loads(result.out)}
    assert got == {("PC216", "evals/data/d.yaml", 1), ("PC210", "evals/s.yaml", 4)}
    assert project.run("eval").code == 2  # what lint now says first


def test_lint_of_a_file_it_does_not_check_is_exit_2_not_a_clean_pass(
    project: Project, tmp_path_factory
) -> None:
    """`lint FILE` said "0 errors" for a file outside the project or one it never reads: a CI
    step or hook that named the wrong path passed."""
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\ntemprature: 1\n", dedent=False)
    project.write("notes.yaml", "a: 1\n", dedent=False)
    assert project.run("lint", "prompts/p.yaml").code == 1
    outside = tmp_path_factory.mktemp("elsewhere") / "p.yaml"
    outside.write_text("model: mock/echo\ntemplate: hi\ntemprature: 1\n")
    r = project.run("lint", str(outside))
    assert r.code == 2 and "outside the promptctl project" in r.err, r.err
    r = project.run("lint", "notes.yaml")
    assert r.code == 2 and "nothing to lint in notes.yaml" in r.err, r.err


def test_a_judge_model_without_a_provider_is_a_finding(project: Project) -> None:
    """`defaults.judge_model: gpt4` made every judged score an error while eval passed."""
    project.write("promptctl.yaml", "defaults: {judge_model: gpt4}\n", dedent=False)
    r = project.run("lint", "--format", "json")
    assert r.code == 1
    [f] = [f for f in json.loads(r.out) if f["path"] == "promptctl.yaml"]
    assert f["code"] == "PC004" and "must be <provider>/<model id>" in f["message"]
    project.write("promptctl.yaml", "defaults:\n  judge_model: '0123'\n", dedent=False)
    assert project.run("lint").code == 1


def test_an_all_digit_commit_in_labels_yaml_says_to_quote_it(project: Project) -> None:
    project.write("promptctl.yaml", "{}\n", dedent=False)
    project.write(
        "labels.yaml",
        "summarize:\n  production: {version: 355021a017f1, commit: 000000000000}\n",
        dedent=False,
    )
    r = project.run("lint")
    assert r.code == 1
    assert "YAML read it as the number 0" in r.out and "quote it if it is all digits" in r.out
