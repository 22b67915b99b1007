"""--changed-since's dependency graph, in a real git repository."""

from __future__ import annotations

import pytest

from promptctl.errors import UsageError
from promptctl.history import changes
from promptctl.project.config import load_project


def _setup(p) -> str:  # type: ignore[no-untyped-def]
    p.write("prompts/partials/tone.j2", "Be kind. {% include 'inner.j2' %}")
    p.write("prompts/partials/inner.j2", "Be brief.")
    p.write("prompts/partials/unused.j2", "unused")
    p.write(
        "prompts/greet.yaml",
        """\
        model: mock/echo
        input: {name: {type: string}}
        messages:
          - {role: system, content: "{% include 'tone.j2' %}"}
          - {role: user, content: "Hi {{ name }}"}
        """,
    )
    p.write("prompts/plain.yaml", "model: mock/echo\ntemplate: hello\n")
    p.write(
        "evals/greet.yaml",
        """\
        prompt: greet
        dataset: data/greet.jsonl
        scorers:
          - {id: hi, type: contains, value: Hi}
          - {id: judge, type: llm-judge, model: mock/judge, rubric: Fine,
             template: judges/strict.yaml}
        """,
    )
    p.write("evals/judges/strict.yaml", "system: s {{ rubric }}\nuser: u {{ output }}\n")
    p.write("evals/data/greet.jsonl", '{"id": "a", "vars": {"name": "Ann"}}\n')
    p.write(
        "evals/plain.yaml",
        """\
        prompt: plain@production
        cases: [{id: x, vars: {}}]
        scorers: [{id: hi, type: contains, value: hello}]
        """,
    )
    p.write("labels.yaml", "{}\n")
    return p.commit("initial")


@pytest.fixture
def repo(git_project):  # type: ignore[no-untyped-def]
    base = _setup(git_project)
    return git_project, base


def _changed(p, ref: str) -> list[str]:  # type: ignore[no-untyped-def]
    return changes.suites_changed_since(load_project(p.root), ref)


def test_nothing_changed_selects_nothing(repo) -> None:  # type: ignore[no-untyped-def]
    p, base = repo
    assert _changed(p, base) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("prompts/partials/inner.j2", ["greet"]),  # included by a partial: transitive
        ("prompts/partials/tone.j2", ["greet"]),
        ("prompts/partials/unused.j2", []),
        ("prompts/greet.yaml", ["greet"]),
        ("evals/data/greet.jsonl", ["greet"]),
        ("evals/judges/strict.yaml", ["greet"]),
        ("evals/greet.yaml", ["greet"]),
        ("labels.yaml", ["plain"]),  # plain is pinned by label
        ("prompts/plain.yaml", ["plain"]),
        ("promptctl.yaml", ["greet", "plain"]),
        ("evals/baselines/greet.json", ["greet"]),
        ("README.md", []),
    ],
)
def test_a_changed_file_selects_exactly_its_dependents(  # type: ignore[no-untyped-def]
    repo, path: str, expected: list[str]
) -> None:
    p, base = repo
    target = p.root / path
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    if path == "promptctl.yaml":
        p.write(path, "defaults: {repeat: 1}\n")
    else:
        p.write(
            path,
            old + "\n# changed\n" if path.endswith((".yaml", ".md", ".json")) else old + " changed",
        )
    assert _changed(p, base) == expected
    p.commit("change")  # committed changes count as well as uncommitted ones
    assert _changed(p, base) == expected


def test_deleted_partial_is_a_change(repo) -> None:  # type: ignore[no-untyped-def]
    p, base = repo
    (p.root / "prompts/partials/inner.j2").unlink()
    assert _changed(p, base) == ["greet"]


def test_a_deleted_dataset_selects_its_suite_which_no_longer_loads(  # type: ignore[no-untyped-def]
    repo,
) -> None:
    """The one suite parser refuses a suite whose dataset is gone: its dependencies are unknown,
    so it is selected (eval reports the problem) rather than skipped unseen."""
    p, base = repo
    (p.root / "evals/data/greet.jsonl").unlink()
    assert _changed(p, base) == ["greet"]
    p.commit("dataset gone")
    assert _changed(p, "HEAD") == ["greet"]


def test_unknown_ref_says_to_fetch(repo) -> None:  # type: ignore[no-untyped-def]
    p, _ = repo
    with pytest.raises(UsageError) as info:
        _changed(p, "origin/nope")
    assert info.value.exit_code == 2
    assert "fetch-depth: 0" in (info.value.hint or "")


def test_shallow_clone_without_the_ref_says_to_fetch(repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p, base = repo
    p.write("README.md", "two\n")
    p.commit("second")
    clone = tmp_path / "shallow"
    p.git("clone", "-q", "--depth", "1", f"file://{p.root}", str(clone))
    with pytest.raises(UsageError) as info:
        changes.suites_changed_since(load_project(clone), base)
    assert "shallow" in info.value.message
    assert "fetch-depth: 0" in (info.value.hint or "")
