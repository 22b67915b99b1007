"""Input errors found while evaluating are exit 2 before any call, with no run left behind."""

from __future__ import annotations

import pytest

from tests.conftest import Project

SUITE = """\
prompt: p
cases:
  - {id: a, vars: {ticket: one}}
  - {id: b, vars: {ticket: two}}
scorers:
  - {id: any, type: regex, value: '.'}
"""

PROMPT = "model: mock/echo\ninput: {ticket: {type: string}}\ntemplate: 'Hi {{ ticket }}'\n"


def _runs(project: Project) -> list[str]:
    runs = project.root / ".promptctl" / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


def test_a_template_typo_is_a_usage_error_before_any_run(project: Project) -> None:
    project.write(
        "prompts/p.yaml",
        "model: mock/echo\ninput: {ticket: {type: string}}\ntemplate: 'Hi {{ tiket }}'\n",
    )
    project.write("evals/s.yaml", SUITE)
    result = project.run("eval")
    assert result.code == 2, result.err
    assert "prompts/p.yaml:3:" in result.err
    assert "'tiket' is undefined" in result.err
    assert "--resume" not in result.err
    assert _runs(project) == []


def test_a_missing_api_key_is_exit_2_naming_the_variable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    project.write(
        "prompts/p.yaml",
        "model: openai/gpt-4o-mini\ninput: {ticket: {type: string}}\ntemplate: 'Hi {{ ticket }}'\n",
    )
    project.write("evals/s.yaml", SUITE)
    result = project.run("eval")
    assert result.code == 2, result.err
    assert "OPENAI_API_KEY is not set" in result.err
    assert "--resume" not in result.err
    assert _runs(project) == []


def test_var_values_stay_text_for_string_inputs(project: Project) -> None:
    project.write(
        "prompts/p.yaml",
        "model: mock/echo\ninput:\n  ticket: {type: string}\n"
        "  n: {type: integer}\ntemplate: '{{ ticket }} {{ n + 1 }}'\n",
    )
    result = project.run("render", "p", "--var", "ticket=yes", "--var", "n=41")
    assert result.code == 0, result.err
    assert result.out == "--- user ---\nyes 42\n"
    result = project.run("render", "p", "--var", "ticket=007", "--var", "n=x")
    assert result.code == 2
    assert "prompts/p.yaml:2:1" in result.err
    assert "'x' is not of type 'integer'" in result.err


@pytest.mark.parametrize(
    ("gate", "where", "message"),
    [
        ("  family: team\n", "evals/s.yaml:8:11", "family must be one of eval, suite"),
        ("  metric: mean_score\n", "evals/s.yaml:8:11", "scorer 'any' (regex) only passes"),
        ("  metric: {any: mean_score}\n", "evals/s.yaml:8:17", "only passes or fails"),
        ("  metric: {nay: mean_score}\n", "evals/s.yaml:8:12", "unknown scorer 'nay'"),
        ("  metric: median\n", "evals/s.yaml:8:11", "must be pass_rate or mean_score"),
    ],
)
def test_bad_gate_family_or_metric_is_exit_2_at_its_line_and_lint_and_schema_agree(
    project: Project, gate: str, where: str, message: str
) -> None:
    import json

    import jsonschema

    from promptctl.project import yamlio

    project.write("prompts/p.yaml", PROMPT)
    project.write("evals/s.yaml", SUITE + "gate:\n" + gate)
    result = project.run("eval")
    assert result.code == 2, result.err
    assert f"{where}: error: " in result.err and message in result.err
    assert _runs(project) == []
    lint = project.run("lint", "--format", "json")
    assert lint.code == 1
    found = json.loads(lint.out)
    assert any(message in str(f) for f in found), lint.out
    schema = json.loads(_schema())
    data = yamlio.plain(yamlio.load_mapping(project.root / "evals/s.yaml", "s.yaml", what="s"))
    ok = jsonschema.Draft202012Validator(schema).is_valid(data)
    # The schema cannot know which scorers exist or are graded; bad values it refuses too.
    assert ok == ("mean_score" in gate)


def _schema() -> str:
    from importlib.resources import files

    return files("promptctl").joinpath("schemas/suite.schema.json").read_text(encoding="utf-8")


def test_mean_score_on_a_judge_and_family_suite_are_accepted(project: Project) -> None:
    project.write("prompts/p.yaml", PROMPT)
    project.write(
        "evals/s.yaml",
        SUITE
        + "  - {id: judged, type: llm-judge, model: mock/echo, rubric: r}\n"
        + "gate:\n  family: suite\n  metric: {judged: mean_score}\n",
    )
    assert project.run("lint").code == 0
