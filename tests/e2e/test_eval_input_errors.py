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
