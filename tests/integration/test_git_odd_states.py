"""Odd git states: revisions GitPython cannot parse, bare repositories, merge conflicts."""

from __future__ import annotations

import subprocess

import pytest

from promptctl.cli import main

PROMPT = """\
model: mock/echo
input:
  ticket: {type: string}
template: "Summarize: {{ ticket }}"
"""

SUITE = """\
prompt: summarize@{ref}
cases:
  - {{id: a, vars: {{ticket: hi}}}}
scorers:
  - {{id: has, type: contains, value: "Summarize"}}
"""


@pytest.fixture
def committed(git_project):
    git_project.write("prompts/summarize.yaml", PROMPT)
    git_project.commit("one")
    return git_project


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("HEAD@{100}", "'HEAD@{100}' is no label, version or git revision"),
        ("HEAD:x:y", "'HEAD:x:y' names a file in git, not a commit"),
        ("HEAD:../f", "'HEAD:../f' names a file in git, not a commit"),
        ("HEAD^{tree}", "'HEAD^{tree}' is no label, version or git revision"),
    ],
)
def test_odd_revision_is_a_usage_error(committed, ref, says):
    r = committed.run("render", f"summarize@{ref}", "--var", "ticket=x")
    assert r.code == 2
    assert says in r.err
    assert "internal error" not in r.err and "Traceback" not in r.err


def test_reflog_forms_gitpython_cannot_parse_go_to_git(committed):
    # GitPython raises NotImplementedError for @{<date>}; git answers it
    r = committed.run("render", "summarize@HEAD@{1.year.ago}", "--var", "ticket=x")
    assert (r.code, r.err) == (0, "")
    assert "Summarize: x" in r.out


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("HEAD@{100}", "'HEAD@{100}' is no label, version or git revision"),
        ("HEAD:x:y", "'HEAD:x:y' names a file in git, not a commit"),
        ("HEAD:../f", "'HEAD:../f' names a file in git, not a commit"),
    ],
)
def test_odd_revision_in_a_suite_is_a_lint_finding_at_its_line(committed, ref, says):
    committed.write("evals/s.yaml", SUITE.format(ref=ref))
    r = committed.run("lint", "--format", "text")
    assert r.code == 1
    assert "evals/s.yaml:1:9: error: PC201 [unknown-prompt] " in r.out + r.err
    assert says in r.out + r.err
    r = committed.run("eval", "s", "--offline")
    assert r.code == 2
    assert says in r.err and "internal error" not in r.err


@pytest.mark.parametrize(
    "argv",
    [
        ["log", "summarize"],
        ["diff"],
        ["diff", "HEAD", "HEAD"],
        ["render", "summarize@HEAD", "--var", "ticket=x"],
    ],
)
def test_bare_repository_says_it_has_no_working_tree(committed, monkeypatch, capsys, argv):
    bare = committed.root.parent / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(committed.root), str(bare)], check=True)
    # a project whose files sit in a bare repository's directory (a server-side hook's view)
    (bare / "prompts").mkdir()
    (bare / "prompts" / "summarize.yaml").write_text(PROMPT)
    monkeypatch.chdir(bare)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is a bare git repository (no working tree)" in err
    assert "Traceback" not in err and "internal error" not in err


CONFLICTED_LABELS = """\
summarize:
<<<<<<< HEAD
  production: {version: aaaaaaaaaaaa}
=======
  production: {version: bbbbbbbbbbbb}
>>>>>>> other
"""

CONFLICTED_PROMPT = """\
model: mock/echo
<<<<<<< HEAD
template: "one {{ ticket }}"
=======
template: "two {{ ticket }}"
>>>>>>> other
input:
  ticket: {type: string}
"""


def test_conflict_markers_in_labels_say_merge_conflict(committed):
    committed.write("labels.yaml", CONFLICTED_LABELS)
    r = committed.run("render", "summarize@production")
    assert r.code == 2
    assert "labels.yaml:2:1: error: unresolved merge conflict" in r.err
    r = committed.run("lint")
    assert r.code == 1
    assert "labels.yaml:2:1: error: PC001 [yaml-syntax] unresolved merge conflict" in r.out


def test_conflict_markers_in_a_prompt_say_merge_conflict(committed):
    committed.write("prompts/summarize.yaml", CONFLICTED_PROMPT)
    r = committed.run("render", "summarize", "--var", "ticket=x")
    assert r.code == 2
    assert "prompts/summarize.yaml:2:1: error: unresolved merge conflict" in r.err
    assert "then `git add` the file" in r.err


def test_a_column_one_marker_alone_is_not_a_conflict(project):
    # `=======` alone (a heading underline in a block scalar is indented anyway) parses as text
    project.write("prompts/p.yaml", 'model: mock/echo\ntemplate: "x"\n# <<<<<<< not a marker\n')
    r = project.run("render", "p")
    assert r.code == 0, r.err
