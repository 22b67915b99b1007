"""list, render, init, --version, --help as a user runs them."""

from __future__ import annotations

import json

from tests.conftest import Project

PROMPT = """\
description: Greets.
model: mock/echo
params: {temperature: 0}
input:
  who: {type: string}
  greeting: {type: string, default: Hello}
messages:
  - {role: system, content: "Be brief."}
  - role: user
    content: |
      {{ greeting }}, {{ who }}!
      {% include 'sig.j2' %}
"""


def test_render_text_and_json(project: Project) -> None:
    project.write("prompts/greet.yaml", PROMPT)
    project.write("prompts/partials/sig.j2", "-- the team")
    result = project.run("render", "greet", "--var", "who=Ada")
    assert result.code == 0, result.err
    assert result.out == "--- system ---\nBe brief.\n--- user ---\nHello, Ada!\n-- the team\n"
    result = project.run(
        "render", "greet", "--var", "who=Ada", "--var", "greeting=Hi", "--format", "json"
    )
    data = json.loads(result.out)
    assert data["messages"][1]["content"].startswith("Hi, Ada!")
    assert len(data["version"]) == 12


def test_vars_file_then_var_overrides(project: Project) -> None:
    project.write("prompts/greet.yaml", PROMPT)
    project.write("prompts/partials/sig.j2", "")
    project.write("vars.yaml", "who: Grace\ngreeting: Hey\n")
    result = project.run("render", "greet", "--vars-file", "vars.yaml", "--var", "who=Linus")
    assert result.code == 0, result.err
    assert "Hey, Linus!" in result.out


def test_list_json_has_name_version_model_path(project: Project) -> None:
    project.write("prompts/greet.yaml", PROMPT)
    project.write("prompts/team/route.yaml", "model: mock/echo\ntemplate: route\n")
    result = project.run("list", "--format", "json")
    assert result.code == 0
    rows = json.loads(result.out)
    assert [r["name"] for r in rows] == ["greet", "team/route"]
    assert all(len(r["version"]) == 12 for r in rows)
    assert rows[1]["path"] == "prompts/team/route.yaml"


def test_name_at_version_resolves_current_version(project: Project) -> None:
    project.write("prompts/greet.yaml", "model: mock/echo\ntemplate: hi\n")
    version = json.loads(project.run("list", "--format", "json").out)[0]["version"]
    assert project.run("render", f"greet@{version}").out == "--- user ---\nhi\n"


def test_name_at_git_rev_reads_the_committed_file(git_project: Project) -> None:
    git_project.write("prompts/greet.yaml", "model: mock/echo\ntemplate: old text\n")
    git_project.commit("first")
    git_project.write("prompts/greet.yaml", "model: mock/echo\ntemplate: new text\n")
    assert "old text" in git_project.run("render", "greet@HEAD").out
    assert "new text" in git_project.run("render", "greet").out


def test_name_at_old_version_is_found_in_history(git_project: Project) -> None:
    git_project.write("prompts/greet.yaml", "model: mock/echo\ntemplate: v1\n")
    git_project.commit("v1")
    old = json.loads(git_project.run("list", "--format", "json").out)[0]["version"]
    git_project.write("prompts/greet.yaml", "model: mock/echo\ntemplate: v2\n")
    git_project.commit("v2")
    result = git_project.run("render", f"greet@{old}")
    assert result.code == 0, result.err
    assert result.out == "--- user ---\nv1\n"


def test_init_scaffolds_lints_clean_and_never_overwrites(project: Project) -> None:
    result = project.run("init")
    assert result.code == 0, result.err
    for rel in (
        "promptctl.yaml",
        "prompts/summarize.yaml",
        "evals/summarize.yaml",
        "evals/data/summarize.jsonl",
        ".github/workflows/promptctl.yml",
    ):
        assert (project.root / rel).is_file(), rel
    assert ".promptctl/" in project.read(".gitignore")
    assert project.run("lint").code == 0
    project.write("prompts/summarize.yaml", "model: mock/echo\ntemplate: mine\n")
    assert project.run("init").code == 0
    assert project.read("prompts/summarize.yaml") == "model: mock/echo\ntemplate: mine\n"
    assert project.run("init", "--force").code == 0
    assert "mine" not in project.read("prompts/summarize.yaml")


def test_init_appends_to_an_existing_gitignore_once(project: Project) -> None:
    project.write(".gitignore", "node_modules/")
    project.run("init")
    project.run("init")
    assert project.read(".gitignore").count(".promptctl/") == 1
    assert project.read(".gitignore").startswith("node_modules/\n")


def test_version_and_help(project: Project) -> None:
    result = project.run("--version")
    assert result.code == 0 and result.out.startswith("promptctl ")
    result = project.run("--help")
    assert result.code == 0 and "Examples:" in result.out and "render" in result.out


def test_library_load_and_render(project: Project) -> None:
    import promptctl

    project.write("prompts/greet.yaml", PROMPT)
    project.write("prompts/partials/sig.j2", "")
    prompt = promptctl.load("greet")
    assert prompt.model == "mock/echo"
    assert prompt.params == {"temperature": 0}
    assert prompt.render(who="Ada")[1]["content"].startswith("Hello, Ada!")
    assert prompt.version == json.loads(project.run("list", "--format", "json").out)[0]["version"]
