"""Every bad input of the foundation issue: exit 2, file:line:col, what to do, no traceback."""

from __future__ import annotations

import pytest

from tests.conftest import Project

GOOD = "model: mock/echo\ninput: {ticket: {type: string}}\ntemplate: 'Hi {{ ticket }}'\n"


def _render(project: Project, *extra: str) -> tuple[int, str]:
    before = sorted(p.relative_to(project.root) for p in project.root.rglob("*"))
    result = project.run("render", "a", "--var", "ticket=x", *extra)
    after = sorted(p.relative_to(project.root) for p in project.root.rglob("*"))
    assert before == after, "a failed render must write nothing"
    assert "Traceback" not in result.err
    return result.code, result.err


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        ("model: mock/echo\ntemplate: [unclosed\n", "prompts/a.yaml:3:1", "YAML syntax error"),
        ("model: mock/echo\ninput:\n\tticket: {}\n", "prompts/a.yaml:3:1", "indent with spaces"),
        ("model: mock/echo\nmodel: mock/x\ntemplate: hi\n", "prompts/a.yaml:2:1", "duplicate key"),
        ("", "prompts/a.yaml:1:1", "empty"),
        ("- model: mock/echo\n", "prompts/a.yaml:1:1", "must be a mapping"),
        ("modle: mock/echo\ntemplate: hi\n", "prompts/a.yaml:1:1", "did you mean 'model'"),
        ("model: gpt-4o\ntemplate: hi\n", "prompts/a.yaml:1:8", "<provider>/<model id>"),
        (
            "model: mock/echo\ntemplate: |\n  line one\n  {{ oops }\n",
            "prompts/a.yaml:4:",
            "template syntax error",
        ),
        ("model: mock/echo\ntemplate: 'hi {{ who }}'\n", "prompts/a.yaml:2:", "undefined variable"),
        (
            "model: mock/echo\nmessages:\n  - {role: user, content: \"{{ ''.__class__.__mro__ }}\"}\n",  # noqa: E501
            "prompts/a.yaml:3:",
            "sandbox",
        ),
        (
            "model: mock/echo\ntemplate: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n",
            "prompts/a.yaml:2:",
            "sandbox",
        ),
        (
            'model: mock/echo\ntemplate: "{{ cycler.__init__.__globals__ }}"\n',
            "prompts/a.yaml:2:",
            "",
        ),
        (
            "model: mock/echo\ntemplate: \"{{ 'a' * 200000000 }}\"\n",
            "prompts/a.yaml:2:",
            "size limit",
        ),
        (
            "model: mock/echo\ntemplate: \"{% include '/etc/passwd' %}\"\n",
            "prompts/a.yaml:2:",
            "partials",
        ),
        (
            "model: mock/echo\ntemplate: \"{% include '../a.yaml' %}\"\n",
            "prompts/a.yaml:2:",
            "partials",
        ),
        ("model: nosuch/x\ntemplate: hi\n", "prompts/a.yaml:1:8", "unknown provider"),
    ],
    ids=[
        "yaml-syntax",
        "tab",
        "duplicate-key",
        "empty",
        "list",
        "unknown-key",
        "no-provider",
        "template-syntax",
        "undefined-var",
        "mro-escape",
        "subclasses-escape",
        "globals-escape",
        "huge-output",
        "include-absolute",
        "include-parent",
        "unknown-provider",
    ],
)
def test_bad_prompt_file_exits_2_with_location(
    project: Project, content: str, where: str, words: str
) -> None:
    project.write("prompts/a.yaml", content)
    code, err = _render(project)
    assert code == 2, err
    assert where in err
    assert words in err
    assert "error:" in err


def test_alias_bomb_is_refused(project: Project) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    project.write("prompts/a.yaml", bomb + "model: mock/echo\ntemplate: hi\n")
    code, err = _render(project)
    assert code == 2
    assert "prompts/a.yaml:1:4" in err and "not allowed" in err


def test_non_utf8_file_names_the_byte(project: Project) -> None:
    project.write("prompts/a.yaml", b"model: mock/echo\ntemplate: caf\xe9\n")
    code, err = _render(project)
    assert code == 2
    assert "prompts/a.yaml:2:14" in err and "UTF-8" in err


def test_var_without_equals_is_a_usage_error(project: Project) -> None:
    project.write("prompts/a.yaml", GOOD)
    result = project.run("render", "a", "--var", "ticket")
    assert result.code == 2
    assert "NAME=VALUE" in result.err and "Traceback" not in result.err


def test_unknown_prompt_suggests_close_names(project: Project) -> None:
    project.write("prompts/summarize.yaml", GOOD)
    result = project.run("render", "sumarize")
    assert result.code == 2
    assert "unknown prompt 'sumarize'" in result.err
    assert "did you mean 'summarize'" in result.err


def test_unknown_git_rev_is_a_usage_error(git_project: Project) -> None:
    git_project.write("prompts/a.yaml", GOOD)
    git_project.commit("add a")
    result = git_project.run("render", "a@no-such-branch", "--var", "ticket=x")
    assert result.code == 2
    assert "'no-such-branch' is no label, version or git revision of 'a'" in result.err
    assert "promptctl log a" in result.err
    assert "Traceback" not in result.err


def test_missing_variable_points_at_input_and_says_how(project: Project) -> None:
    project.write("prompts/a.yaml", GOOD)
    result = project.run("render", "a")
    assert result.code == 2
    assert "prompts/a.yaml:2:1" in result.err
    assert "--var ticket=" in result.err


def test_debug_shows_a_traceback_for_user_errors(project: Project) -> None:
    project.write("prompts/a.yaml", "modle: x\n")
    result = project.run("render", "a", "--debug")
    assert result.code == 2
    assert "Traceback" in result.err


def test_variable_checked_against_input_schema(project: Project) -> None:
    project.write(
        "prompts/a.yaml",
        "model: mock/echo\ninput: {n: {type: integer, maximum: 3}}\ntemplate: '{{ n }}'\n",
    )
    assert project.run("render", "a", "--var", "n=2").code == 0
    result = project.run("render", "a", "--var", "n=7")
    assert result.code == 2
    assert "variable 'n'" in result.err and "7 is greater than the maximum of 3" in result.err
